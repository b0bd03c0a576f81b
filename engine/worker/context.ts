/**
 * What the pieces of a partition worker share: its settings, log and metrics, its partitions'
 * feeds, the effect publisher, the answer-cache counters shared with the main thread, and the
 * thread's few changing facts (the PII sealer, the NATS connection, whether it is stopping). Every
 * piece of the worker is built from one WorkerContext; nothing in engine/worker/ is module state.
 */
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';
import type { EventRoute } from '../../contract/event-parse.js';
import type { EventCleanser } from '../../operators/cleansing/cleanser.js';
import { type CleansingRules, defaultCleansingRules } from '../../operators/cleansing/rules.js';
import type { RuleEngine } from '../../operators/crm/rule-engine.js';
import { ProfilePolicy } from '../../security/pii-policy.js';
import type { PiiSealer } from '../../security/pii-sealer.js';
import type { Logger } from '../log.js';
import { EffectPublisher } from '../nats/effect-publisher.js';
import type { AnswerVersionsData } from '../pool/answer-versions.js';
import type { WorkerSettings } from '../pool/worker-settings.js';
import type { StreamOrigin } from '../state/checkpoint.js';
import type { PartitionCrm } from '../state/partition-crm.js';
import type { PartitionState } from '../state/partition-state.js';
import type { WorkerMetrics } from './metrics.js';

/** One partition owned by the worker: its state and its consumer. */
export interface PartitionFeed {
  state: PartitionState;
  /** The JetStream stream holding the partition's events (streams.ts `eventsStreamOf`). */
  stream: string;
  /** The stream the loaded checkpoint's sequence counts in; checked against `stream` at attach. */
  checkpointOrigin: StreamOrigin | undefined;
  /** `<server id> <stream created>` at this worker's last attach (a later difference on the same server: recreated). */
  streamCreated: string | undefined;
  messages: ConsumerMessages | undefined;
  attached: boolean;
  caughtUp: boolean;
  /** The routing check of events stored without a customer token (event-parse.ts). */
  route: EventRoute;
  /** The consumer's lag: read from each delivery's reply subject (ack-reply.ts). */
  pending: number;
  /** Bumped each time the partition's consumer is (re)created. */
  consumerGeneration: number;
  /** Consumer sequence of the last delivery, and of the last ack (their difference: ack pending). */
  delivered: number;
  acked: number;
  /** Date.now() of the last delivery, and of the last consumer-info request. */
  lastDeliveryMs: number;
  infoAt: number;
  /** Last message of the current batch, acked (AckAll) when the batch is flushed. */
  lastMsg: JsMsg | undefined;
  /** Dead-letter and action publishes of the current batch, awaited before the ack. */
  publishes: Promise<unknown>[];
  /**
   * Stream sequence up to which a previous run already processed and acked this partition:
   * effects (alerts, actions, dead letters) of messages at or below it were already published and
   * are not published again when those messages are processed again.
   */
  replayUntil: number;
  /** Stream sequence of the partition's last written checkpoint. */
  checkpointed: number;
  /** Date.now() when the state last matched a checkpoint (written, or found current): checkpoint age. */
  checkpointedAt: number;
  /** Epoch of this instance's lease on the partition (0 without leases): checkpoints are written under it. */
  epoch: number;
  /**
   * The partition's lease ran out before the main thread could hand it off (a lost lease, or this
   * process paused past it): from then on nothing of the partition is folded, acked, checkpointed or
   * published (its replayUntil is infinite) until the main thread takes the partition away.
   */
  fenced: boolean;
  /**
   * The state changed without a new message since the last checkpoint (a rescore sweep moved
   * segments, scores, alert arms or timers): checkpointed even though the sequence did not move, so a
   * restart or a takeover resumes from what was already published and publishes it not again.
   */
  sweptSinceCheckpoint: boolean;
  /** CRM analytics, segments and tags of the partition's customers. */
  crm: PartitionCrm;
  /** The partition's rules with their keyed absence timers. */
  rules: RuleEngine;
  /** Cleansing of the partition's events (repairs, outliers, near-duplicates), checkpointed with it. */
  cleanser: EventCleanser;
}

export interface WorkerContextOptions {
  config: WorkerSettings;
  log: Logger;
  metrics: WorkerMetrics;
  /** Version counters shared with the main thread's answer cache (answer-cache.ts). */
  versions: AnswerVersionsData;
  /** Seals with the PII keyring the worker was started with. */
  sealer: PiiSealer;
  /** Where effects go; by default through this context's NATS connection. */
  effects?: EffectPublisher;
  /**
   * Shared with the main thread, indexed by partition: until when (epoch ms, wall clock) this
   * instance's lease on the partition is valid; Infinity without leases. Omitted: always valid.
   */
  leaseUntil?: Float64Array;
  /** The cleansing rules (BW_CLEANSING_FILE, validated by the main thread); the built-in ones by default. */
  cleansing?: CleansingRules;
  /**
   * Shared by the engine's workers, indexed by partition: each owned partition's watermark (NaN
   * when unknown or not owned here), for the common event clock (event-clock.ts `clockCap`).
   * Omitted: this worker's alone.
   */
  watermarks?: Float64Array;
}

export class WorkerContext {
  readonly config: WorkerSettings;
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  readonly feeds = new Map<number, PartitionFeed>();
  /** Queues effects (alerts, actions, segment changes, dead letters), sent per batch by `commit()`. */
  readonly effects: EffectPublisher;
  readonly versions: AnswerVersionsData;
  /** The engine's partitions' watermarks (WorkerContextOptions.watermarks). */
  readonly watermarks: Float64Array;
  /** Which profile properties are plain; the others are sealed (BW_PROFILE_PLAIN_FIELDS). */
  readonly profilePolicy: ProfilePolicy;
  /**
   * The event-type subsets the registry's models were trained on, read once at start
   * (models/semantics.ts `registryEventTypeSets`): every partition's table keeps a feature view over each.
   */
  featureViews: readonly (readonly string[])[] = [];
  #sealer: PiiSealer;
  #cleansing: CleansingRules;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #stopping = false;
  #flushPending: () => void = () => {};

  constructor(opts: WorkerContextOptions) {
    this.config = opts.config;
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.versions = opts.versions;
    this.watermarks = opts.watermarks ?? new Float64Array(opts.config.partitions).fill(Number.NaN);
    this.profilePolicy = new ProfilePolicy(opts.config.profilePlainFields);
    this.#sealer = opts.sealer;
    this.#cleansing = opts.cleansing ?? defaultCleansingRules();
    this.#leaseUntil = opts.leaseUntil;
    this.effects =
      opts.effects ??
      new EffectPublisher(
        () => this.nc(),
        () => this.js(),
      );
  }

  readonly #leaseUntil: Float64Array | undefined;

  /**
   * Whether the partition may still act (fold, ack, checkpoint, publish): false once its lease ran
   * out, and then the feed is fenced for good (see PartitionFeed.fenced).
   */
  leaseValid(feed: PartitionFeed, now = Date.now()): boolean {
    if (feed.fenced) return false;
    const until = this.#leaseUntil?.[feed.state.partition] ?? Number.POSITIVE_INFINITY;
    if (now <= until) return true;
    feed.fenced = true;
    feed.replayUntil = Number.POSITIVE_INFINITY;
    feed.messages?.stop();
    feed.attached = false;
    this.metrics.fenced.inc();
    this.log.warn(
      { partition: feed.state.partition, epoch: feed.epoch, lease_until: new Date(until).toISOString() },
      'partition lease ran out: nothing more is acked, checkpointed or published for it here',
    );
    return false;
  }

  /** Seals personal fields and dead-letter bodies with the current PII keyring (a stable function). */
  readonly sealer = (): PiiSealer => this.#sealer;

  /** The cleansing rules new partition feeds start with. */
  cleansing(): CleansingRules {
    return this.#cleansing;
  }

  /** New cleansing rules (the file changed): every partition's cleanser takes them, state kept. */
  setCleansing(rules: CleansingRules): void {
    this.#cleansing = rules;
    for (const feed of this.feeds.values()) feed.cleanser.reconfigure(rules);
  }

  /** A new PII keyring: what is sealed from now on uses it. */
  setSealer(sealer: PiiSealer): void {
    this.#sealer = sealer;
  }

  /** The worker's own NATS connection (BW_ERR_WORKER_FAILED before it is connected). */
  nc(): NatsConnection {
    if (this.#nc === undefined) throw new BellwetherError('BW_ERR_WORKER_FAILED', 'worker not connected');
    return this.#nc;
  }

  js(): JetStreamClient {
    if (this.#js === undefined) throw new BellwetherError('BW_ERR_WORKER_FAILED', 'worker not connected');
    return this.#js;
  }

  connected(nc: NatsConnection, js: JetStreamClient): void {
    this.#nc = nc;
    this.#js = js;
  }

  isConnected(): boolean {
    return this.#nc !== undefined;
  }

  isStopping(): boolean {
    return this.#stopping;
  }

  /** From now on nothing new starts (consumers are stopped, sweeps and reattaches give up). */
  stopping(): void {
    this.#stopping = true;
  }

  /** Scores, publishes and acks the batch in progress now, if there is one. */
  flushPending(): void {
    this.#flushPending();
  }

  /** Sets what `flushPending` runs (the batch flusher, batch.ts, once it is built). */
  onFlushPending(flush: () => void): void {
    this.#flushPending = flush;
  }

  /** Stream sequence at or below which a partition's effects were already published (a stable function). */
  readonly replayUntil = (partition: number): number => this.feeds.get(partition)?.replayUntil ?? 0;
}
