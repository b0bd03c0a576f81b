/**
 * Binary classification metrics for model cards. Scores are "higher = more likely positive";
 * labels are 0/1. Probabilistic metrics (Brier, log loss, calibration) need scores in [0, 1].
 */
import { BellwetherError } from '../contract/errors.js';

type Numbers = ArrayLike<number>;

function check(scores: Numbers, labels: Numbers): number {
  if (scores.length !== labels.length)
    throw new BellwetherError(
      'BW_ERR_INVALID_ARGUMENT',
      `scores and labels must have the same length, got ${scores.length} scores but ${labels.length} labels`,
    );
  return scores.length;
}

/** Indexes sorted by score descending; equal scores keep index order. */
function orderDescending(scores: Numbers): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * ROC AUC as the Mann-Whitney statistic with average ranks for ties (a tied positive/negative pair
 * counts ½). NaN when one class is absent.
 */
export function rocAuc(scores: Numbers, labels: Numbers): number {
  const n = check(scores, labels);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Area under the precision-recall curve as average precision: Σ (R_k − R_{k−1}) · P_k over the
 * distinct score thresholds, highest first (tied scores enter together). NaN without positives.
 */
export function prAuc(scores: Numbers, labels: Numbers): number {
  const n = check(scores, labels);
  const order = orderDescending(scores);
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) positives++;
  if (positives === 0) return Number.NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    let groupTp = 0;
    while (j < n && scores[order[j]!] === scores[order[i]!]) {
      if (labels[order[j]!] === 1) groupTp++;
      j++;
    }
    tp += groupTp;
    seen += j - i;
    if (groupTp > 0) ap += (groupTp / positives) * (tp / seen);
    i = j;
  }
  return ap;
}

/** Mean squared difference between probability and label. */
export function brier(probs: Numbers, labels: Numbers): number {
  const n = check(probs, labels);
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (probs[i]! - labels[i]!) ** 2;
  return sum / n;
}

/** Mean binary cross-entropy (natural log), probabilities clipped to [eps, 1 − eps]. */
export function logLoss(probs: Numbers, labels: Numbers, eps = 1e-7): number {
  const n = check(probs, labels);
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]!));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / n;
}

/**
 * Precision among the top `fraction` of rows by score (k = ceil(fraction · n), at least 1); equal
 * scores are taken in row order.
 */
export function precisionAt(scores: Numbers, labels: Numbers, fraction: number): number {
  const n = check(scores, labels);
  if (n === 0) return Number.NaN;
  const k = Math.min(n, Math.max(1, Math.ceil(fraction * n)));
  const order = orderDescending(scores);
  let tp = 0;
  for (let i = 0; i < k; i++) if (labels[order[i]!] === 1) tp++;
  return tp / k;
}

export interface CalibrationBin {
  /** Bin bounds: [lo, hi), the last bin includes 1. */
  lo: number;
  hi: number;
  n: number;
  /** Mean predicted probability in the bin (NaN when empty). */
  mean_predicted: number;
  /** Fraction of positives in the bin (NaN when empty). */
  observed_rate: number;
}

/** Reliability table: `bins` equal-width probability bins over [0, 1]. */
export function calibrationBins(probs: Numbers, labels: Numbers, bins = 10): CalibrationBin[] {
  const n = check(probs, labels);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = probs[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    count[b]!++;
    sumP[b]! += p;
    sumY[b]! += labels[i]!;
  }
  return Array.from({ length: bins }, (_, b) => ({
    lo: b / bins,
    hi: (b + 1) / bins,
    n: count[b]!,
    mean_predicted: count[b]! > 0 ? sumP[b]! / count[b]! : Number.NaN,
    observed_rate: count[b]! > 0 ? sumY[b]! / count[b]! : Number.NaN,
  }));
}

/** Expected calibration error: Σ (n_b / n) · |mean predicted_b − observed_b| over non-empty bins. */
export function expectedCalibrationError(table: readonly CalibrationBin[]): number {
  let n = 0;
  let sum = 0;
  for (const bin of table) {
    if (bin.n === 0) continue;
    n += bin.n;
    sum += bin.n * Math.abs(bin.mean_predicted - bin.observed_rate);
  }
  return n > 0 ? sum / n : Number.NaN;
}

export interface ScoreMetrics {
  roc_auc: number;
  pr_auc: number;
  /** null for scores that are not probabilities (baselines ranking by a raw feature). */
  brier: number | null;
  log_loss: number | null;
  precision_at_5pct: number;
  precision_at_10pct: number;
}

/** The ranking metrics of `scores`, plus Brier and log loss when they are probabilities. */
export function summarize(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  probabilistic: boolean,
): ScoreMetrics {
  return {
    roc_auc: rocAuc(scores, labels),
    pr_auc: prAuc(scores, labels),
    brier: probabilistic ? brier(scores, labels) : null,
    log_loss: probabilistic ? logLoss(scores, labels) : null,
    precision_at_5pct: precisionAt(scores, labels, 0.05),
    precision_at_10pct: precisionAt(scores, labels, 0.1),
  };
}
