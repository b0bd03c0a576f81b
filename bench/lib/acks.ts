/**
 * Watches consumer acks as they happen. A consumer acks by publishing to the reply subject of the
 * message, `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`
 * (or the 12-token form with domain and account hash); a core subscription to `$JS.ACK.>` sees a
 * copy. With AckPolicy.All and no redeliveries, the consumer sequence of a consumer's latest ack
 * is how many of its messages are done, so the sum over a set of consumers is the progress of the
 * engine (or the bare consumer) measured the same way, in real time, with no request to either.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { sleep } from './report.js';

export interface AckTimeline {
  /** performance.now() of the first and of the latest ack. */
  firstAt: number;
  lastAt: number;
  /** (performance.now(), total acked) at every ack. */
  samples: [number, number][];
}

export class AckWatch implements AckTimeline {
  readonly #sub: Subscription;
  readonly #done = new Map<string, number>();
  #total = 0;
  firstAt = Number.NaN;
  lastAt = Number.NaN;
  samples: [number, number][] = [];

  /** `streamPrefix` matches the events streams of both layouts (BW_EVENTS, BW_EVENTS_<p>). */
  private constructor(nc: NatsConnection, streamPrefix: string, consumerPrefix: string) {
    this.#sub = nc.subscribe('$JS.ACK.>', {
      callback: (err, msg) => {
        if (err) return;
        const t = msg.subject.split('.');
        // 9 tokens: $JS.ACK.stream.consumer.delivered.sseq.cseq.tm.pending; 12: with domain + hash.
        const at = t.length >= 11 ? 4 : 2;
        const stream = t[at] ?? '';
        if (!stream.startsWith(streamPrefix)) return;
        const name = t[at + 1] ?? '';
        if (!name.startsWith(consumerPrefix)) return;
        const consumer = `${stream}.${name}`;
        const cseq = Number(t[at + 4]);
        const before = this.#done.get(consumer) ?? 0;
        if (!(cseq > before)) return;
        this.#done.set(consumer, cseq);
        this.#total += cseq - before;
        const now = performance.now();
        if (Number.isNaN(this.firstAt)) this.firstAt = now;
        this.lastAt = now;
        this.samples.push([now, this.#total]);
      },
    });
  }

  static async start(nc: NatsConnection, streamPrefix: string, consumerPrefix: string): Promise<AckWatch> {
    const watch = new AckWatch(nc, streamPrefix, consumerPrefix);
    await nc.flush();
    return watch;
  }

  get total(): number {
    return this.#total;
  }

  /** Resolves once `total` messages are acked. */
  async waitFor(
    total: number,
    opts: { timeoutMs?: number; onProgress?: (acked: number) => void; check?: () => void } = {},
  ): Promise<void> {
    const deadline = performance.now() + (opts.timeoutMs ?? 600_000);
    while (this.#total < total) {
      opts.check?.();
      opts.onProgress?.(this.#total);
      if (performance.now() > deadline)
        throw new Error(`only ${this.#total} of ${total} messages were acked`);
      await sleep(20);
    }
  }

  stop(): void {
    this.#sub.unsubscribe();
  }
}

/**
 * Steady-state rate: messages per second between the moments 10% and 90% of `total` were acked,
 * which leaves out the start-up ramp (consumers attaching one by one) and the tail.
 */
export function steadyRate(timeline: AckTimeline, total: number): number {
  const crossing = (count: number): number => timeline.samples.find(([, n]) => n >= count)?.[0] ?? Number.NaN;
  const t10 = crossing(0.1 * total);
  const t90 = crossing(0.9 * total);
  if (!(t90 > t10)) return Number.NaN;
  return (0.8 * total) / ((t90 - t10) / 1000);
}
