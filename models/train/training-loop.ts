/**
 * The TF.js training loop of train.ts: seeded mini-batch order, one epoch at a time, early stopping
 * on the validation cutoff's log loss with the best epoch's weights restored; and batch prediction.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { mulberry32 } from '../../lib/random.js';
import { logLoss } from '../metrics.js';
import type { ScoringModel } from '../model-files.js';
import type { Tf } from '../tf-backend.js';
import type { Matrix } from './dataset.js';

export interface FitResult {
  epochs: number;
  bestEpoch: number;
  bestLoss: number;
}

export interface FitOptions {
  seed: number;
  maxEpochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  log: (line: string) => void;
  tag: string;
}

export function predict(tf: Tf, model: ScoringModel, m: Matrix, batchSize: number): Float32Array {
  if (m.n === 0) return new Float32Array(0);
  return tf.tidy(() => {
    const x = tf.tensor2d(m.x, [m.n, m.d]);
    return (model.predict(x, { batchSize }) as Tensor).dataSync() as Float32Array;
  });
}

/** Seeded-order mini-batch training with early stopping on validation log loss (best weights kept). */
export async function fitEarlyStopping(
  tf: Tf,
  model: LayersModel,
  train: Matrix,
  val: Matrix,
  o: FitOptions,
): Promise<FitResult> {
  const optimizer = tf.train.adam(o.learningRate);
  model.compile({ optimizer, loss: 'binaryCrossentropy' });
  const rng = mulberry32(o.seed);
  const order = Int32Array.from({ length: train.n }, (_, i) => i);
  const xs = new Float32Array(train.x.length);
  const ys = new Float32Array(train.n);
  let best: Tensor[] | undefined;
  let bestLoss = Number.POSITIVE_INFINITY;
  let bestEpoch = 0;
  let epoch = 0;
  try {
    while (epoch < o.maxEpochs) {
      epoch++;
      for (let i = train.n - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      for (let i = 0; i < train.n; i++) {
        const src = order[i]!;
        xs.set(train.x.subarray(src * train.d, (src + 1) * train.d), i * train.d);
        ys[i] = train.y[src]!;
      }
      const x = tf.tensor2d(xs, [train.n, train.d]);
      const y = tf.tensor2d(ys, [train.n, 1]);
      let trainLoss: number;
      try {
        const h = await model.fit(x, y, { batchSize: o.batchSize, epochs: 1, shuffle: false, verbose: 0 });
        trainLoss = Number(h.history['loss']?.[0]);
      } finally {
        x.dispose();
        y.dispose();
      }
      const valLoss = logLoss(predict(tf, model, val, o.batchSize), val.y);
      o.log(`${o.tag} epoch ${epoch}: loss ${trainLoss.toFixed(4)} val_loss ${valLoss.toFixed(4)}`);
      if (valLoss < bestLoss - 1e-5) {
        bestLoss = valLoss;
        bestEpoch = epoch;
        for (const w of best ?? []) w.dispose();
        best = tf.tidy(() => model.getWeights().map((w) => w.clone()));
      } else if (epoch - bestEpoch >= o.patience) {
        break;
      }
    }
    if (best) model.setWeights(best);
  } finally {
    for (const w of best ?? []) w.dispose();
    optimizer.dispose();
  }
  return { epochs: epoch, bestEpoch, bestLoss };
}
