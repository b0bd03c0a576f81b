/**
 * Baskets, association rules and the next-best category on planted baskets whose support,
 * confidence and lift are computed by hand:
 *
 *   b1 {A, B}  b2 {A, B}  b3 {A, B, C}  b4 {A, C}  b5 {C}           N = 5
 *   n(A) = 4, n(B) = 3, n(C) = 3, n(AB) = 3, n(AC) = 2, n(BC) = 1
 *   A → B: support 3/5 = 0.6, confidence 3/4 = 0.75, lift 0.75 / (3/5) = 1.25
 *   B → A: support 0.6, confidence 3/3 = 1, lift 1 / (4/5) = 1.25
 *   C → A: support 2/5 = 0.4, confidence 2/3, lift (2/3) / (4/5) = 0.833333
 *   A → C: support 0.4, confidence 2/4 = 0.5, lift 0.5 / (3/5) = 0.833333
 *   B → C, C → B: support 0.2, confidence 1/3, lift (1/3) / (3/5) = 0.555556
 */
import { describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { associationRules, CategoryModel } from '../../operators/analytics/association-rules.js';
import { BasketStats, itemId, pairIds, pairKey } from '../../operators/analytics/basket-stats.js';
import { BasketTracker } from '../../operators/analytics/baskets.js';
import { NextBestTracker } from '../../operators/analytics/next-best.js';
import { SpaceSaving } from '../../operators/analytics/space-saving.js';
import { ColumnStore } from '../../operators/state/column-store.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 1);
const PLANTED = [['A', 'B'], ['A', 'B'], ['A', 'B', 'C'], ['A', 'C'], ['C']];

/** Each planted basket is one order (session id) of its own customer slot, a line per category. */
function plant(tracker: BasketTracker, baskets: readonly string[][], slot0 = 0): void {
  baskets.forEach((items, b) => {
    items.forEach((category, i) => {
      tracker.onEvent(slot0 + b, true, T0 + b * MIN + i, `order-${b}`, `${category}-sku`, category);
    });
  });
  for (let b = 0; b < baskets.length; b++) tracker.close(slot0 + b);
}

const ALL = { minSupport: 0, minConfidence: 0, limit: 100 };

describe('association rules', () => {
  it('mines planted baskets at the hand-computed support, confidence and lift', () => {
    const tracker = new BasketTracker();
    plant(tracker, PLANTED);
    const mined = associationRules(tracker.stats.category, 'category', ALL);
    expect(mined.baskets).toBe(5);
    expect(mined.exact).toBe(true);
    expect(mined.rules).toEqual([
      { antecedent: 'B', consequent: 'A', count: 3, support: 0.6, confidence: 1, lift: 1.25 },
      { antecedent: 'A', consequent: 'B', count: 3, support: 0.6, confidence: 0.75, lift: 1.25 },
      { antecedent: 'C', consequent: 'A', count: 2, support: 0.4, confidence: 0.666667, lift: 0.833333 },
      { antecedent: 'A', consequent: 'C', count: 2, support: 0.4, confidence: 0.5, lift: 0.833333 },
      { antecedent: 'B', consequent: 'C', count: 1, support: 0.2, confidence: 0.333333, lift: 0.555556 },
      { antecedent: 'C', consequent: 'B', count: 1, support: 0.2, confidence: 0.333333, lift: 0.555556 },
    ]);
  });

  it('keeps only rules above min_support and min_confidence, at most limit', () => {
    const tracker = new BasketTracker();
    plant(tracker, PLANTED);
    const q = { minSupport: 0.3, minConfidence: 0.6, limit: 100 };
    const mined = associationRules(tracker.stats.category, 'category', q);
    expect(mined.rules.map((r) => `${r.antecedent}→${r.consequent}`)).toEqual(['B→A', 'A→B', 'C→A']);
    expect(associationRules(tracker.stats.category, 'category', { ...q, limit: 1 }).rules).toHaveLength(1);
  });

  it('mines sku rules from the same baskets', () => {
    const tracker = new BasketTracker();
    plant(tracker, PLANTED);
    const rule = associationRules(tracker.stats.sku, 'sku', ALL).rules.find(
      (r) => r.antecedent === 'A-sku' && r.consequent === 'B-sku',
    );
    expect(rule).toEqual({
      antecedent: 'A-sku',
      consequent: 'B-sku',
      count: 3,
      support: 0.6,
      confidence: 0.75,
      lift: 1.25,
    });
  });

  it('gives the same rules when two partitions counted half the baskets each and merged', () => {
    const one = new BasketTracker();
    const two = new BasketTracker();
    plant(one, PLANTED.slice(0, 2));
    plant(two, PLANTED.slice(2));
    const merged = new BasketStats().merge(one.stats.toJSON()).merge(two.stats);
    const whole = new BasketTracker();
    plant(whole, PLANTED);
    expect(associationRules(merged.category, 'category', ALL)).toEqual(
      associationRules(whole.stats.category, 'category', ALL),
    );
    // and the counts survive a JSON round trip (checkpoints, cluster gathers)
    const back = BasketStats.fromJSON(JSON.parse(JSON.stringify(merged.toJSON())));
    expect(associationRules(back.sku, 'sku', ALL)).toEqual(associationRules(whole.stats.sku, 'sku', ALL));
  });

  it('never overstates support once the pair summary evicts: pairs count at their lower bound', () => {
    const stats = new BasketStats({ category: { items: 16, pairs: 2 }, sku: { items: 2, pairs: 2 } });
    const tracker = new BasketTracker({
      capacity: { category: { items: 16, pairs: 2 }, sku: { items: 2, pairs: 2 } },
    });
    plant(tracker, [
      ['A', 'B'],
      ['A', 'B'],
      ['C', 'D'],
      ['E', 'F'],
      ['A', 'B'],
    ]);
    stats.merge(tracker.stats);
    const mined = associationRules(stats.category, 'category', ALL);
    expect(mined.exact).toBe(false);
    // A,B: 3 true; the bound count − error never exceeds it
    const ab = mined.rules.find((r) => r.antecedent === 'A' && r.consequent === 'B');
    expect(ab?.count).toBeLessThanOrEqual(3);
    expect(ab?.count).toBeGreaterThan(0);
  });

  it('keeps Space-Saving bounds and its minimum with the heap over many evictions', () => {
    const s = new SpaceSaving(64);
    const truth = new Map<number, number>();
    let x = 7;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const key = (x >>> 8) % 5 === 0 ? x % 8 : x % 3000; // 8 heavy keys in a long tail
      truth.set(key, (truth.get(key) ?? 0) + 1);
      s.add(key);
    }
    const top = s.top();
    expect(top).toHaveLength(64);
    expect(s.min).toBe(Math.min(...top.map((t) => t.count)));
    for (const { key, count, error } of top) {
      expect(count).toBeGreaterThanOrEqual(truth.get(key) ?? 0);
      expect(count - error).toBeLessThanOrEqual(truth.get(key) ?? 0);
    }
    for (const [key, n] of truth) if (n > 20_000 / 64) expect(s.count(key)).toBeGreaterThan(0);
  });

  it('packs a pair of 26-bit ids into one exact number', () => {
    const a = itemId('coffee');
    const b = itemId('filters');
    expect(pairKey(a, b)).toBe(pairKey(b, a));
    expect(pairIds(pairKey(a, b))).toEqual([Math.min(a, b), Math.max(a, b)]);
    expect(itemId('coffee')).toBe(a);
    expect(a).toBeGreaterThan(0);
    expect(a).toBeLessThan(2 ** 26);
  });
});

describe('basket tracker', () => {
  it('closes a basket when the order id changes for the customer', () => {
    const tracker = new BasketTracker();
    tracker.onEvent(0, true, T0, 'o1', 'a1', 'A');
    tracker.onEvent(0, true, T0 + 1, 'o1', 'b1', 'B');
    expect(tracker.stats.category.baskets).toBe(0);
    tracker.onEvent(0, true, T0 + 2, 'o2', 'c1', 'C');
    expect(tracker.stats.category.baskets).toBe(1);
    expect(tracker.stats.category.pairs.count(pairKey(itemId('A'), itemId('B')))).toBe(1);
    expect(tracker.open).toBe(1);
  });

  it('closes a basket after the timeout in event time, seen from a later event of the partition', () => {
    const tracker = new BasketTracker({ timeoutMs: 30 * MIN });
    tracker.onEvent(0, true, T0, undefined, 'a1', 'A');
    tracker.onEvent(0, true, T0 + 10 * MIN, undefined, 'b1', 'B'); // same basket: no key, within 30 min
    tracker.onEvent(1, false, T0 + 39 * MIN, undefined, undefined, 'X'); // another customer's view
    expect(tracker.stats.category.baskets).toBe(0);
    // checked every timeout / 4 = 7.5 min of partition time: the last check was at 39 min
    tracker.onEvent(1, false, T0 + 41 * MIN, undefined, undefined, undefined);
    expect(tracker.stats.category.baskets).toBe(0);
    tracker.onEvent(1, false, T0 + 47 * MIN, undefined, undefined, undefined);
    expect(tracker.stats.category.baskets).toBe(1);
    expect(tracker.open).toBe(0);
  });

  it('counts a category once per basket and ignores events that are not purchases', () => {
    const tracker = new BasketTracker();
    tracker.onEvent(0, false, T0, 'o1', 'a1', 'A'); // a cart add
    tracker.onEvent(0, true, T0 + 1, 'o1', 'a1', 'A');
    tracker.onEvent(0, true, T0 + 2, 'o1', 'a2', 'A');
    tracker.onEvent(0, true, T0 + 3, 'o1', undefined, undefined); // a purchase without a line
    tracker.close(0);
    expect(tracker.stats.category.items.count(itemId('A'))).toBe(1);
    expect(tracker.stats.sku.items.count(itemId('a1'))).toBe(1);
    expect(tracker.stats.sku.pairs.count(pairKey(itemId('a1'), itemId('a2')))).toBe(1);
  });

  it('keeps open baskets across a snapshot and follows moved slots', () => {
    const tracker = new BasketTracker();
    tracker.onEvent(3, true, T0, 'o1', 'a1', 'A');
    tracker.moveSlot(3, 1);
    const restored = new BasketTracker();
    restored.restore(JSON.parse(JSON.stringify(tracker.snapshot())));
    restored.onEvent(1, true, T0 + 1, 'o1', 'b1', 'B');
    restored.removeSlot(1); // forgotten: its basket is counted
    expect(restored.stats.category.baskets).toBe(1);
    expect(restored.stats.category.pairs.count(pairKey(itemId('A'), itemId('B')))).toBe(1);
  });
});

describe('next-best category', () => {
  const PURCHASE = eventTypeIndex('purchase');
  const VIEW = eventTypeIndex('page_view');
  const CART = eventTypeIndex('add_to_cart');

  function mined(): CategoryModel {
    const tracker = new BasketTracker();
    plant(tracker, PLANTED);
    return new CategoryModel(tracker.stats.category);
  }

  it('recommends B to a customer who bought A (A → B at confidence 0.75)', () => {
    const model = mined();
    const next = new NextBestTracker(new ColumnStore(4));
    next.onEvent(0, PURCHASE, T0, 'A');
    // score(B) = 1 · 0.75 + 0.01 · 3/5 = 0.756; score(C) = 1 · 0.5 + 0.01 · 3/5 = 0.506; A was just bought
    expect(next.score(0, itemId('B'), model)).toBeCloseTo(0.756, 9);
    expect(next.score(0, itemId('C'), model)).toBeCloseTo(0.506, 9);
    expect(next.score(0, itemId('A'), model)).toBe(-1);
    expect(next.nextBest(0, model)).toBe('B');
    const tracker = new BasketTracker();
    plant(tracker, PLANTED);
    const r = next.recommend(0, model, tracker.stats.sku, tracker.stats.sku.items.top(), T0, 5);
    expect(r.next_best_category).toBe('B');
    expect(r.categories).toEqual([
      { category: 'B', score: 0.756 },
      { category: 'C', score: 0.506 },
    ]);
    expect(r.skus).toEqual([
      { sku: 'C-sku', category: 'C', baskets: 3 },
      { sku: 'B-sku', category: 'B', baskets: 3 },
    ]);
    expect(r.just_bought).toEqual(['A']);
    expect(r.baskets).toBe(5);
  });

  it('falls back to popularity for a customer with no history', () => {
    const next = new NextBestTracker(new ColumnStore(4));
    // A is in 4 of 5 baskets
    expect(next.nextBest(2, mined())).toBe('A');
  });

  it('weighs views 1, cart adds 3 and purchases 5, decayed with a 14-day half-life', () => {
    const next = new NextBestTracker(new ColumnStore(4));
    next.onEvent(0, VIEW, T0, 'C');
    next.onEvent(0, CART, T0 + 14 * 86_400_000, 'B'); // C decays to 0.5
    const model = mined();
    const r = next.recommend(0, model, new BasketStats().sku, [], T0 + 14 * 86_400_000, 5);
    expect(r.recent).toEqual([
      { category: 'B', weight: 3 },
      { category: 'C', weight: 0.5 },
    ]);
    // ω_B = 3/3.5, ω_C = 0.5/3.5:
    // score(B) = ω_B · 1 + ω_C · conf(C→B) + 0.01 · 0.6 = 0.857143 + 0.047619 + 0.006 = 0.910762
    // score(A) = ω_B · conf(B→A) + ω_C · conf(C→A) + 0.01 · 0.8 = 0.857143 + 0.095238 + 0.008 = 0.960381
    // score(C) = ω_B · conf(B→C) + ω_C · 1 + 0.01 · 0.6 = 0.285714 + 0.142857 + 0.006 = 0.434571
    expect(next.score(0, itemId('B'), model)).toBeCloseTo(0.910762, 6);
    expect(next.score(0, itemId('A'), model)).toBeCloseTo(0.960381, 6);
    expect(next.score(0, itemId('C'), model)).toBeCloseTo(0.434571, 6);
    // B is in the cart and every B basket holds A: A comes first, then B itself
    expect(r.categories.map((c) => c.category)).toEqual(['A', 'B', 'C']);
  });

  it('keeps the 4 strongest categories and the 4 bought last', () => {
    const next = new NextBestTracker(new ColumnStore(4));
    for (const [i, c] of ['P', 'Q', 'R', 'S', 'T'].entries()) next.onEvent(1, PURCHASE, T0 + i, c);
    const r = next.recommend(1, mined(), new BasketStats().sku, [], T0 + 5, 5);
    expect(r.just_bought).toEqual(['T', 'S', 'R', 'Q']);
    expect(r.recent.map((x) => x.category).sort()).toEqual(['Q', 'R', 'S', 'T']);
  });
});
