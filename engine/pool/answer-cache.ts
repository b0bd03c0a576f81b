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
 *
 * A worker bumps a customer's counter when the batch that folded its events is scored (the moment
 * the events become visible), and pushes fresh answers of the customers the main thread is
 * reading (answer-push.ts) stamped with the counters as they are then: a third shared array,
 * `reads`, holds the second at which the main thread last served each (hashed) customer.
 * Timestamps are absolute (`clockMs`), so the two threads' ages compare.
 */
import { LRUCache } from 'lru-cache';
import { fnv1a32 } from '../../contract/subjects.js';
import type { CustomerAnswer } from './thread-messages.js';

const BUCKETS = 1 << 20;
const READ_MARKS = 1 << 16;

/** Wall-clock ms with sub-ms precision, comparable across threads (performance.now() is not). */
export function clockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The shared counters, as plain typed arrays over SharedArrayBuffers (they cross into workers). */
export interface AnswerVersionsData {
  buckets: Uint32Array;
  epochs: Uint32Array;
  /** Second (epoch s) at which the main thread last served a customer of each hash slot. */
  reads: Uint32Array;
}

export function createAnswerVersions(partitions: number): AnswerVersionsData {
  return {
    buckets: new Uint32Array(new SharedArrayBuffer(4 * BUCKETS)),
    epochs: new Uint32Array(new SharedArrayBuffer(4 * partitions)),
    reads: new Uint32Array(new SharedArrayBuffer(4 * READ_MARKS)),
  };
}

/** The counters an answer of `customerId` computed now is valid for. */
export function stampOf(
  versions: AnswerVersionsData,
  customerId: string,
  partition: number,
): { bucket: number; epoch: number } {
  return stampOfBucket(versions, bucketOf(customerId), partition);
}

function stampOfBucket(
  versions: AnswerVersionsData,
  bucket: number,
  partition: number,
): { bucket: number; epoch: number } {
  return { bucket: Atomics.load(versions.buckets, bucket), epoch: Atomics.load(versions.epochs, partition) };
}

/** Main side: `customerId` was just read. */
export function markRead(versions: AnswerVersionsData, customerId: string, atMs: number): void {
  markBucketRead(versions, bucketOf(customerId), atMs);
}

function markBucketRead(versions: AnswerVersionsData, bucket: number, atMs: number): void {
  Atomics.store(versions.reads, bucket & (READ_MARKS - 1), Math.floor(atMs / 1000));
}

/** Worker side: epoch second of the last read of `customerId` (or of one sharing its hash slot). */
export function lastRead(versions: AnswerVersionsData, customerId: string): number {
  return Atomics.load(versions.reads, bucketOf(customerId) & (READ_MARKS - 1));
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
