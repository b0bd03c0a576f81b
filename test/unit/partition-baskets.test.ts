/**
 * A partition's baskets through its checkpoint: the counts, the open orders and the category
 * dictionary the customers' columns index come back from a snapshot taken as JSON (as the
 * checkpoint file holds it), and a snapshot of a version without baskets restores to nothing.
 */
import { describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../../contract/event-parse.js';
import { eventTypeIndex } from '../../contract/event-types.js';
import { PartitionBaskets } from '../../engine/state/partition-baskets.js';
import { ColumnStore } from '../../operators/state/column-store.js';

const T0 = Date.UTC(2026, 11, 1);
const MIN = 60_000;

function purchase(customer: string, order: string, category: string, ts: number): ParsedEvent {
  return {
    body: {
      event_id: `${order}-${category}`,
      customer_id: customer,
      type: 'purchase',
      session_id: order,
      sku: `${category}-1`,
      category,
    },
    typeIndex: eventTypeIndex('purchase'),
    ts,
    amount: 10,
  } as ParsedEvent;
}

describe('partition baskets', () => {
  it('restores counts, open orders and the category dictionary from a JSON snapshot', () => {
    const store = new ColumnStore(8);
    const baskets = new PartitionBaskets(store);
    const planted = [['A', 'B'], ['A', 'B'], ['A', 'B', 'C'], ['A', 'C'], ['C']];
    planted.forEach((items, b) => {
      for (const c of items) baskets.onEvent(b, purchase(`c${b}`, `o${b}`, c, T0 + b * MIN));
    });
    baskets.onEvent(5, purchase('zoe', 'z1', 'A', T0 + 60 * MIN)); // closes the five by timeout
    expect(baskets.baskets.stats.category.baskets).toBe(5);
    expect(baskets.baskets.open).toBe(1);
    const before = baskets.recommend(5, T0 + 60 * MIN);
    expect(before.next_best_category).toBe('B');

    const snap = JSON.parse(JSON.stringify(baskets.snapshot()));
    const restoredStore = new ColumnStore(8);
    const restored = new PartitionBaskets(restoredStore);
    restoredStore.importSlots(6, store.exportSlots(6));
    restored.restore(snap);
    expect(restored.recommend(5, T0 + 60 * MIN)).toEqual(before);
    expect(restored.likelyToBuy(5)).toBe('B');
    expect(restored.baskets.open).toBe(1);
  });

  it('restores a snapshot written before baskets existed to empty counts', () => {
    const baskets = new PartitionBaskets(new ColumnStore(4));
    baskets.restore(undefined);
    expect(baskets.baskets.stats.category.baskets).toBe(0);
    expect(baskets.recommend(0, T0).next_best_category).toBeNull();
  });
});
