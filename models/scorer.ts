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

  constructor(tf: Tf, loaded: LoadedModel, featureNames: readonly string[]) {
    this.#tf = tf;
    this.#loaded = loaded;
    this.name = loaded.spec.model;
    this.version = loaded.spec.version;
    this.#indexes = inputIndexes(loaded.spec, featureNames);
    this.#width = loaded.spec.inputs.length;
    this.#buffer = new Float32Array(256 * this.#width);
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
   * writing probabilities into `out[0..rows)`.
   */
  score(features: Float64Array, featureWidth: number, rows: number, out: Float32Array): void {
    if (rows === 0) return;
    this.#ensure(rows);
    for (let r = 0; r < rows; r++) this.#writeRow(r, features, r * featureWidth);
    this.#predict(rows, out);
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
