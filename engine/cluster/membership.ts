/**
 * Cluster membership in a KV bucket (BW_MEMBERS): each running instance puts its entry under its
 * instance id and puts it again every leaseSeconds/3 as a heartbeat.
 *
 * An observer counts a member live while the revision of its entry keeps changing: it remembers,
 * on its own monotonic clock, when it last saw the revision move, and a member silent for longer
 * than the lease is gone ('expired'). Wall-clock times written by other hosts are never compared,
 * so skewed clocks do not matter. A deleted or purged entry (a graceful leave) is gone at once
 * ('left'). The bucket's max_age (a few lease lengths) lets the server drop dead members' entries.
 *
 * The bucket is watched for changes. Ages are measured up to the point the observer's view is
 * known to be complete: the send time of its own latest heartbeat the watch has delivered (the
 * watch delivers writes in order, so every earlier write has been delivered too), or the start of
 * its latest full read. A watch that stalls, or a connection that is down, therefore stops
 * expiring others instead of expiring everyone. A watch that has not shown this member's own
 * heartbeat within half a lease is started again after a full read.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';
import type { Logger } from '../log.js';
import { BucketWatch, readBucket } from './bucket-watch.js';
import {
  CLUSTER_REQUEST_TIMEOUT_MS,
  clusterJetStream,
  openKvBucket,
  parseJson,
  type ReplicaOptions,
} from './buckets.js';
import { FreshnessTable, type MonotonicClock, monotonicNow } from './freshness.js';
import { Listeners } from './listeners.js';
import { checkInstanceId, DEFAULT_LEASE_SECONDS, leaseTimings } from './settings.js';

export const MEMBERS_BUCKET = 'BW_MEMBERS';

/** What a member announces about itself. `started_at` is informational only. */
export interface MemberInfo {
  instance_id: string;
  http_url?: string;
  started_at: string;
  lease_seconds: number;
  [extra: string]: unknown;
}

export type MembershipEvent =
  | { type: 'join'; member: MemberInfo }
  | { type: 'leave'; instanceId: string; reason: 'left' | 'expired' };

export interface MembershipOptions extends ReplicaOptions {
  instanceId: string;
  httpUrl?: string;
  /** More fields for the member's entry. */
  extra?: Record<string, unknown>;
  leaseSeconds?: number;
  bucket?: string;
  log: Logger;
  now?: MonotonicClock;
}

function memberOf(entry: KvEntry): MemberInfo | undefined {
  const value = parseJson(entry.value) as Partial<MemberInfo> | undefined;
  if (value === undefined || typeof value !== 'object' || value === null) return undefined;
  return {
    ...value,
    instance_id: typeof value.instance_id === 'string' ? value.instance_id : entry.key,
    started_at: typeof value.started_at === 'string' ? value.started_at : '',
    lease_seconds: typeof value.lease_seconds === 'number' ? value.lease_seconds : 0,
  };
}

export class Membership {
  private readonly table: FreshnessTable<MemberInfo>;
  private readonly liveSet = new Set<string>();
  private readonly listeners: Listeners<MembershipEvent>;
  private readonly watch: BucketWatch;
  private readonly leaseMs: number;
  private readonly log: Logger;
  private readonly now: MonotonicClock;
  private readonly info: MemberInfo;
  private timer: NodeJS.Timeout | undefined;
  /** Local time of the last successful heartbeat, and of the last failed one while failing. */
  private beatAt = 0;
  private beatFailedAt: number | undefined;
  private beating = false;
  /** This member's heartbeats the watch has not delivered yet: revision and local send time. */
  private unwatched: { revision: number; at: number }[] = [];
  /** Local time up to which this observer has seen every write to the bucket. */
  private completeAt = 0;
  private watchedOwnRevision = 0;
  private started = false;

  private constructor(
    private readonly kv: KV,
    private readonly opts: MembershipOptions,
  ) {
    this.now = opts.now ?? monotonicNow;
    this.table = new FreshnessTable<MemberInfo>(this.now);
    this.leaseMs = (opts.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
    this.log = opts.log.child({ component: 'cluster-members', instance: opts.instanceId });
    this.listeners = new Listeners(this.log);
    this.info = {
      ...opts.extra,
      instance_id: opts.instanceId,
      ...(opts.httpUrl === undefined ? {} : { http_url: opts.httpUrl }),
      started_at: new Date().toISOString(),
      lease_seconds: this.leaseMs / 1000,
    };
    this.watch = new BucketWatch({
      kv,
      log: this.log,
      onEntry: (entry) => {
        if (entry.key === opts.instanceId) this.watchedOwn(entry.revision);
        this.apply(entry.key, entry.operation, entry.revision, entry);
      },
    });
  }

  /** Opens (creating when absent) the members bucket. Call start() to join. */
  static async open(nc: NatsConnection, opts: MembershipOptions): Promise<Membership> {
    checkInstanceId(opts.instanceId);
    leaseTimings(opts.leaseSeconds);
    const leaseMs = (opts.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
    const kv = await openKvBucket(
      clusterJetStream(nc),
      {
        name: opts.bucket ?? MEMBERS_BUCKET,
        description: 'bellwether cluster members (heartbeats)',
        ttlMs: Math.max(4 * leaseMs, 10_000),
        replicas: opts.replicas,
      },
      opts.log,
    );
    return new Membership(kv, opts);
  }

  get instanceId(): string {
    return this.opts.instanceId;
  }

  /** Puts this member's entry, reads the bucket, then heartbeats and watches until leave/halt. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await this.heartbeat(true);
      await this.catchUp();
    } catch (err) {
      this.started = false;
      throw err;
    }
    this.watch.start();
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.min(250, this.leaseMs / 12)));
    this.log.info({ leaseSeconds: this.leaseMs / 1000 }, 'joined the cluster');
  }

  /** Live members, sorted by instance id. */
  live(): MemberInfo[] {
    return [...this.liveSet]
      .sort()
      .map((id) => this.table.get(id)?.value)
      .filter((m): m is MemberInfo => m !== undefined);
  }

  liveIds(): string[] {
    return [...this.liveSet].sort();
  }

  isLive(id: string): boolean {
    return this.liveSet.has(id);
  }

  /** Listens to joins and leaves; returns the function that stops listening. */
  on(listener: (event: MembershipEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Graceful leave: stops heartbeating and watching, deletes this member's entry. */
  async leave(): Promise<void> {
    this.halt();
    await this.watch.stop();
    try {
      await this.kv.delete(this.opts.instanceId);
      this.log.info({}, 'left the cluster');
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not delete the member entry; it expires on its own');
    }
  }

  /** Stops heartbeats, checks and the watch without deleting the entry (as if the process died). */
  halt(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    void this.watch.stop();
  }

  /**
   * Heartbeats every leaseSeconds/3 (every second while heartbeats fail, as during a stream
   * leader election) and expires silent members.
   */
  private tick(): void {
    const renewMs = this.leaseMs / 3;
    const due =
      this.beatFailedAt === undefined
        ? this.beatAt + renewMs
        : this.beatFailedAt + Math.min(1000, renewMs / 2);
    if (!this.beating && this.now() >= due) {
      this.beating = true;
      void this.heartbeat(false).finally(() => {
        this.beating = false;
      });
    }
    this.check();
  }

  private async heartbeat(first: boolean): Promise<void> {
    const at = this.now();
    try {
      const timeout = Math.min(CLUSTER_REQUEST_TIMEOUT_MS, Math.max(1000, this.leaseMs / 9));
      const revision = await this.kv.put(this.opts.instanceId, JSON.stringify(this.info), { timeout });
      // The watch may have delivered it before the put's answer arrived.
      if (revision <= this.watchedOwnRevision) this.completeAt = Math.max(this.completeAt, at);
      else this.unwatched.push({ revision, at });
      this.apply(this.opts.instanceId, 'PUT', revision, undefined, this.info);
      this.beatAt = at;
      this.beatFailedAt = undefined;
    } catch (err) {
      if (first) throw new BellwetherError('BW_ERR_CLUSTER_STORE', 'member heartbeat', { cause: err });
      if (this.beatFailedAt === undefined)
        this.log.warn({ err: String(err) }, 'member heartbeat failed; retrying');
      this.beatFailedAt = this.now();
    }
  }

  /** Reads every entry of the bucket (start-up, and after a watch went quiet). */
  private async catchUp(): Promise<void> {
    const at = this.now();
    const entries = await readBucket(this.kv);
    for (const entry of entries) this.apply(entry.key, 'PUT', entry.revision, entry);
    this.completeAt = Math.max(this.completeAt, at);
  }

  private apply(
    key: string,
    operation: 'PUT' | 'DEL' | 'PURGE',
    revision: number,
    entry: KvEntry | undefined,
    known?: MemberInfo,
  ): void {
    if (operation !== 'PUT') {
      this.table.forget(key);
      if (this.liveSet.delete(key)) this.emit({ type: 'leave', instanceId: key, reason: 'left' });
      return;
    }
    const member = known ?? (entry ? memberOf(entry) : undefined);
    if (member === undefined) return;
    const seen = this.table.observe(key, revision, member);
    if ((seen === 'new' || seen === 'changed') && !this.liveSet.has(key)) {
      this.liveSet.add(key);
      this.emit({ type: 'join', member });
    }
  }

  /** Expires silent members; restarts a watch that has not shown this member's own heartbeat. */
  private check(): void {
    for (const [id, seen] of this.table.entries()) {
      const leaseMs = Math.max(this.leaseMs, seen.value.lease_seconds * 1000);
      const silentMs = this.completeAt - seen.seenAt;
      if (this.liveSet.has(id) && silentMs > leaseMs) {
        this.liveSet.delete(id);
        this.log.info({ member: id, silentMs: Math.round(silentMs) }, 'member expired');
        this.emit({ type: 'leave', instanceId: id, reason: 'expired' });
      } else if (!this.liveSet.has(id) && silentMs > 4 * leaseMs) {
        this.table.forget(id); // its entry has aged out of the bucket by now
      }
    }
    const oldest = this.unwatched[0];
    if (oldest && this.now() - oldest.at > this.leaseMs / 2) {
      this.unwatched = [];
      this.log.warn({ revision: oldest.revision }, 'bucket watch has gone quiet; reading the bucket again');
      this.watch.restart();
      this.catchUp().catch((err: unknown) => this.log.warn({ err: String(err) }, 'bucket read failed'));
    }
  }

  /** The watch delivered this member's own entry at `revision`: all writes before it are seen. */
  private watchedOwn(revision: number): void {
    this.watchedOwnRevision = Math.max(this.watchedOwnRevision, revision);
    while (this.unwatched[0] && this.unwatched[0].revision <= revision) {
      this.completeAt = Math.max(this.completeAt, this.unwatched[0].at);
      this.unwatched.shift();
    }
  }

  private emit(event: MembershipEvent): void {
    this.listeners.emit(event);
  }
}
