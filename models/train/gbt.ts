/**
 * Gradient-boosted trees for binary log loss, histogram-based as LightGBM does, in plain
 * TypeScript (no native dependency). Deterministic: the same rows, options and seed give the same
 * trees.
 *
 * - Bins: per feature, at most `maxBins` quantile edges of the training values (edges are training
 *   values, so thresholds are float32 values the inputs can equal); a row goes left at a split on
 *   edge e when x ≤ e.
 * - Each round: gradients g = p − y and hessians h = p(1 − p) at the current margins; a tree grown
 *   depth-wise to `maxDepth`, each node split at the best (feature, edge) by the gain
 *   ½ [G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)] − γ from the gradient/hessian histograms of its
 *   rows, a child needing at least `minChildWeight` hessian and `minSamplesLeaf` rows; leaves add
 *   −G/(H+λ) × `learningRate` (shrinkage). Rows of a round are a seeded `subsample` of the training
 *   rows (1 = all).
 * - Early stopping: the validation log loss is measured after every tree; training stops after
 *   `patience` trees without improvement and keeps the best prefix.
 */
import { mulberry32 } from '../../lib/random.js';
import { logLoss } from '../metrics.js';
import { sigmoid, type Tree, type TreeEnsemble, treeMargin } from '../tree-ensemble.js';
import type { Matrix } from './dataset.js';

export interface GbtOptions {
  /** Trees at most (default 500). */
  maxTrees?: number;
  /** Shrinkage of each tree's leaf values (default 0.05). */
  learningRate?: number;
  /** Depth of a tree, root at 0 (default 4: at most 15 splits and 16 leaves). */
  maxDepth?: number;
  /** L2 penalty λ on leaf values (default 1). */
  lambda?: number;
  /** Smallest gain a split must reach (γ, default 0). */
  minGain?: number;
  /** Smallest hessian sum of a child (default 1). */
  minChildWeight?: number;
  /** Fewest training rows of a child (default 20). */
  minSamplesLeaf?: number;
  /** Quantile bins per feature (default 255). */
  maxBins?: number;
  /** Share of the training rows drawn (without replacement) for each tree (default 0.8). */
  subsample?: number;
  /** Trees without validation improvement before stopping (default 30). */
  patience?: number;
  seed?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface GbtResult {
  ensemble: TreeEnsemble;
  /** Validation log loss after each tree (index 0 = base only). */
  validationLogLoss: number[];
  bestTrees: number;
  options: Required<Omit<GbtOptions, 'log'>>;
}

/** Ascending distinct edges: quantiles of the sorted values, without the largest value. */
export function binEdges(values: Float32Array, maxBins: number): Float32Array {
  const sorted = Float32Array.from(values).sort();
  const distinct: number[] = [];
  for (let i = 0; i < sorted.length; i++)
    if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]!);
  if (distinct.length <= maxBins) return Float32Array.from(distinct.slice(0, -1));
  const edges: number[] = [];
  for (let k = 1; k < maxBins; k++) {
    const v = sorted[Math.floor((sorted.length * k) / maxBins) - 1]!;
    if (v !== edges.at(-1) && v < sorted[sorted.length - 1]!) edges.push(v);
  }
  return Float32Array.from(edges);
}

/** Bin of `x`: the first edge it is ≤ to, or edges.length. */
function binOf(edges: Float32Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
}

interface Grow {
  m: Matrix;
  bins: Uint8Array | Uint16Array;
  edges: Float32Array[];
  g: Float64Array;
  h: Float64Array;
  o: Required<Omit<GbtOptions, 'log'>>;
  hist: Float64Array;
}

function bestSplit(s: Grow, rows: Int32Array, G: number, H: number): Split | undefined {
  const { m, bins, edges, g, h, o, hist } = s;
  const width = o.maxBins + 1;
  const parent = (G * G) / (H + o.lambda);
  let best: Split | undefined;
  for (let f = 0; f < m.d; f++) {
    const nb = edges[f]!.length + 1;
    if (nb < 2) continue;
    hist.fill(0, 0, 3 * width);
    for (let r = 0; r < rows.length; r++) {
      const i = rows[r]!;
      const b = bins[i * m.d + f]!;
      hist[b]! += g[i]!;
      hist[width + b]! += h[i]!;
      hist[2 * width + b]!++;
    }
    let gl = 0;
    let hl = 0;
    let nl = 0;
    for (let b = 0; b < nb - 1; b++) {
      gl += hist[b]!;
      hl += hist[width + b]!;
      nl += hist[2 * width + b]!;
      const nr = rows.length - nl;
      const hr = H - hl;
      if (nl < o.minSamplesLeaf || hl < o.minChildWeight) continue;
      if (nr < o.minSamplesLeaf || hr < o.minChildWeight) break;
      const gr = G - gl;
      const gain = 0.5 * ((gl * gl) / (hl + o.lambda) + (gr * gr) / (hr + o.lambda) - parent) - o.minGain;
      if (gain > 0 && (best === undefined || gain > best.gain)) best = { gain, feature: f, bin: b };
    }
  }
  return best;
}

function growTree(s: Grow, rows: Int32Array): Tree {
  const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
  const { g, h, o } = s;
  const node = (rs: Int32Array, depth: number): number => {
    let G = 0;
    let H = 0;
    for (let r = 0; r < rs.length; r++) {
      G += g[rs[r]!]!;
      H += h[rs[r]!]!;
    }
    const id = tree.feature.length;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(Math.fround((-G / (H + o.lambda)) * o.learningRate));
    const split = depth < o.maxDepth ? bestSplit(s, rs, G, H) : undefined;
    if (!split) return id;
    const lefts: number[] = [];
    const rights: number[] = [];
    for (let r = 0; r < rs.length; r++) {
      const i = rs[r]!;
      (s.bins[i * s.m.d + split.feature]! <= split.bin ? lefts : rights).push(i);
    }
    tree.feature[id] = split.feature;
    tree.threshold[id] = s.edges[split.feature]![split.bin]!;
    tree.left[id] = node(Int32Array.from(lefts), depth + 1);
    tree.right[id] = node(Int32Array.from(rights), depth + 1);
    return id;
  };
  node(rows, 0);
  return tree;
}

export function trainGbt(train: Matrix, val: Matrix, options: GbtOptions = {}): GbtResult {
  const o = {
    maxTrees: options.maxTrees ?? 500,
    learningRate: options.learningRate ?? 0.05,
    maxDepth: options.maxDepth ?? 4,
    lambda: options.lambda ?? 1,
    minGain: options.minGain ?? 0,
    minChildWeight: options.minChildWeight ?? 1,
    minSamplesLeaf: options.minSamplesLeaf ?? 20,
    maxBins: Math.min(65535, Math.max(2, options.maxBins ?? 255)),
    subsample: options.subsample ?? 0.8,
    patience: options.patience ?? 30,
    seed: options.seed ?? 42,
  };
  const { n, d } = train;
  const edges = Array.from({ length: d }, (_, f) => {
    const column = new Float32Array(n);
    for (let i = 0; i < n; i++) column[i] = train.x[i * d + f]!;
    return binEdges(column, o.maxBins);
  });
  const bins = o.maxBins < 256 ? new Uint8Array(n * d) : new Uint16Array(n * d);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < d; f++) bins[i * d + f] = binOf(edges[f]!, train.x[i * d + f]!);

  let positives = 0;
  for (let i = 0; i < n; i++) positives += train.y[i]!;
  const rate = Math.min(Math.max(positives / Math.max(1, n), 1e-6), 1 - 1e-6);
  const ensemble: TreeEnsemble = { base: Math.fround(Math.log(rate / (1 - rate))), trees: [] };
  const margin = new Float64Array(n).fill(ensemble.base);
  const valMargin = new Float64Array(val.n).fill(ensemble.base);
  const valProb = new Float64Array(val.n);
  const lossNow = () => {
    for (let i = 0; i < val.n; i++) valProb[i] = sigmoid(valMargin[i]!);
    return logLoss(valProb, val.y);
  };
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const grow: Grow = { m: train, bins, edges, g, h, o, hist: new Float64Array(3 * (o.maxBins + 1)) };
  const random = mulberry32(o.seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const take = Math.max(1, Math.min(n, Math.round(n * o.subsample)));
  const losses = [lossNow()];
  let best = 0;
  for (let t = 0; t < o.maxTrees && t - best <= o.patience; t++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(margin[i]!);
      g[i] = p - train.y[i]!;
      h[i] = p * (1 - p);
    }
    // A partial Fisher–Yates shuffle draws the round's rows; sorted so histograms read memory in order.
    for (let i = 0; i < take && take < n; i++) {
      const j = i + Math.floor(random() * (n - i));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    const rows = take < n ? order.slice(0, take).sort() : order;
    const tree = growTree(grow, rows);
    ensemble.trees.push(tree);
    const one: TreeEnsemble = { base: 0, trees: [tree] };
    for (let i = 0; i < n; i++) margin[i]! += treeMargin(one, train.x, i * d);
    for (let i = 0; i < val.n; i++) valMargin[i]! += treeMargin(one, val.x, i * d);
    losses.push(lossNow());
    if (losses[t + 1]! < losses[best]! - 1e-9) best = t + 1;
    if ((t + 1) % 50 === 0)
      options.log?.(`gbt: ${t + 1} trees, validation log loss ${losses[t + 1]!.toFixed(5)} (best ${best})`);
  }
  ensemble.trees.length = best;
  return { ensemble, validationLogLoss: losses, bestTrees: best, options: o };
}
