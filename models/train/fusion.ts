/**
 * `bellwether train --kind fusion`: logistic regression (exact IRLS, logistic.ts) and
 * gradient-boosted trees (gbt.ts) on the same point-in-time rows and inputs as the MLP
 * (splits.ts), fused as p = w · p_logistic + (1 − w) · p_trees, w on a 0.1 grid chosen by the
 * validation cutoff's log loss (as blend.ts does for MLP + LR). The trees stop early on the same
 * validation cutoff. Every member, the fusion and a reference (the live model) are measured on the
 * test cutoff, whose label window starts after every training and validation label window ends.
 *
 * The reference also answers whether the MLP earns a place: a three-way grid (logistic, trees,
 * reference) on the validation rows says how much validation log loss it would remove. The
 * reference was itself early-stopped on the same validation cutoff, so that figure favours it.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { BellwetherError } from '../../contract/errors.js';
import { DAY_MS } from '../../contract/time.js';
import type { ReaderStats } from '../datasets/online-retail.js';
import { type FeatureSpec, inputIndexes } from '../feature-spec.js';
import {
  calibrationBins,
  expectedCalibrationError,
  logLoss,
  type ScoreMetrics,
  summarize,
} from '../metrics.js';
import { loadModelDir, type ModelCard, saveFusionDir } from '../model-files.js';
import { datasetSemantics } from '../semantics.js';
import type { Tf } from '../tf-backend.js';
import { type FusionFile, fusionProbability, sigmoid, treeMargins } from '../tree-ensemble.js';
import { CHURN_DAYS, type DatasetEvent, type DatasetRow, INTENT_DAYS, toMatrix } from './dataset.js';
import { type GbtOptions, trainGbt } from './gbt.js';
import { fitLogistic, predictLogistic } from './logistic.js';
import { matrixReference } from './reference.js';
import { trainingSplits } from './splits.js';
import { counts, LABELS, type TrainableModel } from './train.js';
import { predict } from './training-loop.js';

export interface FusionOptions {
  model: TrainableModel;
  events: readonly DatasetEvent[];
  trainCutoffs: number[];
  validationCutoff: number;
  testCutoff: number;
  outDir: string;
  version: string;
  seed?: number;
  /** Trees' hyperparameters (gbt.ts defaults otherwise); `seed` overrides theirs. */
  gbt?: GbtOptions;
  /** L2 penalty of the logistic member (default 1). */
  l2?: number;
  /** A model directory measured beside the fusion (the live model). */
  referenceDir?: string;
  /** The event types folded into the features (dataset.ts `eventTypes`; default every type): the model's semantics. */
  eventTypes?: readonly string[];
  overwrite?: boolean;
  data?: { file: string; stats?: ReaderStats };
  tf: Tf;
  log?: (line: string) => void;
}

export interface FusionReport {
  dir: string;
  spec: FeatureSpec;
  card: ModelCard;
  /** Test metrics: `model` (the fusion), `logistic_irls`, `gbt`, `reference`, `recency_baseline`. */
  metrics: Record<string, ScoreMetrics>;
  /** Whether the fusion has a lower test log loss AND a higher test ROC AUC than the reference. */
  beatsReference: boolean | null;
  durationMs: number;
}

const iso = (t: number) => new Date(t).toISOString();
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** w · a + (1 − w) · b for w on the 0.1 grid, each weight's log loss, and the best. */
export function chooseFusionWeight(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  y: ArrayLike<number>,
): { weight: number; loss: number; byWeight: Record<string, number> } {
  const mix = new Float64Array(y.length);
  const byWeight: Record<string, number> = {};
  let best = { weight: 0, loss: Number.POSITIVE_INFINITY };
  for (let k = 0; k <= 10; k++) {
    const w = k / 10;
    for (let i = 0; i < y.length; i++) mix[i] = w * a[i]! + (1 - w) * b[i]!;
    const loss = logLoss(mix, y);
    byWeight[w.toFixed(1)] = round6(loss);
    if (loss < best.loss - 1e-12) best = { weight: w, loss };
  }
  return { ...best, byWeight };
}

/** The best (logistic, trees, reference) weights on the 0.1 simplex by validation log loss. */
function threeWay(pl: ArrayLike<number>, pt: ArrayLike<number>, pr: ArrayLike<number>, y: ArrayLike<number>) {
  const mix = new Float64Array(y.length);
  let best = { logistic: 0, trees: 0, reference: 1, loss: Number.POSITIVE_INFINITY };
  for (let a = 0; a <= 10; a++)
    for (let b = 0; a + b <= 10; b++) {
      const c = 10 - a - b;
      for (let i = 0; i < y.length; i++) mix[i] = (a * pl[i]! + b * pt[i]! + c * pr[i]!) / 10;
      const loss = logLoss(mix, y);
      if (loss < best.loss - 1e-12) best = { logistic: a / 10, trees: b / 10, reference: c / 10, loss };
    }
  return { ...best, loss: round6(best.loss) };
}

interface Reference {
  version: string;
  architecture: unknown;
  val: Float32Array;
  test: Float32Array;
  lastLabelEnd: string | null;
}

async function scoreReference(
  o: FusionOptions,
  names: readonly string[],
  valRows: DatasetRow[],
  testRows: DatasetRow[],
): Promise<Reference | undefined> {
  if (!o.referenceDir) return undefined;
  const loaded = await loadModelDir(o.tf, o.referenceDir);
  try {
    const at = inputIndexes(loaded.spec, names);
    const matrix = (rows: DatasetRow[]) => toMatrix(rows, loaded.spec.inputs, at, o.model);
    const cutoffs = loaded.card?.['cutoffs'] as { train?: string[]; validation?: string } | undefined;
    const horizon = (o.model === 'churn' ? CHURN_DAYS : INTENT_DAYS) * DAY_MS;
    const fitted = [...(cutoffs?.train ?? []), ...(cutoffs?.validation ? [cutoffs.validation] : [])].map(
      Date.parse,
    );
    const lastLabelEnd = fitted.length > 0 ? Math.max(...fitted) + horizon : Number.NaN;
    if (!(lastLabelEnd <= o.testCutoff))
      throw new BellwetherError(
        'BW_ERR_CLI_USAGE',
        `reference ${o.referenceDir}: its card's label windows do not all end by the test cutoff ${iso(o.testCutoff)}`,
      );
    return {
      version: loaded.spec.version,
      architecture: loaded.card?.['architecture'] ?? null,
      val: predict(o.tf, loaded.model, matrix(valRows), 1024),
      test: predict(o.tf, loaded.model, matrix(testRows), 1024),
      lastLabelEnd: iso(lastLabelEnd),
    };
  } finally {
    loaded.model.dispose();
  }
}

export async function trainFusion(o: FusionOptions): Promise<FusionReport> {
  const started = Date.now();
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seed = o.seed ?? 42;
  const label = LABELS[o.model];
  const dir = path.join(o.outDir, o.model, o.version);
  if (existsSync(dir) && !o.overwrite)
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `${dir} exists: pass --force (the overwrite option) to replace it`,
    );
  const s = trainingSplits(o, log);
  const { train, val, test } = s;
  const l2 = o.l2 ?? 1;

  const logistic = fitLogistic(train, { l2 });
  log(
    `${o.model}: logistic regression (IRLS) ${logistic.iterations} iterations, converged ${logistic.converged}`,
  );
  const gbt = trainGbt(train, val, { ...o.gbt, seed, log });
  log(
    `${o.model}: boosted trees ${gbt.bestTrees} (validation log loss ${gbt.validationLogLoss[gbt.bestTrees]?.toFixed(5)})`,
  );
  const trees = gbt.ensemble;
  const probsOf = (m: typeof val) => ({
    logistic: predictLogistic(logistic, m),
    trees: treeMargins(trees, m.x, m.n, m.d).map(sigmoid),
  });
  const pv = probsOf(val);
  const choice = chooseFusionWeight(pv.logistic, pv.trees, val.y);
  log(
    `${o.model}: fusion weight of the logistic member ${choice.weight} (validation log loss ${choice.loss.toFixed(5)})`,
  );
  const fusion: FusionFile = {
    format: 'bellwether-fusion',
    inputs: s.inputs.length,
    logistic: {
      weight: choice.weight,
      coefficients: Array.from(logistic.weights, Math.fround),
      intercept: Math.fround(logistic.intercept),
    },
    trees: { weight: Math.round((1 - choice.weight) * 10) / 10, ensemble: trees },
  };
  const fused = (m: typeof val) =>
    Float64Array.from({ length: m.n }, (_, i) => fusionProbability(fusion, m.x, i * m.d));
  const pt = probsOf(test);
  const probs = fused(test);
  const reference = await scoreReference(o, s.names, s.valRows, s.testRows);
  const recencyAt = s.index.get('days_since_last_purchase')!;
  const sign = o.model === 'churn' ? 1 : -1;
  const metrics: Record<string, ScoreMetrics> = {
    // `model` is the shipped model (the fusion), as in the MLP cards: the console highlights it.
    model: summarize(probs, test.y, true),
    logistic_irls: summarize(pt.logistic, test.y, true),
    gbt: summarize(pt.trees, test.y, true),
    ...(reference ? { reference: summarize(reference.test, test.y, true) } : {}),
    recency_baseline: summarize(
      Float64Array.from(s.testRows, (r) => sign * r.features[recencyAt]!),
      test.y,
      false,
    ),
  };
  const beatsReference = reference
    ? metrics['model']!.log_loss! < metrics['reference']!.log_loss! &&
      metrics['model']!.roc_auc > metrics['reference']!.roc_auc
    : null;
  const reliability = calibrationBins(probs, test.y, 10);
  const horizonMs = (o.model === 'churn' ? CHURN_DAYS : INTENT_DAYS) * DAY_MS;
  const population = { feature: 'purchases_lifetime', min: 1 };
  const semantics = datasetSemantics(o.eventTypes ? { eventTypes: o.eventTypes } : {}, {
    inputs: s.inputs,
    population,
  });
  const spec: FeatureSpec = {
    model: o.model,
    version: o.version,
    label: label.name,
    inputs: s.inputs,
    population,
    semantics,
  };
  const card: ModelCard = {
    model: o.model,
    version: o.version,
    trained_at: new Date().toISOString(),
    kind: 'fusion',
    semantics,
    label: label.name,
    label_definition: label.definition,
    population:
      'customers with at least one purchase before the cutoff; features at now = cutoff from events with ts < cutoff',
    data: {
      file: o.data ? path.basename(o.data.file) : null,
      reader_stats: o.data?.stats ?? null,
      events: o.events.length,
      first_event: iso(o.events[0]!.ts),
      last_event: iso(s.lastTs),
      timestamps: 'InvoiceDate (UK local time) read as UTC',
    },
    cutoffs: { train: s.trainCutoffs.map(iso), validation: iso(o.validationCutoff), test: iso(o.testCutoff) },
    out_of_time: {
      protocol: 'every training and validation label window ends before the test cutoff',
      last_label_window_end: iso(o.validationCutoff + horizonMs),
      test_cutoff: iso(o.testCutoff),
      holds: o.validationCutoff + horizonMs <= o.testCutoff,
    },
    rows: { train: counts(train), validation: counts(val), test: counts(test) },
    inputs: s.inputs.map((i) => i.name),
    dropped_features: s.names.filter((n) => !s.inputs.some((i) => i.name === n)),
    architecture: `${fusion.logistic.weight} × logistic regression (IRLS, λ = ${l2}) + ${fusion.trees.weight} × gradient-boosted trees (${trees.trees.length} trees, depth ≤ ${gbt.options.maxDepth}, learning rate ${gbt.options.learningRate}); trees scored in TF.js in the Hummingbird GEMM form`,
    training: {
      seed,
      duration_ms: Date.now() - started,
      logistic: { l2, iterations: logistic.iterations, converged: logistic.converged },
      gbt: {
        ...gbt.options,
        trees: gbt.bestTrees,
        loss: 'binary log loss',
        histogram: `quantile bins per feature (≤ ${gbt.options.maxBins}), gradient/hessian histograms, depth-wise growth`,
        early_stopping: `validation cutoff log loss, patience ${gbt.options.patience} trees, best prefix kept`,
        best_validation_log_loss: round6(gbt.validationLogLoss[gbt.bestTrees]!),
      },
      fusion: {
        weight_logistic: fusion.logistic.weight,
        weight_trees: fusion.trees.weight,
        chosen_by: 'lowest log loss on the validation cutoff, weights 0, 0.1, …, 1',
        validation_log_loss_by_weight: choice.byWeight,
      },
      ...(reference
        ? {
            mlp_check: {
              reference_version: reference.version,
              note: 'three-way weights on the 0.1 simplex by validation log loss; the reference was early-stopped on the same validation cutoff, so this favours it',
              best: threeWay(pv.logistic, pv.trees, reference.val, val.y),
              fusion_without_reference: round6(choice.loss),
              reference_alone: round6(logLoss(reference.val, val.y)),
            },
          }
        : {}),
      attribution:
        'reasons: logistic β_k z_k (z = 0 at the training mean) and the trees’ Saabas path contributions, each mapped to probability by its member’s slope p(1 − p) and fusion weight',
    },
    metrics: {
      test: metrics,
      validation: {
        model: summarize(fused(val), val.y, true),
        logistic_irls: summarize(pv.logistic, val.y, true),
        gbt: summarize(pv.trees, val.y, true),
      },
    },
    ...(reference
      ? {
          reference: {
            version: reference.version,
            architecture: reference.architecture,
            last_label_window_end: reference.lastLabelEnd,
            beaten_by_fusion: beatsReference,
            rule: 'beaten when the fusion has both a lower test log loss and a higher test ROC AUC',
          },
        }
      : {}),
    reliability_test: reliability,
    expected_calibration_error_test: expectedCalibrationError(reliability),
    // The training rows' input distribution, for the drift monitor (docs/models.md, Monitoring).
    reference_distribution: matrixReference(
      train,
      s.inputs.map((i) => i.name),
    ),
  };
  await rm(dir, { recursive: true, force: true });
  await saveFusionDir(fusion, dir, spec, card);
  const durationMs = Date.now() - started;
  log(`${o.model}: wrote ${dir} in ${(durationMs / 1000).toFixed(1)} s`);
  return { dir, spec, card, metrics, beatsReference, durationMs };
}
