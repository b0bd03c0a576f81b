/**
 * Distinct purchase days and the first purchase: the inputs of the customer-base (BG/NBD) models,
 * where frequency counts repeat purchases on distinct days. A stream of the store's bucket log with
 * a ring of 512 UTC days remembers which days already had a purchase, so a second purchase on the
 * same day (in any arrival order) is not a new day; a purchase older than the ring's reach counts
 * as a new day (documented approximation for out-of-order events more than 512 days late).
 */
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS } from '../../contract/time.js';
import { ADD_EXISTING, type BucketLog } from '../state/bucket-log.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import type { BoundOperator, FoldInput, Operator } from './types.js';

const PURCHASE = eventTypeIndex('purchase');
const DAYS = 512;

class BoundPurchaseDays implements BoundOperator {
  readonly #log: BucketLog;
  readonly #stream: number;
  readonly #days: Column;
  readonly #first: Column;

  constructor(store: ColumnStore) {
    this.#log = store.bucketLog();
    this.#stream = this.#log.stream('purchase_days', DAYS);
    this.#days = store.column({ name: 'purchase_days.count', kind: 'u32', width: 1 });
    this.#first = store.column({ name: 'purchase_days.first', kind: 'f64', width: 1, initial: Number.NaN });
  }

  step(slot: number, input: FoldInput): void {
    if (input.typeIndex !== PURCHASE) return;
    const first = this.#first.data;
    if (!(first[slot]! <= input.ts)) first[slot] = input.ts;
    const day = Math.floor(input.ts / DAY_MS);
    // A new day, or one older than the ring reaches, counts; a day already in the ring does not.
    if (this.#log.add(slot, this.#stream, day, 1, 0, 1) !== ADD_EXISTING) this.#days.data[slot]!++;
  }

  emit(slot: number, now: number, out: Float64Array, offset: number): void {
    out[offset] = this.#days.data[slot]!;
    out[offset + 1] = (now - this.#first.data[slot]!) / DAY_MS;
  }
}

export const purchaseDays: Operator = {
  name: 'purchase_days',
  features: ['purchase_days_lifetime', 'days_since_first_purchase'],
  types: ['purchase'],
  bind: (store) => new BoundPurchaseDays(store),
};
