/**
 * What a partition lease holds in BW_LEASES, its key, the options of the leases piece, and the
 * events and answers about leases.
 */
import type { KvEntry } from '@nats-io/kv';
import type { Logger } from '../log.js';
import { parseJson, type ReplicaOptions } from './buckets.js';
import type { MonotonicClock } from './freshness.js';

export const LEASES_BUCKET = 'BW_LEASES';

export interface LeaseValue {
  /** Holder's instance id; null once released. */
  owner: string | null;
  /** 1 for the first owner, +1 for each new owner; a release keeps it. */
  epoch: number;
  /** The holder's lease; observers wait at least this long after its last write. */
  lease_seconds: number;
  /** Wall-clock time of the write, for people reading the bucket; never used for decisions. */
  written_at?: string;
}

export type LeaseLostReason = 'taken' | 'expired' | 'released';

export type LeaseEvent =
  | { type: 'acquired'; partition: number; epoch: number }
  | { type: 'lost'; partition: number; epoch: number; reason: LeaseLostReason }
  /** A lease changed hands or was released by another instance (owner null), as seen here. */
  | { type: 'observed'; partition: number; owner: string | null; epoch: number };

export type AcquireResult =
  | { acquired: true; epoch: number }
  | { acquired: false; owner: string | null; epoch: number; reason: 'held' | 'raced' };

export interface LeaseOptions extends ReplicaOptions {
  instanceId: string;
  leaseSeconds?: number;
  /** How long before an observer could take over the holder stops; default 20% of the lease. */
  safetyMarginSeconds?: number;
  bucket?: string;
  log: Logger;
  now?: MonotonicClock;
}

/** A lease this instance holds (internal to leases.ts). */
export interface HeldLease {
  epoch: number;
  revision: number;
  /** Local monotonic ms until which the lease counts as valid. */
  validUntil: number;
  timer: NodeJS.Timeout | undefined;
  /** Local time the last successful write was sent; the next renewal is due renewMs later. */
  renewedAt: number;
  /** Local time of the last failed renewal; while set, the next try is due retryMs later. */
  failedAt: number | undefined;
  renewing: boolean;
}

export function leaseKey(partition: number): string {
  return `p.${partition}`;
}

export function partitionOfKey(key: string): number | undefined {
  const match = /^p\.(\d+)$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** A lease value as read; a value that is not a lease counts as held by an unknown owner ('?'). */
export function leaseOf(entry: KvEntry): LeaseValue {
  const value = parseJson(entry.value) as Partial<LeaseValue> | undefined;
  if (typeof value !== 'object' || value === null || typeof value.epoch !== 'number') {
    return { owner: '?', epoch: 0, lease_seconds: 0 };
  }
  return {
    owner: typeof value.owner === 'string' ? value.owner : null,
    epoch: value.epoch,
    lease_seconds: typeof value.lease_seconds === 'number' ? value.lease_seconds : 0,
  };
}

/** Runs tasks one after another per key (a partition's acquire, renewals and release never overlap). */
export class KeyedQueue<K> {
  private readonly tails = new Map<K, Promise<unknown>>();

  run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(task, task);
    const settled = next.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return next;
  }
}
