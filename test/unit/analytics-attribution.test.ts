import { describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import { mulberry32 } from '../../lib/random.js';
import { AttributionTracker } from '../../operators/analytics/attribution.js';
import {
  type AttributionModel,
  type AttributionReport,
  attributionReport,
  isAttributionModel,
  type JourneySet,
  mergeAttribution,
  shapleyExact,
  shapleyValues,
} from '../../operators/analytics/attribution-report.js';
import { ColumnStore } from '../../operators/state/column-store.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const P = Date.UTC(2026, 3, 20, 12, 0, 0);
const PURCHASE = eventTypeIndex('purchase');
const TOUCH = eventTypeIndex('campaign_touch');
const CLICK = eventTypeIndex('email_click');

type Touch = [slot: number, ts: number, channel: string | undefined, campaign?: string];

const TOUCHES: Touch[] = [
  // slot 0: email at P − 14 d, search at P − 7 d, email at P
  [0, P - 14 * DAY_MS, 'email'],
  [0, P - 7 * DAY_MS, 'search'],
  [0, P, 'email'],
  // slot 1: outside the lookback, after the purchase, and display the day before
  [1, P - 31 * DAY_MS, undefined, 'spring'],
  [1, P + HOUR_MS, 'social'],
  [1, P - DAY_MS, 'display'],
  // slot 2: a campaign without a channel
  [2, P - 2 * DAY_MS, undefined, 'spring'],
  // slot 4: neither channel nor campaign: ignored
  [4, P - DAY_MS, undefined],
];
const PURCHASES: [slot: number, amount: number][] = [
  [0, 70],
  [1, 30],
  [2, 10],
  [3, 5], // no touch
  [4, 0], // no usable touch
];

function feed(tracker: AttributionTracker, slots: readonly number[] = [0, 1, 2, 3, 4]): void {
  for (const [slot, ts, channel, campaign] of TOUCHES) {
    if (slots.includes(slot)) tracker.onEvent(slot, slot === 0 ? CLICK : TOUCH, ts, 0, channel, campaign);
  }
  for (const [slot, amount] of PURCHASES)
    if (slots.includes(slot)) tracker.onEvent(slot, PURCHASE, P, amount);
}

/** channel → [conversions, revenue], rounded for comparison. */
function credits(report: AttributionReport): [string, number, number][] {
  return report.channels.map((c) => [c.channel, c.conversions, c.revenue]);
}

function expectCredits(report: AttributionReport, want: [string, number, number][]): void {
  const got = credits(report);
  expect(got.map((c) => c[0])).toEqual(want.map((c) => c[0]));
  got.forEach(([, c, r], i) => {
    expect(c).toBeCloseTo(want[i]![1], 10);
    expect(r).toBeCloseTo(want[i]![2], 10);
  });
}

describe('attribution tracker', () => {
  const tracker = new AttributionTracker(new ColumnStore(8));
  feed(tracker);
  const snapshot = tracker.snapshot();
  const report = (model: AttributionModel) => attributionReport(snapshot, model);

  it('credits the last touch in the lookback', () => {
    const r = report('last_touch');
    expect(r).toMatchObject({ model: 'last_touch', lookback_days: 30, half_life_days: 7 });
    expectCredits(r, [
      ['display', 1, 30],
      ['email', 1, 70],
      ['spring', 1, 10],
    ]);
    expect(r.channels.map((c) => c.share)).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(r.attributed).toEqual({ conversions: 3, revenue: 110 });
    expect(r.unattributed).toEqual({ conversions: 2, revenue: 5 });
  });

  it('splits linearly over the touches', () => {
    // slot 0: email ×2, search ×1 → 2/3 and 1/3 of one conversion and of 70
    expectCredits(report('linear'), [
      ['display', 1, 30],
      ['spring', 1, 10],
      ['email', 2 / 3, 140 / 3],
      ['search', 1 / 3, 70 / 3],
    ]);
  });

  it('splits by time decay with a 7-day half-life', () => {
    // slot 0: weights 2^-2 (14 d), 2^-1 (7 d), 2^0 → email (0.25 + 1)/1.75 = 5/7, search 0.5/1.75 = 2/7
    expectCredits(report('time_decay'), [
      ['display', 1, 30],
      ['spring', 1, 10],
      ['email', 5 / 7, 50],
      ['search', 2 / 7, 20],
    ]);
  });

  it('gives Shapley credit by journey channel set', () => {
    // journeys {email, search}: 1 conversion, 70; {display}: 1, 30; {spring}: 1, 10
    expect(snapshot.journeys).toEqual([
      { channels: ['email', 'search'], conversions: 1, revenue: 70 },
      { channels: ['display'], conversions: 1, revenue: 30 },
      { channels: ['spring'], conversions: 1, revenue: 10 },
    ]);
    expectCredits(report('shapley'), [
      ['display', 1, 30],
      ['spring', 1, 10],
      ['email', 0.5, 35],
      ['search', 0.5, 35],
    ]);
  });

  it('keeps the last touches by arrival per customer and interns channels with an other bucket', () => {
    const t = new AttributionTracker(new ColumnStore(4), { maxChannels: 3 });
    for (let i = 0; i < 10; i++) t.onTouch(1, P + i, ['a', 'b', 'c', 'd'][i % 4]!);
    expect(t.channels).toEqual(['a', 'b', 'other']);
    expect(t.touchesOf(1).map((x) => [x.channel, x.ts - P])).toEqual([
      ['other', 2],
      ['other', 3],
      ['a', 4],
      ['b', 5],
      ['other', 6],
      ['other', 7],
      ['a', 8],
      ['b', 9],
    ]);
    t.onPurchase(1, P + 10, 8);
    expectCredits(attributionReport(t.snapshot(), 'linear'), [
      ['other', 0.5, 4],
      ['a', 0.25, 2],
      ['b', 0.25, 2],
    ]);
    expect(t.touchesOf(2)).toEqual([]);
  });

  it('restores a snapshot so that channel ids in the columns stay valid', () => {
    const store = new ColumnStore(8);
    const a = new AttributionTracker(store);
    feed(a, [0, 1]);
    a.onTouch(5, P, 'search');
    const saved = JSON.parse(JSON.stringify({ snap: a.snapshot() }));
    const columns = store.exportSlots(8);
    const store2 = new ColumnStore(8);
    const b = new AttributionTracker(store2);
    b.restore(saved.snap);
    store2.importSlots(8, columns);
    a.onPurchase(5, P + DAY_MS, 12);
    b.onPurchase(5, P + DAY_MS, 12);
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(() => b.restore(saved.snap)).toThrow(coded('BW_ERR_INTERNAL', /fresh tracker/));
    expect(() => new AttributionTracker(new ColumnStore(), { lookbackDays: 7 }).restore(saved.snap)).toThrow(
      coded('BW_ERR_STATE_MISMATCH', /lookback 30 d .* restores only under the same settings, these are 7 d/),
    );
  });

  it('sends journeys beyond the journey-set cap to the closed-form overflow', () => {
    const t = new AttributionTracker(new ColumnStore(4), { maxJourneySets: 1 });
    t.onTouch(0, P - DAY_MS, 'a');
    t.onPurchase(0, P, 10);
    t.onTouch(1, P - DAY_MS, 'a');
    t.onTouch(1, P - HOUR_MS, 'b');
    t.onPurchase(1, P, 20);
    const s = t.snapshot();
    expect(s.journeys).toEqual([{ channels: ['a'], conversions: 1, revenue: 10 }]);
    expect(s.shapley_overflow).toEqual({ conversions: [0.5, 0.5], revenue: [10, 10] });
    expectCredits(attributionReport(s, 'shapley'), [
      ['a', 1.5, 20],
      ['b', 0.5, 10],
    ]);
  });

  it('validates its options', () => {
    expect(() => new AttributionTracker(new ColumnStore(), { maxChannels: 255 })).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /maxChannels must be an integer in \[2, 254\], got 255/),
    );
    expect(() => new AttributionTracker(new ColumnStore(), { touches: 0 })).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /touches must be an integer in \[1, 32\], got 0/),
    );
    expect(() => new AttributionTracker(new ColumnStore(), { maxChannels: 254, touches: 8 })).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /below 2\^53, got \(254 \+ 1\)\^8/),
    );
    expect(isAttributionModel('shapley')).toBe(true);
    expect(isAttributionModel('first_touch')).toBe(false);
  });
});

describe('Shapley values', () => {
  const EXAMPLE: JourneySet[] = [
    { channels: ['A'], conversions: 2, revenue: 20 },
    { channels: ['A', 'B'], conversions: 1, revenue: 30 },
    { channels: ['B', 'C'], conversions: 1, revenue: 40 },
  ];

  it('matches the hand computation for {A}×2, {A,B}×1, {B,C}×1', () => {
    // v(A) = 2, v(AB) = 3, v(AC) = 2, v(BC) = 1, v(ABC) = 4, else 0;
    // φ_A = ⅓(2 − 0) + ⅙(3 − 0) + ⅙(2 − 0) + ⅓(4 − 1) = 2.5, φ_B = 1, φ_C = 0.5
    for (const values of [shapleyExact(EXAMPLE), shapleyValues(EXAMPLE)]) {
      expect(values.get('A')![0]).toBeCloseTo(2.5, 12);
      expect(values.get('B')![0]).toBeCloseTo(1, 12);
      expect(values.get('C')![0]).toBeCloseTo(0.5, 12);
      expect(values.get('A')![1]).toBeCloseTo(20 + 15, 12);
      expect(values.get('B')![1]).toBeCloseTo(15 + 20, 12);
      expect(values.get('C')![1]).toBeCloseTo(20, 12);
    }
  });

  it('comes out of the tracker for the same journeys', () => {
    const t = new AttributionTracker(new ColumnStore(8));
    const journeys = [['A'], ['A', 'A'], ['A', 'B'], ['C', 'B']];
    journeys.forEach((channels, slot) => {
      channels.forEach((c, k) => {
        t.onTouch(slot, P - (k + 1) * HOUR_MS, c);
      });
      t.onPurchase(slot, P, 10);
    });
    expectCredits(attributionReport(t.snapshot(), 'shapley'), [
      ['A', 2.5, 25],
      ['B', 1, 10],
      ['C', 0.5, 5],
    ]);
  });

  it('agrees with exact enumeration on random journeys over 12 channels', () => {
    const u = mulberry32(5);
    const names = 'abcdefghijkl'.split('');
    const journeys: JourneySet[] = Array.from({ length: 60 }, () => {
      const set = names.filter(() => u() < 0.25);
      return {
        channels: set.length > 0 ? set : ['a'],
        conversions: 1 + Math.floor(u() * 5),
        revenue: u() * 100,
      };
    });
    const exact = shapleyExact(journeys);
    const closed = shapleyValues(journeys);
    let total = 0;
    for (const [name, [c, r]] of exact) {
      expect(c).toBeCloseTo(closed.get(name)![0], 9);
      expect(r).toBeCloseTo(closed.get(name)![1], 9);
      total += c;
    }
    expect(total).toBeCloseTo(
      journeys.reduce((s, j) => s + j.conversions, 0),
      9,
    ); // efficiency: the values add up to v(N)
    expect(() => shapleyExact([...journeys, { channels: ['m'], conversions: 1, revenue: 1 }])).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /at most 12 channels, got 13/),
    );
  });
});

describe('attribution merge', () => {
  it('merges per-worker snapshots by channel name', () => {
    const whole = new AttributionTracker(new ColumnStore(8));
    feed(whole);
    const w1 = new AttributionTracker(new ColumnStore(8));
    const w2 = new AttributionTracker(new ColumnStore(8));
    w2.channelId('spring'); // a different id order than w1's and whole's
    feed(w1, [0, 3]);
    feed(w2, [1, 2, 4]);
    const merged = mergeAttribution([w1.snapshot(), structuredClone(w2.snapshot())]);
    for (const model of ['last_touch', 'linear', 'time_decay', 'shapley'] as const) {
      const want = attributionReport(whole.snapshot(), model);
      const got = attributionReport(merged, model);
      expectCredits(got, credits(want));
      expect(got.attributed).toEqual(want.attributed);
      expect(got.unattributed).toEqual(want.unattributed);
    }
    expect(mergeAttribution([])).toMatchObject({ conversions: 0, channels: [] });
    const odd = new AttributionTracker(new ColumnStore(), { halfLifeDays: 3 }).snapshot();
    expect(() => mergeAttribution([merged, odd])).toThrow(
      coded('BW_ERR_STATE_MISMATCH', /30 d \/ 7 d and 30 d \/ 3 d/),
    );
  });
});
