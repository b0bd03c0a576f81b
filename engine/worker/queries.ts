/**
 * Queries inside a partition worker that arrive on its query port: one customer's answer, and the
 * worker's share of a population-wide aggregate (`aggregate`, `daily`). They are answered (a) by
 * the port's listener when the worker is idle, and (b) at safe points inside long work — every few
 * hundred messages of a consume callback, between the stages of a batch flush — by polling the
 * port synchronously (`receiveMessageOnPort`). A read then waits for at most one stretch between
 * safe points instead of a whole batch.
 *
 * Nothing is answered with fresh features beside stale scores. A customer whose events are folded
 * but not yet scored (touched in the batch in progress) is answered at the end of that batch. An
 * aggregate, which reads every customer, scores the batch in progress first: between two messages
 * (ingest.ts) or when idle it flushes the batch and is answered at its end; inside a flush it
 * waits for that flush's end. A daily-cube partial reads no scores and is answered at once.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { BellwetherError } from '../../contract/errors.js';
import type { CustomerAnswer, WorkerReply, WorkerRequest } from '../pool/thread-messages.js';
import type { PopulationQuery } from './aggregate.js';
import type { PartitionFeed } from './context.js';

type PortQuery = Extract<WorkerRequest, { op: 'customer' | 'aggregate' | 'daily' }>;
type CustomerQuery = Extract<PortQuery, { op: 'customer' }>;
type AggregateQuery = Extract<PortQuery, { op: 'aggregate' }>;

export interface QueryServing {
  /** A customer's answer from its partition's state. */
  answer(feed: PartitionFeed, slot: number): CustomerAnswer;
  /** The worker's partial of a population query over its partitions as they are now. */
  partial(q: PopulationQuery): unknown;
  /** Flushes the batch in progress now, if one is due (its end calls {@link WorkerQueries.afterBatch}). */
  flushPending(): void;
  /** A query waits for the batch in progress: flush it soon. */
  waiting(): void;
  /** After a customer's answer was sent (answer-push.ts watches it). */
  answered?(customerId: string, partition: number): void;
}

export class WorkerQueries {
  readonly #port: MessagePort;
  readonly #feeds: Map<number, PartitionFeed>;
  readonly #serving: QueryServing;
  #deferred: CustomerQuery[] = [];
  /** Aggregates waiting for the batch in progress to be scored. */
  #aggregates: AggregateQuery[] = [];

  constructor(port: MessagePort, feeds: Map<number, PartitionFeed>, serving: QueryServing) {
    this.#port = port;
    this.#feeds = feeds;
    this.#serving = serving;
  }

  /** Answers queries as they arrive while the worker is idle. */
  listen(): void {
    this.#port.on('message', (q: PortQuery) => {
      this.#serve(q);
      this.#scoreThenAggregate();
    });
  }

  /**
   * A safe point inside a flush: answers the customer queries and daily partials waiting on the
   * port now; aggregates wait for the flush's end ({@link afterBatch}).
   */
  poll(): void {
    for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) {
      this.#serve(m.message as PortQuery);
    }
  }

  /**
   * A safe point between two messages (ingest.ts): as {@link poll}, and aggregates are answered
   * now, the batch in progress scored first.
   */
  betweenMessages(): void {
    this.poll();
    this.#scoreThenAggregate();
  }

  /** After a batch is scored: answers the queries that waited for it, then any new ones. */
  afterBatch(): void {
    if (this.#deferred.length > 0) {
      const waiting = this.#deferred;
      this.#deferred = [];
      for (const q of waiting) this.#serve(q);
    }
    this.poll();
    this.#answerAggregates();
  }

  /** Scores the batch in progress (whose end answers the aggregates), then answers any left. */
  #scoreThenAggregate(): void {
    if (this.#aggregates.length === 0) return;
    this.#serving.flushPending();
    this.#answerAggregates();
  }

  #answerAggregates(): void {
    if (this.#aggregates.length === 0) return;
    const waiting = this.#aggregates;
    this.#aggregates = [];
    for (const q of waiting) this.#reply(q.id, () => this.#serving.partial(q));
  }

  #serve(q: PortQuery): void {
    if (q.op === 'aggregate') {
      this.#aggregates.push(q);
      this.#serving.waiting();
      return;
    }
    if (q.op === 'daily') {
      this.#reply(q.id, () => this.#serving.partial(q));
      return;
    }
    this.#serveCustomer(q);
  }

  #serveCustomer(q: CustomerQuery): void {
    let partition = -1;
    const served = this.#reply(q.id, () => {
      let value: CustomerAnswer | null = null;
      for (const feed of this.#feeds.values()) {
        const slot = feed.state.table.slotOf(q.customerId);
        if (slot === undefined) continue;
        if (feed.state.touched.data[slot] === 1) {
          this.#deferred.push(q);
          this.#serving.waiting();
          return DEFERRED;
        }
        value = this.#serving.answer(feed, slot);
        partition = feed.state.partition;
        break;
      }
      return value ?? linkedAnswer(this.#feeds, q.customerId);
    });
    if (served && partition >= 0 && q.watch === true) this.#serving.answered?.(q.customerId, partition);
  }

  /** Posts the value `compute` returns (or its error) as the reply to `id`; false when it deferred. */
  #reply(id: number, compute: () => unknown): boolean {
    let reply: WorkerReply;
    try {
      const value = compute();
      if (value === DEFERRED) return false;
      reply = { id, ok: true, value };
    } catch (err) {
      const e =
        err instanceof BellwetherError ? err : new BellwetherError('BW_ERR_WORKER_FAILED', String(err));
      reply = { id, ok: false, error: e.toJSON() };
    }
    this.#port.postMessage(reply);
    return true;
  }
}

/** What a customer query's computation returns when it waits for the batch in progress. */
const DEFERRED = Symbol('deferred');

/**
 * The answer for a linked anonymous id without a profile here (its events were forwarded before
 * any was folded, say in a rebuild from the stream): only `linked_to` matters, the API answers 308.
 */
function linkedAnswer(feeds: Map<number, PartitionFeed>, id: string): CustomerAnswer | null {
  for (const feed of feeds.values()) {
    const link = feed.state.identity.linkOf(id);
    if (link === undefined) continue;
    return {
      customer_id: id,
      partition: feed.state.partition,
      segment: null,
      rfm: null,
      tags: [],
      features: {},
      scores: {
        churn: null,
        purchase_intent: null,
        p_alive: null,
        expected_purchases_90d: null,
        clv_365d: null,
        clv_version: null,
        clv_status: 'no_purchase',
      },
      recommendations: {
        next_best_category: null,
        tag: null,
        categories: [],
        skus: [],
        recent: [],
        just_bought: [],
        baskets: 0,
      },
      last_event_at: null,
      identities: [],
      linked_to: link.customerId,
    };
  }
  return null;
}
