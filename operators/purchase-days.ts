/**
 * Distinct purchase days and the first purchase: the inputs of the customer-base (BG/NBD) models,
 * where frequency counts repeat purchases on distinct days. A ring bitset of 512 UTC days remembers
 * which days already had a purchase, so a second purchase on the same day (in any arrival order)
 * is not a new day; a purchase older than the bitset's reach counts as a new day (documented
 * approximation for out-of-order events more than 512 days late).
 */
import { eventTypeIndex } from '../engine/event-types.js';
import type { Column, ColumnStore } from './column-store.js';
import { type BoundOperator, DAY_MS, type FoldInput, type Operator } from './types.js';

const PURCHASE = eventTypeIndex('purchase');
const WORDS = 16; // 16 × 32 bits = 512 days
const DAYS = WORDS * 32;
const EMPTY = -2147483648;

class BoundPurchaseDays implements BoundOperator {
  readonly #bits: Column;
  readonly #head: Column;
  readonly #days: Column;
  readonly #first: Column;

  constructor(store: ColumnStore) {
    this.#bits = store.column({ name: 'purchase_days.bits', kind: 'u32', width: WORDS });
    this.#head = store.column({ name: 'purchase_days.head', kind: 'i32', width: 1, initial: EMPTY });
    this.#days = store.column({ name: 'purchase_days.count', kind: 'u32', width: 1 });
    this.#first = store.column({ name: 'purchase_days.first', kind: 'f64', width: 1, initial: Number.NaN });
  }

  step(slot: number, input: FoldInput): void {
    if (input.typeIndex !== PURCHASE) return;
    const first = this.#first.data;
    if (!(first[slot]! <= input.ts)) first[slot] = input.ts;
    const day = Math.floor(input.ts / DAY_MS);
    const bits = this.#bits.data;
    const heads = this.#head.data;
    const base = slot * WORDS;
    let head = heads[slot]!;
    if (head === EMPTY) {
      heads[slot] = head = day;
    } else if (day > head) {
      // Clear the days the ring moves past.
      const clear = Math.min(day - head, DAYS);
      for (let k = 1; k <= clear; k++) {
        const d = (((head + k) % DAYS) + DAYS) % DAYS;
        bits[base + (d >>> 5)]! &= ~(1 << (d & 31));
      }
      heads[slot] = head = day;
    }
    if (day <= head - DAYS) {
      this.#days.data[slot]!++;
      return;
    }
    const d = ((day % DAYS) + DAYS) % DAYS;
    const word = base + (d >>> 5);
    const mask = 1 << (d & 31);
    if ((bits[word]! & mask) === 0) {
      bits[word]! |= mask;
      this.#days.data[slot]!++;
    }
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
