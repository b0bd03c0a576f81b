import { describe, expect, it } from 'vitest';
import {
  brier,
  calibrationBins,
  expectedCalibrationError,
  logLoss,
  prAuc,
  precisionAt,
  rocAuc,
} from '../../models/metrics.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

describe('rocAuc', () => {
  it('counts correctly ordered positive/negative pairs', () => {
    // pairs (pos, neg): (0.35, 0.1) ok, (0.35, 0.4) wrong, (0.8, 0.1) ok, (0.8, 0.4) ok → 3/4
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    expect(rocAuc([1, 2, 3, 4], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([4, 3, 2, 1], [0, 0, 1, 1])).toBe(0);
  });

  it('counts a tied positive/negative pair as one half', () => {
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
    // pos 0.5 vs negs 0.5 (½) and 0.2 (1); pos 0.9 beats both (2) → 3.5 / 4
    expect(rocAuc([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBeCloseTo(0.875, 12);
    expect(rocAuc([3, 3, 3, 3], [0, 1, 0, 1])).toBe(0.5);
  });

  it('is NaN with a single class', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(rocAuc([0.1, 0.2], [0, 0])).toBeNaN();
  });

  it('rejects mismatched lengths', () => {
    expect(() => rocAuc([0.1], [0, 1])).toThrow(coded('BW_ERR_INVALID_ARGUMENT', /1 scores but 2 labels/));
  });
});

describe('prAuc (average precision)', () => {
  it('sums precision at each recall step', () => {
    // ranked: 0.8 (+) P=1 R=½; 0.4 (−); 0.35 (+) P=⅔ R=1 → ½·1 + ½·⅔
    expect(prAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.5 + 1 / 3, 12);
  });

  it('is 1 for a perfect ranking', () => {
    expect(prAuc([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
  });

  it('takes tied scores as one threshold', () => {
    // all tied: one step to recall 1 at precision ½
    expect(prAuc([1, 1, 1, 1], [1, 0, 1, 0])).toBe(0.5);
    // 0.9 (+) P=1 R=⅓; {0.5, 0.5} (+, −) P=⅔ R=⅔; 0.1 (+) P=¾ R=1
    expect(prAuc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 1])).toBeCloseTo((1 + 2 / 3 + 3 / 4) / 3, 12);
  });

  it('is NaN without positives', () => {
    expect(prAuc([0.3, 0.4], [0, 0])).toBeNaN();
  });
});

describe('brier and logLoss', () => {
  it('brier is the mean squared error', () => {
    expect(brier([0.1, 0.9], [0, 1])).toBeCloseTo(0.01, 12);
    expect(brier([1, 0], [0, 1])).toBe(1);
    expect(brier([0.25, 0.5, 1], [0, 1, 1])).toBeCloseTo((0.0625 + 0.25 + 0) / 3, 12);
  });

  it('logLoss is the mean cross-entropy', () => {
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.LN2, 12);
    expect(logLoss([0.8, 0.1], [1, 0])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.9)) / 2, 12);
  });

  it('logLoss clips probabilities of 0 and 1', () => {
    expect(logLoss([0, 1], [1, 0])).toBeCloseTo(-Math.log(1e-7), 6);
    expect(Number.isFinite(logLoss([0], [1]))).toBe(true);
  });
});

describe('precisionAt', () => {
  const scores = [0.9, 0.8, 0.1, 0.2];
  const labels = [1, 0, 0, 1];

  it('takes the top ceil(fraction · n) rows', () => {
    expect(precisionAt(scores, labels, 0.25)).toBe(1);
    expect(precisionAt(scores, labels, 0.5)).toBe(0.5);
    // top 3: 0.9 (+), 0.8 (−), 0.2 (+)
    expect(precisionAt(scores, labels, 0.75)).toBeCloseTo(2 / 3, 12);
    expect(precisionAt(scores, labels, 1)).toBe(0.5);
  });

  it('takes at least one row', () => {
    expect(precisionAt(scores, labels, 0.01)).toBe(1);
  });

  it('takes tied scores in row order', () => {
    expect(precisionAt([0.5, 0.5, 0.5], [0, 1, 1], 0.3)).toBe(0);
  });
});

describe('calibrationBins', () => {
  it('bins probabilities into equal-width bins, 1 in the last bin', () => {
    const bins = calibrationBins([0.05, 0.15, 0.12, 1, 0.95], [0, 1, 0, 1, 0], 10);
    expect(bins).toHaveLength(10);
    expect(bins[0]).toEqual({ lo: 0, hi: 0.1, n: 1, mean_predicted: 0.05, observed_rate: 0 });
    expect(bins[1]!.n).toBe(2);
    expect(bins[1]!.mean_predicted).toBeCloseTo(0.135, 12);
    expect(bins[1]!.observed_rate).toBe(0.5);
    expect(bins[5]!.n).toBe(0);
    expect(bins[5]!.mean_predicted).toBeNaN();
    expect(bins[9]!.n).toBe(2);
    expect(bins[9]!.observed_rate).toBe(0.5);
    expect(bins.reduce((s, b) => s + b.n, 0)).toBe(5);
  });

  it('expected calibration error weighs bins by size', () => {
    const bins = calibrationBins([0.05, 0.15, 0.12, 1, 0.95], [0, 1, 0, 1, 0], 10);
    // bin 0: |0.05 − 0| · 1; bin 1: |0.135 − 0.5| · 2; bin 9: |0.975 − 0.5| · 2 → / 5
    expect(expectedCalibrationError(bins)).toBeCloseTo((0.05 + 0.365 * 2 + 0.475 * 2) / 5, 12);
    expect(expectedCalibrationError(calibrationBins([0.5, 0.5], [0, 1]))).toBeCloseTo(0, 12);
  });
});
