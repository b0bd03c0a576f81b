/**
 * The audit log's second copy: each write's records go to `bw.audit.<instance>` (stream BW_AUDIT)
 * as a JetStream publish, which the stream acknowledges. Messages are sent in order, one at a time;
 * one that is not acknowledged (no stream: deleted and not yet recreated; a timeout; the server
 * away) is retried after a pause that doubles up to {@link MAX_RETRY_MS}, and the ones after it
 * wait in a bounded queue (`maxPending` messages; beyond it the oldest are dropped). Every failure
 * and every drop is counted (`onFailure`, `onDrop`: the engine's metrics) and logged at error, the
 * first of a run of failures with its cause. A message id (`<instance>:<first record's seq>`) lets
 * the stream drop the copy of a retry whose first acknowledgement was lost.
 *
 * The file stays the chain's source of truth: a lost copy is not fatal, but it is never silent.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';

/** Longest pause between two attempts at one message. */
const MAX_RETRY_MS = 5_000;
const FIRST_RETRY_MS = 100;
/** Longest wait for one acknowledgement. */
const ACK_TIMEOUT_MS = 5_000;

export interface AuditCopyOptions {
  subject: string;
  /** Instance name in the message ids. */
  instance: string;
  /** Messages waiting for the stream at most; the oldest are dropped beyond it. */
  maxPending: number;
  onFailure?: () => void;
  onDrop?: (messages: number) => void;
}

interface Pending {
  id: string;
  text: string;
}

/** The first record's sequence of an NDJSON piece (every record line begins with `{"seq":N`). */
function firstSeq(text: string): string {
  return /^\{"seq":(\d+)/.exec(text)?.[1] ?? String(Date.now());
}

export class AuditStreamCopy {
  readonly #js: JetStreamClient;
  readonly #opts: AuditCopyOptions;
  readonly #log: Logger;
  #queue: Pending[] = [];
  #pump: Promise<void> | undefined;
  #closed = false;
  /** Failures since the last acknowledged message. */
  #failing = 0;
  #wake: (() => void) | undefined;
  /** Messages acknowledged by the stream, failures, and messages dropped, since start. */
  readonly stats = { acked: 0, failures: 0, dropped: 0 };

  constructor(js: JetStreamClient, opts: AuditCopyOptions, log: Logger) {
    this.#js = js;
    this.#opts = opts;
    this.#log = log;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Queues one message (an NDJSON piece of records) for the stream. */
  push(text: string): void {
    if (this.#closed) return;
    this.#queue.push({ id: `${this.#opts.instance}:${firstSeq(text)}`, text });
    const over = this.#queue.length - this.#opts.maxPending;
    if (over > 0) {
      const dropped = this.#queue.splice(0, over);
      this.stats.dropped += over;
      this.#opts.onDrop?.(over);
      this.#log.error(
        { component: 'security', dropped: over, first: dropped[0]?.id, pending: this.#queue.length },
        'audit stream copy queue full: oldest records not copied to BW_AUDIT',
      );
    }
    this.#pump ??= this.#run().finally(() => {
      this.#pump = undefined;
    });
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      const next = this.#queue[0]!;
      try {
        await this.#js.publish(this.#opts.subject, next.text, { msgID: next.id, timeout: ACK_TIMEOUT_MS });
        if (this.#queue[0] === next) this.#queue.shift();
        this.stats.acked++;
        if (this.#failing > 0) {
          this.#log.info(
            { component: 'security', failures: this.#failing, pending: this.#queue.length },
            'audit stream copy acknowledged again',
          );
        }
        this.#failing = 0;
      } catch (err) {
        this.stats.failures++;
        this.#failing++;
        this.#opts.onFailure?.();
        this.#log.error(
          {
            component: 'security',
            id: next.id,
            attempt: this.#failing,
            pending: this.#queue.length,
            ...(this.#failing === 1 ? { err } : {}),
          },
          'audit records not acknowledged by the BW_AUDIT stream, retrying',
        );
        const pause = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.#failing - 1));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  /**
   * Waits up to `timeoutMs` for the queue to be acknowledged, then stops; what is left is logged
   * as not copied.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.#pump) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#pump,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#closed = true;
    this.#wake?.();
    if (this.#queue.length > 0) {
      this.stats.dropped += this.#queue.length;
      this.#opts.onDrop?.(this.#queue.length);
      this.#log.error(
        { component: 'security', messages: this.#queue.length, first: this.#queue[0]?.id },
        'audit records not copied to BW_AUDIT before shutdown',
      );
      this.#queue = [];
    }
    await this.#pump;
  }
}
