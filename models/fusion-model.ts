/**
 * The LR + boosted-trees fusion (tree-ensemble.ts) scored with TF.js ops on the engine's backend.
 *
 * The trees are compiled to tensors in the GEMM form of Hummingbird (Nakandala et al., OSDI 2020),
 * every tree padded to the same number of internal nodes I and leaves L, as three batched matMuls
 * (one batch entry per tree) and two `step`s, with x' = [x, 1]:
 * 1. A (T × (d+1) × (I+1)): column i of tree t holds −1 at its node's feature and B' = the next
 *    float32 above its threshold in the last row, so x' · A = B' − x[f], and step (> 0) gives
 *    cond = 1 exactly where x[f] ≤ threshold (the row goes left). The extra column I is the
 *    constant 1. X·A multiplies one input by −1 and the constant by 1, so the sign is exact;
 * 2. C (T × (I+1) × L): +1 where leaf l lies in node i's left subtree, −1 in its right subtree,
 *    0 otherwise, and 0.5 − D_l in the last row (D_l = how many of leaf l's ancestors it is left
 *    of). cond · C − 0.5 reaches its maximum D_l only on the row's own path, so step(cond · C)
 *    is the leaf one-hot;
 * 3. the one-hot times E (T × L × 1, the leaf values), summed over the trees, plus the base margin,
 *    through the sigmoid.
 * Padding nodes (zero column, bias 0 → cond 0) touch no leaf; padding leaves have 0.5 − D = −10⁴.
 * Broadcast comparisons (lessEqual/equal against B and D) were measured 5–10× slower on wasm than
 * the matMul + step form, hence the folded constants.
 *
 * The logistic member is one fused matMul with a sigmoid; the output is
 * w_logistic · p_logistic + w_trees · p_trees, shape [n, 1] like a layers model's. Rows are scored
 * in chunks of {@link FUSION_CHUNK_ROWS} to bound the T × n × L intermediate.
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor3D } from '@tensorflow/tfjs';
import type { Tf } from './tf-backend.js';
import { type FusionFile, treeShape } from './tree-ensemble.js';

/** The smallest float32 above `x` (x finite). */
function nextFloat32Up(x: number): number {
  const f = new Float32Array([Math.fround(x)]);
  const bits = new Int32Array(f.buffer);
  if (f[0] === 0) bits[0] = 1;
  else if (f[0]! > 0) bits[0]!++;
  else bits[0]!--;
  return f[0]!;
}

const FUSION_CHUNK_ROWS = 512;

export class FusionModel {
  readonly file: FusionFile;
  /** e.g. `fusion: logistic 0.3 + 120 trees (GEMM, 15 internal / 16 leaves per tree)` */
  readonly summary: string;
  readonly #tf: Tf;
  readonly #trees: number;
  readonly #tensors: {
    a: Tensor3D;
    c: Tensor3D;
    e: Tensor3D;
    beta: Tensor2D;
    intercept: Tensor1D;
  };

  constructor(tf: Tf, file: FusionFile) {
    this.#tf = tf;
    this.file = file;
    const d = file.inputs;
    const trees = file.trees.ensemble.trees;
    const shape = treeShape(file.trees.ensemble);
    const I = Math.max(1, shape.internal);
    const L = Math.max(1, shape.leaves);
    const T = Math.max(1, trees.length);
    this.#trees = trees.length;
    const J = I + 1;
    const A = new Float32Array(T * (d + 1) * J);
    const C = new Float32Array(T * J * L);
    const E = new Float32Array(T * L);
    trees.forEach((tree, t) => {
      // Internal nodes and leaves numbered in node order; then each leaf's ancestors, from its root path.
      const innerIndex = new Map<number, number>();
      const leafIndex = new Map<number, number>();
      tree.feature.forEach((f, node) => {
        if (f >= 0) innerIndex.set(node, innerIndex.size);
        else leafIndex.set(node, leafIndex.size);
      });
      const a = (row: number, col: number) => (t * (d + 1) + row) * J + col;
      for (const [node, i] of innerIndex) {
        A[a(tree.feature[node]!, i)] = -1;
        A[a(d, i)] = nextFloat32Up(tree.threshold[node]!);
      }
      A[a(d, I)] = 1;
      for (let l = 0; l < L; l++) C[(t * J + I) * L + l] = -1e4;
      const walk = (node: number, path: [number, 1 | -1][]) => {
        const i = innerIndex.get(node);
        if (i === undefined) {
          const l = leafIndex.get(node)!;
          let lefts = 0;
          for (const [ancestor, side] of path) {
            C[(t * J + ancestor) * L + l] = side;
            if (side === 1) lefts++;
          }
          C[(t * J + I) * L + l] = 0.5 - lefts;
          E[t * L + l] = tree.value[node]!;
          return;
        }
        walk(tree.left[node]!, [...path, [i, 1]]);
        walk(tree.right[node]!, [...path, [i, -1]]);
      };
      walk(0, []);
    });
    this.#tensors = {
      a: tf.tensor3d(A, [T, d + 1, J]),
      c: tf.tensor3d(C, [T, J, L]),
      e: tf.tensor3d(E, [T, L, 1]),
      beta: tf.tensor2d(Float32Array.from(file.logistic.coefficients), [d, 1]),
      intercept: tf.tensor1d([file.logistic.intercept]),
    };
    this.summary = `fusion: logistic ${file.logistic.weight} + trees ${file.trees.weight} × ${trees.length} trees (GEMM, ${shape.internal} internal / ${shape.leaves} leaves per tree at most)`;
  }

  /** Number of model inputs. */
  get inputCount(): number {
    return this.file.inputs;
  }

  /** The trees' margins (log-odds) of the rows of `x`, shape [n]. */
  margins(x: Tensor2D): Tensor1D {
    const tf = this.#tf;
    const n = x.shape[0];
    if (this.#trees === 0) return tf.fill([n], this.file.trees.ensemble.base) as Tensor1D;
    return tf.tidy(() => {
      const t = this.#tensors;
      const x1 = tf.reshape(tf.concat([x, tf.ones([n, 1])], 1), [1, n, x.shape[1] + 1]);
      const cond = tf.step(tf.matMul(x1, t.a)) as Tensor3D;
      const leaf = tf.step(tf.matMul(cond, t.c)) as Tensor3D;
      const values = tf.sum(tf.matMul(leaf, t.e), [0, 2]);
      return tf.add(values, this.file.trees.ensemble.base) as Tensor1D;
    });
  }

  #chunk(x: Tensor2D): Tensor2D {
    const tf = this.#tf;
    return tf.tidy(() => {
      const t = this.#tensors;
      const pl = tf.fused.matMul({ a: x, b: t.beta, bias: t.intercept, activation: 'sigmoid' });
      const pt = tf.reshape(tf.sigmoid(this.margins(x)), [-1, 1]);
      return tf.add(tf.mul(pl, this.file.logistic.weight), tf.mul(pt, this.file.trees.weight)) as Tensor2D;
    });
  }

  /** Probabilities [n, 1] of the rows of `x` ([n, d]); `args` is accepted for a layers model's signature. */
  predict(x: Tensor, _args?: { batchSize?: number }): Tensor {
    const tf = this.#tf;
    const x2 = x as Tensor2D;
    const n = x2.shape[0];
    if (n <= FUSION_CHUNK_ROWS) return this.#chunk(x2);
    return tf.tidy(() => {
      const parts: Tensor2D[] = [];
      for (let start = 0; start < n; start += FUSION_CHUNK_ROWS) {
        const size = Math.min(FUSION_CHUNK_ROWS, n - start);
        parts.push(this.#chunk(tf.slice(x2, [start, 0], [size, x2.shape[1]])));
      }
      return tf.concat(parts, 0);
    });
  }

  dispose(): void {
    for (const t of Object.values(this.#tensors)) t.dispose();
  }
}
