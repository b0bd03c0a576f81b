/**
 * The hot path: one JetStream message of a partition, in the consumer's synchronous callback.
 *
 * Steps: read the delivery (stream sequence, arrival, lag) from the reply subject; skip what the
 * state already holds (a redelivery); dead-letter a poison message (one that crashed the thread
 * POISON_CRASHES times) unprocessed; parse and validate the bytes, dead-lettering a reject with
 * its reason; cleanse it (missing values repaired, values standardised, an outlier or a
 * near-duplicate quarantined to the dead letters unless marked reviewed: operators/cleansing/);
 * then admit the event: dedupe on event_id, fold it into the customer's typed state,
 * mark the customer touched, and run the CRM's per-event work. The flush of the batch is then
 * scheduled (batch-flush.ts), and every QUERY_SAFE_POINT messages the queries waiting on the
 * query port (customers, aggregates) are answered. Nothing here allocates per event beyond what parsing builds; per-event stages are
 * timed on one message in STAGE_SAMPLE.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { type ParsedEvent, type ParseResult, parseEvent } from '../../contract/event-parse.js';
import type { RejectReason } from '../../contract/event-schema.js';
import {
  ACTION_QUARANTINED,
  ACTION_REVIEWED,
  type EventCleanser,
  RULE_OUTLIER_AMOUNT,
  VERDICT_ACCEPT,
  VERDICT_OUTLIER,
  type Verdict,
} from '../../operators/cleansing/cleanser.js';
import { type Delivery, readDelivery } from '../nats/ack-reply.js';
import { deadLetter, REVIEWED_HEADER } from '../nats/dead-letters.js';
import { bumpPartition } from '../pool/answer-versions.js';
import { POISON_CRASHES } from '../pool/thread-messages.js';
import { CLOCK_HELD, CLOCK_MOVED } from '../state/event-clock.js';
import type { PartitionState } from '../state/partition-state.js';
import type { PartitionFeed, WorkerContext } from './context.js';
import { type AdmitStep, crashingOn } from './crash-hook.js';
import type { WorkerCrm } from './crm.js';
import type { WorkerIdentity } from './identity.js';
import { STAGE_CRM, STAGE_FOLD, STAGE_PARSE, STAGE_SAMPLE } from './metrics.js';
import type { OpenBatch } from './open-batch.js';

/** Messages between two safe points at which waiting queries (customers, aggregates) are answered. */
export const QUERY_SAFE_POINT = 256;

export interface IngestDeps {
  batch: OpenBatch;
  crm: WorkerCrm;
  /** Schedules the flush of the open batch (batch-flush.ts). */
  flush: { schedule(): void };
  /** Queries on the query port, answered at safe points (queries.ts). */
  queries: { betweenMessages(): void };
  /** `partition:sequence` of messages that crashed the thread too often: dead-lettered unprocessed. */
  poison: ReadonlySet<string>;
  /** Shared with the main thread: the sequence each partition is processing now (WorkerData.inflight). */
  inflight: Float64Array;
  /** Anonymous profiles, links and forwarded history (identity.ts). */
  identity: WorkerIdentity;
  /** The model monitor: snapshots and labels when a partition's watermark reaches its next due time (monitor.ts). */
  monitor: { advance(state: PartitionState): void };
  /** Set by the crash-recovery tests only: the thread exits when it is about to fold this event id. */
  crashOnEventId?: string | undefined;
}

export class Ingest {
  readonly #ctx: WorkerContext;
  readonly #batch: OpenBatch;
  readonly #crm: WorkerCrm;
  readonly #identity: WorkerIdentity;
  readonly #monitor: { advance(state: PartitionState): void };
  readonly #flush: { schedule(): void };
  readonly #queries: { betweenMessages(): void };
  readonly #poison: ReadonlySet<string>;
  readonly #inflight: Float64Array;
  readonly #eventClock: boolean;
  /** The current message's sequence and arrival (read from its reply subject, ack-reply.ts). */
  readonly #delivery: Delivery = { seq: 0, arrivalMs: 0, consumerSeq: 0, pending: 0 };
  /** Dedupe then fold; wrapped by the crash hook's check when that is set (crash-hook.ts). */
  readonly #admitStep: AdmitStep;
  /** The cleansing verdict of the event being admitted (learnt from once it is admitted). */
  #verdict: Verdict = VERDICT_ACCEPT;
  /** Messages seen: one in STAGE_SAMPLE has its per-event stages timed. */
  #messages = 0;
  /** Messages handled since the last safe point for customer queries. */
  #sinceQueries = 0;

  constructor(ctx: WorkerContext, deps: IngestDeps) {
    this.#ctx = ctx;
    this.#batch = deps.batch;
    this.#crm = deps.crm;
    this.#identity = deps.identity;
    this.#monitor = deps.monitor;
    this.#flush = deps.flush;
    this.#queries = deps.queries;
    this.#poison = deps.poison;
    this.#inflight = deps.inflight;
    this.#eventClock = ctx.config.clock === 'event';
    const admit: AdmitStep = (feed, msg, event, seq, t0) => this.#admit(feed, msg, event, seq, t0);
    this.#admitStep =
      deps.crashOnEventId === undefined ? admit : crashingOn(deps.crashOnEventId, admit, ctx.log);
  }

  /** The consumer callback (a stable function: engine/consumers.ts calls it per message). */
  readonly onMessage = (feed: PartitionFeed, msg: JsMsg): void => {
    // Messages still buffered for a partition fenced or handed off are not this worker's any more.
    if (feed.fenced || this.#ctx.feeds.get(feed.state.partition) !== feed) return;
    const processed = this.#handle(feed, msg);
    this.#flush.schedule();
    if (processed && ++this.#sinceQueries >= QUERY_SAFE_POINT) {
      this.#sinceQueries = 0;
      this.#queries.betweenMessages();
    }
  };

  /** Returns false for a message skipped unparsed (a redelivery, a poison message). */
  #handle(feed: PartitionFeed, msg: JsMsg): boolean {
    feed.lastMsg = msg;
    const state = feed.state;
    const now = this.#deliver(feed, msg);
    const seq = this.#delivery.seq;
    if (seq <= state.lastSequence) {
      // Already folded into this state (a redelivery, or a message at or below the checkpoint).
      this.#ctx.metrics.redelivered.inc();
      return false;
    }
    state.lastSequence = seq;
    if (this.#poison.has(`${state.partition}:${seq}`)) {
      this.#reject(feed, msg, 'poison', `crashed the worker thread ${POISON_CRASHES} times`);
      return false;
    }
    // While it is processed, a crash of the thread is blamed on this message (worker-pool.ts).
    this.#inflight[state.partition] = seq;
    // Stage timing (metrics.ts), in ms; 0 = this message is not timed.
    let t0 = (++this.#messages & (STAGE_SAMPLE - 1)) === 0 ? performance.now() : 0;
    const result = parseMessage(feed, msg, now);
    if (t0 > 0) {
      const t = performance.now();
      this.#ctx.metrics.stageSeconds[STAGE_PARSE]! += ((t - t0) * STAGE_SAMPLE) / 1000;
      t0 = t;
    }
    if (!result.ok) this.#reject(feed, msg, result.reason, result.detail);
    else {
      const verdict = feed.cleanser.judge(result.event);
      if (verdict === VERDICT_ACCEPT || this.#reviewed(feed.cleanser, msg)) {
        this.#verdict = verdict;
        this.#admitStep(feed, msg, result.event, seq, t0);
      } else this.#quarantine(feed, msg, verdict);
    }
    this.#inflight[state.partition] = 0;
    return true;
  }

  /** Reads the message's delivery into `#delivery` and the feed's lag; returns Date.now(). */
  #deliver(feed: PartitionFeed, msg: JsMsg): number {
    const delivery = this.#delivery;
    // `reply` is on the client's message class though not on the JsMsg type; without it, the client parses.
    if (!readDelivery((msg as JsMsg & { reply?: string }).reply ?? '', delivery)) {
      const info = msg.info;
      delivery.seq = info.streamSequence;
      delivery.arrivalMs = info.timestampNanos / 1e6;
      delivery.consumerSeq = info.deliverySequence;
      delivery.pending = info.pending;
    }
    const now = Date.now();
    feed.pending = delivery.pending;
    feed.delivered = delivery.consumerSeq;
    feed.lastDeliveryMs = now;
    return now;
  }

  /**
   * Dead-letters the current message with its reason (its sequence already read), unless a
   * previous run already did (at or below the partition's replayUntil). The partition's ack waits
   * for it.
   */
  #reject(feed: PartitionFeed, msg: JsMsg, reason: RejectReason, detail: string): void {
    const seq = this.#delivery.seq;
    if (seq <= feed.replayUntil) return;
    const ctx = this.#ctx;
    ctx.metrics.rejected.labels(reason).inc();
    const letter = deadLetter(
      { subject: msg.subject, seq, data: msg.data },
      reason,
      detail,
      ctx.sealer().keyring,
      feed.stream,
    );
    feed.publishes.push(ctx.effects.publish(letter.subject, letter.body, letter.msgID, letter.headers));
  }

  /** Whether a message a cleansing rule would quarantine was reviewed (re-published by `dlq replay`); counted. */
  #reviewed(cleanser: EventCleanser, msg: JsMsg): boolean {
    if (!msg.headers?.has(REVIEWED_HEADER)) return false;
    cleanser.count(cleanser.lastRule, ACTION_REVIEWED);
    return true;
  }

  /** Dead-letters a valid event a cleansing rule quarantined (`bw.dlq.outlier`, `bw.dlq.near_duplicate`). */
  #quarantine(feed: PartitionFeed, msg: JsMsg, verdict: Verdict): void {
    const cleanser = feed.cleanser;
    if (this.#delivery.seq > feed.replayUntil) cleanser.count(cleanser.lastRule, ACTION_QUARANTINED);
    if (verdict === VERDICT_OUTLIER) {
      const field = cleanser.lastRule === RULE_OUTLIER_AMOUNT ? 'amount' : 'quantity';
      const of = field === 'amount' ? 'its currency' : 'its category';
      const d = cleanser.lastDistance.toFixed(1);
      this.#reject(feed, msg, 'outlier', `${field} ${d} robust sd from the median of ${of}`);
    } else {
      this.#reject(
        feed,
        msg,
        'near_duplicate',
        'same customer, type, amount and sku within the window under another event_id',
      );
    }
  }

  /**
   * A valid event: counted once per event_id (dedupe), then folded (unless identity resolution
   * forwards it to its customer, identity.ts); a failure dead-letters it.
   */
  #admit(feed: PartitionFeed, msg: JsMsg, event: ParsedEvent, seq: number, t0: number): void {
    const state = feed.state;
    if (state.seen(event.body.event_id)) {
      this.#ctx.metrics.duplicates.inc();
      return;
    }
    if (
      (event.anonymous || event.body.anonymous_id !== undefined) &&
      !this.#identity.admit(feed, msg, event, seq)
    )
      return;
    feed.cleanser.learn(event, this.#verdict);
    try {
      const slot = this.#fold(state, event, seq);
      if (t0 > 0) {
        const t = performance.now();
        this.#ctx.metrics.stageSeconds[STAGE_FOLD]! += ((t - t0) * STAGE_SAMPLE) / 1000;
        t0 = t;
      }
      this.#applyCrm(feed, slot, event, seq);
      this.#batch.arrived(this.#delivery.arrivalMs);
      if (t0 > 0)
        this.#ctx.metrics.stageSeconds[STAGE_CRM]! += ((performance.now() - t0) * STAGE_SAMPLE) / 1000;
    } catch (err) {
      this.#ctx.log.error({ partition: state.partition, err }, 'event processing failed');
      this.#reject(feed, msg, 'processing_error', err instanceof Error ? err.message : String(err));
    }
  }

  /** Folds the event into its customer's state; returns the customer's slot. */
  #fold(state: PartitionState, event: ParsedEvent, seq: number): number {
    const slot = state.table.slotFor(event.body.customer_id);
    // A stray far ahead of the watermark is folded without moving it (event-clock.ts). On the
    // event-time clock the watermark is every customer's "now": when it moves, all answers move.
    const clock = state.clock.observe(event.ts);
    // The model monitor's snapshots and labels read the state of the events before this one.
    if (state.watermark >= state.monitor.nextDue) this.#monitor.advance(state);
    state.table.fold(slot, event);
    // Touched as soon as its state moved, so it is scored and its cached answer voided at the
    // flush even if the CRM below throws.
    this.#batch.touch(state, slot);
    if (clock === CLOCK_MOVED) {
      if (this.#eventClock) bumpPartition(this.#ctx.versions, state.partition);
    } else if (clock === CLOCK_HELD) {
      this.#ctx.metrics.watermarkHeld.inc();
    }
    state.lastEventId[slot] = event.body.event_id;
    state.lastSeq.data[slot] = seq;
    this.#batch.processed(event.typeIndex);
    return slot;
  }

  /** The CRM's per-event work: personal fields sealed, analytics, event and absence rules. */
  #applyCrm(feed: PartitionFeed, slot: number, event: ParsedEvent, seq: number): void {
    const pii = feed.crm.onEvent(slot, event);
    if (pii !== undefined) {
      if (pii.dropped > 0) this.#ctx.metrics.piiDropped.inc(pii.dropped);
      if (pii.refused > 0) this.#ctx.metrics.piiRefused.inc(pii.refused);
    }
    this.#crm.onEvent(
      feed,
      slot,
      event.body.customer_id,
      event.typeIndex,
      event.ts,
      event.body.event_id,
      seq <= feed.replayUntil,
    );
  }
}

/** Parses the message: `bw.part.<p>.<type>`, or `bw.part.<p>.<type>.<token>` when stored before 2026-11-23. */
function parseMessage(feed: PartitionFeed, msg: JsMsg, now: number): ParseResult {
  const subject = msg.subject;
  const a = subject.indexOf('.', 8);
  const b = subject.indexOf('.', a + 1);
  return b < 0
    ? parseEvent(msg.data, subject.slice(a + 1), feed.route, now)
    : parseEvent(msg.data, subject.slice(a + 1, b), subject.slice(b + 1), now);
}
