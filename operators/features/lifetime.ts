/** Lifetime totals: every event counts here, however old. Spend is kept to the cent. */
import { eventTypeIndex } from '../../contract/event-types.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import type { BoundOperator, FoldInput, Operator } from './types.js';

const PURCHASE = eventTypeIndex('purchase');
const REFUND = eventTypeIndex('refund');

class BoundLifetime implements BoundOperator {
  readonly #purchases: Column;
  readonly #spendCents: Column;
  readonly #refunds: Column;
  readonly #events: Column;

  constructor(store: ColumnStore) {
    this.#purchases = store.column({ name: 'lifetime.purchases', kind: 'u32', width: 1 });
    this.#spendCents = store.column({ name: 'lifetime.spend_cents', kind: 'f64', width: 1 });
    this.#refunds = store.column({ name: 'lifetime.refunds', kind: 'u32', width: 1 });
    this.#events = store.column({ name: 'lifetime.events', kind: 'u32', width: 1 });
  }

  step(slot: number, input: FoldInput): void {
    this.#events.data[slot]!++;
    if (input.typeIndex === PURCHASE) {
      this.#purchases.data[slot]!++;
      this.#spendCents.data[slot]! += Math.round(input.amount * 100);
    } else if (input.typeIndex === REFUND) {
      this.#refunds.data[slot]!++;
    }
  }

  emit(slot: number, _now: number, out: Float64Array, offset: number): void {
    out[offset] = this.#purchases.data[slot]!;
    out[offset + 1] = this.#spendCents.data[slot]! / 100;
    out[offset + 2] = this.#refunds.data[slot]!;
    out[offset + 3] = this.#events.data[slot]!;
  }
}

export const lifetime: Operator = {
  name: 'lifetime',
  features: ['purchases_lifetime', 'spend_lifetime', 'refunds_lifetime', 'events_lifetime'],
  types: [],
  featureTypes: {
    purchases_lifetime: ['purchase'],
    spend_lifetime: ['purchase'],
    refunds_lifetime: ['refund'],
  },
  bind: (store) => new BoundLifetime(store),
};
