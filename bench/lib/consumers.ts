/**
 * Watches a set of per-partition durable consumers from outside (JetStream consumer info), so the
 * engine and the bare consumer are timed the same way: from the creation of their first consumer
 * to the first poll at which every consumer has nothing pending and nothing awaiting an ack.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { eventsStreamOf } from '../../engine/nats/streams.js';
import { sleep } from './report.js';

interface ConsumerState {
  exists: boolean;
  /** Creation time, epoch ms (server clock; same machine). */
  created: number;
  pending: number;
  ackPending: number;
}

/**
 * The newest consumer of a partition's stream named `durable(p)`, or `durable(p)-e<epoch>` (the
 * engine's consumer under a partition lease, with an external NATS).
 */
async function consumerStates(
  jsm: JetStreamManager,
  durable: (partition: number) => string,
  partitions: number,
): Promise<ConsumerState[]> {
  return Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      const base = durable(p);
      let newest: ConsumerState = { exists: false, created: Number.NaN, pending: 0, ackPending: 0 };
      try {
        for await (const info of await jsm.consumers.list(eventsStreamOf(p, 'partitioned'))) {
          if (info.name !== base && !info.name.startsWith(`${base}-e`)) continue;
          const created = Date.parse(info.created);
          if (newest.exists && created <= newest.created) continue;
          newest = { exists: true, created, pending: info.num_pending, ackPending: info.num_ack_pending };
        }
      } catch {
        // the stream or its consumers not there (yet)
      }
      return newest;
    }),
  );
}

export interface DrainTiming {
  /** Epoch ms at which the first consumer was created. */
  firstCreated: number;
  /** Epoch ms of the first poll that saw every consumer drained. */
  drainedAt: number;
  seconds: number;
  /** (epoch ms, messages still pending or unacked) at every poll once all consumers existed. */
  samples: [number, number][];
}

export interface DrainOptions {
  /** Consumers created before this epoch ms are stale (a previous run) and not counted. */
  createdAfter: number;
  total: number;
  pollMs?: number;
  timeoutMs?: number;
  onPoll?: (remaining: number) => void;
  /** Checked at every poll; a thrown error aborts (e.g. the process under test died). */
  check?: () => void;
}

/** Waits until every partition consumer exists (fresh) and is drained; returns the timing. */
export async function waitDrained(
  jsm: JetStreamManager,
  durable: (partition: number) => string,
  partitions: number,
  opts: DrainOptions,
): Promise<DrainTiming> {
  const pollMs = opts.pollMs ?? 100;
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  const samples: [number, number][] = [];
  for (;;) {
    opts.check?.();
    const states = await consumerStates(jsm, durable, partitions);
    const now = Date.now();
    const fresh = states.every((s) => s.exists && s.created >= opts.createdAfter - 50);
    if (fresh) {
      const remaining = states.reduce((sum, s) => sum + s.pending + s.ackPending, 0);
      samples.push([now, remaining]);
      opts.onPoll?.(remaining);
      if (remaining === 0) {
        const firstCreated = Math.min(...states.map((s) => s.created));
        return { firstCreated, drainedAt: now, seconds: (now - firstCreated) / 1000, samples };
      }
    } else {
      opts.onPoll?.(opts.total);
    }
    if (now > deadline) throw new Error('timed out waiting for the consumers to drain');
    await sleep(pollMs);
  }
}

/** Waits until the engine's consumers have nothing pending or unacked (e.g. between phases). */
export async function waitEngineIdle(jsm: JetStreamManager, partitions: number): Promise<void> {
  await waitDrained(jsm, (p) => `bw-p${p}`, partitions, { createdAfter: 0, total: 0, timeoutMs: 120_000 });
}
