/**
 * The engine watches its own streams (every BW_STREAM_CHECK_SECONDS): a stream that was deleted is
 * created again, one whose configuration was changed (subjects, retention, `deny_delete`…) is set
 * back, each repair logged at error, counted (`bellwether_stream_repairs_total{stream}`) and
 * published as a security alert on `bw.alerts.security` (`kind: stream_recreated`,
 * `stream_restored`, or `stream_repair_failed` when the server refuses the repair). What a deleted
 * stream held is gone; a recreated events stream continues the sequence it had reached, so the
 * partition's consumer (recreated by its worker) resumes where it was.
 *
 * Only `$JS.API.STREAM.INFO.*`, `.CREATE.*` and `.UPDATE.*` are used: the engine permissions of
 * docs/nats-security.md already allow them.
 */
import os from 'node:os';
import type { JetStreamClient, JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { SECURITY_ALERTS_SUBJECT } from '../../contract/subjects.js';
import type { Logger } from '../log.js';
import { differingKeys, type EngineStreamConfig, EVENTS_STREAM_PREFIX, isStreamNotFound } from './streams.js';

export type StreamRepair = 'recreated' | 'restored' | 'repair_failed';

/** The alert published on `bw.alerts.security` for a repair. */
export interface StreamAlert {
  kind: `stream_${StreamRepair}`;
  stream: string;
  /** What was found: `deleted`, or the configuration keys that differed. */
  detail: string;
  instance: string;
  at: string;
}

export interface StreamWatchOptions {
  intervalMs: number;
  /** Counts a repair (the metric). */
  onRepair(stream: string, repair: StreamRepair): void;
}

export class StreamWatch {
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #configs: readonly EngineStreamConfig[];
  readonly #opts: StreamWatchOptions;
  readonly #log: Logger;
  /** The last sequence seen in each stream: a recreated events stream starts after it. */
  readonly #lastSeq = new Map<string, number>();
  readonly #instance = os.hostname();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Alerts of the current pass, published at its end (BW_ALERTS may be among the repaired). */
  #alerts: StreamAlert[] = [];

  constructor(
    jsm: JetStreamManager,
    js: JetStreamClient,
    configs: readonly EngineStreamConfig[],
    opts: StreamWatchOptions,
    log: Logger,
  ) {
    this.#jsm = jsm;
    this.#js = js;
    this.#configs = configs;
    this.#opts = opts;
    this.#log = log.child({ component: 'streams' });
  }

  /** Checks now, then every `intervalMs`. */
  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.#running = this.check().finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#opts.intervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass over every stream; an unreachable server is left to the next pass. */
  async check(): Promise<void> {
    for (const config of this.#configs) {
      if (this.#stopped) return;
      let info: StreamInfo | undefined;
      try {
        info = await this.#jsm.streams.info(config.name);
      } catch (err) {
        if (!isStreamNotFound(err)) {
          this.#log.warn({ stream: config.name, err }, 'stream check failed');
          continue;
        }
      }
      if (info) {
        this.#lastSeq.set(config.name, info.state.last_seq);
        const differing = differingKeys(config, info);
        if (differing.length > 0) await this.#restore(config, info, differing);
      } else {
        await this.#recreate(config);
      }
    }
    const alerts = this.#alerts;
    this.#alerts = [];
    for (const alert of alerts) {
      await this.#js
        .publish(SECURITY_ALERTS_SUBJECT, JSON.stringify(alert))
        .catch((err: unknown) =>
          this.#log.error({ stream: alert.stream, err }, 'cannot publish a stream alert'),
        );
    }
  }

  async #recreate(config: EngineStreamConfig): Promise<void> {
    const last = this.#lastSeq.get(config.name) ?? 0;
    // An events stream continues its sequence: partition state and consumers count on it.
    const firstSeq = config.name.startsWith(EVENTS_STREAM_PREFIX) && last > 0 ? { first_seq: last + 1 } : {};
    try {
      try {
        await this.#jsm.streams.add({ ...config, ...firstSeq });
      } catch (err) {
        // Servers before 2.10 have no first_seq: the stream starts at 1 and the partition's worker
        // rebuilds its state from what the stream holds (engine/worker/consumers.ts).
        if (!('first_seq' in firstSeq && /first_seq/.test(String(err)))) throw err;
        await this.#jsm.streams.add(config);
      }
      this.#repaired(config.name, 'recreated', 'deleted');
    } catch (err) {
      // Another engine of the cluster may have recreated it first.
      if (/already in use/i.test(String(err))) return;
      this.#repaired(config.name, 'repair_failed', `deleted; recreating failed: ${(err as Error).message}`);
    }
  }

  async #restore(config: EngineStreamConfig, info: StreamInfo, differing: string[]): Promise<void> {
    const detail = `changed: ${differing.join(', ')}`;
    try {
      await this.#jsm.streams.update(config.name, { ...info.config, ...config });
      this.#repaired(config.name, 'restored', detail);
    } catch (err) {
      this.#repaired(config.name, 'repair_failed', `${detail}; restoring failed: ${(err as Error).message}`);
    }
  }

  #repaired(stream: string, repair: StreamRepair, detail: string): void {
    this.#opts.onRepair(stream, repair);
    this.#log.error({ stream, repair, detail }, 'stream deleted or altered by someone else');
    this.#alerts.push({
      kind: `stream_${repair}`,
      stream,
      detail,
      instance: this.#instance,
      at: new Date().toISOString(),
    });
  }
}
