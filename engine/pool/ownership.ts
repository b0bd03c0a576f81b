/**
 * Which partitions this instance runs, with the epoch of its lease on each, and until when each
 * lease is valid: the latter in memory shared with the workers (WorkerData.leaseUntil), which fence
 * a partition past it. `static` (the embedded single node): every partition, epoch 0, valid forever;
 * `leased`: none until the cluster member hands them over (engine/cluster/engine-member.ts).
 */
import type { OwnedPartition } from './thread-messages.js';

export class Ownership {
  readonly leaseUntil: Float64Array;
  readonly #owned = new Map<number, number>();

  constructor(partitions: number, mode: 'static' | 'leased') {
    this.leaseUntil = new Float64Array(new SharedArrayBuffer(8 * partitions));
    if (mode === 'static') {
      this.leaseUntil.fill(Number.POSITIVE_INFINITY);
      for (let p = 0; p < partitions; p++) this.#owned.set(p, 0);
    }
  }

  /** The partitions worker `index` of `count` runs (partition p goes to worker p mod count). */
  of(index: number, count: number): OwnedPartition[] {
    const out: OwnedPartition[] = [];
    for (const [partition, epoch] of this.#owned)
      if (partition % count === index) out.push({ partition, epoch });
    return out.sort((a, b) => a.partition - b.partition);
  }

  partitions(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  has(partition: number): boolean {
    return this.#owned.has(partition);
  }

  epochOf(partition: number): number | undefined {
    return this.#owned.get(partition);
  }

  add(partition: number, epoch: number): void {
    this.#owned.set(partition, epoch);
  }

  /** Forgets the partition; false when it was not owned. */
  remove(partition: number): boolean {
    return this.#owned.delete(partition);
  }

  /**
   * The worker is done stopping a partition: its deadline goes to 0 (fenced), unless the partition
   * is owned here again by then. A lease lost and acquired again at once (a process resumed past
   * its lease) has its new deadline written before the worker has stopped the old run; zeroing it
   * then fenced the new run at its first batch, for good: it folded nothing more while this
   * instance kept renewing its lease.
   */
  disowned(partition: number): void {
    if (!this.#owned.has(partition)) this.leaseUntil[partition] = 0;
  }
}
