/**
 * Gradient-boosted trees and their fusion with a logistic regression, as stored in a model
 * directory's `fusion.json`, and their plain JavaScript evaluation (the reference the TF.js
 * inference in tree-plan.ts is tested against, and the path the reasons are read from).
 *
 * A tree is arrays indexed by node: an internal node sends a row left when `x[feature] <=
 * threshold` (thresholds are float32 values, the inputs are float32 model inputs), a leaf has
 * `feature = -1` and adds `value` to the margin. Every node also keeps `value`: what it would add
 * were it a leaf (−G / (H + λ) × learning rate over its training rows), which the Saabas
 * attribution reads. The ensemble's margin is `base + Σ trees' leaf values`, its probability the
 * sigmoid of the margin.
 *
 * The fusion: p = w_logistic · σ(β₀ + β · x) + w_trees · σ(margin(x)), the weights summing to 1.
 */
import { type Static, Type } from '@sinclair/typebox';

const TreeSchema = Type.Object({
  feature: Type.Array(Type.Integer({ minimum: -1 })),
  threshold: Type.Array(Type.Number()),
  left: Type.Array(Type.Integer({ minimum: -1 })),
  right: Type.Array(Type.Integer({ minimum: -1 })),
  value: Type.Array(Type.Number()),
});

const TreeEnsembleSchema = Type.Object({
  /** Margin before the first tree: the logit of the training rows' positive rate. */
  base: Type.Number(),
  trees: Type.Array(TreeSchema),
});

export const FusionFileSchema = Type.Object({
  format: Type.Literal('bellwether-fusion'),
  /** Number of model inputs (the feature spec's inputs, in its order). */
  inputs: Type.Integer({ minimum: 1 }),
  logistic: Type.Object({
    weight: Type.Number({ minimum: 0, maximum: 1 }),
    coefficients: Type.Array(Type.Number()),
    intercept: Type.Number(),
  }),
  trees: Type.Object({ weight: Type.Number({ minimum: 0, maximum: 1 }), ensemble: TreeEnsembleSchema }),
});

export type Tree = Static<typeof TreeSchema>;
export type TreeEnsemble = Static<typeof TreeEnsembleSchema>;
export type FusionFile = Static<typeof FusionFileSchema>;

export const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Index of the leaf row `x[offset …]` reaches in `tree`. */
function leafOf(tree: Tree, x: ArrayLike<number>, offset: number): number {
  let node = 0;
  while (tree.feature[node]! >= 0) {
    node = x[offset + tree.feature[node]!]! <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}

/** The ensemble's margin (log-odds) of row `x[offset … offset + d)`. */
export function treeMargin(ensemble: TreeEnsemble, x: ArrayLike<number>, offset = 0): number {
  let margin = ensemble.base;
  for (const tree of ensemble.trees) margin += tree.value[leafOf(tree, x, offset)]!;
  return margin;
}

/** Margins of the `n` rows of a row-major `x` with `d` columns. */
export function treeMargins(
  ensemble: TreeEnsemble,
  x: ArrayLike<number>,
  n: number,
  d: number,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = treeMargin(ensemble, x, i * d);
  return out;
}

/**
 * Saabas attribution of a row's margin: walking each tree's path, the change of the node value at
 * every split is credited to the split's feature. `bias + Σ contributions` equals the margin exactly;
 * `bias` is the base plus every root's value (the trees' output at no information).
 */
export function saabas(
  ensemble: TreeEnsemble,
  x: ArrayLike<number>,
  offset: number,
  d: number,
): { bias: number; contributions: Float64Array } {
  const contributions = new Float64Array(d);
  let bias = ensemble.base;
  for (const tree of ensemble.trees) {
    let node = 0;
    bias += tree.value[0]!;
    while (tree.feature[node]! >= 0) {
      const f = tree.feature[node]!;
      const next = x[offset + f]! <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
      contributions[f]! += tree.value[next]! - tree.value[node]!;
      node = next;
    }
  }
  return { bias, contributions };
}

/** The logistic member's linear score β₀ + β · x. */
function logisticMargin(fusion: FusionFile, x: ArrayLike<number>, offset = 0): number {
  let z = fusion.logistic.intercept;
  const beta = fusion.logistic.coefficients;
  for (let k = 0; k < beta.length; k++) z += beta[k]! * x[offset + k]!;
  return z;
}

/** The fusion's probability of one row, in float64. */
export function fusionProbability(fusion: FusionFile, x: ArrayLike<number>, offset = 0): number {
  return (
    fusion.logistic.weight * sigmoid(logisticMargin(fusion, x, offset)) +
    fusion.trees.weight * sigmoid(treeMargin(fusion.trees.ensemble, x, offset))
  );
}

/**
 * Each input's share of the fusion's probability of one row, relative to the training mean
 * (z = 0) for the logistic member and to the trees' output at no information (Saabas) for the
 * trees: each member's logit contributions are mapped to probability by its local slope
 * σ'(z) = p(1 − p) and weighted by the member's fusion weight.
 */
export function fusionContributions(fusion: FusionFile, x: ArrayLike<number>, offset = 0): Float64Array {
  const d = fusion.inputs;
  const pl = sigmoid(logisticMargin(fusion, x, offset));
  const { contributions } = saabas(fusion.trees.ensemble, x, offset, d);
  const pt = sigmoid(treeMargin(fusion.trees.ensemble, x, offset));
  const sl = fusion.logistic.weight * pl * (1 - pl);
  const st = fusion.trees.weight * pt * (1 - pt);
  const out = new Float64Array(d);
  for (let k = 0; k < d; k++)
    out[k] = sl * fusion.logistic.coefficients[k]! * x[offset + k]! + st * contributions[k]!;
  return out;
}

/** Largest number of internal nodes and of leaves of any tree (the GEMM form's padding). */
export function treeShape(ensemble: TreeEnsemble): { internal: number; leaves: number } {
  let internal = 0;
  let leaves = 0;
  for (const tree of ensemble.trees) {
    const inner = tree.feature.filter((f) => f >= 0).length;
    internal = Math.max(internal, inner);
    leaves = Math.max(leaves, tree.feature.length - inner);
  }
  return { internal, leaves };
}
