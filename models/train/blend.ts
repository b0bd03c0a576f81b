/**
 * The shipped model's blend: the MLP ensemble mixed with an exact L2 logistic regression (IRLS) on
 * the same inputs, the weight chosen on the validation cutoff, both held in one TF.js model.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import { logLoss } from '../metrics.js';
import type { Tf } from '../tf-backend.js';
import type { Matrix } from './dataset.js';
import { fitLogistic, predictLogistic } from './logistic.js';
import { predict } from './training-loop.js';

export interface BlendChoice {
  weight: number;
  logistic: ReturnType<typeof fitLogistic>;
  byWeight: Record<string, number>;
}

/** Fits the exact logistic regression and picks the blend weight on the validation rows. */
export function chooseBlend(
  tf: Tf,
  ensemble: LayersModel,
  train: Matrix,
  val: Matrix,
  batchSize: number,
): BlendChoice {
  const logistic = fitLogistic(train, { l2: 1 });
  const pm = predict(tf, ensemble, val, batchSize);
  const pl = predictLogistic(logistic, val);
  const byWeight: Record<string, number> = {};
  let best = { weight: 1, loss: Number.POSITIVE_INFINITY };
  const mix = new Float64Array(val.n);
  for (let k = 0; k <= 10; k++) {
    const w = k / 10;
    for (let i = 0; i < val.n; i++) mix[i] = w * pm[i]! + (1 - w) * pl[i]!;
    const loss = logLoss(mix, val.y);
    byWeight[w.toFixed(1)] = Math.round(loss * 1e6) / 1e6;
    if (loss < best.loss - 1e-12) best = { weight: w, loss };
  }
  return { weight: best.weight, logistic, byWeight };
}

/** One model: w × the ensemble's output + (1 − w) × a dense sigmoid layer holding the logistic fit. */
export function blendModels(tf: Tf, ensemble: LayersModel, blend: BlendChoice, d: number): LayersModel {
  const input = tf.input({ shape: [d] });
  const dense = tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'logistic_irls' });
  const pLogistic = dense.apply(input) as SymbolicTensor;
  tf.tidy(() =>
    dense.setWeights([
      tf.tensor2d(Float32Array.from(blend.logistic.weights), [d, 1]),
      tf.tensor1d([blend.logistic.intercept]),
    ]),
  );
  const pMlp = ensemble.apply(input) as SymbolicTensor;
  const both = tf.layers.concatenate().apply([pMlp, pLogistic]) as SymbolicTensor;
  const mixer = tf.layers.dense({ units: 1, useBias: false, trainable: false, name: 'blend' });
  const out = mixer.apply(both) as SymbolicTensor;
  tf.tidy(() => mixer.setWeights([tf.tensor2d([blend.weight, 1 - blend.weight], [2, 1])]));
  return tf.model({ inputs: input, outputs: out });
}
