/**
 * Subscription status: 1 when the customer's latest subscription event (by event time) is a
 * `subscription_cancel`, else 0. Ties go to the cancel.
 */
import { eventTypeIndex } from '../../contract/event-types.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import type { BoundOperator, FoldInput, Operator } from './types.js';

const RENEW = eventTypeIndex('subscription_renew');
const CANCEL = eventTypeIndex('subscription_cancel');

class BoundSubscription implements BoundOperator {
  readonly #lastRenew: Column;
  readonly #lastCancel: Column;

  constructor(store: ColumnStore) {
    this.#lastRenew = store.column({
      name: 'subscription.last_renew',
      kind: 'f64',
      width: 1,
      initial: Number.NaN,
    });
    this.#lastCancel = store.column({
      name: 'subscription.last_cancel',
      kind: 'f64',
      width: 1,
      initial: Number.NaN,
    });
  }

  step(slot: number, input: FoldInput): void {
    const col =
      input.typeIndex === RENEW
        ? this.#lastRenew.data
        : input.typeIndex === CANCEL
          ? this.#lastCancel.data
          : null;
    if (col && !(col[slot]! >= input.ts)) col[slot] = input.ts;
  }

  emit(slot: number, _now: number, out: Float64Array, offset: number): void {
    const cancel = this.#lastCancel.data[slot]!;
    const renew = this.#lastRenew.data[slot]!;
    out[offset] = cancel >= renew || (Number.isNaN(renew) && !Number.isNaN(cancel)) ? 1 : 0;
  }
}

export const subscription: Operator = {
  name: 'subscription',
  features: ['subscription_cancelled'],
  types: ['subscription_renew', 'subscription_cancel'],
  bind: (store) => new BoundSubscription(store),
};
