/**
 * Customer queries inside a partition worker. They arrive on their own port and are answered
 * (a) by the port's listener when the worker is idle, and (b) at safe points inside long work —
 * every few hundred messages of a consume callback, between the stages of a batch flush — by
 * polling the port synchronously (`receiveMessageOnPort`). A read then waits for at most one
 * stretch between safe points instead of a whole batch. A customer whose events are folded but
 * not yet scored (touched in the batch in progress) is answered at the end of that batch, so an
 * answer never pairs fresh features with stale scores.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { BellwetherError } from '../../contract/errors.js';
import type { CustomerAnswer, WorkerReply, WorkerRequest } from '../pool/thread-messages.js';
import type { PartitionFeed } from './context.js';

type CustomerQuery = Extract<WorkerRequest, { op: 'customer' }>;

export class WorkerQueries {
  readonly #port: MessagePort;
  readonly #feeds: Map<number, PartitionFeed>;
  readonly #answer: (feed: PartitionFeed, slot: number) => CustomerAnswer;
  readonly #waiting: () => void;
  readonly #answered: (customerId: string, partition: number) => void;
  #deferred: CustomerQuery[] = [];

  /**
   * @param waiting called when a query waits for the batch in progress (so it is flushed soon)
   * @param answered called after a customer's answer was sent (answer-push.ts watches it)
   */
  constructor(
    port: MessagePort,
    feeds: Map<number, PartitionFeed>,
    answer: (feed: PartitionFeed, slot: number) => CustomerAnswer,
    waiting: () => void,
    answered: (customerId: string, partition: number) => void = () => {},
  ) {
    this.#port = port;
    this.#feeds = feeds;
    this.#answer = answer;
    this.#waiting = waiting;
    this.#answered = answered;
  }

  /** Answers queries as they arrive while the worker is idle. */
  listen(): void {
    this.#port.on('message', (q: CustomerQuery) => this.#serve(q));
  }

  /** A safe point: answers every query waiting on the port now. */
  poll(): void {
    for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) {
      this.#serve(m.message as CustomerQuery);
    }
  }

  /** After a batch is scored: answers the queries that waited for it, then any new ones. */
  afterBatch(): void {
    if (this.#deferred.length > 0) {
      const waiting = this.#deferred;
      this.#deferred = [];
      for (const q of waiting) this.#serve(q);
    }
    this.poll();
  }

  #serve(q: CustomerQuery): void {
    let reply: WorkerReply;
    let partition = -1;
    try {
      let value: CustomerAnswer | null = null;
      for (const feed of this.#feeds.values()) {
        const slot = feed.state.table.slotOf(q.customerId);
        if (slot === undefined) continue;
        if (feed.state.touched.data[slot] === 1) {
          this.#deferred.push(q);
          this.#waiting();
          return;
        }
        value = this.#answer(feed, slot);
        partition = feed.state.partition;
        break;
      }
      value ??= linkedAnswer(this.#feeds, q.customerId);
      reply = { id: q.id, ok: true, value };
    } catch (err) {
      const e =
        err instanceof BellwetherError ? err : new BellwetherError('BW_ERR_WORKER_FAILED', String(err));
      reply = { id: q.id, ok: false, error: e.toJSON() };
    }
    this.#port.postMessage(reply);
    if (partition >= 0 && q.watch === true) this.#answered(q.customerId, partition);
  }
}

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
