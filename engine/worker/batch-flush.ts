/**
 * The flush of a worker's open batch, and when it happens.
 *
 * Micro-batching with a linger: a batch is flushed once it holds FLUSH_CUSTOMERS touched customers,
 * or BW_BATCH_LINGER_MS after its first event, whichever comes first (0: every event-loop turn).
 * Each flush has a fixed cost (two predict calls walk the whole layer graph, one ack per partition,
 * one JetStream round trip per effect stream), which at live rates, with a flush every event-loop
 * turn, dominated a worker's CPU.
 *
 * A flush, in steps: every touched customer is scored by both models in one predict each (threshold
 * crossings become alerts); its segment, tags and condition rules are updated from the same
 * feature vectors (firings become actions); the batch's events become visible (cached answers of
 * its customers voided, watched ones pushed, queries that waited answered); absence timers come
 * due; then the batch's effects are sent (one round trip per stream) and the last message of each
 * partition is acked (AckAll) once every effect it waits on is stored.
 */

import { distinctPromises } from '../nats/effect-publisher.js';
import { bumpCustomer, bumpPartition } from '../pool/answer-versions.js';
import { clockCap } from '../state/event-clock.js';
import { alertPublisher } from './alerts.js';
import type { AnswerPush } from './answer-push.js';
import type { AlertPublisher, BatchScorer } from './batch-scorer.js';
import type { PartitionFeed, WorkerContext } from './context.js';
import type { WorkerCrm } from './crm.js';
import { STAGE_CRM, STAGE_EFFECTS, STAGE_SCORE } from './metrics.js';
import type { OpenBatch } from './open-batch.js';

/** A batch with this many touched customers is flushed without waiting for its linger. */
export const FLUSH_CUSTOMERS = 1024;

/** Customer queries served at the flush's safe points (queries.ts). */
interface SafePoints {
  /** Answers the queries waiting now. */
  poll(): void;
  /** Answers the queries that waited for the batch, then any new ones. */
  afterBatch(): void;
}

export interface BatchFlushDeps {
  /** The live models (swapped whole by a reload). */
  scorer(): BatchScorer;
  crm: WorkerCrm;
  push: AnswerPush;
  queries: SafePoints;
}

export class BatchFlush {
  readonly #ctx: WorkerContext;
  readonly #batch: OpenBatch;
  readonly #deps: BatchFlushDeps;
  readonly #publishAlert: AlertPublisher;
  readonly #run = (): void => this.flush();
  #scheduled = false;
  #linger: NodeJS.Timeout | undefined;
  /** The acks of every flush so far, in order. */
  #acks: Promise<void> = Promise.resolve();

  constructor(ctx: WorkerContext, batch: OpenBatch, deps: BatchFlushDeps) {
    this.#ctx = ctx;
    this.#batch = batch;
    this.#deps = deps;
    this.#publishAlert = alertPublisher(ctx.effects);
  }

  /** Whether a flush is due (something was delivered since the last one). */
  get scheduled(): boolean {
    return this.#scheduled;
  }

  /** Resolves when the acks of every flush so far are done (or given up). */
  acked(): Promise<void> {
    return this.#acks;
  }

  /** A message was handled: the batch is flushed after its linger, or at the next turn once full. */
  schedule(): void {
    if (this.#scheduled && (this.#linger === undefined || this.#batch.size < FLUSH_CUSTOMERS)) return;
    this.#clearLinger();
    this.#scheduled = true;
    const lingerMs = this.#ctx.config.batchLingerMs;
    if (lingerMs > 0 && this.#batch.size < FLUSH_CUSTOMERS) {
      this.#linger = setTimeout(this.#run, lingerMs);
    } else {
      setImmediate(this.#run);
    }
  }

  /** A query waits for the batch in progress: flush it at the next turn instead of after the linger. */
  soon(): void {
    if (this.#linger === undefined) return;
    this.#clearLinger();
    setImmediate(this.#run);
  }

  /** Flushes now if a flush is due (WorkerContext.flushPending). */
  flushIfScheduled(): void {
    if (this.#scheduled) this.flush();
  }

  flush(): void {
    if (!this.#scheduled) return; // already flushed by an earlier trigger
    this.#scheduled = false;
    // A partition whose lease ran out publishes and acks nothing more (its replayUntil is infinite).
    const now = Date.now();
    for (const feed of this.#ctx.feeds.values()) this.#ctx.leaseValid(feed, now);
    this.#clearLinger();
    this.#shareClocks();
    const stageSeconds = this.#ctx.metrics.stageSeconds;
    const batch = this.#batch;
    const n = batch.size;
    const alertPublishes: Promise<unknown>[] = [];
    let t0 = performance.now();
    if (n > 0) {
      const scorer = this.#deps.scorer();
      this.#score(scorer, n, alertPublishes);
      let t = performance.now();
      stageSeconds[STAGE_SCORE]! += (t - t0) / 1000;
      t0 = t;
      this.#afterScore(scorer, n, alertPublishes);
      t = performance.now();
      stageSeconds[STAGE_CRM]! += (t - t0) / 1000;
      t0 = t;
      this.#publishAnswers(n);
      this.#observeLatency();
    }
    batch.clear();
    batch.countProcessed();
    let t = performance.now();
    stageSeconds[STAGE_EFFECTS]! += (t - t0) / 1000;
    t0 = t;
    for (const feed of this.#ctx.feeds.values()) this.#deps.crm.advanceTimers(feed, alertPublishes);
    t = performance.now();
    stageSeconds[STAGE_CRM]! += (t - t0) / 1000;
    t0 = t;
    this.#commitAndAck(alertPublishes);
    stageSeconds[STAGE_EFFECTS]! += (performance.now() - t0) / 1000;
  }

  /**
   * Publishes the owned partitions' watermarks to the engine's shared array and bounds their event
   * clocks by the partitions' median (event-clock.ts `clockCap`); a partition whose "now" moves
   * by that has its answers voided.
   */
  #shareClocks(): void {
    const ctx = this.#ctx;
    const shared = ctx.watermarks;
    for (const [p, feed] of ctx.feeds) {
      const w = feed.state.watermark;
      shared[p] = Number.isFinite(w) ? w : Number.NaN;
    }
    const cap = clockCap(shared, ctx.config.watermarkMaxJumpSeconds * 1000);
    for (const [p, feed] of ctx.feeds) {
      const state = feed.state;
      if (state.clockCap === cap) continue;
      const before = Math.min(state.watermark, state.clockCap);
      state.clockCap = cap;
      if (Math.min(state.watermark, cap) !== before && ctx.config.clock === 'event')
        bumpPartition(ctx.versions, p);
    }
  }

  /** Scores the touched customers (alerts of crossings appended to `out`). */
  #score(scorer: BatchScorer, n: number, out: Promise<unknown>[]): void {
    const batch = this.#batch;
    this.#deps.queries.poll();
    scorer.score(batch.states, batch.slots, n, 'event', this.#publishAlert, out, this.#ctx.replayUntil);
  }

  /** Segments, tags and condition rules of the scored customers, from the scorer's feature vectors. */
  #afterScore(scorer: BatchScorer, n: number, out: Promise<unknown>[]): void {
    const { states, slots } = this.#batch;
    const { crm, queries } = this.#deps;
    const feeds = this.#ctx.feeds;
    queries.poll();
    const features = { buffer: scorer.features, offset: 0 };
    const width = states[0]!.table.names.length;
    for (let i = 0; i < n; i++) {
      const state = states[i]!;
      const slot = slots[i]!;
      const feed = feeds.get(state.partition)!;
      features.offset = i * width;
      crm.afterScore(
        feed,
        slot,
        state.lastEventId[slot] ?? '',
        state.lastSeq.data[slot]! <= feed.replayUntil,
        out,
        features,
      );
      if ((i & 255) === 255) queries.poll();
    }
  }

  /**
   * The batch's events are visible now: cached answers of its customers are void, the customers the
   * main thread is reading get their fresh answers pushed (answer-push.ts), queries that waited for
   * the batch are answered.
   */
  #publishAnswers(n: number): void {
    const batch = this.#batch;
    const { states, slots } = batch;
    const versions = this.#ctx.versions;
    for (let i = 0; i < n; i++) {
      const state = states[i]!;
      const slot = slots[i]!;
      state.touched.data[slot] = 0;
      bumpCustomer(versions, state.table.idOf(slot));
    }
    this.#deps.push.afterBatch(states, slots, n);
    batch.releaseStates(n);
    this.#deps.queries.afterBatch();
  }

  /** Stream arrival → visible, per event of the batch; events per batch. */
  #observeLatency(): void {
    const { arrivals, arrivalCount } = this.#batch;
    const metrics = this.#ctx.metrics;
    const visible = Date.now();
    for (let i = 0; i < arrivalCount; i++)
      metrics.eventToScore.observe(Math.max(0, visible - arrivals[i]!) / 1000);
    metrics.batches.observe(arrivalCount);
  }

  /** One JetStream round trip per stream for the batch's effects, then one ack per partition. */
  #commitAndAck(alertPublishes: Promise<unknown>[]): void {
    this.#ctx.effects.commit();
    const batchWaits = distinctPromises(alertPublishes);
    for (const feed of this.#ctx.feeds.values()) this.#ack(feed, batchWaits);
  }

  /**
   * Acks the partition's last message of the batch (AckAll) once the effects it waits on (its own
   * dead letters and actions, and the batch's alerts and segment changes) are stored; if one is
   * given up, the batch is left unacked and redelivered.
   */
  #ack(feed: PartitionFeed, batchWaits: Promise<unknown>[]): void {
    const msg = feed.lastMsg;
    if (!msg) return;
    feed.lastMsg = undefined;
    if (feed.fenced) return;
    const delivered = feed.delivered;
    const generation = feed.consumerGeneration;
    const publishes = feed.publishes;
    feed.publishes = [];
    const waits =
      publishes.length + batchWaits.length > 0 ? distinctPromises(publishes, batchWaits) : undefined;
    const log = this.#ctx.log;
    this.#acks = this.#acks.then(async () => {
      if (waits) {
        const results = await Promise.allSettled(waits);
        if (results.some((r) => r.status === 'rejected')) {
          log.warn({ partition: feed.state.partition }, 'publish failed; batch left unacked for redelivery');
          return;
        }
      }
      msg.ack();
      // A consumer recreated meanwhile counts from 0: this ack belongs to the old one.
      if (feed.consumerGeneration === generation) feed.acked = Math.max(feed.acked, delivered);
    });
  }

  #clearLinger(): void {
    if (this.#linger !== undefined) {
      clearTimeout(this.#linger);
      this.#linger = undefined;
    }
  }
}
