/**
 * RFM scores and customer segments (docs/analytics.md).
 *
 * R, F and M are 1–5 against population quintiles of the customers with at least one purchase:
 * recency = days_since_last_purchase (lower is better), frequency = purchases_lifetime (or
 * purchase_days_lifetime), monetary = spend_lifetime. Each worker adds its buyers to an
 * {@link RfmSketches}; the main thread merges the workers' sketches and derives the cut points with
 * {@link cutsFromSketches}; workers score with {@link scoreRfm} and classify with
 * {@link classifySegment}, accumulating {@link SegmentStats} that the main thread merges.
 *
 * Segments follow the CRM settings (`segments:` of the CRM file, operators/crm): the thresholds
 * type has the same shape as `CrmSegments`, so `crm.segments` can be passed as is.
 */

import { BellwetherError } from '../../contract/errors.js';
import { type CrmSegments, DEFAULT_SEGMENTS } from '../crm/config-schema.js';
import { QuantileSketch, type QuantileSketchJSON, type QuantileSketchOptions } from './quantile-sketch.js';

/** The 20th, 40th, 60th and 80th percentiles, ascending. */
export type Quintiles = [number, number, number, number];

export interface RfmCuts {
  readonly r: Quintiles;
  readonly f: Quintiles;
  readonly m: Quintiles;
}

/** Scores 1–5, or all 0 for a customer without a purchase. */
export interface RfmScore {
  r: number;
  f: number;
  m: number;
}

export interface RfmSketchesJSON {
  readonly recency: QuantileSketchJSON;
  readonly frequency: QuantileSketchJSON;
  readonly monetary: QuantileSketchJSON;
}

/** True when the customer has a purchase: a finite recency and a frequency > 0. */
function hasPurchase(recencyDays: number, frequency: number): boolean {
  return Number.isFinite(recencyDays) && frequency > 0;
}

/** The three population sketches of one worker (buyers only); mergeable across workers. */
export class RfmSketches {
  readonly recency: QuantileSketch;
  readonly frequency: QuantileSketch;
  readonly monetary: QuantileSketch;

  constructor(options: QuantileSketchOptions = {}) {
    this.recency = new QuantileSketch(options);
    this.frequency = new QuantileSketch(options);
    this.monetary = new QuantileSketch(options);
  }

  /** Buyers counted. */
  get count(): number {
    return this.recency.count;
  }

  /** Adds one customer's values; a customer without a purchase is skipped. */
  add(recencyDays: number, frequency: number, monetary: number): void {
    if (!hasPurchase(recencyDays, frequency)) return;
    this.recency.add(recencyDays);
    this.frequency.add(frequency);
    this.monetary.add(Number.isFinite(monetary) ? monetary : 0);
  }

  merge(other: RfmSketches | RfmSketchesJSON): this {
    this.recency.merge(other.recency);
    this.frequency.merge(other.frequency);
    this.monetary.merge(other.monetary);
    return this;
  }

  reset(): void {
    this.recency.reset();
    this.frequency.reset();
    this.monetary.reset();
  }

  toJSON(): RfmSketchesJSON {
    return {
      recency: this.recency.toJSON(),
      frequency: this.frequency.toJSON(),
      monetary: this.monetary.toJSON(),
    };
  }

  static fromJSON(json: RfmSketchesJSON): RfmSketches {
    const s = new RfmSketches({
      alpha: json.recency.alpha,
      maxBuckets: json.recency.maxBuckets,
      minValue: json.recency.minValue,
    });
    return s.merge(json);
  }
}

function quintilesOf(sketch: QuantileSketch | QuantileSketchJSON, round: (v: number) => number): Quintiles {
  const s = sketch instanceof QuantileSketch ? sketch : QuantileSketch.fromJSON(sketch);
  return [round(s.quantile(0.2)), round(s.quantile(0.4)), round(s.quantile(0.6)), round(s.quantile(0.8))];
}

const same = (v: number): number => v;
const cents = (v: number): number => Math.round(v * 100) / 100;

/**
 * Quintile cut points from the (merged) population sketches. Frequency cuts are rounded to whole
 * purchases and monetary cuts to the cent, so that a sketch estimate such as 2.98 for "3
 * purchases" does not move every customer with exactly 3 purchases into the next quintile.
 * Empty sketches give NaN cuts (there is nobody to score).
 */
export function cutsFromSketches(sketches: {
  readonly recency: QuantileSketch | QuantileSketchJSON;
  readonly frequency: QuantileSketch | QuantileSketchJSON;
  readonly monetary: QuantileSketch | QuantileSketchJSON;
}): RfmCuts {
  return {
    r: quintilesOf(sketches.recency, same),
    f: quintilesOf(sketches.frequency, Math.round),
    m: quintilesOf(sketches.monetary, cents),
  };
}

/** Quintile of `x` by value, 1–5: 1 + the number of cut points strictly below x (x = cut → lower quintile). */
export function quintileOf(cuts: Quintiles, x: number): number {
  return 1 + (x > cuts[0] ? 1 : 0) + (x > cuts[1] ? 1 : 0) + (x > cuts[2] ? 1 : 0) + (x > cuts[3] ? 1 : 0);
}

/**
 * R, F, M of one customer: f = quintileOf(cuts.f, frequency), m = quintileOf(cuts.m, monetary),
 * r = 6 − quintileOf(cuts.r, recencyDays) (the most recent fifth scores 5). All 0 without a
 * purchase (recency NaN or frequency 0). Writes into `out` when given (no allocation).
 */
export function scoreRfm(
  cuts: RfmCuts,
  recencyDays: number,
  frequency: number,
  monetary: number,
  out: RfmScore = { r: 0, f: 0, m: 0 },
): RfmScore {
  if (!hasPurchase(recencyDays, frequency)) {
    out.r = out.f = out.m = 0;
    return out;
  }
  out.r = 6 - quintileOf(cuts.r, recencyDays);
  out.f = quintileOf(cuts.f, frequency);
  out.m = quintileOf(cuts.m, Number.isFinite(monetary) ? monetary : 0);
  return out;
}

/** Segments in the order they are tried: the first that matches wins, `regular` otherwise. */
export const SEGMENTS = ['new', 'dormant', 'at_risk', 'core', 'potential', 'regular'] as const;
export type Segment = (typeof SEGMENTS)[number];

const SEGMENT_INDEX = new Map<string, number>(SEGMENTS.map((s, i) => [s, i]));

/** Index of a segment in {@link SEGMENTS} (for u8 columns), -1 when unknown. */
export function segmentIndex(segment: string): number {
  return SEGMENT_INDEX.get(segment) ?? -1;
}

/**
 * Segment thresholds: the CRM file's `segments` with defaults filled in (operators/crm/config-schema.ts
 * documents each). `at_risk_rfm` may be left out, which turns that rule off.
 */
export type SegmentThresholds = Omit<CrmSegments, 'at_risk_rfm'> & {
  readonly at_risk_rfm?: CrmSegments['at_risk_rfm'];
};

export const DEFAULT_SEGMENT_THRESHOLDS: SegmentThresholds = DEFAULT_SEGMENTS;

/** The features a segment reads besides the RFM scores (NaN or null when unknown). */
export interface SegmentInputs {
  readonly days_since_last_event: number | null;
  readonly days_since_last_purchase: number | null;
  readonly tenure_days: number | null;
  /** Churn risk 0–100; null or NaN when the customer has no churn score. */
  readonly churn_risk?: number | null;
}

const num = (v: number | null | undefined): number => (v === null || v === undefined ? Number.NaN : v);

/**
 * The segment of one customer (docs/analytics.md), trying in order:
 * new (tenure < new_days) → dormant → at_risk → core → potential → regular.
 */
export function classifySegment(
  rfm: RfmScore,
  inputs: SegmentInputs,
  thresholds: SegmentThresholds = DEFAULT_SEGMENT_THRESHOLDS,
): Segment {
  const tenure = num(inputs.tenure_days);
  const sinceEvent = num(inputs.days_since_last_event);
  const sincePurchase = num(inputs.days_since_last_purchase);
  const bought = Number.isFinite(sincePurchase);
  if (tenure < thresholds.new_days) return 'new';
  if (bought ? sincePurchase >= thresholds.dormant_days : sinceEvent >= thresholds.dormant_days) {
    return 'dormant';
  }
  if (num(inputs.churn_risk) >= thresholds.at_risk_churn_risk) return 'at_risk';
  if (!bought) return 'regular';
  const rule = thresholds.at_risk_rfm;
  if (rule && rfm.r <= rule.r_max && (rfm.f >= rule.fm_min || rfm.m >= rule.fm_min)) return 'at_risk';
  const { core, potential } = thresholds;
  if (rfm.r >= core.r_min && rfm.f >= core.f_min && rfm.m >= core.m_min) return 'core';
  if (rfm.r >= potential.r_min && rfm.m <= potential.m_max) return 'potential';
  return 'regular';
}

export interface SegmentStatsJSON {
  readonly segments: readonly {
    readonly segment: Segment;
    readonly customers: number;
    readonly spend_90d_sum: number;
    readonly churn_risk_sum: number;
    /** Customers of the segment with a churn score. */
    readonly churn_scored: number;
  }[];
}

export interface SegmentSummary {
  readonly segment: Segment;
  readonly customers: number;
  /** customers / all customers counted (0 when none). */
  readonly share: number;
  readonly avg_spend_90d: number;
  /** Mean churn risk over the segment's scored customers; null when none is scored. */
  readonly avg_churn_risk: number | null;
}

const N = SEGMENTS.length;

/** Per-worker counts and sums per segment over one sweep; mergeable across workers. */
export class SegmentStats {
  readonly #customers = new Float64Array(N);
  readonly #spend = new Float64Array(N);
  readonly #churn = new Float64Array(N);
  readonly #scored = new Float64Array(N);

  /** Counts one customer. `churnRisk` NaN or null = not scored; a NaN spend counts as 0. */
  add(segment: Segment, spend90d: number, churnRisk: number | null): void {
    const i = SEGMENT_INDEX.get(segment);
    if (i === undefined)
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `segment must be one of ${SEGMENTS.join(', ')}, got ${segment}`,
      );
    this.#customers[i]!++;
    if (Number.isFinite(spend90d)) this.#spend[i]! += spend90d;
    if (churnRisk !== null && Number.isFinite(churnRisk)) {
      this.#churn[i]! += churnRisk;
      this.#scored[i]!++;
    }
  }

  get total(): number {
    let t = 0;
    for (let i = 0; i < N; i++) t += this.#customers[i]!;
    return t;
  }

  merge(other: SegmentStats | SegmentStatsJSON): this {
    const o = other instanceof SegmentStats ? other.toJSON() : other;
    for (const s of o.segments) {
      const i = SEGMENT_INDEX.get(s.segment);
      if (i === undefined)
        throw new BellwetherError(
          'BW_ERR_STATE_MISMATCH',
          `segment stats name segment ${s.segment}: segments must be among ${SEGMENTS.join(', ')}`,
        );
      this.#customers[i]! += s.customers;
      this.#spend[i]! += s.spend_90d_sum;
      this.#churn[i]! += s.churn_risk_sum;
      this.#scored[i]! += s.churn_scored;
    }
    return this;
  }

  reset(): void {
    this.#customers.fill(0);
    this.#spend.fill(0);
    this.#churn.fill(0);
    this.#scored.fill(0);
  }

  toJSON(): SegmentStatsJSON {
    return {
      segments: SEGMENTS.map((segment, i) => ({
        segment,
        customers: this.#customers[i]!,
        spend_90d_sum: this.#spend[i]!,
        churn_risk_sum: this.#churn[i]!,
        churn_scored: this.#scored[i]!,
      })),
    };
  }

  static fromJSON(json: SegmentStatsJSON): SegmentStats {
    return new SegmentStats().merge(json);
  }

  /** One row per segment, in {@link SEGMENTS} order. */
  summary(): SegmentSummary[] {
    const total = this.total;
    return SEGMENTS.map((segment, i) => {
      const customers = this.#customers[i]!;
      const scored = this.#scored[i]!;
      return {
        segment,
        customers,
        share: total > 0 ? customers / total : 0,
        avg_spend_90d: customers > 0 ? this.#spend[i]! / customers : 0,
        avg_churn_risk: scored > 0 ? this.#churn[i]! / scored : null,
      };
    });
  }
}
