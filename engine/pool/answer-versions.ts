/**
 * The version counters shared by the partition workers and the main thread (SharedArrayBuffer),
 * which say when a cached customer answer (answer-cache.ts) may still be served:
 * - `buckets`: 2^20 counters; a worker bumps the counter of `fnv1a32(customer_id) mod 2^20` each time
 *   it folds an event of that customer;
 * - `epochs`: one counter per partition, bumped when everything in the partition may change at
 *   once (rescore sweep, model reload, CRM reconfiguration, RFM cuts, worker restart);
 * - `reads`: the second at which the main thread last served each (hashed) customer, so a worker
 *   pushes fresh answers only of customers being read (answer-push.ts).
 * Timestamps are absolute (`clockMs`), so the two threads' ages compare.
 */
import { fnv1a32 } from '../../contract/subjects.js';

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

export function stampOfBucket(
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

export function markBucketRead(versions: AnswerVersionsData, bucket: number, atMs: number): void {
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
