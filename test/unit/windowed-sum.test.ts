import { describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import { purchaseDays } from '../../operators/features/purchase-days.js';
import { windowedSum } from '../../operators/features/windowed-sum.js';
import { ColumnStore } from '../../operators/state/column-store.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const PURCHASE = eventTypeIndex('purchase');
const T0 = Date.UTC(2026, 0, 10); // a UTC midnight
const day = (d: number, h = 12) => T0 + d * DAY_MS + h * HOUR_MS;

const counts = windowedSum({
  name: 'c',
  types: ['purchase'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [
    { feature: 'c_7d', buckets: 7 },
    { feature: 'c_30d', buckets: 30 },
  ],
});
const amounts = windowedSum({
  name: 'a',
  types: ['purchase'],
  value: 'amount',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [{ feature: 'a_30d', buckets: 30 }],
});

function run(events: [number, number][], now: number): number[] {
  const store = new ColumnStore(4);
  const c = counts.bind(store);
  const a = amounts.bind(store);
  for (const [ts, amount] of events) {
    c.step(2, { typeIndex: PURCHASE, ts, amount });
    a.step(2, { typeIndex: PURCHASE, ts, amount });
  }
  const out = new Float64Array(3);
  c.emit(2, now, out, 0);
  a.emit(2, now, out, 2);
  return [...out];
}

describe('windowed sum on virtual time', () => {
  it.each([
    { name: 'empty input gives zeros', events: [] as [number, number][], now: day(0), want: [0, 0, 0] },
    { name: 'one event today', events: [[day(0), 10]] as [number, number][], now: day(0), want: [1, 1, 10] },
    {
      name: 'window edges are UTC day buckets: 6 days back is in 7d, 7 days back is not',
      events: [
        [day(-6, 0), 1],
        [day(-7, 23), 2],
      ] as [number, number][],
      now: day(0, 1),
      want: [1, 2, 3],
    },
    {
      name: 'out-of-order events count the same as in order',
      events: [
        [day(0), 1.1],
        [day(-20), 2.2],
        [day(-3), 3.3],
      ] as [number, number][],
      now: day(0),
      want: [2, 3, 6.6],
    },
    {
      name: 'events older than the ring are dropped from windows',
      events: [
        [day(0), 5],
        [day(-30), 7],
      ] as [number, number][],
      now: day(0),
      want: [1, 1, 5],
    },
    {
      name: 'time passing empties the windows',
      events: [[day(0), 5]] as [number, number][],
      now: day(8),
      want: [0, 1, 5],
    },
    {
      name: 'an old event arriving after the head moved on still lands in its bucket',
      events: [
        [day(10), 1],
        [day(0), 2],
      ] as [number, number][],
      now: day(10),
      want: [1, 2, 3],
    },
    {
      name: 'a jump longer than the ring clears it',
      events: [
        [day(0), 1],
        [day(45), 2],
      ] as [number, number][],
      now: day(45),
      want: [1, 1, 2],
    },
    {
      name: 'a future event is not in the window until now reaches it',
      events: [[day(1), 4]] as [number, number][],
      now: day(0),
      want: [0, 0, 0],
    },
    {
      name: 'amounts are summed exactly to the cent',
      events: [
        [day(0), 19.99],
        [day(0), 0.01],
        [day(-1), 0.1],
        [day(-1), 0.2],
      ] as [number, number][],
      now: day(0),
      want: [4, 4, 20.3],
    },
  ])('$name', ({ events, now, want }) => {
    expect(run(events, now)).toEqual(want);
  });

  it('sums spend past the old 32-bit cents limit (21,474,836.47) without saturating', () => {
    // Issue 18: spend_7d stuck at 21,474,836.47 beside a lifetime of 9.9 trillion.
    const [, , sum] = run(
      [
        [day(0), 1e9],
        [day(0, 13), 1e9],
        [day(1), 0.01],
      ],
      day(2),
    );
    expect(sum).toBe(2_000_000_000.01);
  });

  it('keeps slots apart and survives store growth', () => {
    const store = new ColumnStore(2);
    const c = counts.bind(store);
    store.ensure(0);
    c.step(0, { typeIndex: PURCHASE, ts: day(0), amount: 0 });
    store.ensure(100);
    c.step(100, { typeIndex: PURCHASE, ts: day(0), amount: 0 });
    c.step(100, { typeIndex: PURCHASE, ts: day(-1), amount: 0 });
    const out = new Float64Array(2);
    c.emit(0, day(0), out, 0);
    expect([...out]).toEqual([1, 1]);
    c.emit(100, day(0), out, 0);
    expect([...out]).toEqual([2, 2]);
    c.emit(50, day(0), out, 0);
    expect([...out]).toEqual([0, 0]);
  });

  it('saturates 16-bit counts instead of wrapping', () => {
    const store = new ColumnStore(1);
    const c = counts.bind(store);
    for (let i = 0; i < 70_000; i++) c.step(0, { typeIndex: PURCHASE, ts: day(0), amount: 0 });
    const out = new Float64Array(2);
    c.emit(0, day(0), out, 0);
    expect(out[0]).toBe(65_535);
  });
});

describe('distinct purchase days', () => {
  it('counts a day once whatever the order, and ignores other types', () => {
    const store = new ColumnStore(2);
    const op = purchaseDays.bind(store);
    const LOGIN = eventTypeIndex('login');
    const steps: [number, number][] = [
      [PURCHASE, day(0, 9)],
      [PURCHASE, day(0, 18)],
      [PURCHASE, day(-3)],
      [LOGIN, day(-10)],
      [PURCHASE, day(-3, 1)],
      [PURCHASE, day(-400)],
      [PURCHASE, day(200)],
      [PURCHASE, day(-400, 2)],
    ];
    for (const [typeIndex, ts] of steps) op.step(1, { typeIndex, ts, amount: 1 });
    const out = new Float64Array(2);
    op.emit(1, day(200, 12), out, 0);
    // Days 0, -3, 200 and -400 (now older than the 512-day ring, so its second purchase counts again).
    expect(out[0]).toBe(5);
    expect(out[1]).toBe(600 + 10 / 24);
  });
});

describe('windowed sum definitions', () => {
  it('refuses windows longer than the ring and unknown event types', () => {
    const spec = { name: 'w', types: ['purchase'], value: 'count', bucketMs: DAY_MS, buckets: 7 } as const;
    expect(() => windowedSum({ ...spec, windows: [{ feature: 'w_30d', buckets: 30 }] })).toThrow(
      coded('BW_ERR_FEATURE_DEFINITION', /w_30d must span 1 to 7 buckets of ring w, got 30/),
    );
    expect(() =>
      windowedSum({ ...spec, types: ['teleport'], windows: [{ feature: 'w_7d', buckets: 7 }] }),
    ).toThrow(coded('BW_ERR_FEATURE_DEFINITION', /counts event type teleport/));
  });
});
