import { describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/time.js';
import {
  type FunnelSpec,
  FunnelTracker,
  funnelReport,
  mergeFunnelCounts,
  validateFunnels,
} from '../../operators/analytics/funnels.js';
import { ColumnStore } from '../../operators/state/column-store.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);
const CHECKOUT: FunnelSpec = {
  id: 'checkout',
  steps: ['page_view', 'add_to_cart', 'checkout_start', 'purchase'],
  maxGapMs: HOUR_MS,
};

type Ev = [slot: number, type: string, minute: number];

/** Five customers (slots 0–4); the expected counts are worked out in the comments. */
const EVENTS: Ev[] = [
  // slot 0: straight through → entered 1, 1, 1, 1
  [0, 'page_view', 0],
  [0, 'add_to_cart', 10],
  [0, 'checkout_start', 20],
  [0, 'purchase', 30],
  // slot 1: checkout_start 70 min after add_to_cart → expired, back to 0 → 1, 1, 0, 0
  [1, 'page_view', 0],
  [1, 'add_to_cart', 10],
  [1, 'checkout_start', 80],
  // slot 2: the second page_view refreshes step 1, so add_to_cart 55 min later still counts → 1, 1, 1, 1
  [2, 'page_view', 0],
  [2, 'page_view', 30],
  [2, 'add_to_cart', 85],
  [2, 'checkout_start', 100],
  [2, 'purchase', 110],
  // slot 3: add_to_cart before any page_view does nothing; purchase is not the next step → 1, 0, 0, 0
  [3, 'add_to_cart', 0],
  [3, 'page_view', 5],
  [3, 'purchase', 10],
  // slot 4: a page_view mid-journey keeps the progress; after completing, a page_view restarts;
  // add_to_cart 170 min later has expired → 2, 1, 1, 1
  [4, 'page_view', 0],
  [4, 'add_to_cart', 5],
  [4, 'page_view', 10],
  [4, 'checkout_start', 15],
  [4, 'purchase', 20],
  [4, 'page_view', 30],
  [4, 'add_to_cart', 200],
];

function run(tracker: FunnelTracker, events: readonly Ev[]): void {
  const sorted = [...events].sort((a, b) => a[2] - b[2]); // interleaved arrival, by time
  for (const [slot, type, minute] of sorted)
    tracker.onEvent(slot, eventTypeIndex(type), T0 + minute * MINUTE_MS);
}

describe('funnel tracker', () => {
  it('counts entries per step for a hand-worked population', () => {
    const tracker = new FunnelTracker([CHECKOUT], new ColumnStore(8));
    run(tracker, EVENTS);
    expect(tracker.counts()).toEqual([{ id: 'checkout', steps: CHECKOUT.steps, entered: [6, 4, 3, 3] }]);
    expect([0, 1, 2, 3, 4].map((s) => tracker.stepOf('checkout', s))).toEqual([4, 0, 4, 1, 0]);
    const [report] = tracker.snapshot();
    expect(report).toEqual({
      id: 'checkout',
      steps: [
        { type: 'page_view', entered: 6 },
        { type: 'add_to_cart', entered: 4 },
        { type: 'checkout_start', entered: 3 },
        { type: 'purchase', entered: 3 },
      ],
      conversion: 0.5,
      drop_off: [
        { from: 'page_view', to: 'add_to_cart', dropped: 2, rate: 2 / 6 },
        { from: 'add_to_cart', to: 'checkout_start', dropped: 1, rate: 0.25 },
        { from: 'checkout_start', to: 'purchase', dropped: 0, rate: 0 },
      ],
    });
  });

  it("restarts on every first-step event with restart: 'always'", () => {
    const tracker = new FunnelTracker([{ ...CHECKOUT, restart: 'always' }], new ColumnStore(8));
    run(
      tracker,
      EVENTS.filter(([slot]) => slot === 4),
    );
    // page_view 0 → 1; add_to_cart 5 → 2; page_view 10 restarts → 1; checkout_start and purchase
    // are not the next step; page_view 30 restarts again.
    expect(tracker.counts()[0]!.entered).toEqual([3, 1, 0, 0]);
    expect(tracker.stepOf('checkout', 4)).toBe(0); // add_to_cart at 200 min: expired
  });

  it('takes out-of-order events as they arrive', () => {
    const tracker = new FunnelTracker([CHECKOUT], new ColumnStore(4));
    const pv = eventTypeIndex('page_view');
    const atc = eventTypeIndex('add_to_cart');
    tracker.onEvent(0, pv, T0 + 60 * MINUTE_MS);
    tracker.onEvent(0, atc, T0 + 50 * MINUTE_MS); // earlier event time, later arrival: still advances
    expect(tracker.stepOf('checkout', 0)).toBe(2);
    tracker.onEvent(0, eventTypeIndex('checkout_start'), T0 + 105 * MINUTE_MS); // 55 min after the add_to_cart
    expect(tracker.stepOf('checkout', 0)).toBe(3);
  });

  it('runs several funnels over the same events, ignoring unrelated types', () => {
    const signup: FunnelSpec = { id: 'first-order', steps: ['signup', 'purchase'], maxGapMs: 7 * DAY_MS };
    const tracker = new FunnelTracker([CHECKOUT, signup], new ColumnStore(4));
    tracker.onEvent(1, eventTypeIndex('signup'), T0);
    tracker.onEvent(1, eventTypeIndex('login'), T0 + HOUR_MS);
    tracker.onEvent(1, eventTypeIndex('page_view'), T0 + 2 * DAY_MS);
    tracker.onEvent(1, eventTypeIndex('purchase'), T0 + 2 * DAY_MS + MINUTE_MS);
    expect(tracker.counts().map((c) => c.entered)).toEqual([
      [1, 0, 0, 0],
      [1, 1],
    ]);
  });

  it('keeps per-customer state in the column store (slot moves and clears)', () => {
    const store = new ColumnStore(4);
    const tracker = new FunnelTracker([CHECKOUT], store);
    tracker.onEvent(7, eventTypeIndex('page_view'), T0); // beyond the initial capacity after ensure
    store.ensure(40);
    tracker.onEvent(40, eventTypeIndex('page_view'), T0);
    tracker.onEvent(40, eventTypeIndex('add_to_cart'), T0 + MINUTE_MS);
    store.moveSlot(40, 3);
    expect(tracker.stepOf('checkout', 3)).toBe(2);
    store.clear(3);
    expect(tracker.stepOf('checkout', 3)).toBe(0);
    expect([...store.columns()].map((c) => c.spec.name)).toEqual([
      'analytics.funnel.checkout.step',
      'analytics.funnel.checkout.at',
    ]);
  });

  it('merges per-worker counts by funnel id and restores counts', () => {
    const w1 = new FunnelTracker([CHECKOUT], new ColumnStore(8));
    const w2 = new FunnelTracker([CHECKOUT], new ColumnStore(8));
    run(
      w1,
      EVENTS.filter(([slot]) => slot < 2),
    );
    run(
      w2,
      EVENTS.filter(([slot]) => slot >= 2),
    );
    const merged = mergeFunnelCounts([w1.counts(), structuredClone(w2.counts())]);
    expect(merged).toEqual([{ id: 'checkout', steps: CHECKOUT.steps, entered: [6, 4, 3, 3] }]);
    expect(funnelReport(merged[0]!).conversion).toBe(0.5);
    const restored = new FunnelTracker([CHECKOUT], new ColumnStore(8));
    restored.restoreCounts(merged);
    expect(restored.counts()).toEqual(merged);
    const other = [{ id: 'checkout', steps: ['page_view', 'purchase'], entered: [1, 1] }];
    expect(() => mergeFunnelCounts([merged, other])).toThrow(coded('BW_ERR_STATE_MISMATCH', /same steps/));
    restored.restoreCounts(other); // skipped: the steps changed
    expect(restored.counts()).toEqual(merged);
    expect(funnelReport({ id: 'x', steps: ['login', 'purchase'], entered: [0, 0] })).toMatchObject({
      conversion: 0,
      drop_off: [{ dropped: 0, rate: 0 }],
    });
  });

  it('validates the declarations', () => {
    const ok = { id: 'a', steps: ['login', 'purchase'], maxGapMs: 1 };
    expect(() => validateFunnels([ok])).not.toThrow();
    expect(() => validateFunnels([{ ...ok, steps: ['login'] }])).toThrow(
      coded('BW_ERR_CRM_CONFIG', /2 to 32 steps, got 1/),
    );
    expect(() => validateFunnels([{ ...ok, steps: ['login', 'teleport'] }])).toThrow(
      coded('BW_ERR_CRM_CONFIG', /unknown event type teleport/),
    );
    expect(() => validateFunnels([ok, ok])).toThrow(coded('BW_ERR_CRM_CONFIG', /twice/));
    expect(() => validateFunnels([{ ...ok, id: 'A B' }])).toThrow(
      coded('BW_ERR_CRM_CONFIG', /id 'A B' must match/),
    );
    expect(() => validateFunnels([{ ...ok, maxGapMs: 0 }])).toThrow(
      coded('BW_ERR_CRM_CONFIG', /maxGapMs must be > 0, got 0/),
    );
  });
});
