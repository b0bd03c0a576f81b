/**
 * Keeps this instance's partitions in line with the assignment: on every membership change, every
 * lease change seen, and every leaseSeconds/3, it computes the target owner of each partition
 * (assignment.ts, from the live members and the current lease owners), releases the partitions
 * it holds that now belong elsewhere (after `stopping`, so the partition is stopped and
 * checkpointed first) and acquires those that belong to it and are free or expired.
 *
 * The hooks are where the engine starts and stops a partition; `lost` comes when a lease is taken
 * or runs past its self-fencing deadline, and the partition must stop at once.
 */
import type { Logger } from '../log.js';
import { assignPartitions } from './assignment.js';
import type { LeaseLostReason } from './lease-value.js';
import type { PartitionLeases } from './leases.js';
import type { Membership } from './membership.js';

export interface PartitionHooks {
  /** The lease was acquired with this epoch: claim the checkpoint pointer, load, start. */
  started?(partition: number, epoch: number): Promise<void> | void;
  /** The partition is about to be released on purpose: stop it and write its last checkpoint. */
  stopping?(partition: number, epoch: number): Promise<void> | void;
  /** The lease was taken or expired: stop reading, acking, checkpointing and publishing now. */
  lost?(partition: number, epoch: number, reason: LeaseLostReason): void;
}

export interface CoordinatorOptions {
  partitions: number;
  membership: Membership;
  leases: PartitionLeases;
  log: Logger;
  hooks?: PartitionHooks;
  /** Milliseconds between passes without any event; default a third of the lease. */
  tickMs?: number;
}

export class PartitionCoordinator {
  private readonly log: Logger;
  private readonly unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastTarget: (string | null)[] = [];

  constructor(private readonly opts: CoordinatorOptions) {
    this.log = opts.log.child({ component: 'cluster-coordinator', instance: opts.leases.instanceId });
  }

  /** Starts listening and ticking, and runs a first pass. */
  start(): void {
    const tickMs = this.opts.tickMs ?? this.opts.leases.renewIntervalMs;
    const { membership, leases, hooks } = this.opts;
    this.unsubscribe.push(
      membership.on(() => this.schedule()),
      leases.on((event) => {
        if (event.type === 'lost') {
          if (event.reason !== 'released') hooks?.lost?.(event.partition, event.epoch, event.reason);
          this.schedule();
        } else if (event.type === 'observed') {
          this.schedule();
        }
      }),
    );
    this.timer = setInterval(() => this.schedule(), tickMs);
    this.schedule();
  }

  /** The target owner of each partition at the last pass. */
  target(): (string | null)[] {
    return [...this.lastTarget];
  }

  /** Runs a pass now, or once more after the one running; resolves when that pass is done. */
  schedule(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (err) {
          this.log.warn({ err: String(err) }, 'partition pass failed; retrying at the next tick');
        }
      } while (this.again && !this.stopped);
      this.running = undefined;
    })();
    return this.running;
  }

  /** Stops the passes, then stops and releases every held partition. */
  async stop(): Promise<void> {
    this.halt();
    await this.running;
    const { leases, hooks } = this.opts;
    await Promise.all(
      leases.held().map(async (p) => {
        await this.stopPartition(p, hooks);
        await leases.release(p);
      }),
    );
  }

  /** Stops the passes and listeners, releasing nothing (as if the process died). */
  halt(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const off of this.unsubscribe.splice(0)) off();
  }

  private async pass(): Promise<void> {
    const { partitions, membership, leases, hooks } = this.opts;
    const me = leases.instanceId;
    const members = [...new Set([...membership.liveIds(), me])];
    const owners = leases.owners(partitions);
    const target = assignPartitions(partitions, members, owners);
    this.lastTarget = target;

    const toRelease = leases.held().filter((p) => target[p] !== me);
    await Promise.all(
      toRelease.map(async (p) => {
        await this.stopPartition(p, hooks);
        await leases.release(p);
      }),
    );
    if (this.stopped) return;

    // Free or expired partitions of ours; one still held by another live owner waits for its release.
    const toAcquire = target
      .map((member, p) => (member === me && !leases.isValid(p) && owners[p] === null ? p : -1))
      .filter((p) => p >= 0);
    await Promise.all(
      toAcquire.map(async (p) => {
        const result = await leases.acquire(p);
        if (!result.acquired) return;
        try {
          await hooks?.started?.(p, result.epoch);
        } catch (err) {
          this.log.error(
            { partition: p, epoch: result.epoch, err: String(err) },
            'partition did not start; releasing it',
          );
          await leases.release(p);
        }
      }),
    );
    if (toRelease.length > 0 || toAcquire.length > 0) {
      this.log.debug({ released: toRelease, tried: toAcquire, held: leases.held() }, 'partition pass');
    }
  }

  private async stopPartition(partition: number, hooks: PartitionHooks | undefined): Promise<void> {
    const epoch = this.opts.leases.epochOf(partition);
    if (epoch === undefined) return;
    try {
      await hooks?.stopping?.(partition, epoch);
    } catch (err) {
      this.log.error(
        { partition, epoch, err: String(err) },
        'partition did not stop cleanly; releasing it anyway',
      );
    }
  }
}
