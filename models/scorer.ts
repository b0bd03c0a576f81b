/**
 * Batch scoring of feature vectors with one TF.js model: feature vectors → inputs (feature spec)
 * → one `predict` per batch with the real batch size → probabilities. Also explains a score:
 * the top contributing inputs, from a linear surrogate of the model fitted at load (layers
 * models) or, for the LR + trees fusion, from the logistic coefficients and the trees' Saabas
 * path attribution (tree-ensemble.ts `fusionContributions`).
 */
import path from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { BellwetherError } from '../contract/errors.js';
import { gaussian, mulberry32 } from '../lib/random.js';
import { type FeatureInput, type FeatureSpec, inputIndexes, transformValue } from './feature-spec.js';
import { compilePlan, type InferencePlan, PLAN_MAX_ROWS } from './inference-plan.js';
import { isFusion, type LoadedModel, type ModelCard } from './model-files.js';
import { checkSemantics } from './semantics.js';
import type { Tf } from './tf-backend.js';
import { fusionContributions } from './tree-ensemble.js';

const LOG1P_TABLE_SIZE = 4096;
/** Largest difference between the plan and `model.predict` accepted at load (float32 rounding). */
const PLAN_TOLERANCE = 1e-5;
export const LOG1P_TABLE = Float64Array.from({ length: LOG1P_TABLE_SIZE }, (_, i) => Math.log1p(i));

export type RowWriter = (
  features: Float64Array,
  offset: number,
  buffer: Float32Array,
  base: number,
  log1pTable: Float64Array,
) => void;

/** A number as a JavaScript literal (finite, ±Infinity or NaN), for generated code. */
function literal(x: number): string {
  const n = Number(x);
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  return `(${String(n)})`;
}

/**
 * The spec's transform (feature-spec.ts `transformValue`: fill NaN, clamp, optional signed log1p,
 * standardise) compiled into one straight-line function per model, with every input's position and
 * constants inlined: the loop over per-input arrays and its branches were most of `score`'s JS
 * time at large batches. Only numbers from the spec reach the generated source. Small
 * non-negative integers (counts) take their log1p from a table of the same Math.log1p values.
 */
export function compileRowWriter(inputs: readonly FeatureInput[], indexes: Int32Array): RowWriter {
  const lines = inputs.map((input, k) => {
    const steps = [
      `v = f[o + ${indexes[k]}];`,
      `if (v !== v) v = ${literal(input.fill)};`,
      `if (v < ${literal(input.min)}) v = ${literal(input.min)}; else if (v > ${literal(input.max)}) v = ${literal(input.max)};`,
    ];
    if (input.transform === 'log1p')
      steps.push(
        `v = v >= 0 && v < ${LOG1P_TABLE_SIZE} && v === Math.floor(v) ? t[v] : v < 0 ? -Math.log1p(-v) : Math.log1p(v);`,
      );
    steps.push(`b[base + ${k}] = (v - ${literal(input.mean)}) * ${literal(1 / input.std)};`);
    return steps.join(' ');
  });
  return new Function('f', 'o', 'b', 'base', 't', `'use strict'; let v; ${lines.join('\n')}`) as RowWriter;
}

export interface Reason {
  feature: string;
  value: number | null;
  /** 'raises' when this feature's value pushes the probability up, 'lowers' otherwise. */
  direction: 'raises' | 'lowers';
  /** Change in probability (× 100, risk points) attributable to the feature. */
  impact: number;
}

/** The feature vectors a scorer reads: their names, and the views over event-type subsets (a FeatureTable). */
export interface FeatureLayout {
  readonly names: readonly string[];
  /** The view computing features over exactly `types`: 0 for every type, -1 when none is kept. */
  viewOf(types: readonly string[]): number;
}

export class ModelScorer {
  readonly name: string;
  /** The registry folder's name: the one version of the model everywhere (features.json's is not read). */
  readonly version: string;
  /** The event types the model was trained on (its semantics), and the feature view computed over them. */
  readonly eventTypes: readonly string[];
  readonly view: number;
  /** The model's feature spec (features.json) and card (card.json, when there is one). */
  readonly spec: FeatureSpec;
  readonly card: ModelCard | undefined;
  readonly #tf: Tf;
  readonly #loaded: LoadedModel;
  readonly #indexes: Int32Array;
  readonly #width: number;
  readonly #rowWriter: RowWriter;
  #buffer: Float32Array;
  /** Linear surrogate of the model's logit: [intercept, w_1 … w_d] over standardised inputs. */
  #surrogate: Float64Array = new Float64Array(0);
  #surrogateR2 = 0;
  #eligible = new Int32Array(256);
  #scratch = new Float32Array(256);
  /** Index of the population feature in the full vector, or -1 when every row is in. */
  readonly #population: number;
  readonly #populationMin: number;
  /** The model as a short op chain for batches up to PLAN_MAX_ROWS (inference-plan.ts), if it compiles. */
  #plan: InferencePlan | undefined;
  /** How batches are scored: the plan's summary, or why there is none. */
  readonly inference: string;

  constructor(tf: Tf, loaded: LoadedModel, layout: FeatureLayout) {
    const featureNames = layout.names;
    this.#tf = tf;
    this.#loaded = loaded;
    this.name = loaded.spec.model;
    this.version = path.basename(loaded.dir);
    this.eventTypes = checkSemantics(loaded.spec, this.version);
    this.view = layout.viewOf(this.eventTypes);
    if (this.view < 0)
      throw new BellwetherError(
        'BW_ERR_MODEL_SEMANTICS',
        `model ${this.name} version ${this.version} reads features over ${this.eventTypes.join(', ')} only: the workers keep no such feature view (they keep those of the registry's models at start); restart the engine to add it`,
        { data: { model: this.name, version: this.version, missing: [`view ${this.eventTypes.join('+')}`] } },
      );
    this.spec = loaded.spec;
    this.card = loaded.card;
    this.#indexes = inputIndexes(loaded.spec, featureNames);
    this.#width = loaded.spec.inputs.length;
    this.#rowWriter = compileRowWriter(loaded.spec.inputs, this.#indexes);
    this.#buffer = new Float32Array(256 * this.#width);
    const population = loaded.spec.population;
    this.#population = population ? featureNames.indexOf(population.feature) : -1;
    this.#populationMin = population?.min ?? 0;
    if (population && this.#population < 0) {
      throw new BellwetherError(
        'BW_ERR_MODEL_SHAPE',
        `model ${this.name} version ${this.version}: population feature ${population.feature} is not one of the engine's ${featureNames.length} features`,
      );
    }
    // The fusion explains itself exactly (logistic β·z + Saabas): no surrogate, no load-time batch.
    if (isFusion(loaded.model)) this.#surrogateR2 = Number.NaN;
    else this.#fitSurrogate();
    this.inference = this.#preparePlan();
  }

  /**
   * Compiles the plan and checks it against `model.predict` on the surrogate's random rows (still
   * in the buffer): kept only when every probability agrees to float32 rounding.
   */
  #preparePlan(): string {
    const model = this.#loaded.model;
    if (isFusion(model)) return model.summary;
    const compiled = compilePlan(this.#tf, model);
    if (!compiled.plan) return `model.predict (no plan: ${compiled.reason})`;
    const rows = PLAN_MAX_ROWS;
    const expected = new Float32Array(rows);
    const got = new Float32Array(rows);
    this.#predictWith(undefined, rows, expected);
    this.#predictWith(compiled.plan, rows, got);
    let worst = 0;
    for (let i = 0; i < rows; i++) worst = Math.max(worst, Math.abs(expected[i]! - got[i]!));
    if (!(worst <= PLAN_TOLERANCE)) {
      compiled.plan.dispose();
      return `model.predict (plan differs by ${worst})`;
    }
    this.#plan = compiled.plan;
    return `plan of ${compiled.plan.summary} up to ${PLAN_MAX_ROWS} rows, model.predict above`;
  }

  get inputs(): readonly string[] {
    return this.#loaded.spec.inputs.map((i) => i.name);
  }

  /** Fills row `row` of the input buffer from a full feature vector (the spec's transform). */
  #writeRow(row: number, features: Float64Array, featureOffset: number): void {
    this.#rowWriter(features, featureOffset, this.#buffer, row * this.#width, LOG1P_TABLE);
  }

  #ensure(rows: number): void {
    if (this.#buffer.length < rows * this.#width) {
      let size = this.#buffer.length / this.#width;
      while (size < rows) size *= 2;
      this.#buffer = new Float32Array(size * this.#width);
    }
  }

  #predict(rows: number, out: Float32Array): void {
    this.#predictWith(rows <= PLAN_MAX_ROWS ? this.#plan : undefined, rows, out);
  }

  /** Probabilities of the first `rows` rows of the buffer, by `plan` or (undefined) `model.predict`. */
  #predictWith(plan: InferencePlan | undefined, rows: number, out: Float32Array): void {
    const tf = this.#tf;
    // The tensor leaves tidy, not its data: tidy would otherwise walk every element of the array.
    const y = tf.tidy(() => {
      const x = tf.tensor2d(this.#buffer.subarray(0, rows * this.#width), [rows, this.#width]);
      return plan ? plan.run(x) : (this.#loaded.model.predict(x, { batchSize: rows }) as Tensor);
    });
    try {
      out.set((y.dataSync() as Float32Array).subarray(0, rows));
    } finally {
      y.dispose();
    }
  }

  /**
   * Scores `rows` feature vectors stored back to back in `features` (each `featureWidth` long),
   * writing probabilities into `out[0..rows)`; rows outside the model's population get NaN.
   */
  score(features: Float64Array, featureWidth: number, rows: number, out: Float32Array): void {
    if (rows === 0) return;
    this.#ensure(rows);
    this.#eligible = this.#eligible.length >= rows ? this.#eligible : new Int32Array(rows * 2);
    let n = 0;
    for (let r = 0; r < rows; r++) {
      if (this.inPopulation(features, r * featureWidth)) {
        this.#writeRow(n, features, r * featureWidth);
        this.#eligible[n++] = r;
      } else {
        out[r] = Number.NaN;
      }
    }
    if (n === 0) return;
    if (n === rows) {
      this.#predict(rows, out);
      return;
    }
    this.#scratch = this.#scratch.length >= n ? this.#scratch : new Float32Array(n * 2);
    this.#predict(n, this.#scratch);
    for (let k = 0; k < n; k++) out[this.#eligible[k]!] = this.#scratch[k]!;
  }

  /** Whether the feature vector at `offset` belongs to the population the model was trained on. */
  inPopulation(features: Float64Array, offset: number): boolean {
    return this.#population < 0 || features[offset + this.#population]! >= this.#populationMin;
  }

  /**
   * Top `k` reasons behind the score of one feature vector, from the model's linear surrogate:
   * input k contributes w_k · z_k to the logit (z_k its standardised value, w_k fitted at load), which
   * moves the probability by about p(1 − p) · w_k · z_k. No TF.js call: cheap enough for every answer.
   */
  explain(features: Float64Array, featureOffset: number, probability: number, k = 3): Reason[] {
    const inputs = this.#loaded.spec.inputs;
    const slope = Number.isFinite(probability) ? probability * (1 - probability) : 0.25;
    const model = this.#loaded.model;
    // The fusion: each input's exact share by member (logistic β_k z_k, trees' Saabas path), on the
    // float32 inputs the trees compare.
    const shares = isFusion(model)
      ? fusionContributions(
          model.file,
          Float32Array.from(inputs, (input, j) =>
            transformValue(input, features[featureOffset + this.#indexes[j]!]!),
          ),
        )
      : undefined;
    const reasons: Reason[] = [];
    for (let j = 0; j < this.#width; j++) {
      const value = features[featureOffset + this.#indexes[j]!]!;
      const delta = shares ? shares[j]! : slope * this.#surrogate[j + 1]! * transformValue(inputs[j]!, value);
      reasons.push({
        feature: inputs[j]!.name,
        value: Number.isNaN(value) ? null : value,
        direction: delta >= 0 ? 'raises' : 'lowers',
        impact: Math.round(Math.abs(delta) * 10000) / 100,
      });
    }
    return reasons.sort((a, b) => b.impact - a.impact).slice(0, k);
  }

  /** How well the linear surrogate reproduces the model's logit on its fitting sample (R²); NaN for the fusion. */
  get surrogateFit(): number {
    return this.#surrogateR2;
  }

  /**
   * Fits logit(model(z)) ≈ w_0 + Σ w_k z_k by least squares on standard-normal inputs z (seeded),
   * the region the standardised features live in.
   */
  #fitSurrogate(): void {
    const d = this.#width;
    const n = Math.max(512, 64 * (d + 1));
    this.#ensure(n);
    const normal = gaussian(mulberry32(0x2545f491));
    for (let i = 0; i < n * d; i++) this.#buffer[i] = normal();
    const probs = new Float32Array(n);
    this.#predict(n, probs);
    const m = d + 1;
    const xtx = new Float64Array(m * m);
    const xty = new Float64Array(m);
    const row = new Float64Array(m);
    const ys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = Math.min(Math.max(probs[i]!, 1e-6), 1 - 1e-6);
      const y = Math.log(p / (1 - p));
      ys[i] = y;
      row[0] = 1;
      for (let k = 0; k < d; k++) row[k + 1] = this.#buffer[i * d + k]!;
      for (let a = 0; a < m; a++) {
        xty[a]! += row[a]! * y;
        for (let b = 0; b < m; b++) xtx[a * m + b]! += row[a]! * row[b]!;
      }
    }
    for (let a = 1; a < m; a++) xtx[a * m + a]! += 1e-6 * n; // a touch of ridge
    this.#surrogate = solve(xtx, xty, m);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += ys[i]!;
    mean /= n;
    let ssRes = 0;
    let ssTot = 0;
    for (let i = 0; i < n; i++) {
      let fit = this.#surrogate[0]!;
      for (let k = 0; k < d; k++) fit += this.#surrogate[k + 1]! * this.#buffer[i * d + k]!;
      ssRes += (ys[i]! - fit) ** 2;
      ssTot += (ys[i]! - mean) ** 2;
    }
    this.#surrogateR2 = ssTot > 0 ? 1 - ssRes / ssTot : 1;
  }

  dispose(): void {
    this.#plan?.dispose();
    this.#plan = undefined;
    this.#loaded.model.dispose();
  }
}

/** Solves the symmetric positive-definite system A x = b (Gaussian elimination with partial pivoting). */
function solve(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const A = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let c = 0; c < m; c++) {
    let pivot = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(A[r * m + c]!) > Math.abs(A[pivot * m + c]!)) pivot = r;
    if (pivot !== c) {
      for (let k = 0; k < m; k++) {
        const t = A[c * m + k]!;
        A[c * m + k] = A[pivot * m + k]!;
        A[pivot * m + k] = t;
      }
      const t = x[c]!;
      x[c] = x[pivot]!;
      x[pivot] = t;
    }
    const diag = A[c * m + c]!;
    if (Math.abs(diag) < 1e-12) continue;
    for (let r = c + 1; r < m; r++) {
      const f = A[r * m + c]! / diag;
      if (f === 0) continue;
      for (let k = c; k < m; k++) A[r * m + k]! -= f * A[c * m + k]!;
      x[r]! -= f * x[c]!;
    }
  }
  for (let c = m - 1; c >= 0; c--) {
    let sum = x[c]!;
    for (let k = c + 1; k < m; k++) sum -= A[c * m + k]! * x[k]!;
    const diag = A[c * m + c]!;
    x[c] = Math.abs(diag) < 1e-12 ? 0 : sum / diag;
  }
  return x;
}
