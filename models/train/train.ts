/**
 * Trains a churn or intent model on point-in-time rows (dataset.ts) and writes a model directory.
 *
 * - Inputs: every feature that still varies in the training rows once clipped to [training min,
 *   training 99.5th percentile]; on purchase-only data (online retail) page-view, session, email ...
 *   features are constant zero and dropped. Counts, amounts and days go through log1p, trends and
 *   rates stay as they are; then standardised with the training mean/std.
 * - Model: Dense(32, relu) → Dropout(0.1) → Dense(16, relu) → Dense(1, sigmoid), Adam, binary
 *   cross-entropy WITHOUT class re-weighting (so the output stays a calibrated probability: the
 *   churn risk shown is p × 100 and alerts fire at 80) and no post-hoc scaling. Early stopping on
 *   the validation cutoff's log loss; the best epoch's weights are restored.
 * - Evaluation on the out-of-time test cutoff against a recency baseline and a logistic regression
 *   (single dense sigmoid layer, same inputs, same training loop).
 *
 * Reproducibility: weight initialisers, batch order and dropout are seeded, so a run on the same
 * backend gives the same model. Note that a seeded TF.js dropout layer draws the same mask for
 * every batch of the same shape; as batches are reshuffled every epoch, each row still gets a
 * different mask (out of batchSize masks) from epoch to epoch.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { BellwetherError } from '../../contract/errors.js';
import { DAY_MS } from '../../contract/time.js';
import { mulberry32 } from '../../lib/random.js';
import type { ReaderStats } from '../datasets/online-retail.js';
import type { FeatureSpec } from '../feature-spec.js';
import { type ModelCard, saveModelDir } from '../model-files.js';
import { loadTf, type Tf } from '../tf-backend.js';
import {
  buildDataset,
  CHURN_DAYS,
  chooseInputs,
  type DatasetEvent,
  datasetFeatureNames,
  INTENT_DAYS,
  type Matrix,
  toMatrix,
} from './dataset.js';
import { fitLogistic, predictLogistic } from './logistic.js';
import {
  calibrationBins,
  expectedCalibrationError,
  logLoss,
  type ScoreMetrics,
  summarize,
} from './metrics.js';

export type TrainableModel = 'churn' | 'intent';
export type { ScoreMetrics } from './metrics.js';

export interface TrainOptions {
  model: TrainableModel;
  events: readonly DatasetEvent[];
  trainCutoffs: number[];
  validationCutoff: number;
  testCutoff: number;
  outDir: string;
  version: string;
  seed?: number;
  /** Upper bound on epochs (default 200); early stopping usually ends sooner. */
  maxEpochs?: number;
  /** Epochs without validation improvement before stopping (default 5). */
  patience?: number;
  batchSize?: number;
  learningRate?: number;
  /** MLP hidden layer widths (default [32, 16]) and dropout after the first (default 0.1). */
  hidden?: number[];
  dropout?: number;
  /** L2 penalty on the MLP kernels (default 0). */
  l2?: number;
  /**
   * MLPs trained with successive seeds and averaged into the shipped model (default 5): averaging
   * independently initialised members lowers the variance of a small network on a small data set.
   */
  ensemble?: number;
  /**
   * Blend the MLP ensemble with an exact L2 logistic regression (IRLS, λ = 1) on the same inputs:
   * p = w · p_mlp + (1 − w) · p_logistic, w on a 0.1 grid chosen by the validation cutoff's log
   * loss (default true). The logistic part is stored as one more dense layer of the same model.
   */
  blend?: boolean;
  /** Replace an existing `outDir/<model>/<version>` (default: refuse). */
  overwrite?: boolean;
  /** Where the events came from, for the card. */
  data?: { file: string; stats?: ReaderStats };
  tf?: Tf;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface TrainReport {
  dir: string;
  spec: FeatureSpec;
  card: ModelCard;
  metrics: { model: ScoreMetrics; recency_baseline: ScoreMetrics; logistic_baseline: ScoreMetrics };
  durationMs: number;
}

interface FitResult {
  epochs: number;
  bestEpoch: number;
  bestLoss: number;
}

const LABELS = {
  churn: { name: `churn_${CHURN_DAYS}d`, definition: `no purchase in [cutoff, cutoff + ${CHURN_DAYS} days)` },
  intent: {
    name: `intent_${INTENT_DAYS}d`,
    definition: `at least one purchase in [cutoff, cutoff + ${INTENT_DAYS} days)`,
  },
} as const;

interface MlpShape {
  hidden: number[];
  dropout: number;
  l2: number;
}

function describeMlp(m: MlpShape): string {
  const layers = m.hidden.map(
    (u, i) => `Dense(${u}, relu)${i === 0 && m.dropout > 0 ? ` → Dropout(${m.dropout})` : ''}`,
  );
  return [...layers, 'Dense(1, sigmoid)'].join(' → ') + (m.l2 > 0 ? `, L2 ${m.l2}` : '');
}

function buildMlp(tf: Tf, d: number, seed: number, m: MlpShape): LayersModel {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 16 + k });
  const kernelRegularizer = m.l2 > 0 ? tf.regularizers.l2({ l2: m.l2 }) : undefined;
  const model = tf.sequential();
  m.hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        ...(i === 0 ? { inputShape: [d] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: init(i + 1),
        ...(kernelRegularizer ? { kernelRegularizer } : {}),
      }),
    );
    if (i === 0 && m.dropout > 0) model.add(tf.layers.dropout({ rate: m.dropout, seed: seed * 16 + 8 }));
  });
  model.add(
    tf.layers.dense({
      ...(m.hidden.length === 0 ? { inputShape: [d] } : {}),
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: init(15),
    }),
  );
  return model;
}

function buildLogistic(tf: Tf, d: number, seed: number): LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [d],
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 16 + 9 }),
      }),
    ],
  });
}

export function predict(tf: Tf, model: LayersModel, m: Matrix, batchSize: number): Float32Array {
  if (m.n === 0) return new Float32Array(0);
  return tf.tidy(() => {
    const x = tf.tensor2d(m.x, [m.n, m.d]);
    return (model.predict(x, { batchSize }) as Tensor).dataSync() as Float32Array;
  });
}

interface FitOptions {
  seed: number;
  maxEpochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  log: (line: string) => void;
  tag: string;
}

/** Seeded-order mini-batch training with early stopping on validation log loss (best weights kept). */
async function fitEarlyStopping(
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

function counts(m: Matrix): { n: number; positives: number; rate: number } {
  let positives = 0;
  for (let i = 0; i < m.n; i++) positives += m.y[i]!;
  return { n: m.n, positives, rate: m.n > 0 ? positives / m.n : Number.NaN };
}

const iso = (t: number) => new Date(t).toISOString();

export async function trainModel(opts: TrainOptions): Promise<TrainReport> {
  const started = Date.now();
  const tf = opts.tf ?? (await loadTf()).tf;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seed = opts.seed ?? 42;
  const batchSize = opts.batchSize ?? 256;
  const label = LABELS[opts.model];
  const horizonMs = (opts.model === 'churn' ? CHURN_DAYS : INTENT_DAYS) * DAY_MS;
  const dir = path.join(opts.outDir, opts.model, opts.version);
  if (existsSync(dir) && !opts.overwrite)
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `${dir} exists: pass --force (the overwrite option) to replace it`,
    );

  const trainCutoffs = [...opts.trainCutoffs].sort((a, b) => a - b);
  const lastTrain = trainCutoffs.at(-1);
  if (lastTrain === undefined)
    throw new BellwetherError('BW_ERR_CLI_USAGE', 'at least one training cutoff is needed');
  if (!(lastTrain < opts.validationCutoff && opts.validationCutoff < opts.testCutoff)) {
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `cutoffs must be ordered train < validation < test, got last train ${iso(lastTrain)}, validation ${iso(opts.validationCutoff)}, test ${iso(opts.testCutoff)}`,
    );
  }
  const lastTs = opts.events.at(-1)?.ts ?? Number.NEGATIVE_INFINITY;
  if (opts.testCutoff + horizonMs > lastTs) {
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `the test cutoff ${iso(opts.testCutoff)}: its label window must end by the last event ${Number.isFinite(lastTs) ? iso(lastTs) : '(none)'}, so the test cutoff must be at most ${Math.round(horizonMs / DAY_MS)} days before it`,
    );
  }

  log(`${opts.model}: building point-in-time rows for ${trainCutoffs.length + 2} cutoffs`);
  const rows = buildDataset(opts.events, [...trainCutoffs, opts.validationCutoff, opts.testCutoff]);
  const names = datasetFeatureNames();
  const trainRows = rows.filter((r) => r.cutoff <= lastTrain);
  const valRows = rows.filter((r) => r.cutoff === opts.validationCutoff);
  const testRows = rows.filter((r) => r.cutoff === opts.testCutoff);
  if (trainRows.length === 0 || valRows.length === 0 || testRows.length === 0) {
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `every split needs customers with a purchase before its cutoff, got rows train ${trainRows.length}, validation ${valRows.length}, test ${testRows.length}`,
    );
  }

  const inputs = chooseInputs(trainRows, names);
  if (inputs.length === 0)
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      'no feature varies in the training rows: the training cutoffs need more data',
    );
  const index = new Map(names.map((n, i) => [n, i]));
  const at = Int32Array.from(inputs, (i) => index.get(i.name)!);
  const train = toMatrix(trainRows, inputs, at, opts.model);
  const val = toMatrix(valRows, inputs, at, opts.model);
  const test = toMatrix(testRows, inputs, at, opts.model);
  log(`${opts.model}: ${inputs.length} inputs; rows train ${train.n}, validation ${val.n}, test ${test.n}`);

  const fitOptions = {
    seed,
    maxEpochs: opts.maxEpochs ?? 200,
    patience: opts.patience ?? 5,
    batchSize,
    learningRate: opts.learningRate ?? 1e-3,
    log,
  };
  const shape: MlpShape = { hidden: opts.hidden ?? [32, 16], dropout: opts.dropout ?? 0.1, l2: opts.l2 ?? 0 };
  const members = Math.max(1, Math.round(opts.ensemble ?? 5));
  const trained: LayersModel[] = [];
  const logistic = buildLogistic(tf, inputs.length, seed);
  let mlp: LayersModel | undefined;
  try {
    let fit: FitResult | undefined;
    for (let k = 0; k < members; k++) {
      const member = buildMlp(tf, inputs.length, seed + k, shape);
      trained.push(member);
      const result = await fitEarlyStopping(tf, member, train, val, {
        ...fitOptions,
        seed: seed + k,
        tag: `${opts.model} mlp ${k + 1}/${members}`,
      });
      fit ??= result;
    }
    mlp = members === 1 ? trained[0]! : averageModels(tf, trained, inputs.length);
    if (!fit) throw new BellwetherError('BW_ERR_INTERNAL', 'the ensemble trained no member (ensemble ≥ 1)');
    const fitLogistic = await fitEarlyStopping(tf, logistic, train, val, {
      ...fitOptions,
      learningRate: 1e-2,
      tag: `${opts.model} logistic`,
    });

    const ensemble = mlp;
    let blend: BlendChoice | undefined;
    if (opts.blend ?? true) {
      blend = chooseBlend(tf, mlp, train, val, batchSize);
      log(
        `${opts.model}: blend weight of the MLP ensemble ${blend.weight} (validation log loss ${blend.byWeight[blend.weight.toFixed(1)]?.toFixed(4)})`,
      );
      mlp = blendModels(tf, ensemble, blend, inputs.length);
    }
    const probs = predict(tf, mlp, test, batchSize);
    const recencyAt = index.get('days_since_last_purchase')!;
    const sign = opts.model === 'churn' ? 1 : -1;
    const recency = Float64Array.from(testRows, (r) => sign * r.features[recencyAt]!);
    const metrics = {
      model: summarize(probs, test.y, true),
      recency_baseline: summarize(recency, test.y, false),
      logistic_baseline: summarize(predict(tf, logistic, test, batchSize), test.y, true),
      ...(blend
        ? {
            mlp_ensemble_alone: summarize(predict(tf, ensemble, test, batchSize), test.y, true),
            logistic_irls_alone: summarize(predictLogistic(blend.logistic, test), test.y, true),
          }
        : {}),
    };
    const reliability = calibrationBins(probs, test.y, 10);
    // buildDataset emits rows only for customers with a purchase before the cutoff: the model's population.
    const spec: FeatureSpec = {
      model: opts.model,
      version: opts.version,
      label: label.name,
      inputs,
      population: { feature: 'purchases_lifetime', min: 1 },
    };
    const card: ModelCard = {
      model: opts.model,
      version: opts.version,
      trained_at: new Date().toISOString(),
      label: label.name,
      label_definition: label.definition,
      population:
        'customers with at least one purchase before the cutoff; features at now = cutoff from events with ts < cutoff',
      data: {
        file: opts.data ? path.basename(opts.data.file) : null,
        reader_stats: opts.data?.stats ?? null,
        events: opts.events.length,
        first_event: iso(opts.events[0]!.ts),
        last_event: iso(lastTs),
        timestamps: 'InvoiceDate (UK local time) read as UTC',
      },
      cutoffs: {
        train: trainCutoffs.map(iso),
        validation: iso(opts.validationCutoff),
        test: iso(opts.testCutoff),
      },
      rows: { train: counts(train), validation: counts(val), test: counts(test) },
      inputs: inputs.map((i) => i.name),
      dropped_features: names.filter((n) => !inputs.some((i) => i.name === n)),
      architecture: describeArchitecture(shape, members, seed, blend?.weight),
      training: {
        backend: tf.getBackend(),
        optimizer: 'adam',
        learning_rate: fitOptions.learningRate,
        loss: 'binary cross-entropy',
        batch_size: batchSize,
        max_epochs: fitOptions.maxEpochs,
        patience: fitOptions.patience,
        epochs_run: fit.epochs,
        best_epoch: fit.bestEpoch,
        best_validation_log_loss: fit.bestLoss,
        seed,
        duration_ms: Date.now() - started,
        class_weighting: 'none',
        calibration: 'none (unweighted cross-entropy; reliability measured on the test cutoff)',
        logistic_baseline: {
          learning_rate: 1e-2,
          epochs_run: fitLogistic.epochs,
          best_epoch: fitLogistic.bestEpoch,
        },
        ...(blend
          ? {
              blend: {
                weight_mlp: blend.weight,
                weight_logistic: Math.round((1 - blend.weight) * 10) / 10,
                logistic: 'L2 logistic regression, exact IRLS fit, λ = 1, on the training rows',
                chosen_by: 'lowest log loss on the validation cutoff, weights 0, 0.1, …, 1',
                validation_log_loss_by_weight: blend.byWeight,
              },
            }
          : {}),
      },
      metrics: {
        test: metrics,
        validation: { model: summarize(predict(tf, mlp, val, batchSize), val.y, true) },
      },
      reliability_test: reliability,
      expected_calibration_error_test: expectedCalibrationError(reliability),
    };
    await rm(dir, { recursive: true, force: true });
    await saveModelDir(tf, mlp, dir, spec, card);
    const durationMs = Date.now() - started;
    log(`${opts.model}: wrote ${dir} in ${(durationMs / 1000).toFixed(1)} s`);
    return { dir, spec, card, metrics, durationMs };
  } finally {
    if (mlp && mlp !== trained[0]) disposeOnce(mlp);
    for (const member of trained) disposeOnce(member);
    logistic.dispose();
  }
}

function describeArchitecture(shape: MlpShape, members: number, seed: number, blendWeight?: number): string {
  const mlp =
    members === 1
      ? describeMlp(shape)
      : `mean of ${members} × (${describeMlp(shape)}), seeds ${seed}..${seed + members - 1}`;
  if (blendWeight === undefined) return mlp;
  const w = blendWeight.toFixed(1);
  const rest = (1 - blendWeight).toFixed(1);
  return `${w} × [${mlp}] + ${rest} × [Dense(1, sigmoid) = L2 logistic regression (IRLS, λ = 1)]`;
}

interface BlendChoice {
  weight: number;
  logistic: ReturnType<typeof fitLogistic>;
  byWeight: Record<string, number>;
}

/** Fits the exact logistic regression and picks the blend weight on the validation rows. */
function chooseBlend(
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
function blendModels(tf: Tf, ensemble: LayersModel, blend: BlendChoice, d: number): LayersModel {
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

/** Disposes a model unless disposing the ensemble that nests it already did. */
function disposeOnce(model: LayersModel): void {
  try {
    model.dispose();
  } catch (err) {
    if (!/already disposed/i.test(String(err))) throw err;
  }
}

/** One model whose output is the mean of the members' outputs (members are nested, weights shared). */
function averageModels(tf: Tf, members: readonly LayersModel[], d: number): LayersModel {
  const input = tf.input({ shape: [d] });
  const outputs = members.map((m) => m.apply(input) as SymbolicTensor);
  return tf.model({ inputs: input, outputs: tf.layers.average().apply(outputs) as SymbolicTensor });
}
