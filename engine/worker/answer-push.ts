/**
 * Fresh answers pushed to the main thread for the customers it is reading.
 *
 * A customer read over HTTP is answered once by its worker (a cache miss); from then on the worker
 * *watches* it: when a batch touching it is scored, and every half time-to-live while nothing
 * changes, the worker computes its answer and pushes it over the query channel, stamped with the
 * answer-cache counters as they are at that moment (answer-cache.ts). The main thread's cache then
 * holds the current answer before the next read asks for it, so repeated reads of busy customers
 * stop waiting for a worker in the middle of a batch. Only single-customer reads start a watch
 * (exports do not). A customer neither served by the main thread (its `reads` mark) nor asked of
 * the worker for `idleMs` is dropped; at most `max` customers are watched per worker. After a
 * partition-wide change (rescore sweep, reload) the partition's watched customers are pushed at the
 * next refresh, once, however many sweep chunks bumped it.
 */
import type { MessagePort } from 'node:worker_threads';
import {
  type AnswerVersionsData,
  bumpPartition,
  clockMs,
  lastRead,
  stampOf,
} from '../pool/answer-versions.js';
import type { AnswersPush, CustomerAnswer, PushedAnswer } from '../pool/thread-messages.js';
import type { PartitionState } from '../state/partition-state.js';
import type { PartitionFeed } from './context.js';

interface Watched {
  partition: number;
  /** clockMs of the worker's last answer to a read of this customer (not a push). */
  servedAt: number;
  /** clockMs of the last answer pushed or given. */
  answeredAt: number;
}

export interface AnswerPushOptions {
  /** The main thread's cache time-to-live (BW_ANSWER_CACHE_MS); 0 turns pushing off. */
  ttlMs: number;
  /** Customers watched at most. */
  max: number;
  /** A customer not served by the main thread for this long is dropped. */
  idleMs: number;
  /** Told how many answers each push carried (a metric). */
  onPushed?: (answers: number) => void;
}

export class AnswerPush {
  readonly #versions: AnswerVersionsData;
  readonly #port: MessagePort;
  readonly #feeds: Map<number, PartitionFeed>;
  readonly #answer: (feed: PartitionFeed, slot: number) => CustomerAnswer;
  readonly #opts: AnswerPushOptions;
  readonly #watched = new Map<string, Watched>();
  /** Partitions whose every answer may have changed since the last refresh. */
  readonly #dirty = new Set<number>();
  pushed = 0;

  constructor(
    versions: AnswerVersionsData,
    port: MessagePort,
    feeds: Map<number, PartitionFeed>,
    answer: (feed: PartitionFeed, slot: number) => CustomerAnswer,
    opts: AnswerPushOptions,
  ) {
    this.#versions = versions;
    this.#port = port;
    this.#feeds = feeds;
    this.#answer = answer;
    this.#opts = opts;
  }

  get enabled(): boolean {
    return this.#opts.ttlMs > 0 && this.#opts.max > 0;
  }

  get watching(): number {
    return this.#watched.size;
  }

  /** The worker just answered a read of `customerId` (so the main thread caches it). */
  watch(customerId: string, partition: number, at: number): void {
    if (!this.enabled) return;
    const held = this.#watched.get(customerId);
    if (held) {
      held.servedAt = at;
      held.answeredAt = at;
    } else if (this.#watched.size < this.#opts.max) {
      this.#watched.set(customerId, { partition, servedAt: at, answeredAt: at });
    }
  }

  /**
   * After a batch is scored: pushes the answers of the watched customers among its touched ones.
   * Call after their counters were bumped, before the batch's deferred reads are answered.
   */
  afterBatch(states: readonly PartitionState[], slots: Int32Array, n: number): void {
    if (this.#watched.size === 0) return;
    const out: PushedAnswer[] = [];
    const now = clockMs();
    for (let i = 0; i < n; i++) {
      const id = states[i]!.table.idOf(slots[i]!);
      const watched = this.#watched.get(id);
      if (watched) this.#push(id, watched, now, out);
    }
    this.#send(out);
  }

  /**
   * Every half time-to-live: re-answers watched customers whose last answer is that old (their
   * clock-driven features move), and forgets those the main thread stopped serving.
   */
  refresh(now: number = clockMs()): void {
    if (this.#watched.size === 0) {
      this.#dirty.clear();
      return;
    }
    const idleBefore = Math.floor((now - this.#opts.idleMs) / 1000);
    const out: PushedAnswer[] = [];
    for (const [id, watched] of this.#watched) {
      if (lastRead(this.#versions, id) < idleBefore && now - watched.servedAt > this.#opts.idleMs) {
        this.#watched.delete(id);
        continue;
      }
      if (this.#dirty.has(watched.partition) || now - watched.answeredAt >= this.#opts.ttlMs / 2)
        this.#push(id, watched, now, out);
    }
    this.#dirty.clear();
    this.#send(out);
  }

  /**
   * Every answer of a partition (or of all, without one) may have changed: its watched customers
   * are pushed at the next refresh, once (a rescore sweep bumps a partition once per chunk).
   */
  afterChange(partition?: number): void {
    if (this.#watched.size === 0) return;
    if (partition !== undefined) this.#dirty.add(partition);
    else for (const watched of this.#watched.values()) this.#dirty.add(watched.partition);
  }

  /**
   * Every answer of a partition (or, without one, of every partition of the worker) may have
   * changed (rescored, rebuilt from its stream, models, CRM or keyring changed): the main thread's
   * cached answers of it are void, and its watched customers are pushed at the next refresh.
   */
  voidAnswers(partition?: number): void {
    if (partition !== undefined) bumpPartition(this.#versions, partition);
    else for (const p of this.#feeds.keys()) bumpPartition(this.#versions, p);
    this.afterChange(partition);
  }

  #push(id: string, watched: Watched, now: number, out: PushedAnswer[]): void {
    const feed = this.#feeds.get(watched.partition);
    const slot = feed?.state.table.slotOf(id);
    if (!feed || slot === undefined) {
      this.#watched.delete(id); // forgotten (inactive) or no longer owned
      return;
    }
    // Folded but not yet scored: its answer is pushed when its batch is (never fresh features with old scores).
    if (feed.state.touched.data[slot] === 1) return;
    const stamp = stampOf(this.#versions, id, watched.partition);
    out.push({ customerId: id, answer: this.#answer(feed, slot), ...stamp, at: now });
    watched.answeredAt = now;
  }

  #send(answers: PushedAnswer[]): void {
    if (answers.length === 0) return;
    this.pushed += answers.length;
    this.#opts.onPushed?.(answers.length);
    const msg: AnswersPush = { kind: 'answers', answers };
    this.#port.postMessage(msg);
  }
}
