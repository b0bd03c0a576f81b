/**
 * Everything one partition owns: its customers' feature table, their latest scores and alert arm
 * state (typed columns in the same store), the last event id per customer (for alert ids), the
 * dedupe memory, the partition's watermark and its identity state (anonymous profiles, links).
 */

import { FeatureTable } from '../../operators/features/feature-table.js';
import type { Column } from '../../operators/state/column-store.js';
import { EventClock } from './event-clock.js';
import { PartitionIdentity } from './partition-identity.js';
import { PartitionMonitor } from './partition-monitor.js';
import { RecentIds } from './recent-ids.js';

function lastEventColumn(table: FeatureTable): Column {
  return table.store.column({ name: 'recency.last_event', kind: 'f64', width: 1, initial: Number.NaN });
}

export class PartitionState {
  readonly partition: number;
  /** Features over every event, and the views over the event-type subsets models were trained on. */
  readonly table: FeatureTable;
  readonly churn: Column;
  readonly intent: Column;
  readonly scoredAt: Column;
  readonly churnArmed: Column;
  readonly intentArmed: Column;
  readonly churnRisk: Column;
  readonly intentRisk: Column;
  /** Alerts fired per customer and kind: the n-th crossing names its alert. */
  readonly churnCrossings: Column;
  readonly intentCrossings: Column;
  readonly touched: Column;
  /** Stream sequence of the latest event folded per slot. */
  readonly lastSeq: Column;
  /** event_id of the latest event folded per slot. */
  readonly lastEventId: string[] = [];
  readonly #dedupe: RecentIds | undefined;
  /** Anonymous profiles' histories and links (partition-identity.ts). */
  readonly identity = new PartitionIdentity();
  /** Snapshots of the live models' scores and their realised labels (partition-monitor.ts). */
  readonly monitor = new PartitionMonitor();
  /** The partition's event-time clock: its watermark, robust to stray far-ahead events (event-clock.ts). */
  readonly clock: EventClock;
  /**
   * The most the event clock may read: the engine's partitions' median watermark plus the jump
   * bound (event-clock.ts `clockCap`, refreshed at each flush); Infinity until known.
   */
  clockCap = Number.POSITIVE_INFINITY;
  lastSequence = 0;

  /**
   * @param maxJumpMs how far one event may move the watermark (BW_WATERMARK_MAX_JUMP_SECONDS); 0 = no bound
   * @param views event-type subsets to keep feature views over (FeatureTable), e.g. the models' semantics
   */
  constructor(
    partition: number,
    dedupeIds: number,
    maxJumpMs = 0,
    views: readonly (readonly string[])[] = [],
  ) {
    this.partition = partition;
    this.table = new FeatureTable(undefined, undefined, undefined, views);
    this.clock = new EventClock(maxJumpMs);
    const store = this.table.store;
    this.churn = store.column({ name: 'score.churn', kind: 'f32', width: 1, initial: Number.NaN });
    this.intent = store.column({ name: 'score.intent', kind: 'f32', width: 1, initial: Number.NaN });
    this.scoredAt = store.column({ name: 'score.at', kind: 'f64', width: 1, initial: Number.NaN });
    this.churnArmed = store.column({ name: 'alert.churn_armed', kind: 'u8', width: 1, initial: 1 });
    this.intentArmed = store.column({ name: 'alert.intent_armed', kind: 'u8', width: 1, initial: 1 });
    this.churnRisk = store.column({ name: 'alert.churn_risk', kind: 'u8', width: 1, initial: 255 });
    this.intentRisk = store.column({ name: 'alert.intent_risk', kind: 'u8', width: 1, initial: 255 });
    this.churnCrossings = store.column({ name: 'alert.churn_crossings', kind: 'u32', width: 1 });
    this.intentCrossings = store.column({ name: 'alert.intent_crossings', kind: 'u32', width: 1 });
    this.touched = store.column({ name: 'batch.touched', kind: 'u8', width: 1 });
    this.lastSeq = store.column({ name: 'event.seq', kind: 'f64', width: 1 });
    this.#dedupe = dedupeIds > 0 ? new RecentIds(dedupeIds) : undefined;
  }

  /** True when `eventId` was already counted (and remembers it otherwise). */
  seen(eventId: string): boolean {
    return this.#dedupe ? !this.#dedupe.add(eventId) : false;
  }

  /**
   * Forgets customers whose latest event is more than `ttlMs` before `now`; returns how many.
   * Call between batches (slots move): `onMove(slot)` is told a slot is forgotten and
   * `onMove(from, to)` that the customer in `from` moved to `to`.
   */
  evictInactive(now: number, ttlMs: number, onMove?: (from: number, to?: number) => void): number {
    const last = lastEventColumn(this.table);
    let evicted = 0;
    for (let slot = this.table.size - 1; slot >= 0; slot--) {
      if (!(now - last.data[slot]! > ttlMs)) continue;
      this.identity.forget(this.table.idOf(slot));
      onMove?.(slot);
      const moved = this.table.remove(slot);
      if (moved) {
        this.lastEventId[slot] = this.lastEventId[moved.from]!;
        onMove?.(moved.from, slot);
      }
      this.lastEventId.length = this.table.size;
      evicted++;
    }
    return evicted;
  }

  /** The dedupe memory's fingerprints, oldest first (recent-ids.ts). */
  dedupeFingerprints(): Uint32Array {
    return this.#dedupe ? this.#dedupe.fingerprints() : new Uint32Array(0);
  }

  /** Restores the dedupe memory from fingerprints, or from the ids an earlier version kept. */
  restoreDedupe(remembered: Uint32Array | readonly string[]): void {
    const dedupe = this.#dedupe;
    if (!dedupe) return;
    if (remembered instanceof Uint32Array) {
      for (let i = 0; i + 1 < remembered.length; i += 2)
        dedupe.addFingerprint(remembered[i]!, remembered[i + 1]!);
    } else {
      for (const id of remembered) dedupe.add(id);
    }
  }

  /** Highest event time the clock accepted (epoch ms), -Infinity before the first event. */
  get watermark(): number {
    return this.clock.watermark;
  }

  set watermark(ms: number) {
    this.clock.watermark = ms;
  }

  /**
   * `now` for windows: wall clock, or with `BW_CLOCK=event` the watermark, held within the bound of
   * the engine's other partitions (`clockCap`).
   */
  now(clock: 'wall' | 'event'): number {
    if (clock === 'wall') return Date.now();
    const watermark = this.clock.watermark;
    return Number.isFinite(watermark) ? Math.min(watermark, this.clockCap) : Date.now();
  }
}
