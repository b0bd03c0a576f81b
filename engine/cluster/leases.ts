/**
 * Partition leases in a KV bucket (BW_LEASES, key `p.<p>`, value {owner, epoch, lease_seconds}).
 *
 * - acquire(p): creates the key when absent; otherwise takes it over by compare-and-set on the
 *   revision read, and only when the lease is released (owner null) or expired. Expired means
 *   this observer has seen the key's revision stay the same for longer than the lease on its own
 *   monotonic clock (never a comparison of clocks across hosts). Each new owner writes epoch + 1.
 *   Two instances acquiring at once both write against the same revision: exactly one wins.
 * - renew: every leaseSeconds/3 the holder writes again against its last revision (every second
 *   while writes fail, e.g. during a stream leader election); a write refused because the revision
 *   moved means the lease was taken ('lost', reason 'taken').
 * - release(p): writes {owner: null, epoch} against the holder's revision; the next owner can
 *   take it at once.
 * - Self-fencing: the holder counts its lease valid only until the local time at which it sent
 *   its last successful write + lease − safety margin. Any observer saw that write at or after it
 *   was sent, and waits a full lease after that before taking over, so the holder stops at least
 *   the margin before anyone else can start. At that deadline it emits 'lost' (reason 'expired'):
 *   stop reading, acking, checkpointing and publishing for the partition now.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';
import type { Logger } from '../log.js';
import { BucketWatch, readBucket } from './bucket-watch.js';
import { CLUSTER_REQUEST_TIMEOUT_MS, clusterJetStream, isRevisionConflict, openKvBucket } from './buckets.js';
import { FreshnessTable, type MonotonicClock, monotonicNow } from './freshness.js';
import {
  type AcquireResult,
  type HeldLease,
  KeyedQueue,
  LEASES_BUCKET,
  type LeaseEvent,
  type LeaseLostReason,
  type LeaseOptions,
  type LeaseValue,
  leaseKey,
  leaseOf,
  partitionOfKey,
} from './lease-value.js';
import { Listeners } from './listeners.js';
import { checkInstanceId, leaseTimings } from './settings.js';

export class PartitionLeases {
  private readonly table: FreshnessTable<LeaseValue>;
  private readonly holding = new Map<number, HeldLease>();
  private readonly maxEpoch = new Map<number, number>();
  private readonly queue = new KeyedQueue<number>();
  private readonly listeners: Listeners<LeaseEvent>;
  private readonly watch: BucketWatch;
  private readonly leaseMs: number;
  private readonly marginMs: number;
  private readonly renewMs: number;
  private readonly now: MonotonicClock;
  private readonly log: Logger;
  private renewTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly opts: LeaseOptions,
  ) {
    this.now = opts.now ?? monotonicNow;
    this.table = new FreshnessTable<LeaseValue>(this.now);
    const timings = leaseTimings(opts.leaseSeconds, opts.safetyMarginSeconds);
    this.leaseMs = timings.leaseMs;
    this.marginMs = timings.marginMs;
    this.renewMs = timings.renewMs;
    this.log = opts.log.child({ component: 'cluster-leases', instance: opts.instanceId });
    this.listeners = new Listeners(this.log);
    this.watch = new BucketWatch({ kv, log: this.log, onEntry: (entry) => this.onWatched(entry) });
  }

  static async open(nc: NatsConnection, opts: LeaseOptions): Promise<PartitionLeases> {
    checkInstanceId(opts.instanceId);
    leaseTimings(opts.leaseSeconds, opts.safetyMarginSeconds);
    const kv = await openKvBucket(
      clusterJetStream(nc),
      {
        name: opts.bucket ?? LEASES_BUCKET,
        description: 'bellwether partition leases',
        replicas: opts.replicas,
      },
      opts.log,
    );
    return new PartitionLeases(kv, opts);
  }

  get instanceId(): string {
    return this.opts.instanceId;
  }

  /** Milliseconds between renewals: a third of the lease. */
  get renewIntervalMs(): number {
    return this.renewMs;
  }

  /** Reads every lease, then watches the bucket and renews held leases every leaseSeconds/3. */
  async start(): Promise<void> {
    if (this.renewTimer) return;
    for (const entry of await readBucket(this.kv)) this.onWatched(entry);
    this.watch.start();
    this.renewTimer = setInterval(() => this.renewDue(), Math.max(50, Math.min(250, this.renewMs / 4)));
  }

  on(listener: (event: LeaseEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  isValid(partition: number): boolean {
    const held = this.holding.get(partition);
    return held !== undefined && this.now() < held.validUntil;
  }

  epochOf(partition: number): number | undefined {
    return this.isValid(partition) ? this.holding.get(partition)?.epoch : undefined;
  }

  /** Local monotonic ms until which the held lease is valid (undefined when not held). */
  validUntil(partition: number): number | undefined {
    return this.holding.get(partition)?.validUntil;
  }

  /** Throws BW_ERR_LEASE_LOST unless the lease is held, valid and (when given) of this epoch. */
  assertValid(partition: number, epoch?: number): void {
    const held = this.epochOf(partition);
    if (held === undefined || (epoch !== undefined && held !== epoch)) {
      throw new BellwetherError('BW_ERR_LEASE_LOST', `partition ${partition}`, {
        data: { partition, epoch, held },
      });
    }
  }

  /** Partitions whose lease this instance holds and counts as valid, ascending. */
  held(): number[] {
    return [...this.holding.keys()].filter((p) => this.isValid(p)).sort((a, b) => a - b);
  }

  /** Current owner of each partition as this observer sees it: null when released or expired. */
  owners(partitions: number): (string | null)[] {
    return Array.from({ length: partitions }, (_, p) => {
      if (this.isValid(p)) return this.opts.instanceId;
      const key = leaseKey(p);
      const seen = this.table.get(key);
      if (seen === undefined || seen.value.owner === null) return null;
      return this.table.ageMs(key) > this.expiryMsOf(seen.value) ? null : seen.value.owner;
    });
  }

  acquire(partition: number): Promise<AcquireResult> {
    return this.serial(partition, () => this.acquireNow(partition));
  }

  release(partition: number): Promise<void> {
    return this.serial(partition, () => this.releaseNow(partition));
  }

  /** Releases every held lease and stops. */
  async close(): Promise<void> {
    clearInterval(this.renewTimer);
    await Promise.all([...this.holding.keys()].map((p) => this.release(p)));
    await this.watch.stop();
  }

  /**
   * Stops renewing and watching without releasing (as if the process died or lost NATS). Local
   * fencing goes on: each lease turns invalid at its deadline and 'lost' is emitted.
   */
  halt(): void {
    clearInterval(this.renewTimer);
    void this.watch.stop();
  }

  private expiryMsOf(value: LeaseValue): number {
    return Math.max(this.leaseMs, value.lease_seconds * 1000);
  }

  private serial<T>(partition: number, task: () => Promise<T>): Promise<T> {
    return this.queue.run(partition, task);
  }

  private valueOf(owner: string | null, epoch: number): LeaseValue {
    return { owner, epoch, lease_seconds: this.leaseMs / 1000, written_at: new Date().toISOString() };
  }

  /** The lease as the stream leader has it now (observed), or undefined when absent or deleted. */
  private async readLease(partition: number): Promise<{ revision: number; value: LeaseValue } | undefined> {
    let entry: KvEntry | null;
    try {
      entry = await this.kv.get(leaseKey(partition));
    } catch (err) {
      throw new BellwetherError('BW_ERR_CLUSTER_STORE', `read lease of partition ${partition}`, {
        cause: err,
      });
    }
    if (entry?.operation !== 'PUT') return undefined;
    const value = leaseOf(entry);
    this.observe(partition, entry.revision, value);
    return { revision: entry.revision, value };
  }

  private async acquireNow(partition: number): Promise<AcquireResult> {
    const current = this.holding.get(partition);
    if (current && this.isValid(partition)) return { acquired: true, epoch: current.epoch };
    if (current) this.drop(partition, current, 'expired');
    const key = leaseKey(partition);
    const previous = await this.readLease(partition);
    const before = previous?.value;
    if (before && before.owner !== null && this.table.ageMs(key) <= this.expiryMsOf(before)) {
      return { acquired: false, owner: before.owner, epoch: before.epoch, reason: 'held' };
    }
    const epoch = Math.max(before?.epoch ?? 0, this.maxEpoch.get(partition) ?? 0) + 1;
    const value = JSON.stringify(this.valueOf(this.opts.instanceId, epoch));
    const sentAt = this.now();
    try {
      // Absent (or deleted): create, which fails if anyone wrote it since; else CAS on the revision read.
      const revision = previous
        ? await this.kv.update(key, value, previous.revision)
        : await this.kv.create(key, value);
      this.hold(partition, epoch, revision, sentAt);
      const how = before === undefined ? 'new' : before.owner === null ? 'released' : 'expired';
      this.log.info({ partition, epoch, previousOwner: before?.owner ?? null, how }, 'lease acquired');
      return { acquired: true, epoch };
    } catch (err) {
      const after = await this.readLease(partition).catch(() => undefined);
      if (after?.value.owner === this.opts.instanceId && after.value.epoch === epoch) {
        // The write landed but its answer was lost: the lease is ours from when it was sent.
        this.hold(partition, epoch, after.revision, sentAt);
        return { acquired: true, epoch };
      }
      if (!isRevisionConflict(err)) {
        throw new BellwetherError('BW_ERR_CLUSTER_STORE', `acquire lease of partition ${partition}`, {
          cause: err,
        });
      }
      const owner = after?.value.owner ?? null;
      return { acquired: false, owner, epoch: after?.value.epoch ?? epoch - 1, reason: 'raced' };
    }
  }

  private async releaseNow(partition: number): Promise<void> {
    const held = this.holding.get(partition);
    if (!held) return;
    this.drop(partition, held, 'released');
    const value = this.valueOf(null, held.epoch);
    try {
      const revision = await this.kv.update(leaseKey(partition), JSON.stringify(value), held.revision);
      this.observe(partition, revision, value);
      this.log.info({ partition, epoch: held.epoch }, 'lease released');
    } catch (err) {
      const detail = { partition, epoch: held.epoch, err: String(err) };
      this.log.warn(detail, 'lease release not written; it expires after the lease time');
    }
  }

  /**
   * Renews each lease every renewMs; after a failed renewal (a stream leader being elected, the
   * connection moving) it tries again every retryMs until it succeeds or the lease runs out.
   */
  private renewDue(): void {
    const now = this.now();
    const retryMs = Math.min(1000, this.renewMs / 2);
    for (const [partition, held] of this.holding) {
      const due = held.failedAt === undefined ? held.renewedAt + this.renewMs : held.failedAt + retryMs;
      if (held.renewing || now < due) continue;
      held.renewing = true;
      void this.serial(partition, () => this.renew(partition))
        .catch((err: unknown) => this.log.warn({ partition, err: String(err) }, 'lease renewal failed'))
        .finally(() => {
          held.renewing = false;
        });
    }
  }

  private async renew(partition: number): Promise<void> {
    const held = this.holding.get(partition);
    if (!held) return;
    const sentAt = this.now();
    const left = held.validUntil - sentAt;
    if (left <= 0) return this.drop(partition, held, 'expired');
    const value = this.valueOf(this.opts.instanceId, held.epoch);
    try {
      // Short enough that a request lost with a dying server is tried again well before the deadline.
      const timeout = Math.max(
        1,
        Math.min(CLUSTER_REQUEST_TIMEOUT_MS, Math.max(1000, this.renewMs / 3), left),
      );
      const revision = await this.kv.update(
        leaseKey(partition),
        JSON.stringify(value),
        held.revision,
        timeout,
      );
      this.observe(partition, revision, value);
      if (this.holding.get(partition) === held) this.extend(partition, held, revision, sentAt);
    } catch (err) {
      if (this.holding.get(partition) !== held) return;
      if (!isRevisionConflict(err)) {
        if (held.failedAt === undefined) {
          this.log.warn({ partition, epoch: held.epoch, err: String(err) }, 'lease renewal failed; retrying');
        }
        held.failedAt = this.now();
        return;
      }
      const now = await this.readLease(partition).catch(() => undefined);
      if (now?.value.owner === this.opts.instanceId && now.value.epoch === held.epoch) {
        held.revision = now.revision; // an earlier renewal landed but its answer was lost
        return;
      }
      this.drop(partition, held, 'taken');
    }
  }

  private hold(partition: number, epoch: number, revision: number, sentAt: number): void {
    const held: HeldLease = {
      epoch,
      revision,
      validUntil: 0,
      timer: undefined,
      renewedAt: sentAt,
      failedAt: undefined,
      renewing: false,
    };
    this.holding.set(partition, held);
    this.extend(partition, held, revision, sentAt);
    this.observe(partition, revision, this.valueOf(this.opts.instanceId, epoch));
    this.listeners.emit({ type: 'acquired', partition, epoch });
  }

  /** A write sent at `sentAt` succeeded: valid until sentAt + lease − margin. */
  private extend(partition: number, held: HeldLease, revision: number, sentAt: number): void {
    if (held.failedAt !== undefined) {
      const gapMs = Math.round(sentAt - held.renewedAt);
      this.log.info({ partition, epoch: held.epoch, gapMs }, 'lease renewed again');
    }
    held.revision = revision;
    held.renewedAt = sentAt;
    held.failedAt = undefined;
    held.validUntil = sentAt + this.leaseMs - this.marginMs;
    this.armExpiry(partition, held);
  }

  /** Fires 'lost' (expired) at the deadline; a timer that fires early (Node's cached loop time) is set again. */
  private armExpiry(partition: number, held: HeldLease): void {
    clearTimeout(held.timer);
    held.timer = setTimeout(
      () => {
        if (this.holding.get(partition) !== held) return;
        if (this.now() >= held.validUntil) this.drop(partition, held, 'expired');
        else this.armExpiry(partition, held);
      },
      Math.max(0, held.validUntil - this.now()) + 1,
    );
  }

  private drop(partition: number, held: HeldLease, reason: LeaseLostReason): void {
    if (this.holding.get(partition) !== held) return;
    this.holding.delete(partition);
    clearTimeout(held.timer);
    if (reason !== 'released') this.log.warn({ partition, epoch: held.epoch, reason }, 'lease lost');
    this.listeners.emit({ type: 'lost', partition, epoch: held.epoch, reason });
  }

  private observe(
    partition: number,
    revision: number,
    value: LeaseValue,
  ): 'new' | 'changed' | 'same' | 'older' {
    this.maxEpoch.set(partition, Math.max(this.maxEpoch.get(partition) ?? 0, value.epoch));
    return this.table.observe(leaseKey(partition), revision, value);
  }

  private onWatched(entry: KvEntry): void {
    const partition = partitionOfKey(entry.key);
    if (partition === undefined) return;
    if (entry.operation !== 'PUT') {
      this.table.forget(entry.key);
      return;
    }
    const value = leaseOf(entry);
    const before = this.table.get(entry.key)?.value;
    const seen = this.observe(partition, entry.revision, value);
    if (seen !== 'new' && seen !== 'changed') return;
    const held = this.holding.get(partition);
    if (
      held &&
      entry.revision > held.revision &&
      (value.owner !== this.opts.instanceId || value.epoch !== held.epoch)
    ) {
      this.drop(partition, held, 'taken');
    }
    // A change of hands or a release; another holder's plain renewals are not events.
    const changedHands = before?.owner !== value.owner || before?.epoch !== value.epoch;
    if (value.owner !== this.opts.instanceId && changedHands) {
      this.listeners.emit({ type: 'observed', partition, owner: value.owner, epoch: value.epoch });
    }
  }
}
