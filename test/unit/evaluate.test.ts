import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import { rocAuc } from '../../models/metrics.js';
import { loadTf, type Tf } from '../../models/tf-backend.js';
import type { DatasetEvent } from '../../models/train/dataset.js';
import { type EvalReport, evaluateModel, metricSet } from '../../models/train/evaluate.js';
import { fitLogistic, predictLogistic } from '../../models/train/logistic.js';
import { type TrainReport, trainModel } from '../../models/train/train.js';
import { mulberry32 } from './clv-simulate.js';

const T0 = Date.UTC(2024, 0, 1);
const TRAIN = [T0 + 60 * DAY_MS, T0 + 75 * DAY_MS, T0 + 90 * DAY_MS];
const VALIDATION = T0 + 120 * DAY_MS;
const TEST = T0 + 210 * DAY_MS;

/** 400 customers buying every 3–10 days; half stop at a random day between 60 and 300. */
function syntheticEvents(): DatasetEvent[] {
  const random = mulberry32(7);
  const events: DatasetEvent[] = [];
  for (let c = 0; c < 400; c++) {
    const stop = c % 2 === 0 ? 330 : 60 + random() * 240;
    for (let day = random() * 60; day < stop; day += 3 + random() * 7) {
      events.push({
        customer_id: `c${c}`,
        type: 'purchase',
        ts: T0 + Math.round(day * DAY_MS),
        amount: 5 + random() * 50,
      });
    }
  }
  return events.sort((a, b) => a.ts - b.ts);
}

describe('logistic regression (IRLS)', () => {
  it('recovers known coefficients and ranks like them', () => {
    const random = mulberry32(3);
    const n = 4000;
    const d = 2;
    const x = new Float32Array(n * d);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 2] = random() * 4 - 2;
      x[i * 2 + 1] = random() * 4 - 2;
      const z = 1.5 * x[i * 2]! - 0.75 * x[i * 2 + 1]! + 0.25;
      y[i] = random() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    }
    const model = fitLogistic({ x, y, n, d }, { l2: 1e-6 });
    expect(model.converged).toBe(true);
    expect(model.weights[0]).toBeCloseTo(1.5, 0);
    expect(model.weights[1]).toBeCloseTo(-0.75, 0);
    expect(model.intercept).toBeCloseTo(0.25, 0);
    const probs = predictLogistic(model, { x, y, n, d });
    expect(rocAuc(probs, y)).toBeGreaterThan(0.8);
  });
});

describe('evaluateModel', () => {
  let tf: Tf;
  let dir: string;
  let modelDir: string;
  let report: EvalReport;
  let trained: TrainReport;
  const events = syntheticEvents();

  beforeAll(async () => {
    tf = (await loadTf('wasm')).tf;
    dir = await mkdtemp(path.join(tmpdir(), 'bw-eval-'));
    trained = await trainModel({
      model: 'churn',
      events,
      trainCutoffs: TRAIN,
      validationCutoff: VALIDATION,
      testCutoff: TEST,
      outDir: dir,
      version: 'e1',
      seed: 3,
      maxEpochs: 5,
      batchSize: 32,
      learningRate: 0.01,
      tf,
      log: () => {},
    });
    modelDir = trained.dir;
    report = await evaluateModel({
      modelDir,
      events,
      cutoff: TEST,
      tf,
      data: { file: 'synthetic', format: 'ndjson' },
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the issue #4 JSON shape', () => {
    const json = JSON.parse(JSON.stringify(report)) as Record<string, unknown>;
    for (const key of [
      'n',
      'positives',
      'roc_auc',
      'pr_auc',
      'brier',
      'log_loss',
      'precision_at',
      'calibration',
      'baselines',
      'random_split_70_30',
    ]) {
      expect(json).toHaveProperty(key);
    }
    expect(Object.keys(json['precision_at'] as object)).toEqual(['5%', '10%']);
    expect(json['calibration']).toHaveLength(10);
    expect(Object.keys(json['baselines'] as object)).toEqual([
      'recency',
      'bgnbd_p_alive',
      'bgnbd_p_label',
      'logistic',
    ]);
    for (const b of Object.values(json['baselines'] as Record<string, Record<string, unknown>>)) {
      expect(typeof b['roc_auc']).toBe('number');
    }
    expect((json['random_split_70_30'] as { label: string }).label).toMatch(/not out of time/);
  });

  it('agrees with the model card on the same test cutoff', () => {
    expect(report.out_of_time).toBe(true);
    expect(report.model).toMatchObject({ name: 'churn', version: 'e1', label: 'churn_90d' });
    expect(report.horizon_days).toBe(90);
    expect(report.cutoff).toBe(new Date(TEST).toISOString());
    expect(report.n).toBeGreaterThan(300);
    expect(report.positives).toBeGreaterThan(0);
    expect(report.positives).toBeLessThan(report.n);
    expect(report.calibration.reduce((s, b) => s + b.n, 0)).toBe(report.n);
    // trainModel scored the same rows with the same weights at its test cutoff.
    const test = trained.metrics;
    expect(report.n).toBe((trained.card['rows'] as { test: { n: number } }).test.n);
    expect(report.roc_auc).toBeCloseTo(test.model.roc_auc, 6);
    expect(report.brier).toBeCloseTo(test.model.brier!, 6);
    expect(report.precision_at['10%']).toBeCloseTo(test.model.precision_at_10pct, 6);
    expect(report.baselines.recency.roc_auc).toBeCloseTo(test.recency_baseline.roc_auc, 12);
  });

  it('trains the logistic baseline only on cutoffs whose labels end by the eval cutoff', () => {
    const logistic = report.baselines.logistic;
    expect('skipped' in logistic).toBe(false);
    if ('skipped' in logistic) return;
    // 60 + 90 = 150, 75 + 90 = 165, 90 + 90 = 180 ≤ 210: all three.
    expect(logistic.train_cutoffs).toEqual(TRAIN.map((t) => new Date(t).toISOString()));
    expect(logistic.train_rows).toBeGreaterThan(0);
    // The synthetic churners stop buying: recency and BG/NBD both rank them well.
    expect(report.baselines.recency.roc_auc).toBeGreaterThan(0.7);
    expect(report.baselines.bgnbd_p_alive.roc_auc).toBeGreaterThan(0.6);
    expect(report.baselines.bgnbd_p_label.brier).not.toBeNull();
    expect(report.baselines.recency.brier).toBeNull();
  });

  it('labels the random split and counts the rows the model saw', () => {
    const split = report.random_split_70_30;
    expect(split.cutoffs).toHaveLength(4);
    expect(split.rows.train + split.rows.test).toBeGreaterThan(report.n);
    expect(split.rows.train / (split.rows.train + split.rows.test)).toBeCloseTo(0.7, 2);
    expect(split.model.note).toMatch(/not retrained/);
  });

  it('is deterministic for a seed', async () => {
    const again = await evaluateModel({ modelDir, events, cutoff: TEST, tf });
    expect(again.random_split_70_30.logistic).toEqual(report.random_split_70_30.logistic);
    expect(again.roc_auc).toBe(report.roc_auc);
  });

  it('refuses a cutoff whose label window runs past the data, and flags in-sample cutoffs', async () => {
    await expect(evaluateModel({ modelDir, events, cutoff: T0 + 300 * DAY_MS, tf })).rejects.toMatchObject({
      code: 'BW_ERR_CLI_USAGE',
    });
    const early = await evaluateModel({ modelDir, events, cutoff: T0 + 150 * DAY_MS, tf });
    expect(early.out_of_time).toBe(false);
    expect(early.out_of_time_note).toMatch(/in-sample/);
    expect(early.baselines.logistic).toMatchObject({ train_cutoffs: [new Date(TRAIN[0]!).toISOString()] });
  });

  it('metricSet leaves Brier and log loss out for rankings', () => {
    const m = metricSet([3, 2, 1, 0], [1, 1, 0, 0], false);
    expect(m).toEqual({
      roc_auc: 1,
      pr_auc: 1,
      brier: null,
      log_loss: null,
      precision_at: { '5%': 1, '10%': 1 },
    });
  });
});
