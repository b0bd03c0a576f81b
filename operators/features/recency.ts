/**
 * Recency and tenure: the latest purchase, the latest event and the earliest event of a customer,
 * by event time (so late events only move them when they are newer/older). Days are fractional;
 * a customer who never purchased has `days_since_last_purchase` = NaN (null over HTTP).
 */
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS } from '../../contract/time.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import type { BoundOperator, FoldInput, Operator } from './types.js';

const PURCHASE = eventTypeIndex('purchase');

class BoundRecency implements BoundOperator {
  readonly #lastPurchase: Column;
  readonly #lastEvent: Column;
  readonly #firstEvent: Column;

  constructor(store: ColumnStore) {
    this.#lastPurchase = store.column({
      name: 'recency.last_purchase',
      kind: 'f64',
      width: 1,
      initial: Number.NaN,
    });
    this.#lastEvent = store.column({
      name: 'recency.last_event',
      kind: 'f64',
      width: 1,
      initial: Number.NaN,
    });
    this.#firstEvent = store.column({
      name: 'recency.first_event',
      kind: 'f64',
      width: 1,
      initial: Number.NaN,
    });
  }

  step(slot: number, input: FoldInput): void {
    const ts = input.ts;
    const last = this.#lastEvent.data;
    const first = this.#firstEvent.data;
    if (!(last[slot]! >= ts)) last[slot] = ts;
    if (!(first[slot]! <= ts)) first[slot] = ts;
    if (input.typeIndex === PURCHASE) {
      const lp = this.#lastPurchase.data;
      if (!(lp[slot]! >= ts)) lp[slot] = ts;
    }
  }

  emit(slot: number, now: number, out: Float64Array, offset: number): void {
    out[offset] = (now - this.#lastPurchase.data[slot]!) / DAY_MS;
    out[offset + 1] = (now - this.#lastEvent.data[slot]!) / DAY_MS;
    out[offset + 2] = (now - this.#firstEvent.data[slot]!) / DAY_MS;
  }
}

export const recency: Operator = {
  name: 'recency',
  features: ['days_since_last_purchase', 'days_since_last_event', 'tenure_days'],
  types: [],
  featureTypes: { days_since_last_purchase: ['purchase'] },
  bind: (store) => new BoundRecency(store),
};

/** Epoch ms of the customer's latest event (NaN when none), read by the API for `last_event_at`. */
export function lastEventAt(store: ColumnStore, slot: number): number {
  return store.column({ name: 'recency.last_event', kind: 'f64', width: 1, initial: Number.NaN }).data[slot]!;
}
