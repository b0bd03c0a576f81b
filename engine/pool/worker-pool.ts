/**
 * Main-thread side of the partition workers: spawns them (partition p goes to worker p mod W),
 * sends typed requests and matches replies, and fans queries out. The hot path never waits on
 * the main thread: workers consume NATS themselves; the main thread only asks questions.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { BellwetherError } from '../../contract/errors.js';
import { partitionOfCustomer } from '../../contract/subjects.js';
import type { NatsConnectSettings } from '../../lib/nats-connect-options.js';
import { distPath } from '../../lib/paths.js';
import type { PiiKeyringData } from '../../security/pii-keyring.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { EventsLayout } from '../nats/streams.js';
import { AnswerCache } from './answer-cache.js';
import { type AnswerVersionsData, bumpPartition, clockMs, createAnswerVersions } from './answer-versions.js';
import { CrashBlame } from './crash-blame.js';
import { Ownership } from './ownership.js';
import { PopulationReads } from './population.js';
import { RfmCutsMaker } from './rfm-cuts.js';
import {
  type AnswersPush,
  type CheckpointPlace,
  type CustomerAnswer,
  type DisownMode,
  type FromWorker,
  isNotice,
  type TestHooks,
  type WorkerData,
  type WorkerReply,
  type WorkerRequest,
  type WorkerStatus,
} from './thread-messages.js';
import { type WorkerSettings, workerSettings } from './worker-settings.js';

type Pending = {
  worker: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;
const REQUEST_TIMEOUT_MS = 10_000;
/** Owning a partition loads its checkpoint (up to a few hundred MB from the object store). */
const OWN_TIMEOUT_MS = 120_000;

/** What the pool's workers share, besides the configuration. */
export interface PoolShared {
  crm: WorkerData['crm'];
  cleansing: WorkerData['cleansing'];
  pii: PiiKeyringData;
  eventsLayout: EventsLayout;
  /** Where partition checkpoints live. */
  checkpoints: CheckpointPlace;
  /**
   * `static`: this instance runs every partition from the start (the embedded single node).
   * `leased`: none until the cluster coordinator hands them over with `own` (engine/cluster/).
   */
  ownership: 'static' | 'leased';
}

export class WorkerPool {
  readonly #config: Config;
  /** What each worker thread gets of the configuration (no secrets; worker-settings.ts). */
  readonly #settings: WorkerSettings;
  readonly #log: Logger;
  readonly #workers: Worker[] = [];
  /** Whether worker i is up (ready and not exited): requests to a worker that is down fail at once. */
  readonly #up: boolean[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #stopping = false;

  /** How the workers connect (the engine's own settings: the embedded server's `engine` user). */
  readonly #nats: NatsConnectSettings;
  /** Worker threads restarted after an unexpected exit. */
  restarts = 0;
  readonly #hooks: TestHooks;
  /** Which message crashed a worker thread (crash-blame.ts). */
  readonly #blame: CrashBlame;
  readonly #watermarks: Float64Array; // partitions' watermarks shared by the workers (WorkerData)
  /** RFM cuts of the population, from the workers' sketches (rfm-cuts.ts). */
  readonly rfmCuts: RfmCutsMaker;
  #crm: WorkerData['crm'];
  #cleansing: WorkerData['cleansing'];
  #pii: PiiKeyringData;
  readonly #eventsLayout: EventsLayout;
  readonly #versions: AnswerVersionsData;
  readonly #queryPorts: MessagePort[] = [];
  /** Lists and analytics merged over every worker (and, in a cluster, every instance). */
  readonly population = new PopulationReads((body) => this.all(body));
  /** The partitions this instance runs and their leases (ownership.ts). */
  readonly #ownership: Ownership;
  /** Worker threads (partition p runs in worker p mod count). */
  #count = 0;
  readonly #checkpoints: CheckpointPlace;
  /** Recent customer answers, served while no event or rescore changed them (answer-cache.ts). */
  readonly answers: AnswerCache;

  private constructor(
    config: Config,
    log: Logger,
    nats: NatsConnectSettings,
    shared: PoolShared,
    hooks: TestHooks,
  ) {
    this.#config = config;
    // Workers get the keyring apart; the secrets of the configuration stay in the main thread.
    this.#settings = workerSettings(config);
    this.#log = log;
    this.#nats = nats;
    this.#crm = shared.crm;
    this.#cleansing = shared.cleansing;
    this.#pii = shared.pii;
    this.#eventsLayout = shared.eventsLayout;
    this.#checkpoints = shared.checkpoints;
    this.#ownership = new Ownership(config.partitions, shared.ownership);
    this.#hooks = hooks;
    this.#blame = new CrashBlame(config.partitions, log);
    this.rfmCuts = new RfmCutsMaker(
      {
        count: () => this.#workers.length,
        up: (i) => this.#up[i] === true,
        send: (i, cuts) => {
          this.request(i, { op: 'cuts', cuts }).catch((err: unknown) =>
            this.#log.warn({ component: 'pool', worker: i, err }, 'cannot send RFM cuts'),
          );
        },
      },
      log,
    );
    this.#versions = createAnswerVersions(config.partitions);
    this.#watermarks = new Float64Array(new SharedArrayBuffer(8 * config.partitions)).fill(Number.NaN);
    this.answers = new AnswerCache(this.#versions, { ttlMs: config.answerCacheMs, max: 100_000 });
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Starts the workers and resolves once every one has attached its consumers. */
  static async start(
    config: Config,
    nats: NatsConnectSettings,
    log: Logger,
    shared: PoolShared,
    hooks: TestHooks = {},
  ): Promise<WorkerPool> {
    const pool = new WorkerPool(config, log, nats, shared, hooks);
    const count = Math.min(config.workers, config.partitions);
    pool.#count = count;
    try {
      await Promise.all(Array.from({ length: count }, (_, index) => pool.#spawn(index, count)));
    } catch (err) {
      await pool.terminate();
      throw err;
    }
    return pool;
  }

  /**
   * Starts worker `index`; resolves when it is ready. A worker that exits unexpectedly later is
   * started again: it reloads its partitions' checkpoints and resumes from their sequences.
   */
  #spawn(index: number, count: number, generation = 0): Promise<void> {
    // Customer and aggregate queries have their own channel, polled at the worker's safe points (queries.ts).
    const channel = new MessageChannel();
    this.#queryPorts[index] = channel.port1;
    channel.port1.on('message', (msg: WorkerReply | AnswersPush) => {
      if ('kind' in msg) {
        // Threads' time origins can differ after a wall-clock step: never date an answer after its arrival.
        const now = clockMs();
        for (const a of msg.answers) this.answers.set(a.customerId, a.answer, a, Math.min(a.at, now));
        return;
      }
      this.#settle(msg.id, msg.ok ? { value: msg.value } : { error: BellwetherError.from(msg.error) });
    });
    channel.port1.unref();
    const data: WorkerData = {
      index,
      queryPort: channel.port2,
      partitions: this.#ownership.of(index, count),
      checkpoints: this.#checkpoints,
      leaseUntil: this.#ownership.leaseUntil,
      nats: this.#nats,
      eventsLayout: this.#eventsLayout,
      config: this.#settings,
      generation,
      hooks: this.#hooks,
      inflight: this.#blame.inflight,
      watermarks: this.#watermarks,
      poison: this.#blame.poison(),
      crm: this.#crm,
      cleansing: this.#cleansing,
      pii: this.#pii,
      versions: this.#versions,
    };
    // A restarted worker rebuilds its partitions from checkpoints: cached answers of theirs are void.
    if (generation > 0) for (const { partition } of data.partitions) bumpPartition(this.#versions, partition);
    const worker = new Worker(distPath('engine', 'worker', 'entry.js'), {
      workerData: data,
      transferList: [channel.port2],
    });
    this.#workers[index] = worker;
    const log = this.#log;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: FromWorker) => {
        if (isNotice(msg)) {
          if (msg.kind === 'ready') {
            ready = true;
            this.#up[index] = true;
            resolve();
          } else if (msg.kind === 'rfm') {
            this.rfmCuts.onSketches(msg.index, msg.sketches);
          } else reject(BellwetherError.from(msg.error));
          return;
        }
        this.#settle(msg.id, msg.ok ? { value: msg.value } : { error: BellwetherError.from(msg.error) });
      });
      worker.on('error', (err) => {
        log.error({ component: 'pool', worker: index, err }, 'worker thread error');
        if (!ready) reject(err);
      });
      worker.on('exit', (code) => {
        this.#up[index] = false;
        channel.port1.close();
        if (this.#stopping) return;
        if (!ready && generation === 0) {
          // The engine's first start fails as a whole.
          reject(new BellwetherError('BW_ERR_WORKER_FAILED', `worker ${index} exited with ${code}`));
          return;
        }
        // A restarted thread may crash again before it is ready (a poison message): restart it
        // again, with a growing delay; the poison detection breaks the loop.
        if (!ready) resolve();
        log.error({ component: 'pool', worker: index, code }, 'worker thread exited; restarting it');
        this.#blame.blame(this.#ownership.of(index, count).map((o) => o.partition));
        for (const [id, pending] of this.#pending) {
          if (pending.worker !== index) continue;
          this.#settle(id, { error: new BellwetherError('BW_ERR_WORKER_FAILED', `worker ${index} exited`) });
        }
        this.restarts++;
        setTimeout(
          () => {
            if (this.#stopping) return;
            this.#spawn(index, count, generation + 1).catch((err: unknown) =>
              log.fatal({ component: 'pool', worker: index, err }, 'worker restart failed'),
            );
          },
          Math.min(500 * 2 ** Math.min(generation, 4), 8000),
        );
      });
    });
  }

  /** The partitions this instance runs now. */
  owned(): number[] {
    return this.#ownership.partitions();
  }

  owns(partition: number): boolean {
    return this.#ownership.has(partition);
  }

  /** Until when (epoch ms) the lease on `partition` is valid; the worker fences the partition past it. */
  setLeaseUntil(partition: number, untilMs: number): void {
    this.#ownership.leaseUntil[partition] = untilMs;
  }

  /** Starts running a partition under its lease `epoch` (checkpoint loaded, consumer attached). */
  async own(partition: number, epoch: number): Promise<void> {
    this.#ownership.add(partition, epoch);
    bumpPartition(this.#versions, partition);
    try {
      await this.request(this.#workerOf(partition), { op: 'own', partition, epoch }, OWN_TIMEOUT_MS);
    } catch (err) {
      if (this.#ownership.epochOf(partition) === epoch) this.#ownership.remove(partition);
      throw err;
    }
  }

  /** Stops running a partition: `handoff` checkpoints it first, `lost` fences it at once. */
  async disown(partition: number, mode: DisownMode): Promise<void> {
    if (!this.#ownership.remove(partition)) return;
    const leaseUntil = this.#ownership.leaseUntil;
    if (mode === 'lost') leaseUntil[partition] = 0;
    bumpPartition(this.#versions, partition);
    try {
      await this.request(this.#workerOf(partition), { op: 'disown', partition, mode }, OWN_TIMEOUT_MS);
    } finally {
      this.#ownership.disowned(partition);
    }
  }

  #workerOf(partition: number): number {
    return partition % this.#count;
  }

  #settle(id: number, outcome: { value: unknown } | { error: Error }): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if ('error' in outcome) pending.reject(outcome.error);
    else pending.resolve(outcome.value);
  }

  /** Asks worker `worker`; customer, aggregate and daily queries go over its query channel. */
  request<T>(worker: number, body: RequestBody, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const target = this.#workers[worker];
    if (!target || !this.#up[worker]) {
      return Promise.reject(new BellwetherError('BW_ERR_WORKER_FAILED', `worker ${worker} is not running`));
    }
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new BellwetherError('BW_ERR_WORKER_TIMEOUT', `worker ${worker} ${body.op}`));
      }, timeoutMs);
      this.#pending.set(id, { worker, resolve: resolve as (v: unknown) => void, reject, timer });
      const port = body.op === 'customer' || body.op === 'aggregate' || body.op === 'daily';
      (port ? this.#queryPorts[worker]! : target).postMessage({
        ...body,
        id,
      } as WorkerRequest);
    });
  }

  all<T>(body: RequestBody): Promise<T[]> {
    return Promise.all(this.#workers.map((_, i) => this.request<T>(i, body)));
  }

  workerOfCustomer(customerId: string): number {
    return partitionOfCustomer(customerId, this.#config.partitions) % this.#workers.length;
  }

  async customer(customerId: string, opts: { bulk?: boolean } = {}): Promise<CustomerAnswer | null> {
    const partition = partitionOfCustomer(customerId, this.#config.partitions);
    const worker = partition % this.#workers.length;
    if (!this.answers.enabled)
      return this.request<CustomerAnswer | null>(worker, { op: 'customer', customerId });
    const watch = opts.bulk !== true;
    const at = clockMs();
    const cached = this.answers.get(customerId, partition, at);
    if (cached) return cached;
    const stamp = this.answers.stamp(customerId, partition);
    const answer = await this.request<CustomerAnswer | null>(worker, { op: 'customer', customerId, watch });
    if (answer) this.answers.set(customerId, answer, stamp, at);
    return answer;
  }

  status(): Promise<WorkerStatus[]> {
    return this.all<WorkerStatus>({ op: 'status' });
  }

  /** Every worker (and every later restart) takes a new CRM definition. */
  async reconfigureCrm(crm: WorkerData['crm']): Promise<void> {
    this.#crm = crm;
    await this.all({ op: 'crm', definition: crm.definition, source: crm.source });
  }

  /** Every worker (and every later restart) takes new cleansing rules; the partitions' cleansing state is kept. */
  async reconfigureCleansing(cleansing: WorkerData['cleansing']): Promise<void> {
    this.#cleansing = cleansing;
    await this.all({ op: 'cleansing', definition: cleansing.definition, source: cleansing.source });
  }

  /**
   * Every worker (and every later restart) takes a new PII keyring and re-seals the fields not under
   * its current key; resolves with the fields re-sealed.
   */
  async rekey(pii: PiiKeyringData): Promise<number> {
    this.#pii = pii;
    const counts = await this.all<number>({ op: 'keyring', keyring: pii });
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Every worker loads the registry's current versions; resolves with each worker's versions. */
  reload(): Promise<Record<string, string>[]> {
    return this.all<Record<string, string>>({ op: 'reload' });
  }

  metrics(): Promise<object[]> {
    return this.all<object>({ op: 'metrics' });
  }

  /** Asks every worker to stop consuming, flush and ack, then terminates the threads. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled(this.#workers.map((_, i) => this.request(i, { op: 'stop' }, 15_000)));
    await this.terminate();
  }

  async terminate(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled(this.#workers.map((w) => w.terminate()));
    this.#log.debug({ component: 'pool' }, 'workers terminated');
  }
}
