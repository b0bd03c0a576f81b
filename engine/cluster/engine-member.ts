/**
 * This engine as a member of the cluster, on the main thread (engine.ts starts it whenever the
 * engine uses an external NATS): it announces itself (membership.ts), holds partition leases
 * (leases.ts) and lets the coordinator (coordinator.ts) move partitions in and out of the local
 * workers: `own` on a lease acquired, `disown('handoff')` before a release, `disown('lost')` when a
 * lease is lost. Every 100 ms it copies each held lease's self-fencing deadline into the memory the
 * workers share, so a worker stops acting for a partition past it even when this thread is late
 * (or the whole process was paused). It also answers the other members' reads over NATS
 * request-reply (`bw.rpc.<instance>.customer`, `bw.rpc.<instance>.gather`) and forwards this
 * instance's reads of partitions it does not own.
 */

import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import { BellwetherError } from '../../contract/errors.js';
import type { RfmSketchesJSON } from '../../operators/analytics/rfm.js';
import type { PiiKeyringData } from '../../security/pii-keyring.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { DisownMode } from '../pool/thread-messages.js';
import { clusterJetStream, openKvBucket } from './buckets.js';
import { PartitionCoordinator } from './coordinator.js';
import type { LeaseLostReason } from './lease-value.js';
import { PartitionLeases } from './leases.js';
import { type MemberInfo, Membership } from './membership.js';

/** What the member moves partitions in and out of (the worker pool). */
export interface PartitionRunner {
  own(partition: number, epoch: number): Promise<void>;
  disown(partition: number, mode: DisownMode): Promise<void>;
  setLeaseUntil(partition: number, untilMs: number): void;
  owned(): number[];
}

/** What the member answers for the others: one customer, and the local workers' list answers. */
export interface LocalReads {
  customer(id: string, opts: { bulk?: boolean }): Promise<unknown>;
  gather(body: { op: string }): Promise<unknown[]>;
  /** Loads the registry's current model versions (a reload asked of another instance). */
  reload(): Promise<unknown>;
}

export interface ClusterInfo {
  instance_id: string;
  members: MemberInfo[];
  /** Partition → its lease holder (null while it moves). */
  partitions: Record<string, string | null>;
}

const RPC_TIMEOUT_MS = 5_000;
/** Each instance's latest RFM sketches, merged into the population's cuts by every instance. */
const RFM_BUCKET = 'BW_RFM';
const FENCE_SYNC_MS = 100;

type RpcMethod = 'customer' | 'gather' | 'reload';

function rpcSubject(instanceId: string, method: RpcMethod): string {
  return `bw.rpc.${instanceId}.${method}`;
}

type KeyPrint = { id: string; sha256: string };

/** Each PII key's id and a digest of it (never the key): what members compare. */
function keyFingerprints(pii: PiiKeyringData): KeyPrint[] {
  return pii.keys.map((k) => ({
    id: k.id,
    sha256: createHash('sha256').update('bellwether pii key').update(k.secret).digest('hex').slice(0, 32),
  }));
}

/** Whether the other member's sealing key (its first) is one of ours, or ours one of its. */
function sharesKey(mine: KeyPrint[], theirs: unknown): boolean {
  if (!Array.isArray(theirs)) return true; // an instance of a version that does not announce keys
  const has = (list: KeyPrint[], k: KeyPrint | undefined) =>
    k !== undefined && list.some((x) => x.id === k.id && x.sha256 === k.sha256);
  const other = theirs as KeyPrint[];
  return has(mine, other[0]) || has(other, mine[0]);
}

/** Runs `step` until it succeeds, for at most a minute (then BW_ERR_CLUSTER_STORE). */
async function retrying(what: string, log: Logger, step: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (Date.now() > deadline) throw new BellwetherError('BW_ERR_CLUSTER_STORE', what, { cause: err });
      log.warn({ component: 'cluster', attempt, err: String(err) }, `cannot ${what} yet; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2000)));
    }
  }
}

export class EngineMember {
  readonly instanceId: string;
  readonly #nc: NatsConnection;
  readonly #partitions: number;
  readonly #membership: Membership;
  readonly #leases: PartitionLeases;
  readonly #coordinator: PartitionCoordinator;
  readonly #runner: PartitionRunner;
  readonly #log: Logger;
  readonly #handoffs: Counter<'reason'>;
  #fenceTimer: NodeJS.Timeout | undefined;
  #rfm: Promise<KV> | undefined;
  readonly #replicas: number;
  #subscription: Subscription | undefined;

  private constructor(
    nc: NatsConnection,
    config: Config,
    membership: Membership,
    leases: PartitionLeases,
    runner: PartitionRunner,
    log: Logger,
    registry: Registry,
  ) {
    this.instanceId = config.instanceId;
    this.#nc = nc;
    this.#partitions = config.partitions;
    this.#replicas = config.replicas;
    this.#membership = membership;
    this.#leases = leases;
    this.#runner = runner;
    this.#log = log.child({ component: 'cluster', instance: config.instanceId });
    this.#handoffs = new Counter({
      name: 'bellwether_partition_handoffs_total',
      help: 'Partitions this instance started or stopped running, by reason: acquired, handoff (released on purpose: rebalance or shutdown), taken (another instance holds a newer lease), expired (not renewed in time)',
      labelNames: ['reason'],
      registers: [registry],
    });
    new Gauge({
      name: 'bellwether_cluster_members',
      help: 'Live instances of the cluster as this instance sees them (itself included)',
      registers: [registry],
      collect() {
        this.set(new Set([...membership.liveIds(), config.instanceId]).size);
      },
    });
    new Gauge({
      name: 'bellwether_partitions_owned',
      help: 'Partitions this instance runs now (holds the lease of)',
      registers: [registry],
      collect() {
        this.set(runner.owned().length);
      },
    });
    this.#coordinator = new PartitionCoordinator({
      partitions: config.partitions,
      membership,
      leases,
      log,
      hooks: {
        started: (partition, epoch) => this.#started(partition, epoch),
        stopping: (partition) => this.#stopping(partition),
        lost: (partition, epoch, reason) => this.#lost(partition, epoch, reason),
      },
    });
  }

  /** Joins the cluster: announces the instance, starts the leases, answers the others' reads. */
  static async start(
    nc: NatsConnection,
    config: Config,
    runner: PartitionRunner,
    reads: LocalReads,
    log: Logger,
    registry: Registry,
    pii: PiiKeyringData,
  ): Promise<EngineMember> {
    const common = {
      instanceId: config.instanceId,
      leaseSeconds: config.leaseSeconds,
      replicas: config.replicas,
      log,
    };
    const keys = keyFingerprints(pii);
    const membership = await Membership.open(nc, { ...common, extra: { pii_keys: keys } });
    const leases = await PartitionLeases.open(nc, common);
    const member = new EngineMember(nc, config, membership, leases, runner, log, registry);
    member.#serve(reads);
    // A JetStream cluster electing a stream leader answers late or not at all for a few seconds.
    await retrying('join the cluster', log, () => membership.start());
    const stranger = membership
      .live()
      .find((m) => m.instance_id !== config.instanceId && !sharesKey(keys, m['pii_keys']));
    if (stranger) {
      await membership.leave();
      throw new BellwetherError(
        'BW_ERR_CONFIG_INVALID',
        `instance ${stranger.instance_id} seals personal fields with a PII key this instance does not have: every instance of a cluster needs the same keys (BW_PII_KEY or BW_PII_KEY_FILE; a key generated in each data directory differs), or partitions that move could not open their customers' personal fields`,
      );
    }
    await retrying('read the partition leases', log, () => leases.start());
    member.#fenceTimer = setInterval(() => member.#syncFences(), FENCE_SYNC_MS);
    member.#fenceTimer.unref();
    member.#coordinator.start();
    // The engine says it started once it runs its share: at once when the partitions are free, after
    // the previous holder's lease ran out when it died (capped: /readyz tells the rest).
    const deadline = Date.now() + (config.leaseSeconds * 2 + 5) * 1000;
    await member.#coordinator.schedule();
    while (member.awaited(runner) > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      await member.#coordinator.schedule();
    }
    return member;
  }

  /** The lease holder of each partition, as this instance sees the leases bucket. */
  owners(): (string | null)[] {
    return this.#leases.owners(this.#partitions);
  }

  /** Partitions the assignment gives this instance that `runner` does not run yet. */
  awaited(runner: PartitionRunner): number {
    const owned = new Set(runner.owned());
    return this.#coordinator.target().filter((owner, p) => owner === this.instanceId && !owned.has(p)).length;
  }

  info(): ClusterInfo {
    const owners = this.owners();
    const members = this.#membership.live();
    return {
      instance_id: this.instanceId,
      members: members.some((m) => m.instance_id === this.instanceId)
        ? members
        : [{ instance_id: this.instanceId, started_at: '', lease_seconds: 0 }, ...members],
      partitions: Object.fromEntries(owners.map((o, p) => [String(p), o])),
    };
  }

  /** One customer's answer from the instance that owns its partition. */
  async forwardCustomer(partition: number, id: string, opts: { bulk?: boolean }): Promise<unknown> {
    const owner = this.owners()[partition];
    if (!owner || owner === this.instanceId)
      throw new BellwetherError('BW_ERR_PARTITION_MOVING', `partition ${partition}`);
    return this.#request(owner, 'customer', { id, ...opts });
  }

  /** The other live members' workers' answers to a list or analytics request. */
  async gatherOthers(body: { op: string }): Promise<unknown[]> {
    const others = [...new Set(this.owners().filter((o): o is string => o !== null))].filter(
      (o) => o !== this.instanceId,
    );
    const answers = await Promise.all(others.map((o) => this.#request(o, 'gather', body)));
    return answers.flat() as unknown[];
  }

  /**
   * Shares this instance's RFM sketches (its partitions' customers) in the BW_RFM bucket and returns
   * every live member's latest, its own included: the population the RFM cuts are taken from.
   */
  async populationSketches(local: RfmSketchesJSON): Promise<RfmSketchesJSON[]> {
    this.#rfm ??= openKvBucket(
      clusterJetStream(this.#nc),
      { name: RFM_BUCKET, description: 'bellwether RFM sketches of each instance', replicas: this.#replicas },
      this.#log,
    );
    const kv = await this.#rfm;
    await kv.put(this.instanceId, JSON.stringify(local));
    const live = new Set([...this.#membership.liveIds(), this.instanceId]);
    const all: RfmSketchesJSON[] = [local];
    for (const id of live) {
      if (id === this.instanceId) continue;
      const entry = await kv.get(id);
      if (entry && entry.operation === 'PUT' && entry.value.length > 0)
        all.push(entry.json<RfmSketchesJSON>());
    }
    return all;
  }

  /** Asks every other live member to reload its models (a reload is cluster-wide). */
  async reloadOthers(): Promise<void> {
    const others = this.#membership.liveIds().filter((id) => id !== this.instanceId);
    await Promise.all(others.map((id) => this.#request(id, 'reload', {})));
  }

  /** Stops every partition (checkpointed), releases its leases and leaves the cluster. */
  async stop(): Promise<void> {
    clearInterval(this.#fenceTimer);
    await this.#coordinator.stop();
    this.#subscription?.unsubscribe();
    await this.#membership.leave();
    await this.#leases.close();
  }

  async #request(instance: string, method: RpcMethod, body: unknown): Promise<unknown> {
    let reply: { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };
    try {
      const msg = await this.#nc.request(rpcSubject(instance, method), JSON.stringify(body), {
        timeout: RPC_TIMEOUT_MS,
      });
      reply = msg.json();
    } catch (err) {
      throw new BellwetherError('BW_ERR_INSTANCE_UNREACHABLE', `${instance} (${method})`, { cause: err });
    }
    if (reply.ok) return reply.value;
    throw BellwetherError.from(reply.error as never);
  }

  #serve(reads: LocalReads): void {
    const sub = this.#nc.subscribe(`bw.rpc.${this.instanceId}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const method = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
        const answer = async (): Promise<unknown> => {
          const body = msg.json<Record<string, unknown>>();
          if (method === 'customer')
            return reads.customer(String(body['id']), { bulk: body['bulk'] === true });
          if (method === 'gather') return reads.gather(body as { op: string });
          if (method === 'reload') return reads.reload();
          throw new BellwetherError('BW_ERR_BAD_REQUEST', `unknown cluster method ${method}`);
        };
        answer().then(
          (value) => msg.respond(JSON.stringify({ ok: true, value: value ?? null })),
          (e: unknown) => {
            const error =
              e instanceof BellwetherError ? e : new BellwetherError('BW_ERR_INTERNAL', String(e));
            msg.respond(JSON.stringify({ ok: false, error: error.toJSON() }));
          },
        );
      },
    });
    this.#subscription = sub;
  }

  /** Each held lease's self-fencing deadline, as wall-clock ms, into the workers' shared memory. */
  #syncFences(): void {
    const nowMono = performance.now();
    const nowWall = Date.now();
    for (const p of this.#runner.owned()) {
      const until = this.#leases.validUntil(p);
      this.#runner.setLeaseUntil(p, until === undefined ? 0 : nowWall + (until - nowMono));
    }
  }

  async #started(partition: number, epoch: number): Promise<void> {
    const until = this.#leases.validUntil(partition);
    this.#runner.setLeaseUntil(partition, until === undefined ? 0 : Date.now() + (until - performance.now()));
    await this.#runner.own(partition, epoch);
    this.#handoffs.labels('acquired').inc();
    this.#log.info({ partition, epoch }, 'partition acquired');
  }

  async #stopping(partition: number): Promise<void> {
    await this.#runner.disown(partition, 'handoff');
    this.#handoffs.labels('handoff').inc();
    this.#log.info({ partition }, 'partition handed off');
  }

  #lost(partition: number, epoch: number, reason: LeaseLostReason): void {
    this.#handoffs.labels(reason).inc();
    this.#log.warn({ partition, epoch, reason }, 'partition lease lost: partition stopped at once');
    this.#runner.disown(partition, 'lost').catch((err: unknown) => {
      this.#log.error({ partition, err }, 'could not stop a lost partition');
    });
  }
}
