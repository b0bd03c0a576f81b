/**
 * Batch scoring of feature vectors with one TF.js model: feature vectors → inputs (feature spec)
 * → one `predict` per batch with the real batch size → probabilities. Also explains a score:
 * the top contributing inputs, found by replacing each input with its training mean (z = 0) and
 * measuring how the probability moves. Explanations cost one extra batch of d rows per explained
 * customer, so they are computed only where they are published (alerts).
 */
import type { Tensor } from '@tensorflow/tfjs';
import { inputIndexes, transformValue } from './feature-spec.js';
import type { LoadedModel } from './model-files.js';
import type { Tf } from './tf-backend.js';

export interface Reason {
  feature: string;
  value: number | null;
  /** 'raises' when this feature's value pushes the probability up, 'lowers' otherwise. */
  direction: 'raises' | 'lowers';
  /** Change in probability (× 100, risk points) attributable to the feature. */
  impact: number;
}

export class ModelScorer {
  readonly name: string;
  readonly version: string;
  readonly #tf: Tf;
  readonly #loaded: LoadedModel;
  readonly #indexes: Int32Array;
  readonly #width: number;
  #buffer: Float32Array;
  #eligible = new Int32Array(256);
  #scratch = new Float32Array(256);
  /** Index of the population feature in the full vector, or -1 when every row is in. */
  readonly #population: number;
  readonly #populationMin: number;

  constructor(tf: Tf, loaded: LoadedModel, featureNames: readonly string[]) {
    this.#tf = tf;
    this.#loaded = loaded;
    this.name = loaded.spec.model;
    this.version = loaded.spec.version;
    this.#indexes = inputIndexes(loaded.spec, featureNames);
    this.#width = loaded.spec.inputs.length;
    this.#buffer = new Float32Array(256 * this.#width);
    const population = loaded.spec.population;
    this.#population = population ? featureNames.indexOf(population.feature) : -1;
    this.#populationMin = population?.min ?? 0;
    if (population && this.#population < 0) {
      throw new Error(`model ${loaded.spec.model} population reads unknown feature ${population.feature}`);
    }
  }

  get inputs(): readonly string[] {
    return this.#loaded.spec.inputs.map((i) => i.name);
  }

  /** Fills row `row` of the input buffer from a full feature vector. */
  #writeRow(row: number, features: Float64Array, featureOffset: number): void {
    const inputs = this.#loaded.spec.inputs;
    const base = row * this.#width;
    for (let k = 0; k < this.#width; k++) {
      this.#buffer[base + k] = transformValue(inputs[k]!, features[featureOffset + this.#indexes[k]!]!);
    }
  }

  #ensure(rows: number): void {
    if (this.#buffer.length < rows * this.#width) {
      let size = this.#buffer.length / this.#width;
      while (size < rows) size *= 2;
      this.#buffer = new Float32Array(size * this.#width);
    }
  }

  #predict(rows: number, out: Float32Array): void {
    const tf = this.#tf;
    const result = tf.tidy(() => {
      const x = tf.tensor2d(this.#buffer.subarray(0, rows * this.#width), [rows, this.#width]);
      return (this.#loaded.model.predict(x, { batchSize: rows }) as Tensor).dataSync();
    });
    out.set(result.subarray(0, rows));
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

  /** Top `k` reasons behind the score of one feature vector. */
  explain(features: Float64Array, featureOffset: number, k = 3): Reason[] {
    const d = this.#width;
    this.#ensure(d + 1);
    this.#writeRow(0, features, featureOffset);
    for (let j = 1; j <= d; j++) {
      this.#buffer.copyWithin(j * d, 0, d);
      this.#buffer[j * d + (j - 1)] = 0;
    }
    const probs = new Float32Array(d + 1);
    this.#predict(d + 1, probs);
    const base = probs[0]!;
    const inputs = this.#loaded.spec.inputs;
    const reasons: Reason[] = [];
    for (let j = 0; j < d; j++) {
      const delta = base - probs[j + 1]!;
      const value = features[featureOffset + this.#indexes[j]!]!;
      reasons.push({
        feature: inputs[j]!.name,
        value: Number.isNaN(value) ? null : value,
        direction: delta >= 0 ? 'raises' : 'lowers',
        impact: Math.round(Math.abs(delta) * 10000) / 100,
      });
    }
    return reasons.sort((a, b) => b.impact - a.impact).slice(0, k);
  }

  dispose(): void {
    this.#loaded.model.dispose();
  }
}
