/**
 * Trains a churn or intent model on point-in-time rows (dataset.ts) and writes a model directory.
 * This file runs a training and writes its card; the rows and splits are in splits.ts, the
 * networks in networks.ts and blend.ts, the epoch loop with early stopping in training-loop.ts.
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
import type { LayersModel } from '@tensorflow/tfjs';
import { BellwetherError } from '../../contract/errors.js';
import type { ReaderStats } from '../datasets/online-retail.js';
import type { FeatureSpec } from '../feature-spec.js';
import { calibrationBins, expectedCalibrationError, type ScoreMetrics, summarize } from '../metrics.js';
import { type ModelCard, saveModelDir } from '../model-files.js';
import { datasetSemantics } from '../semantics.js';
import { loadTf, type Tf } from '../tf-backend.js';
import { type BlendChoice, blendModels, chooseBlend } from './blend.js';
import { CHURN_DAYS, type DatasetEvent, INTENT_DAYS, type Matrix } from './dataset.js';
import { predictLogistic } from './logistic.js';
import {
  averageModels,
  buildLogistic,
  buildMlp,
  describeArchitecture,
  disposeOnce,
  type MlpShape,
} from './networks.js';
import { matrixReference } from './reference.js';
import { trainingSplits } from './splits.js';
import { type FitResult, fitEarlyStopping, predict } from './training-loop.js';

export type TrainableModel = 'churn' | 'intent';

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
  /**
   * The event types the features are computed over (dataset.ts `eventTypes`; default every type):
   * recorded as the model's semantics. The file readers give theirs (datasets/load.ts FORMAT_EVENT_TYPES).
   */
  eventTypes?: readonly string[];
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

export const LABELS = {
  churn: { name: `churn_${CHURN_DAYS}d`, definition: `no purchase in [cutoff, cutoff + ${CHURN_DAYS} days)` },
  intent: {
    name: `intent_${INTENT_DAYS}d`,
    definition: `at least one purchase in [cutoff, cutoff + ${INTENT_DAYS} days)`,
  },
} as const;

export function counts(m: Matrix): { n: number; positives: number; rate: number } {
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
  const dir = path.join(opts.outDir, opts.model, opts.version);
  if (existsSync(dir) && !opts.overwrite)
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `${dir} exists: pass --force (the overwrite option) to replace it`,
    );

  const { trainCutoffs, lastTs, names, index, inputs, testRows, train, val, test } = trainingSplits(
    opts,
    log,
  );

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
    const population = { feature: 'purchases_lifetime', min: 1 };
    const semantics = datasetSemantics(opts.eventTypes ? { eventTypes: opts.eventTypes } : {}, {
      inputs,
      population,
    });
    const spec: FeatureSpec = {
      model: opts.model,
      version: opts.version,
      label: label.name,
      inputs,
      population,
      semantics,
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
      semantics,
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
      // The training rows' input distribution, for the drift monitor (docs/models.md, Monitoring).
      reference_distribution: matrixReference(
        train,
        inputs.map((i) => i.name),
      ),
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
