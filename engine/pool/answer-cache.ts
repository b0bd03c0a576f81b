/**
 * Customer answers served by the main thread without waiting for a busy partition worker.
 *
 * Workers and the main thread share version counters (answer-versions.ts). The main thread keeps
 * recent answers (LRU) with the two counters it read *before* asking the
 * worker. A cached answer is served while both counters are unchanged and it is younger than the
 * time-to-live (features such as `days_since_last_purchase` move with the clock); otherwise the
 * worker is asked. A bucket shared by two customers only causes extra misses, never a stale hit.
 *
 * A worker bumps a customer's counter when the batch that folded its events is scored (the moment
 * the events become visible), and pushes fresh answers of the customers the main thread is
 * reading (answer-push.ts) stamped with the counters as they are then: a third shared array,
 * `reads`, holds the second at which the main thread last served each (hashed) customer.
 * Timestamps are absolute (`clockMs`), so the two threads' ages compare.
 */
import { LRUCache } from 'lru-cache';
import {
  type AnswerVersionsData,
  bucketOf,
  clockMs,
  markBucketRead,
  stampOf,
  stampOfBucket,
} from './answer-versions.js';
import type { CustomerAnswer } from './thread-messages.js';

interface Entry {
  answer: CustomerAnswer;
  bucket: number;
  epoch: number;
  at: number;
}

export class AnswerCache {
  readonly #versions: AnswerVersionsData;
  readonly #ttlMs: number;
  readonly #entries: LRUCache<string, Entry>;
  hits = 0;
  misses = 0;

  constructor(versions: AnswerVersionsData, opts: { ttlMs: number; max: number }) {
    this.#versions = versions;
    this.#ttlMs = opts.ttlMs;
    this.#entries = new LRUCache({ max: opts.max });
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /** The counters of a customer now, to be stored with an answer asked for after this call. */
  stamp(customerId: string, partition: number): { bucket: number; epoch: number } {
    return stampOf(this.#versions, customerId, partition);
  }

  /** @param now {@link clockMs} */
  get(customerId: string, partition: number, now: number = clockMs()): CustomerAnswer | undefined {
    const entry = this.#entries.get(customerId);
    if (entry) {
      // The id is hashed once for both the version check and the read mark.
      const bucket = bucketOf(customerId);
      const current = stampOfBucket(this.#versions, bucket, partition);
      if (entry.bucket === current.bucket && entry.epoch === current.epoch && now - entry.at < this.#ttlMs) {
        this.hits++;
        markBucketRead(this.#versions, bucket, now);
        return entry.answer;
      }
      this.#entries.delete(customerId);
    }
    this.misses++;
    return undefined;
  }

  /**
   * Keeps `answer`, valid while the counters equal `stamp`, from `at` ({@link clockMs}) on. An entry
   * with later counters (a pushed answer that overtook a reply) is not replaced.
   */
  set(
    customerId: string,
    answer: CustomerAnswer,
    stamp: { bucket: number; epoch: number },
    at: number,
  ): void {
    const held = this.#entries.peek(customerId);
    if (held && (held.bucket > stamp.bucket || held.epoch > stamp.epoch || held.at > at)) return;
    this.#entries.set(customerId, { answer, ...stamp, at });
  }
}
