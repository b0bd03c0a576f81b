/**
 * Customer answers served by the main thread without waiting for a busy partition worker.
 *
 * Workers and the main thread share two arrays of version counters (SharedArrayBuffer):
 * - `buckets`: 2^20 counters; a worker bumps the counter of `fnv1a32(customer_id) mod 2^20` each time
 *   it folds an event of that customer;
 * - `epochs`: one counter per partition, bumped when everything in the partition may change at
 *   once (rescore sweep, model reload, CRM reconfiguration, RFM cuts, worker restart).
 * The main thread keeps recent answers (LRU) with the two counters it read *before* asking the
 * worker. A cached answer is served while both counters are unchanged and it is younger than the
 * time-to-live (features such as `days_since_last_purchase` move with the clock); otherwise the
 * worker is asked. A bucket shared by two customers only causes extra misses, never a stale hit.
 */
import { LRUCache } from 'lru-cache';
import { fnv1a32 } from './subjects.js';
import type { CustomerAnswer } from './thread-messages.js';

const BUCKETS = 1 << 20;

/** The shared counters, as plain typed arrays over SharedArrayBuffers (they cross into workers). */
export interface AnswerVersionsData {
  buckets: Uint32Array;
  epochs: Uint32Array;
}

export function createAnswerVersions(partitions: number): AnswerVersionsData {
  return {
    buckets: new Uint32Array(new SharedArrayBuffer(4 * BUCKETS)),
    epochs: new Uint32Array(new SharedArrayBuffer(4 * partitions)),
  };
}

export function bucketOf(customerId: string): number {
  return fnv1a32(customerId) & (BUCKETS - 1);
}

/** Worker side: the customer's answer changed. */
export function bumpCustomer(versions: AnswerVersionsData, customerId: string): void {
  Atomics.add(versions.buckets, bucketOf(customerId), 1);
}

/** Either side: every answer of the partition may have changed. */
export function bumpPartition(versions: AnswerVersionsData, partition: number): void {
  Atomics.add(versions.epochs, partition, 1);
}

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
    return {
      bucket: Atomics.load(this.#versions.buckets, bucketOf(customerId)),
      epoch: Atomics.load(this.#versions.epochs, partition),
    };
  }

  get(customerId: string, partition: number, now: number = performance.now()): CustomerAnswer | undefined {
    const entry = this.#entries.get(customerId);
    if (entry) {
      const current = this.stamp(customerId, partition);
      if (entry.bucket === current.bucket && entry.epoch === current.epoch && now - entry.at < this.#ttlMs) {
        this.hits++;
        return entry.answer;
      }
      this.#entries.delete(customerId);
    }
    this.misses++;
    return undefined;
  }

  set(
    customerId: string,
    answer: CustomerAnswer,
    stamp: { bucket: number; epoch: number },
    at: number,
  ): void {
    this.#entries.set(customerId, { answer, ...stamp, at });
  }
}
