import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../lib/random.js';
import { brier, calibrationBins, expectedCalibrationError, prAuc, rocAuc } from '../../models/metrics.js';
import {
  addScore,
  emptyHistogram,
  fineBin,
  histogramFromJSON,
  histogramMetrics,
  histogramToJSON,
  MONITOR_BINS,
  mergeHistogram,
  psi,
  referenceBin,
  referenceDistribution,
  type ScoreHistogram,
} from '../../models/monitor-metrics.js';

/** Scores of a model that is right more often than not, and their labels. */
function sample(n: number, seed: number): { p: Float64Array; y: Float64Array } {
  const r = mulberry32(seed);
  const p = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r() < 0.4 ? 1 : 0;
    const z = (y[i] === 1 ? 0.6 : -0.4) + 1.2 * (r() - 0.5) + 0.8 * (r() - 0.5);
    p[i] = 1 / (1 + Math.exp(-2 * z));
  }
  return { p, y };
}

function histogramOf(p: Float64Array, y: Float64Array, from = 0, to = p.length): ScoreHistogram {
  const h = emptyHistogram();
  for (let i = from; i < to; i++) addScore(h, p[i]!, y[i] === 1 ? 1 : 0);
  return h;
}

describe('score histograms', () => {
  it('give ROC AUC within the bound of the exact one, and exactly it when no two scores share a bin', () => {
    const { p, y } = sample(5000, 7);
    const m = histogramMetrics(histogramOf(p, y));
    const exact = rocAuc(p, y);
    // The bound: half the share of (positive, negative) pairs that fall in a common fine bin.
    const pos = new Float64Array(MONITOR_BINS);
    const neg = new Float64Array(MONITOR_BINS);
    let np = 0;
    for (let i = 0; i < p.length; i++) {
      if (y[i] === 1) {
        pos[fineBin(p[i]!)]!++;
        np++;
      } else neg[fineBin(p[i]!)]!++;
    }
    let tied = 0;
    for (let b = 0; b < MONITOR_BINS; b++) tied += pos[b]! * neg[b]!;
    const bound = tied / 2 / (np * (p.length - np));
    expect(Math.abs(m.roc_auc! - exact)).toBeLessThanOrEqual(bound + 1e-12);
    expect(bound).toBeLessThan(0.005);
    expect(exact).toBeGreaterThan(0.7);

    // Scores on distinct bins: the histogram's AUC is the exact one.
    const q = Float64Array.from({ length: 400 }, (_, i) => (i + 0.5) / 400);
    const z = Float64Array.from(q, (_, i) => ((i * 7919) % 5 < 2 ? 1 : 0));
    expect(histogramMetrics(histogramOf(q, z)).roc_auc).toBeCloseTo(rocAuc(q, z), 12);
  });

  it('give PR AUC, Brier and the reliability table of the exact functions', () => {
    const { p, y } = sample(3000, 11);
    // Scores at bin centres: a fine bin is one threshold, as in the exact average precision.
    const centred = Float64Array.from(p, (v) => (fineBin(v) + 0.5) / MONITOR_BINS);
    const m = histogramMetrics(histogramOf(centred, y));
    expect(m.pr_auc).toBeCloseTo(prAuc(centred, y), 12);
    expect(m.brier).toBeCloseTo(brier(centred, y), 12);
    const table = calibrationBins(centred, y, 10);
    expect(m.calibration.map((c) => c.n)).toEqual(table.map((c) => c.n));
    m.calibration.forEach((c, i) => {
      if (table[i]!.n === 0) expect(c.predicted).toBeNull();
      else {
        expect(c.predicted).toBeCloseTo(table[i]!.mean_predicted, 12);
        expect(c.observed).toBeCloseTo(table[i]!.observed_rate, 12);
      }
    });
    expect(m.ece).toBeCloseTo(expectedCalibrationError(table), 12);
    // Brier is exact whatever the binning.
    expect(histogramMetrics(histogramOf(p, y)).brier).toBeCloseTo(brier(p, y), 12);
    expect(m.n).toBe(3000);
    expect(m.positives).toBe(y.reduce((a, b) => a + b, 0));
  });

  it('merge to the histogram of the union, through their sparse JSON', () => {
    const { p, y } = sample(2000, 3);
    const merged = emptyHistogram();
    for (const [from, to] of [
      [0, 700],
      [700, 1500],
      [1500, 2000],
    ] as const)
      mergeHistogram(
        merged,
        histogramFromJSON(JSON.parse(JSON.stringify(histogramToJSON(histogramOf(p, y, from, to))))),
      );
    const whole = histogramMetrics(histogramOf(p, y));
    const union = histogramMetrics(merged);
    expect(union.roc_auc).toBeCloseTo(whole.roc_auc!, 12);
    expect(union.pr_auc).toBeCloseTo(whole.pr_auc!, 12);
    expect(union.brier).toBeCloseTo(whole.brier!, 12);
    union.calibration.forEach((c, i) => {
      const w = whole.calibration[i]!;
      expect([c.lo, c.hi, c.n, c.observed]).toEqual([w.lo, w.hi, w.n, w.observed]);
      if (w.predicted === null) expect(c.predicted).toBeNull();
      else expect(c.predicted).toBeCloseTo(w.predicted, 12);
    });
  });

  it('have null metrics without labels of both kinds', () => {
    const h = emptyHistogram();
    expect(histogramMetrics(h)).toMatchObject({ n: 0, roc_auc: null, pr_auc: null, brier: null, ece: null });
    addScore(h, 0.3, 0);
    expect(histogramMetrics(h)).toMatchObject({ n: 1, positives: 0, roc_auc: null, pr_auc: null });
    expect(histogramMetrics(h).brier).toBeCloseTo(0.09, 12);
  });
});

describe('population stability index', () => {
  it('is 0 for the reference itself and Σ (a − e) ln(a / e) otherwise', () => {
    expect(psi([25, 25, 50], [0.25, 0.25, 0.5])).toBe(0);
    const expected =
      (0.5 - 0.25) * Math.log(0.5 / 0.25) + (0.25 - 0.25) * 0 + (0.25 - 0.5) * Math.log(0.25 / 0.5);
    expect(psi([50, 25, 25], [0.25, 0.25, 0.5])).toBeCloseTo(expected, 12);
    // An empty bin is floored at 1e-4, not infinite.
    expect(psi([100, 0], [0.5, 0.5])).toBeCloseTo(
      (1 - 0.5) * Math.log(1 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5),
      12,
    );
    expect(psi([0, 0], [0.5, 0.5])).toBeNaN();
  });

  it('reads 0 for training rows against their own reference and grows with a shift', () => {
    const r = mulberry32(5);
    const n = 4000;
    const names = ['count', 'amount'];
    const x = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      x[i * 2] = Math.fround(Math.floor(r() * 4)); // heavy ties: merged edges
      x[i * 2 + 1] = Math.fround(r() * 2 - 1);
    }
    const ref = referenceDistribution(x, n, names);
    expect(ref['count']!.edges).toEqual([0, 1, 2]);
    for (const name of names) {
      const { edges, fractions } = ref[name]!;
      expect(fractions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(edges.every((e, i) => i === 0 || e > edges[i - 1]!)).toBe(true);
      const counts = new Array<number>(fractions.length).fill(0);
      for (let i = 0; i < n; i++) counts[referenceBin(edges, x[i * 2 + names.indexOf(name)]!)]!++;
      expect(psi(counts, fractions)).toBeCloseTo(0, 12);
    }
    const { edges, fractions } = ref['amount']!;
    const shifted = (by: number) => {
      const counts = new Array<number>(fractions.length).fill(0);
      for (let i = 0; i < n; i++) counts[referenceBin(edges, x[i * 2 + 1]! + by)]!++;
      return psi(counts, fractions);
    };
    expect(shifted(0.1)).toBeGreaterThan(0);
    expect(shifted(0.1)).toBeLessThan(0.2);
    expect(shifted(0.6)).toBeGreaterThan(0.2);
    expect(shifted(0.6)).toBeGreaterThan(shifted(0.3));
  });
});
