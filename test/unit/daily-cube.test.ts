/**
 * The daily cube: events folded out of order land on their own UTC day; counts, amounts and
 * distinct customers by day × segment × type × channel against hand-computed answers; the channel
 * cap, the 400-day reach, a checkpoint round trip (and a checkpoint without a cube), and the
 * distinct sketch's error.
 */
import { describe, expect, it } from 'vitest';
import type { CrmSnapshot } from '../../engine/state/partition-crm.js';
import { dailyPartial } from '../../engine/worker/aggregate.js';
import {
  DailyAccumulator,
  type DailyDimension,
  type DailySpec,
  dayName,
  dayOf,
  MAX_CHANNELS,
  MAX_DAYS,
} from '../../operators/analytics/daily-cube.js';
import { DistinctSketch, EXACT_MAX, hashId } from '../../operators/analytics/distinct-sketch.js';
import { DAY, fold, type Partition, partition, setSegment, T } from './aggregate-fixture.js';

const D = Math.floor(T / DAY); // 2026-10-01
const H = 3_600_000;

function daily(parts: readonly Partition[], q: Partial<DailySpec>) {
  const spec: DailySpec = {
    from: D - 10,
    to: D,
    group_by: ['day'],
    metrics: ['events', 'customers', 'amount'],
    ...q,
  };
  const acc = new DailyAccumulator(spec);
  for (const p of parts) acc.merge(JSON.parse(JSON.stringify(dailyPartial(spec, [p]))));
  return acc.finish();
}

/**
 * Two partitions; events arrive out of order (the day before T after T's, two days before last):
 *
 * | day | customer | type | channel | amount |
 * |---|---|---|---|---|
 * | 10-01 | a | purchase | web | 10.10 |
 * | 10-01 | a | page_view | web | |
 * | 09-30 | b | purchase | app | 5.25 |
 * | 10-01 | b | purchase | app | 1.00 |
 * | 09-29 | a | page_view | (none) | |
 * | 09-30 | c (p1) | purchase | web | 2.50 |
 */
function outOfOrder(): Partition[] {
  const p0 = partition(0);
  const p1 = partition(1);
  fold(p0, [
    { customer: 'a', type: 'purchase', at: T + 9 * H, amount: 10.1, channel: 'web' },
    { customer: 'a', type: 'page_view', at: T + 10 * H, channel: 'web' },
    { customer: 'b', type: 'purchase', at: T - 1 * H, amount: 5.25, channel: 'app' },
    { customer: 'b', type: 'purchase', at: T + 1 * H, amount: 1, channel: 'app' },
    { customer: 'a', type: 'page_view', at: T - 30 * H },
  ]);
  fold(p1, [{ customer: 'c', type: 'purchase', at: T - 20 * H, amount: 2.5, channel: 'web' }]);
  return [p0, p1];
}

describe('daily cube', () => {
  it('counts out-of-order events on their own day', () => {
    expect(daily(outOfOrder(), {})).toEqual({
      dropped: 0,
      groups: [
        { key: { day: '2026-09-29' }, events: 1, customers: 1, amount: 0 },
        { key: { day: '2026-09-30' }, events: 2, customers: 2, amount: 7.75 },
        { key: { day: '2026-10-01' }, events: 3, customers: 2, amount: 11.1 },
      ],
    });
  });

  it('groups by type and channel over the whole range, customers distinct across days and partitions', () => {
    expect(daily(outOfOrder(), { group_by: ['type', 'channel'] }).groups).toEqual([
      { key: { type: 'page_view', channel: 'none' }, events: 1, customers: 1, amount: 0 },
      { key: { type: 'page_view', channel: 'web' }, events: 1, customers: 1, amount: 0 },
      { key: { type: 'purchase', channel: 'app' }, events: 2, customers: 1, amount: 6.25 },
      { key: { type: 'purchase', channel: 'web' }, events: 2, customers: 2, amount: 12.6 },
    ]);
    expect(daily(outOfOrder(), { group_by: [], metrics: ['customers'] }).groups).toEqual([
      { key: {}, customers: 3 },
    ]);
    expect(daily(outOfOrder(), { from: D - 1, to: D - 1, metrics: ['events'] }).groups).toEqual([
      { key: { day: '2026-09-30' }, events: 2 },
    ]);
  });

  it('keys events by the segment their customer was in when they were folded', () => {
    const p = partition(0);
    fold(p, [{ customer: 'a', type: 'page_view', at: T - 2 * H }]);
    setSegment(p, 'a', 'core');
    fold(p, [{ customer: 'a', type: 'page_view', at: T - 1 * H }]);
    expect(daily([p], { group_by: ['segment'], metrics: ['events'] }).groups).toEqual([
      { key: { segment: 'core' }, events: 1 },
      { key: { segment: 'none' }, events: 1 },
    ]);
  });

  it(`keeps ${MAX_CHANNELS} channels per partition and counts the rest as other`, () => {
    const p = partition(0);
    fold(
      p,
      Array.from({ length: MAX_CHANNELS + 3 }, (_, i) => ({
        customer: `c${i}`,
        type: 'page_view',
        at: T,
        channel: `ch${String(i).padStart(2, '0')}`,
      })),
    );
    const groups = daily([p], { group_by: ['channel'], metrics: ['events'] }).groups;
    expect(groups).toHaveLength(MAX_CHANNELS + 1);
    expect(groups.at(-1)).toEqual({ key: { channel: 'other' }, events: 3 });
  });

  it(`drops days ${MAX_DAYS} days or more before the newest and counts what it dropped`, () => {
    const p = partition(0);
    fold(p, [
      { customer: 'a', type: 'page_view', at: T - (MAX_DAYS + 5) * DAY },
      { customer: 'a', type: 'page_view', at: T },
      { customer: 'a', type: 'page_view', at: T - MAX_DAYS * DAY },
      { customer: 'a', type: 'page_view', at: T - (MAX_DAYS - 1) * DAY },
    ]);
    const answer = daily([p], { from: D - 2 * MAX_DAYS, to: D, metrics: ['events'] });
    expect(answer).toEqual({
      dropped: 1,
      groups: [
        { key: { day: dayName(D - MAX_DAYS + 1) }, events: 1 },
        { key: { day: '2026-10-01' }, events: 1 },
      ],
    });
    expect(p.crm.daily.cells).toBe(2);
  });

  it('survives a checkpoint round trip; a checkpoint written before the cube loads with an empty one', () => {
    const [p0] = outOfOrder();
    // Cells of one, two and 70 customers (exact lists and registers).
    fold(p0!, [
      { customer: 'z', type: 'purchase', at: T + 11 * H, amount: 1, channel: 'web' },
      ...Array.from({ length: 70 }, (_, i) => ({ customer: `m${i}`, type: 'search', at: T - 3 * DAY })),
    ]);
    const snap = JSON.parse(JSON.stringify(p0!.crm.snapshot())) as CrmSnapshot;
    const restored = partition(0);
    restored.crm.restore(snap);
    const byCell: DailyDimension[] = ['day', 'type', 'channel'];
    const original = daily([p0!], { group_by: byCell });
    // Past 64 customers the cell's sketch is a HyperLogLog: within its error (3.25%) of 70.
    const search = original.groups.find((g) => g.key.type === 'search')!;
    expect(search.events).toBe(70);
    expect(Math.abs(search.customers! - 70)).toBeLessThanOrEqual(70 * 0.0325 * 2);
    expect(original.groups).toContainEqual({
      key: { day: '2026-10-01', type: 'purchase', channel: 'web' },
      events: 2,
      customers: 2,
      amount: 11.1,
    });
    expect(daily([restored], { group_by: byCell })).toEqual(original);
    const old = partition(0);
    const { daily: _cube, ...before } = snap;
    old.crm.restore(before);
    expect(daily([old], {})).toEqual({ dropped: 0, groups: [] });
  });

  it('reads and writes calendar days', () => {
    expect(dayName(D)).toBe('2026-10-01');
    expect(dayOf('2026-10-01')).toBe(D);
    expect(dayOf('2026-02-30')).toBeNaN();
    expect(dayOf('10/01/2026')).toBeNaN();
  });
});

describe('distinct sketch', () => {
  it(`is exact up to ${EXACT_MAX} customers and within 5% at 20,000`, () => {
    const small = new DistinctSketch();
    for (let i = 0; i < EXACT_MAX; i++) small.add(hashId(`c${i}`));
    expect(small.estimate()).toBe(EXACT_MAX);
    for (const n of [1000, 20_000]) {
      const big = new DistinctSketch();
      for (let i = 0; i < n; i++) big.add(hashId(`customer-${i}`));
      expect(Math.abs(big.estimate() - n) / n).toBeLessThan(0.05);
    }
  });

  it('merges overlapping sets into their union, in any order and through JSON', () => {
    const a = new DistinctSketch();
    const b = new DistinctSketch();
    for (let i = 0; i < 6000; i++) a.add(hashId(`x${i}`));
    for (let i = 3000; i < 9000; i++) b.add(hashId(`x${i}`));
    const ab = new DistinctSketch().merge(a).merge(b.toJSON());
    const ba = new DistinctSketch().merge(b).merge(a);
    expect(ab.estimate()).toBe(ba.estimate());
    expect(Math.abs(ab.estimate() - 9000) / 9000).toBeLessThan(0.05);
    expect(DistinctSketch.fromJSON(JSON.parse(JSON.stringify(ab.toJSON()))).estimate()).toBe(ab.estimate());
  });
});
