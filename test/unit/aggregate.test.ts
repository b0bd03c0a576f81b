/**
 * Aggregates over a known population (aggregate-fixture.ts): each partition's partial as a worker
 * computes it, merged and finished as the main thread does, against answers computed by hand; the
 * quantile sketches against exact quantiles; the query parser and its coded refusals.
 */
import { describe, expect, it } from 'vitest';
import { PopulationReads } from '../../engine/pool/population.js';
import { aggregatePartial } from '../../engine/worker/aggregate.js';
import { mulberry32 } from '../../lib/random.js';
import {
  AggregateAccumulator,
  type AggregateRow,
  bucketLabel,
  finishAggregate,
  MAX_GROUPS,
  mergeAggregates,
  QUANTILE_ALPHA,
} from '../../operators/analytics/aggregate.js';
import { type AggregateQueryText, parseAggregateQuery } from '../../operators/analytics/aggregate-spec.js';
import { personalKind } from '../../security/masking.js';
import { DAY, fold, partials, partition, population, T, TAGS } from './aggregate-fixture.js';

const personal = (field: string) => personalKind(field) !== undefined;
const spec = (q: AggregateQueryText) => parseAggregateQuery(q, personal);

function answer(q: AggregateQueryText) {
  const s = spec(q);
  return finishAggregate(s, mergeAggregates(s, partials(s, population())));
}

const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

describe('aggregates over a known population', () => {
  it('counts, sums, averages and extremes by segment', () => {
    expect(
      answer({
        group_by: 'segment',
        metrics: 'count,sum:spend_lifetime,avg:spend_lifetime,min:spend_lifetime,max:purchases_lifetime',
      }),
    ).toEqual({
      customers: 5,
      groups: [
        {
          key: { segment: 'core' },
          count: 2,
          'sum:spend_lifetime': 350,
          'avg:spend_lifetime': 175,
          'min:spend_lifetime': 150,
          'max:purchases_lifetime': 2,
        },
        {
          key: { segment: 'dormant' },
          count: 1,
          'sum:spend_lifetime': 20,
          'avg:spend_lifetime': 20,
          'min:spend_lifetime': 20,
          'max:purchases_lifetime': 1,
        },
        {
          key: { segment: 'regular' },
          count: 1,
          'sum:spend_lifetime': 30,
          'avg:spend_lifetime': 30,
          'min:spend_lifetime': 30,
          'max:purchases_lifetime': 3,
        },
        {
          key: { segment: null },
          count: 1,
          'sum:spend_lifetime': 0,
          'avg:spend_lifetime': 0,
          'min:spend_lifetime': 0,
          'max:purchases_lifetime': 0,
        },
      ],
    });
  });

  it('answers one group of everyone without group_by, and null for a metric nobody has', () => {
    expect(answer({ metrics: 'sum:spend_lifetime,avg:days_since_last_purchase' })).toEqual({
      customers: 5,
      // days since the last purchase: a 5, b 100, d 20, e 3 (c never bought: no value)
      groups: [{ key: {}, count: 5, 'sum:spend_lifetime': 400, 'avg:days_since_last_purchase': 32 }],
    });
    expect(answer({ filter: "segment == 'at_risk'", metrics: 'avg:spend_lifetime' })).toEqual({
      customers: 0,
      groups: [],
    });
  });

  it('filters with the rule language and groups by a bucketed feature', () => {
    expect(
      answer({
        filter: 'purchases_lifetime >= 1',
        group_by: 'bucket(days_since_last_purchase, 0, 7, 30, 90)',
        metrics: 'sum:spend_lifetime',
      }),
    ).toEqual({
      customers: 4,
      groups: [
        {
          key: { 'bucket(days_since_last_purchase,0,7,30,90)': '[0,7)' },
          count: 2,
          'sum:spend_lifetime': 350,
        },
        {
          key: { 'bucket(days_since_last_purchase,0,7,30,90)': '[7,30)' },
          count: 1,
          'sum:spend_lifetime': 30,
        },
        {
          key: { 'bucket(days_since_last_purchase,0,7,30,90)': '[90,inf)' },
          count: 1,
          'sum:spend_lifetime': 20,
        },
      ],
    });
  });

  it('groups by lifecycle, a tag and a non-personal profile field together', () => {
    const groups = answer({ group_by: 'lifecycle, tag:big, profile.country' }).groups;
    // Every group has one customer: they come in the order of their keys.
    expect(groups).toEqual([
      { key: { lifecycle: 'active', 'tag:big': false, 'profile.country': null }, count: 1 },
      { key: { lifecycle: 'lapsed', 'tag:big': false, 'profile.country': null }, count: 1 },
      { key: { lifecycle: 'new', 'tag:big': true, 'profile.country': 'fr' }, count: 1 },
      { key: { lifecycle: 'new', 'tag:big': true, 'profile.country': null }, count: 1 },
      { key: { lifecycle: 'prospect', 'tag:big': false, 'profile.country': null }, count: 1 },
    ]);
    expect(answer({ filter: "lifecycle == 'new'", metrics: 'sum:spend_lifetime' }).groups).toEqual([
      { key: {}, count: 2, 'sum:spend_lifetime': 350 },
    ]);
  });

  it('merges partials in any order into the same answer', () => {
    const s = spec({ group_by: 'segment', metrics: 'sum:spend_lifetime,p50:spend_lifetime' });
    const parts = partials(s, population());
    const forward = finishAggregate(s, mergeAggregates(s, parts));
    const backward = finishAggregate(s, mergeAggregates(s, [...parts].reverse()));
    const whole = finishAggregate(
      s,
      mergeAggregates(s, [aggregatePartial(s, population(), TAGS, 'event', Date.now() + 60_000)]),
    );
    expect(backward).toEqual(forward);
    expect(whole).toEqual(forward);
    // A JSON round trip (a cluster instance's answer) changes nothing.
    expect(finishAggregate(s, mergeAggregates(s, JSON.parse(JSON.stringify(parts))))).toEqual(forward);
  });

  it('refuses a tag the CRM does not define, listing the tags', () => {
    const s = spec({ group_by: 'tag:vip' });
    expect(() => partials(s, population())).toThrow(
      coded('BW_ERR_AGGREGATE_QUERY', /no tag 'vip'; tags: big/),
    );
  });

  it('stops at the deadline with BW_ERR_AGGREGATE_DEADLINE', () => {
    const p = partition(0);
    fold(
      p,
      Array.from({ length: 1100 }, (_, i) => ({ customer: `c${i}`, type: 'page_view', at: T - DAY })),
    );
    const s = spec({});
    expect(() => aggregatePartial(s, [p], TAGS, 'event', Date.now() - 1)).toThrow(
      coded('BW_ERR_AGGREGATE_DEADLINE', /partition 0/),
    );
    expect(aggregatePartial(s, [p], TAGS, 'event', Date.now() + 60_000).customers).toBe(1100);
  });
});

/** A row of fixed values (the accumulator's view of one customer). */
function row(values: Record<string, number | string | boolean | null>): AggregateRow {
  return { lookup: (name) => values[name] ?? null, hasTag: () => false };
}

describe('quantile metrics', () => {
  it('answers p50, p90 and p99 within the sketch error of the exact quantile, negatives included', () => {
    const u = mulberry32(7);
    const values = Array.from({ length: 10_000 }, () => (u() < 0.2 ? -u() * 50 : Math.exp(5 * u())));
    const s = spec({ metrics: 'p50:spend_90d,p90:spend_90d,p99:spend_90d,min:spend_90d,avg:spend_90d' });
    // Three workers' partials of one population.
    const parts = [0, 1, 2].map((w) => {
      const acc = new AggregateAccumulator(s);
      values.forEach((v, i) => {
        if (i % 3 === w) acc.add(row({ spend_90d: v }));
      });
      return acc.toJSON();
    });
    const [group] = finishAggregate(s, mergeAggregates(s, parts)).groups;
    const sorted = [...values].sort((a, b) => a - b);
    for (const [name, q] of [
      ['p50:spend_90d', 0.5],
      ['p90:spend_90d', 0.9],
      ['p99:spend_90d', 0.99],
    ] as const) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
      const got = group![name] as number;
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(Math.abs(exact) * QUANTILE_ALPHA + 1e-6);
    }
    expect(group!['min:spend_90d']).toBe(sorted[0]);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(group!['avg:spend_90d']).toBeCloseTo(mean, 5);
  });

  it('answers the p10-style ranks of a small hand-made group exactly at the values', () => {
    const s = spec({ metrics: 'p50:churn.risk,p90:churn.risk' });
    const acc = new AggregateAccumulator(s);
    for (const v of [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]) acc.add(row({ 'churn.risk': v }));
    acc.add(row({ 'churn.risk': null }));
    const [group] = finishAggregate(s, mergeAggregates(s, [acc.toJSON()])).groups;
    // ranks ⌊0.5·9⌋ = 4 → 50 and ⌊0.9·9⌋ = 8 → 90, each within 1%.
    expect(group!.count).toBe(11);
    expect(Math.abs((group!['p50:churn.risk'] as number) - 50)).toBeLessThanOrEqual(0.5);
    expect(Math.abs((group!['p90:churn.risk'] as number) - 90)).toBeLessThanOrEqual(0.9);
  });

  it('keeps a text, a number, a boolean and null with the same spelling in four groups', () => {
    const s = spec({ group_by: 'profile.tier,profile.vip' });
    const acc = new AggregateAccumulator(s);
    for (const tier of ['1', 1, true, 'true', null, 'null', 1, '1'])
      acc.add(row({ 'profile.tier': tier, 'profile.vip': tier === 1 ? false : null }));
    const groups = finishAggregate(s, mergeAggregates(s, [acc.toJSON()])).groups;
    const keys = groups.map((g) => [g.key['profile.tier'], g.key['profile.vip'], g.count]);
    expect(keys).toHaveLength(6);
    expect(keys).toEqual(
      expect.arrayContaining([
        [1, false, 2],
        ['1', null, 2],
        [null, null, 1],
        [true, null, 1],
        ['null', null, 1],
        ['true', null, 1],
      ]),
    );
  });

  it(`refuses a second dimension past ${MAX_GROUPS} values even where the first has one`, () => {
    const s = spec({ group_by: 'segment,profile.city' });
    const acc = new AggregateAccumulator(s);
    for (let i = 0; i < MAX_GROUPS; i++) acc.add(row({ segment: 'champions', 'profile.city': i }));
    expect(acc.groups).toBe(MAX_GROUPS);
    expect(() => acc.add(row({ segment: 'champions', 'profile.city': -1 }))).toThrow(
      coded('BW_ERR_AGGREGATE_GROUPS', /1000 groups/),
    );
  });

  it(`refuses more than ${MAX_GROUPS} groups with BW_ERR_AGGREGATE_GROUPS`, () => {
    const s = spec({ group_by: 'profile.city' });
    const acc = new AggregateAccumulator(s);
    for (let i = 0; i < MAX_GROUPS; i++) acc.add(row({ 'profile.city': `city${i}` }));
    expect(() => acc.add(row({ 'profile.city': 'one more' }))).toThrow(
      coded('BW_ERR_AGGREGATE_GROUPS', /1000 groups/),
    );
    const other = new AggregateAccumulator(s);
    other.add(row({ 'profile.city': 'elsewhere' }));
    expect(() => mergeAggregates(s, [acc.toJSON(), other.toJSON()])).toThrow(
      coded('BW_ERR_AGGREGATE_GROUPS', /1000/),
    );
  });
});

describe('aggregate query text', () => {
  it('labels buckets with half-open intervals', () => {
    expect([-1, 0, 6.9, 7, 90, 1e9].map((v) => bucketLabel([0, 7, 30, 90], v))).toEqual([
      '(-inf,0)',
      '[0,7)',
      '[0,7)',
      '[7,30)',
      '[90,inf)',
      '[90,inf)',
    ]);
  });

  it('parses every kind of dimension and metric', () => {
    expect(
      spec({
        group_by: 'segment,lifecycle,rfm.f,bucket( churn.risk , 50, 80 )',
        metrics: 'count, p99:churn.risk, sum:profile.visits',
        filter: "segment in ['core'] and profile.country == 'fr'",
      }),
    ).toEqual({
      group_by: [
        { kind: 'segment', name: 'segment' },
        { kind: 'lifecycle', name: 'lifecycle' },
        { kind: 'rfm', name: 'rfm.f', axis: 1 },
        { kind: 'bucket', name: 'bucket(churn.risk,50,80)', source: 'churn.risk', edges: [50, 80] },
      ],
      metrics: [
        { name: 'p99:churn.risk', op: 'p99', source: 'churn.risk' },
        { name: 'sum:profile.visits', op: 'sum', source: 'profile.visits' },
      ],
      filter: "segment in ['core'] and profile.country == 'fr'",
    });
  });

  it.each([
    [{ group_by: 'profile.email' }, /profile.email is a personal field/],
    [{ group_by: 'bucket(profile.phone, 1)' }, /profile.phone is a personal field/],
    [{ metrics: 'max:profile.birthday' }, /personal field/],
    [{ filter: "profile.name == 'x'" }, /filter: profile.name is a personal field/],
    [{ group_by: 'customer_id' }, /unknown dimension 'customer_id'; allowed: segment, lifecycle/],
    [{ group_by: 'bucket(spend_90d, 10, 5)' }, /edges must increase/],
    [{ group_by: 'segment,segment' }, /named twice/],
    [{ group_by: 'segment,lifecycle,rfm.r,rfm.f,rfm.m' }, /at most 4 dimensions/],
    [{ metrics: 'median:spend_90d' }, /unknown metric 'median:spend_90d'; allowed: count, or sum\|avg/],
    [{ metrics: 'sum:shoe_size' }, /unknown name 'shoe_size'/],
    [{ filter: 'spend_90d >' }, /filter: at column/],
    [{ filter: 'wallet > 3' }, /filter: unknown name 'wallet'/],
  ])('refuses %j with BW_ERR_AGGREGATE_QUERY', (query, message) => {
    expect(() => spec(query)).toThrow(coded('BW_ERR_AGGREGATE_QUERY', message));
  });
});

describe('population-wide aggregates on the main thread', () => {
  it('merge this instance’s workers’ partials with the other instances’', async () => {
    const s = spec({ group_by: 'segment', metrics: 'sum:spend_lifetime' });
    const [p0, p1] = population();
    const reads = new PopulationReads(async (body) => {
      expect(body).toMatchObject({ op: 'aggregate', spec: s });
      return [aggregatePartial(s, [p0!], TAGS, 'event', Date.now() + 60_000)];
    });
    // Another instance answers over NATS: its partials come back as JSON.
    reads.setRemote(async () => JSON.parse(JSON.stringify(partials(s, [p1!]))));
    expect(await reads.aggregate(s, Date.now() + 60_000)).toEqual(
      answer({ group_by: 'segment', metrics: 'sum:spend_lifetime' }),
    );
  });

  it('stop waiting for a worker that does not answer by the deadline', async () => {
    const reads = new PopulationReads(() => new Promise<unknown[]>(() => {}));
    await expect(reads.aggregate(spec({}), Date.now() + 20)).rejects.toThrow(
      coded('BW_ERR_AGGREGATE_DEADLINE', /did not all answer in time/),
    );
  });
});
