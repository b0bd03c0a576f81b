/**
 * Model monitoring arithmetic (docs/models.md, "Monitoring"), pure and mergeable:
 *
 * - a labelled score histogram: {@link MONITOR_BINS} equal-width probability bins per label, plus the
 *   exact sums Brier needs and the probability sum per calibration bin. Histograms of partitions
 *   add, so ROC AUC, PR AUC, Brier and the reliability table are computed on the union of the
 *   partitions (rank metrics cannot be averaged). Scores in the same fine bin count as tied: ROC
 *   AUC from the histogram differs from the exact one by at most half the share of
 *   (positive, negative) pairs that fall in a common bin of width 1/1000;
 * - a reference distribution of each model input (bin edges and training fractions), kept in the
 *   model card, and the population stability index of live counts against it.
 */

/** Fine probability bins of a score histogram. */
export const MONITOR_BINS = 1000;
/** Equal-width bins of the reliability table (as the card's `reliability_test`). */
const CALIBRATION_BINS = 10;
/** Floor of a bin's share in the PSI sum, so an empty bin adds a large but finite term. */
const PSI_FLOOR = 1e-4;
/** Quantiles cut for the reference distribution: deciles, ties merged. */
const REFERENCE_QUANTILES = 10;

export interface ScoreHistogram {
  /** Negatives (label 0) and positives (label 1) per fine bin. */
  neg: number[];
  pos: number[];
  /** Σp and Σp² over the negatives, then over the positives (exact Brier). */
  sumP: [number, number];
  sumP2: [number, number];
  /** Σp per calibration bin, both labels (mean predicted probability of the bin). */
  calSum: number[];
}

export function emptyHistogram(): ScoreHistogram {
  return {
    neg: new Array<number>(MONITOR_BINS).fill(0),
    pos: new Array<number>(MONITOR_BINS).fill(0),
    sumP: [0, 0],
    sumP2: [0, 0],
    calSum: new Array<number>(CALIBRATION_BINS).fill(0),
  };
}

export function fineBin(p: number): number {
  const b = Math.floor(p * MONITOR_BINS);
  return b < 0 ? 0 : b >= MONITOR_BINS ? MONITOR_BINS - 1 : b;
}

/** Adds one probability and its 0/1 label. */
export function addScore(h: ScoreHistogram, p: number, label: 0 | 1): void {
  const b = fineBin(p);
  if (label === 1) h.pos[b]!++;
  else h.neg[b]!++;
  h.sumP[label] += p;
  h.sumP2[label] += p * p;
  h.calSum[Math.floor((b * CALIBRATION_BINS) / MONITOR_BINS)]! += p;
}

/** Adds `from` into `into`. */
export function mergeHistogram(into: ScoreHistogram, from: ScoreHistogram): void {
  for (let b = 0; b < MONITOR_BINS; b++) {
    into.neg[b]! += from.neg[b] ?? 0;
    into.pos[b]! += from.pos[b] ?? 0;
  }
  for (const l of [0, 1] as const) {
    into.sumP[l] += from.sumP[l];
    into.sumP2[l] += from.sumP2[l];
  }
  for (let c = 0; c < CALIBRATION_BINS; c++) into.calSum[c]! += from.calSum[c] ?? 0;
}

/** A histogram as sparse JSON (`[bin, count]` pairs): most of the 1,000 bins are empty. */
export interface ScoreHistogramJSON {
  neg: [number, number][];
  pos: [number, number][];
  sumP: [number, number];
  sumP2: [number, number];
  calSum: number[];
}

const sparse = (counts: number[]): [number, number][] =>
  counts.flatMap((n, b): [number, number][] => (n > 0 ? [[b, n]] : []));

export function histogramToJSON(h: ScoreHistogram): ScoreHistogramJSON {
  return { neg: sparse(h.neg), pos: sparse(h.pos), sumP: h.sumP, sumP2: h.sumP2, calSum: h.calSum };
}

export function histogramFromJSON(j: ScoreHistogramJSON): ScoreHistogram {
  const h = emptyHistogram();
  for (const [b, n] of j.neg) h.neg[b] = n;
  for (const [b, n] of j.pos) h.pos[b] = n;
  h.sumP = [j.sumP[0], j.sumP[1]];
  h.sumP2 = [j.sumP2[0], j.sumP2[1]];
  h.calSum = [...j.calSum];
  return h;
}

export interface CalibrationRow {
  lo: number;
  hi: number;
  /** Mean predicted probability of the bin (null when empty). */
  predicted: number | null;
  /** Share of positives in the bin (null when empty). */
  observed: number | null;
  n: number;
}

export interface HistogramMetrics {
  n: number;
  positives: number;
  roc_auc: number | null;
  pr_auc: number | null;
  brier: number | null;
  calibration: CalibrationRow[];
  /** Expected calibration error: Σ n_b/n · |predicted_b − observed_b|. */
  ece: number | null;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** ROC AUC, PR AUC (average precision, a fine bin as one threshold), Brier and reliability. */
export function histogramMetrics(h: ScoreHistogram): HistogramMetrics {
  let positives = 0;
  let negatives = 0;
  for (let b = 0; b < MONITOR_BINS; b++) {
    positives += h.pos[b]!;
    negatives += h.neg[b]!;
  }
  const n = positives + negatives;
  // Highest bin first: each positive beats the negatives of lower bins and ties half of its own.
  let negBelow = negatives;
  let wins = 0;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let b = MONITOR_BINS - 1; b >= 0; b--) {
    const p = h.pos[b]!;
    const q = h.neg[b]!;
    negBelow -= q;
    wins += p * (negBelow + q / 2);
    tp += p;
    seen += p + q;
    if (p > 0) ap += (p / positives) * (tp / seen);
  }
  const calibration: CalibrationRow[] = [];
  let ece = 0;
  const per = MONITOR_BINS / CALIBRATION_BINS;
  for (let c = 0; c < CALIBRATION_BINS; c++) {
    let cn = 0;
    let cp = 0;
    for (let b = c * per; b < (c + 1) * per; b++) {
      cn += h.pos[b]! + h.neg[b]!;
      cp += h.pos[b]!;
    }
    const predicted = cn > 0 ? h.calSum[c]! / cn : null;
    const observed = cn > 0 ? cp / cn : null;
    if (predicted !== null && observed !== null) ece += (cn / n) * Math.abs(predicted - observed);
    calibration.push({
      lo: c / CALIBRATION_BINS,
      hi: (c + 1) / CALIBRATION_BINS,
      predicted,
      observed,
      n: cn,
    });
  }
  // Σ(p − y)² = Σ_neg p² + Σ_pos (p² − 2p + 1)
  const squared = h.sumP2[0] + h.sumP2[1] - 2 * h.sumP[1] + positives;
  return {
    n,
    positives,
    roc_auc: positives > 0 && negatives > 0 ? wins / (positives * negatives) : null,
    pr_auc: positives > 0 ? ap : null,
    brier: n > 0 ? finite(squared / n) : null,
    calibration,
    ece: n > 0 ? ece : null,
  };
}

/** One model input's training distribution: interior bin edges and each bin's share. */
export interface ReferenceBins {
  /** Ascending interior edges: bin i holds e[i-1] < v ≤ e[i] (bin 0 everything ≤ e[0]). */
  edges: number[];
  /** edges.length + 1 shares summing to 1. */
  fractions: number[];
}

/** Bin of `v` among `edges` (see {@link ReferenceBins}); NaN goes to the last bin. */
export function referenceBin(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return Number.isNaN(v) ? edges.length : lo;
}

/**
 * The reference distribution of inputs `names` from a row-major n × d matrix of model inputs (as
 * the model sees them: filled, clipped, transformed, standardised): decile edges with ties merged,
 * and the training share of each bin.
 */
export function referenceDistribution(
  x: Float32Array,
  n: number,
  names: readonly string[],
): Record<string, ReferenceBins> {
  const d = names.length;
  const out: Record<string, ReferenceBins> = {};
  names.forEach((name, k) => {
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = x[i * d + k]!;
    values.sort();
    const edges: number[] = [];
    for (let q = 1; q < REFERENCE_QUANTILES; q++) {
      const v = values[Math.min(n - 1, Math.max(0, Math.ceil((q / REFERENCE_QUANTILES) * n) - 1))]!;
      if (edges.length === 0 || v > edges.at(-1)!) edges.push(v);
    }
    if (edges.length > 0 && edges.at(-1)! >= values[n - 1]!) edges.pop();
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (let i = 0; i < n; i++) counts[referenceBin(edges, values[i]!)]!++;
    out[name] = { edges, fractions: counts.map((c) => c / n) };
  });
  return out;
}

/**
 * Population stability index of live bin `counts` against reference `fractions`:
 * Σ (a − e) · ln(a / e), shares floored at 1e-4. 0 for identical distributions; above 0.2 is the
 * usual "shifted" reading. NaN without counts.
 */
export function psi(counts: readonly number[], fractions: readonly number[]): number {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < fractions.length; i++) {
    const a = Math.max(PSI_FLOOR, (counts[i] ?? 0) / total);
    const e = Math.max(PSI_FLOOR, fractions[i]!);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}
