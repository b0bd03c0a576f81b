/**
 * `bellwether eval`: scores a model directory at one cutoff and compares it with baselines.
 *
 * Out of time: rows are the customers with a purchase before the cutoff, features at now = cutoff
 * (the dataset builder, i.e. the live engine's operators), labels from the horizon after it. When
 * the model's training and validation label windows all end by the cutoff, nothing the labels see
 * was used to fit the model (`out_of_time`).
 *
 * Baselines on the same rows:
 * - recency: days since the last purchase (churn: longer = riskier; intent: shorter = likelier);
 * - bgnbd_p_alive: BG/NBD fitted on the purchases before the cutoff (weeks), ranking by P(alive)
 *   (churn: 1 − P(alive));
 * - bgnbd_p_label: the same fit's probability of the label itself, P(no purchase in the horizon)
 *   for churn, 1 − that for intent (a calibrated probability, so Brier and log loss apply);
 * - logistic: L2 logistic regression (IRLS) on the model's inputs and feature spec, trained on the
 *   model card's training cutoffs whose label windows end by the cutoff (out of time too).
 *
 * `random_split_70_30` pools the rows of the card's training cutoffs and the eval cutoff, shuffles
 * them (seeded) and splits 70/30: a logistic regression trained on the 70 % and the shipped model
 * are scored on the 30 %. It is NOT out of time and is reported only because CRM plans ask for it.
 */
import { BellwetherError } from '../../contract/errors.js';
import { DAY_MS } from '../../contract/time.js';
import { mulberry32 } from '../../lib/random.js';
import { pAlive, probNoPurchase } from '../clv/bgnbd.js';
import { fitBgNbd, rfData, summarizeBefore } from '../clv/fit.js';
import { inputIndexes } from '../feature-spec.js';
import {
  brier,
  type CalibrationBin,
  calibrationBins,
  expectedCalibrationError,
  logLoss,
  prAuc,
  precisionAt,
  rocAuc,
} from '../metrics.js';
import { type LoadedModel, loadModelDir } from '../model-files.js';
import { loadTf, type Tf } from '../tf-backend.js';
import {
  buildDataset,
  CHURN_DAYS,
  type DatasetEvent,
  type DatasetRow,
  datasetFeatureNames,
  INTENT_DAYS,
  toMatrix,
} from './dataset.js';
import { fitLogistic, predictLogistic } from './logistic.js';
import { predict } from './training-loop.js';

export interface MetricSet {
  roc_auc: number;
  pr_auc: number;
  /** null for scores that are not probabilities. */
  brier: number | null;
  log_loss: number | null;
  precision_at: { '5%': number; '10%': number };
}

export interface EvaluateOptions {
  /** A model directory (`models/churn/1`). */
  modelDir: string;
  /** Events sorted by ts. */
  events: readonly DatasetEvent[];
  /** Epoch ms. */
  cutoff: number;
  /** Where the events came from, for the report. */
  data?: { file: string; format: string };
  /** Seed of the 70/30 shuffle (default 42). */
  seed?: number;
  /** L2 penalty of the logistic baselines (default 1). */
  l2?: number;
  tf?: Tf;
}

export interface EvalReport extends MetricSet {
  model: { name: string; version: string; dir: string; label: string };
  cutoff: string;
  horizon_days: number;
  out_of_time: boolean;
  out_of_time_note: string;
  data: { file: string | null; format: string | null; events: number; last_event: string | null };
  n: number;
  positives: number;
  positive_rate: number;
  calibration: CalibrationBin[];
  expected_calibration_error: number;
  baselines: {
    recency: MetricSet & { score: string };
    bgnbd_p_alive: MetricSet & {
      score: string;
      params: { r: number; alpha: number; a: number; b: number };
      note?: string;
    };
    bgnbd_p_label: MetricSet & { score: string };
    logistic: (MetricSet & { train_cutoffs: string[]; train_rows: number }) | { skipped: string };
  };
  random_split_70_30: {
    label: string;
    cutoffs: string[];
    rows: { train: number; test: number };
    logistic: MetricSet;
    model: MetricSet & { note: string };
  };
}

export function metricSet(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  probabilistic: boolean,
): MetricSet {
  return {
    roc_auc: rocAuc(scores, labels),
    pr_auc: prAuc(scores, labels),
    brier: probabilistic ? brier(scores, labels) : null,
    log_loss: probabilistic ? logLoss(scores, labels) : null,
    precision_at: { '5%': precisionAt(scores, labels, 0.05), '10%': precisionAt(scores, labels, 0.1) },
  };
}

const iso = (t: number) => new Date(t).toISOString();

interface CardCutoffs {
  train: number[];
  validation?: number;
}

function cardCutoffs(loaded: LoadedModel): CardCutoffs {
  const c = loaded.card?.['cutoffs'] as { train?: unknown; validation?: unknown } | undefined;
  const train = Array.isArray(c?.train)
    ? c.train.map((t) => Date.parse(String(t))).filter((t) => !Number.isNaN(t))
    : [];
  const validation = typeof c?.validation === 'string' ? Date.parse(c.validation) : Number.NaN;
  return Number.isNaN(validation) ? { train } : { train, validation };
}

function horizonOf(name: 'churn' | 'intent', label: string): number {
  const m = /_(\d+)d$/.exec(label);
  return m ? Number(m[1]) : name === 'churn' ? CHURN_DAYS : INTENT_DAYS;
}

export async function evaluateModel(opts: EvaluateOptions): Promise<EvalReport> {
  const tf = opts.tf ?? (await loadTf(process.env['BW_TF_BACKEND'] === 'wasm' ? 'wasm' : 'auto')).tf;
  const loaded = await loadModelDir(tf, opts.modelDir);
  try {
    const spec = loaded.spec;
    const name = spec.model;
    if (name !== 'churn' && name !== 'intent') {
      throw new BellwetherError('BW_ERR_MODEL_LOAD', `eval knows churn and intent models, not ${name}`);
    }
    const horizon = horizonOf(name, spec.label);
    const cutoff = opts.cutoff;
    const lastTs = opts.events.at(-1)?.ts ?? Number.NEGATIVE_INFINITY;
    if (cutoff + horizon * DAY_MS > lastTs) {
      throw new BellwetherError(
        'BW_ERR_CLI_USAGE',
        `--cutoff ${iso(cutoff)}: its ${horizon}-day label window ends after the last event ${Number.isFinite(lastTs) ? iso(lastTs) : '(none)'}`,
      );
    }
    const card = cardCutoffs(loaded);
    const trained = [...card.train, ...(card.validation === undefined ? [] : [card.validation])];
    const lastLabelEnd = trained.length > 0 ? Math.max(...trained) + horizon * DAY_MS : Number.NaN;
    const outOfTime = trained.length > 0 && lastLabelEnd <= cutoff;
    const honestTrain = card.train.filter((c) => c + horizon * DAY_MS <= cutoff);
    const all = [...new Set([...card.train, cutoff])].sort((a, b) => a - b);
    // Rows over the event types the model was trained on (its semantics), as the live engine feeds it.
    const eventTypes = spec.semantics ? { eventTypes: spec.semantics.event_types } : {};
    const options =
      name === 'churn' ? { churnDays: horizon, ...eventTypes } : { intentDays: horizon, ...eventTypes };
    const rows = buildDataset(opts.events, all, options);
    const at = inputIndexes(spec, datasetFeatureNames());
    const minPurchases = spec.population?.min ?? 0;
    const popAt = spec.population ? datasetFeatureNames().indexOf(spec.population.feature) : -1;
    const inPopulation = (r: DatasetRow) => popAt < 0 || r.features[popAt]! >= minPurchases;
    const matrixOf = (list: readonly DatasetRow[]) => toMatrix(list, spec.inputs, at, name);
    const scoreModel = (list: readonly DatasetRow[]) => predict(tf, loaded.model, matrixOf(list), 1024);

    const testRows = rows.filter((r) => r.cutoff === cutoff && inPopulation(r));
    if (testRows.length === 0) {
      throw new BellwetherError('BW_ERR_CLI_USAGE', `no customer with a purchase before ${iso(cutoff)}`);
    }
    const labels = Float64Array.from(testRows, (r) => r[name]);
    const probs = scoreModel(testRows);
    const calibration = calibrationBins(probs, labels, 10);

    // Recency.
    const recencyAt = datasetFeatureNames().indexOf('days_since_last_purchase');
    const sign = name === 'churn' ? 1 : -1;
    const recency = Float64Array.from(testRows, (r) => sign * r.features[recencyAt]!);

    // BG/NBD on the purchases before the cutoff, in weeks.
    const summaries = summarizeBefore(opts.events, cutoff, 'weeks');
    const bg = fitBgNbd(rfData(summaries), { standardErrors: false });
    const byId = new Map(summaries.map((s) => [s.customer_id, s]));
    const horizonWeeks = horizon / 7;
    const alive = new Float64Array(testRows.length);
    const pLabel = new Float64Array(testRows.length);
    testRows.forEach((r, i) => {
      const s = byId.get(r.customer_id);
      const pa = s ? pAlive(bg, s.x, s.t_x, s.T) : 1;
      const none = s ? probNoPurchase(bg, s.x, s.t_x, s.T, horizonWeeks) : 1;
      alive[i] = name === 'churn' ? 1 - pa : pa;
      pLabel[i] = name === 'churn' ? none : 1 - none;
    });

    // Logistic regression, out of time.
    const l2 = opts.l2 ?? 1;
    const trainRows = rows.filter((r) => honestTrain.includes(r.cutoff) && inPopulation(r));
    let logistic: EvalReport['baselines']['logistic'];
    if (trainRows.length === 0) {
      logistic = {
        skipped:
          card.train.length === 0
            ? 'the model card lists no training cutoffs'
            : `no training cutoff's ${horizon}-day label window ends by the eval cutoff`,
      };
    } else {
      const fitted = fitLogistic(matrixOf(trainRows), { l2 });
      logistic = {
        ...metricSet(predictLogistic(fitted, matrixOf(testRows)), labels, true),
        train_cutoffs: honestTrain.map(iso),
        train_rows: trainRows.length,
      };
    }

    // Random 70/30 split of the pooled rows (NOT out of time).
    const pooled = rows.filter(inPopulation);
    const random = mulberry32(opts.seed ?? 42);
    const order = pooled.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const cut = Math.round(order.length * 0.7);
    const splitTrain = order.slice(0, cut).map((i) => pooled[i]!);
    const splitTest = order.slice(cut).map((i) => pooled[i]!);
    const splitLabels = Float64Array.from(splitTest, (r) => r[name]);
    const splitLogistic = fitLogistic(matrixOf(splitTrain), { l2 });
    const seenByModel = splitTest.filter((r) => trained.includes(r.cutoff)).length;

    return {
      model: { name, version: spec.version, dir: opts.modelDir, label: spec.label },
      cutoff: iso(cutoff),
      horizon_days: horizon,
      out_of_time: outOfTime,
      out_of_time_note: outOfTime
        ? `the model's training and validation label windows end by ${iso(lastLabelEnd)} ≤ cutoff`
        : trained.length === 0
          ? 'the model card lists no cutoffs: cannot tell whether the cutoff is out of time'
          : `the model's label windows run to ${iso(lastLabelEnd)}, after the cutoff: figures are partly in-sample`,
      data: {
        file: opts.data?.file ?? null,
        format: opts.data?.format ?? null,
        events: opts.events.length,
        last_event: Number.isFinite(lastTs) ? iso(lastTs) : null,
      },
      n: testRows.length,
      positives: labels.reduce((s, y) => s + y, 0),
      positive_rate: labels.reduce((s, y) => s + y, 0) / testRows.length,
      ...metricSet(probs, labels, true),
      calibration,
      expected_calibration_error: expectedCalibrationError(calibration),
      baselines: {
        recency: {
          ...metricSet(recency, labels, false),
          score: name === 'churn' ? 'days since last purchase' : '− days since last purchase',
        },
        bgnbd_p_alive: {
          ...metricSet(alive, labels, false),
          score: name === 'churn' ? '1 − P(alive)' : 'P(alive)',
          params: { r: bg.r, alpha: bg.alpha, a: bg.a, b: bg.b },
          ...(bg.degenerate ? { note: bg.degenerate } : {}),
        },
        bgnbd_p_label: {
          ...metricSet(pLabel, labels, true),
          score:
            name === 'churn'
              ? `P(no purchase in ${horizon} days)`
              : `P(at least one purchase in ${horizon} days)`,
        },
        logistic,
      },
      random_split_70_30: {
        label:
          'RANDOM 70/30 SPLIT — not out of time: rows of the same customers and months are on both sides. ' +
          'Reported because CRM plans ask for it; judge the model by the out-of-time figures above.',
        cutoffs: all.map(iso),
        rows: { train: splitTrain.length, test: splitTest.length },
        logistic: metricSet(predictLogistic(splitLogistic, matrixOf(splitTest)), splitLabels, true),
        model: {
          ...metricSet(scoreModel(splitTest), splitLabels, true),
          note: `the shipped model, not retrained; ${seenByModel} of the ${splitTest.length} test rows come from cutoffs it was trained or validated on`,
        },
      },
    };
  } finally {
    loaded.model.dispose();
  }
}
