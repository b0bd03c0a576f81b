import { describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { mulberry32 } from '../../lib/random.js';
import { PathStats, PathTracker, pathKey, pathTypes } from '../../operators/analytics/paths.js';
import { SpaceSaving } from '../../operators/analytics/space-saving.js';
import { ColumnStore } from '../../operators/state/column-store.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const JOURNEYS: [number, string[]][] = [
  [0, ['page_view', 'add_to_cart', 'checkout_start', 'purchase']],
  [1, ['page_view', 'page_view', 'add_to_cart', 'purchase', 'page_view']],
  [2, ['purchase', 'email_click', 'purchase']], // the first purchase has no path
  [3, ['page_view', 'add_to_cart', 'checkout_start', 'purchase']],
];

/** Round-robin over the customers: arrival interleaves them, each customer's order is kept. */
function feed(tracker: PathTracker, journeys: readonly [number, string[]][]): void {
  const longest = Math.max(...journeys.map(([, j]) => j.length));
  for (let k = 0; k < longest; k++) {
    for (const [slot, types] of journeys)
      if (k < types.length) tracker.onEvent(slot, eventTypeIndex(types[k]!));
  }
}

describe('path tracker', () => {
  it('counts next-event transitions per type', () => {
    const tracker = new PathTracker(new ColumnStore(8));
    feed(tracker, JOURNEYS);
    // out of page_view: → add_to_cart (slots 0, 1, 3), → page_view (slot 1)
    expect(tracker.stats.next('page_view')).toEqual({
      from: 'page_view',
      total: 4,
      next: [
        { type: 'add_to_cart', count: 3, share: 0.75 },
        { type: 'page_view', count: 1, share: 0.25 },
      ],
    });
    // out of purchase: → page_view (slot 1), → email_click (slot 2); ties in event-type order
    expect(tracker.stats.next('purchase')).toEqual({
      from: 'purchase',
      total: 2,
      next: [
        { type: 'page_view', count: 1, share: 0.5 },
        { type: 'email_click', count: 1, share: 0.5 },
      ],
    });
    expect(tracker.stats.next('refund')).toEqual({ from: 'refund', total: 0, next: [] });
    expect(tracker.stats.next('teleport')).toBeUndefined();
    expect(tracker.lastTypes(1)).toEqual(['add_to_cart', 'purchase', 'page_view']);
    expect(tracker.lastTypes(5)).toEqual([]);
  });

  it('counts the last three types before each purchase', () => {
    const tracker = new PathTracker(new ColumnStore(8));
    feed(tracker, JOURNEYS);
    expect(tracker.stats.purchases).toBe(5);
    expect(tracker.stats.topPathsToPurchase(10)).toEqual([
      { path: ['page_view', 'add_to_cart', 'checkout_start'], count: 2, error: 0, share: 0.4 },
      // equal counts: by path key, i.e. shorter paths and lower type indexes first
      { path: ['purchase', 'email_click'], count: 1, error: 0, share: 0.2 },
      { path: ['page_view', 'page_view', 'add_to_cart'], count: 1, error: 0, share: 0.2 },
    ]);
    expect(tracker.stats.topPathsToPurchase(1)).toHaveLength(1);
  });

  it('encodes and decodes path keys', () => {
    const types = ['login', 'search', 'purchase'].map(eventTypeIndex);
    expect(pathTypes(pathKey(types))).toEqual(['login', 'search', 'purchase']);
    expect(pathTypes(pathKey([255, eventTypeIndex('signup')]))).toEqual(['signup']);
    expect(pathTypes(0)).toEqual([]);
  });

  it('merges per-worker stats and round-trips through JSON', () => {
    const w1 = new PathTracker(new ColumnStore(8));
    const w2 = new PathTracker(new ColumnStore(8));
    feed(w1, JOURNEYS.slice(0, 2));
    feed(w2, JOURNEYS.slice(2));
    const whole = new PathTracker(new ColumnStore(8));
    feed(whole, JOURNEYS);
    const merged = new PathStats()
      .merge(w1.stats)
      .merge(PathStats.fromJSON(JSON.parse(JSON.stringify(w2.stats))));
    expect(merged.toJSON().transitions).toEqual(whole.stats.toJSON().transitions);
    expect(merged.purchases).toBe(5);
    expect(merged.topPathsToPurchase(10)).toEqual(whole.stats.topPathsToPurchase(10));
    expect(merged.next('page_view')).toEqual(whole.stats.next('page_view'));
    merged.reset();
    expect(merged.next('page_view')!.total).toBe(0);
  });

  it('bounds the distinct paths kept and keeps the frequent ones', () => {
    const tracker = new PathTracker(new ColumnStore(8), { maxPaths: 5 });
    const u = mulberry32(3);
    const noise = ['login', 'search', 'email_open', 'feedback', 'profile', 'coupon_redeem', 'session_start'];
    for (let i = 0; i < 400; i++) {
      const slot = i % 8;
      const frequent = u() < 0.5;
      const path = frequent
        ? ['page_view', 'add_to_cart', 'checkout_start']
        : [0, 1, 2].map(() => noise[Math.floor(u() * noise.length)]!);
      for (const t of [...path, 'purchase']) tracker.onEvent(slot, eventTypeIndex(t));
    }
    expect(tracker.stats.paths.size).toBe(5);
    const [first] = tracker.stats.topPathsToPurchase(1);
    expect(first!.path).toEqual(['page_view', 'add_to_cart', 'checkout_start']);
    expect(first!.count - first!.error).toBeGreaterThan(150);
  });

  it('refuses to merge stats of another event-type list', () => {
    const stats = new PathStats();
    const other = { ...stats.toJSON(), transitions: [1, 2, 3, 4] };
    expect(() => stats.merge(other)).toThrow(coded('BW_ERR_STATE_MISMATCH', /hold 4 transitions/));
  });
});

describe('space-saving', () => {
  it('evicts the smallest counter and records its count as the error', () => {
    const s = new SpaceSaving(2);
    s.add(1);
    s.add(2);
    s.add(2);
    s.add(3); // evicts key 1 (count 1): key 3 gets 1 + 1, error 1
    expect(s.top()).toEqual([
      { key: 2, count: 2, error: 0 },
      { key: 3, count: 2, error: 1 },
    ]);
    expect(s.count(1)).toBe(0);
    expect(s.total).toBe(4);
    expect(s.min).toBe(2);
  });

  it('keeps its guarantees on a skewed stream, also through merges', () => {
    const u = mulberry32(17);
    const draw = () => Math.floor(200 * u() ** 3); // skewed to low keys
    const truth = new Map<number, number>();
    const parts = [new SpaceSaving(20), new SpaceSaving(20), new SpaceSaving(20)];
    const single = new SpaceSaving(20);
    const n = 9000;
    for (let i = 0; i < n; i++) {
      const k = draw();
      truth.set(k, (truth.get(k) ?? 0) + 1);
      parts[i % 3]!.add(k);
      single.add(k);
    }
    const merged = new SpaceSaving(20).merge(parts[0]!).merge(parts[1]!.toJSON()).merge(parts[2]!);
    for (const s of [single, merged]) {
      expect(s.total).toBe(n);
      for (const { key, count, error } of s.top()) {
        const t = truth.get(key) ?? 0;
        expect(count).toBeGreaterThanOrEqual(t);
        expect(count - error).toBeLessThanOrEqual(t);
      }
      for (const [key, t] of truth) if (t > n / 20) expect(s.count(key)).toBeGreaterThan(0);
    }
  });

  it('merges exactly while no summary is full', () => {
    const a = new SpaceSaving(10);
    const b = new SpaceSaving(10);
    for (const k of [1, 1, 2, 3]) a.add(k);
    for (const k of [3, 3, 4]) b.add(k, 2);
    const m = SpaceSaving.fromJSON(structuredClone(a.toJSON())).merge(b);
    expect(m.top()).toEqual([
      { key: 3, count: 5, error: 0 },
      { key: 1, count: 2, error: 0 },
      { key: 4, count: 2, error: 0 },
      { key: 2, count: 1, error: 0 },
    ]);
    expect(m.total).toBe(10);
  });
});
