import { describe, expect, it } from 'vitest';
import {
  classifySegment,
  cutsFromSketches,
  DEFAULT_SEGMENT_THRESHOLDS,
  quintileOf,
  type RfmCuts,
  RfmSketches,
  SEGMENTS,
  type SegmentInputs,
  SegmentStats,
  type SegmentThresholds,
  scoreRfm,
  segmentIndex,
} from '../../operators/analytics/rfm.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const CUTS: RfmCuts = { r: [5, 10, 30, 60], f: [1, 2, 3, 5], m: [50, 100, 200, 500] };

function inputs(
  dsle: number,
  dslp: number | null,
  tenure: number,
  churn: number | null = null,
): SegmentInputs {
  return {
    days_since_last_event: dsle,
    days_since_last_purchase: dslp,
    tenure_days: tenure,
    churn_risk: churn,
  };
}

describe('RFM scores', () => {
  it('puts a value in the quintile of the cut points strictly below it', () => {
    const cuts = CUTS.f;
    expect([0, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 100].map((x) => quintileOf(cuts, x))).toEqual([
      1, 1, 2, 2, 3, 3, 4, 4, 5, 5,
    ]);
  });

  it('scores recency inverted (the most recent fifth is 5) and frequency and monetary upright', () => {
    expect(scoreRfm(CUTS, 3, 1, 20)).toEqual({ r: 5, f: 1, m: 1 });
    expect(scoreRfm(CUTS, 5, 2, 50)).toEqual({ r: 5, f: 2, m: 1 });
    expect(scoreRfm(CUTS, 7, 3, 150)).toEqual({ r: 4, f: 3, m: 3 });
    expect(scoreRfm(CUTS, 30, 4, 300)).toEqual({ r: 3, f: 4, m: 4 });
    expect(scoreRfm(CUTS, 45, 5, 500)).toEqual({ r: 2, f: 4, m: 4 });
    expect(scoreRfm(CUTS, 90, 12, 501)).toEqual({ r: 1, f: 5, m: 5 });
  });

  it('scores 0 without a purchase, and can write into a given object', () => {
    expect(scoreRfm(CUTS, Number.NaN, 0, 0)).toEqual({ r: 0, f: 0, m: 0 });
    expect(scoreRfm(CUTS, 3, 0, 0)).toEqual({ r: 0, f: 0, m: 0 });
    const out = { r: 9, f: 9, m: 9 };
    expect(scoreRfm(CUTS, 90, 12, 501, out)).toBe(out);
    expect(out).toEqual({ r: 1, f: 5, m: 5 });
  });

  it('derives the cut points from merged worker sketches (buyers only)', () => {
    const a = new RfmSketches();
    const b = new RfmSketches();
    for (let i = 1; i <= 10; i++) (i % 2 ? a : b).add(i * 10, i, i * 100);
    a.add(Number.NaN, 0, 0); // never bought: skipped
    const merged = new RfmSketches().merge(a).merge(RfmSketches.fromJSON(structuredClone(b.toJSON())));
    expect(merged.count).toBe(10);
    const cuts = cutsFromSketches(merged);
    // sorted[⌊q·9⌋] for q = .2 .4 .6 .8 → ranks 1, 3, 5, 7
    expect(cuts.f).toEqual([2, 4, 6, 8]);
    for (let k = 0; k < 4; k++) {
      const r = 20 * (k + 1);
      const m = 200 * (k + 1);
      expect(Math.abs(cuts.r[k]! - r)).toBeLessThanOrEqual(0.01 * r);
      expect(Math.abs(cuts.m[k]! - m)).toBeLessThanOrEqual(0.01 * m);
    }
  });

  it('rounds frequency cuts so that ties stay together', () => {
    const s = new RfmSketches();
    for (const f of [1, 1, 1, 1, 1, 1, 2, 3, 5, 10]) s.add(1, f, 10);
    const cuts = cutsFromSketches(s);
    expect(cuts.f).toEqual([1, 1, 1, 3]);
    expect([1, 2, 3, 4, 5].map((f) => scoreRfm(cuts, 1, f, 10).f)).toEqual([1, 4, 4, 5, 5]);
  });
});

describe('segments', () => {
  const top = { r: 5, f: 5, m: 5 };

  it('tries new, dormant, at_risk, core, potential, regular in that order', () => {
    expect(SEGMENTS).toEqual(['new', 'dormant', 'at_risk', 'core', 'potential', 'regular']);
    expect(segmentIndex('core')).toBe(3);
    expect(segmentIndex('nope')).toBe(-1);
    expect(classifySegment(top, inputs(1, 1, 10, 95))).toBe('new');
    expect(classifySegment(top, inputs(1, 200, 400, 95))).toBe('dormant');
    expect(classifySegment(top, inputs(1, 20, 400, 85))).toBe('at_risk');
    expect(classifySegment(top, inputs(1, 20, 400, 79))).toBe('core');
    expect(classifySegment({ r: 4, f: 3, m: 2 }, inputs(1, 8, 400))).toBe('potential');
    expect(classifySegment({ r: 4, f: 3, m: 4 }, inputs(1, 8, 400))).toBe('regular');
    expect(classifySegment({ r: 3, f: 5, m: 5 }, inputs(1, 40, 400))).toBe('regular');
  });

  it('applies the boundaries as documented (≥ dormant_days, < new_days)', () => {
    expect(classifySegment(top, inputs(1, 180, 400))).toBe('dormant');
    expect(classifySegment(top, inputs(1, 179.9, 400))).toBe('core');
    expect(classifySegment(top, inputs(1, 1, 30))).toBe('core');
    expect(classifySegment(top, inputs(1, 1, 29.9))).toBe('new');
    expect(classifySegment(top, inputs(1, 1, 400, 80))).toBe('at_risk');
  });

  it('classifies customers who never bought as new, dormant (no event for dormant_days) or regular', () => {
    const none = { r: 0, f: 0, m: 0 };
    expect(classifySegment(none, inputs(2, null, 12))).toBe('new');
    expect(classifySegment(none, inputs(200, Number.NaN, 300))).toBe('dormant');
    expect(classifySegment(none, inputs(3, null, 300))).toBe('regular');
    expect(classifySegment(none, inputs(3, null, 300, null))).toBe('regular');
  });

  it('takes custom thresholds of the CRM shape, with the optional RFM at_risk rule', () => {
    const t: SegmentThresholds = {
      ...DEFAULT_SEGMENT_THRESHOLDS,
      new_days: 7,
      dormant_days: 90,
      core: { r_min: 3, f_min: 3, m_min: 3 },
      at_risk_rfm: { r_max: 2, fm_min: 4 },
    };
    expect(classifySegment(top, inputs(1, 1, 10), t)).toBe('core');
    expect(classifySegment(top, inputs(1, 95, 400), t)).toBe('dormant');
    expect(classifySegment({ r: 2, f: 5, m: 1 }, inputs(1, 60, 400), t)).toBe('at_risk');
    expect(classifySegment({ r: 2, f: 1, m: 4 }, inputs(1, 60, 400), t)).toBe('at_risk');
    expect(classifySegment({ r: 2, f: 3, m: 3 }, inputs(1, 60, 400), t)).toBe('regular');
    expect(classifySegment({ r: 3, f: 3, m: 3 }, inputs(1, 20, 400), t)).toBe('core');
    // The rule is on by default with these thresholds; null turns it off.
    expect(classifySegment({ r: 2, f: 5, m: 1 }, inputs(1, 60, 400))).toBe('at_risk');
    expect(classifySegment({ r: 2, f: 5, m: 1 }, inputs(1, 60, 400), { ...t, at_risk_rfm: null })).toBe(
      'regular',
    );
  });
});

describe('segment stats', () => {
  it('counts and averages per segment and merges across workers', () => {
    const w1 = new SegmentStats();
    w1.add('core', 300, 10);
    w1.add('core', 100, null);
    w1.add('new', 0, Number.NaN);
    const w2 = new SegmentStats();
    w2.add('core', 200, 40);
    w2.add('at_risk', 50, 90);
    const merged = new SegmentStats().merge(w1).merge(SegmentStats.fromJSON(structuredClone(w2.toJSON())));
    expect(merged.total).toBe(5);
    const rows = Object.fromEntries(merged.summary().map((r) => [r.segment, r]));
    expect(rows['core']).toEqual({
      segment: 'core',
      customers: 3,
      share: 0.6,
      avg_spend_90d: 200,
      avg_churn_risk: 25,
    });
    expect(rows['at_risk']).toEqual({
      segment: 'at_risk',
      customers: 1,
      share: 0.2,
      avg_spend_90d: 50,
      avg_churn_risk: 90,
    });
    expect(rows['new']).toEqual({
      segment: 'new',
      customers: 1,
      share: 0.2,
      avg_spend_90d: 0,
      avg_churn_risk: null,
    });
    expect(rows['dormant']).toEqual({
      segment: 'dormant',
      customers: 0,
      share: 0,
      avg_spend_90d: 0,
      avg_churn_risk: null,
    });
    merged.reset();
    expect(merged.total).toBe(0);
    expect(() => w1.add('vip' as 'core', 1, 1)).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /segment must be one of .*, got vip/),
    );
  });
});
