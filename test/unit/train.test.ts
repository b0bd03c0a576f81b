import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import { inputIndexes, transformValue } from '../../models/feature-spec.js';
import { rocAuc } from '../../models/metrics.js';
import { isFusion, loadModelDir } from '../../models/model-files.js';
import { specFeatures } from '../../models/semantics.js';
import { loadTf, type Tf } from '../../models/tf-backend.js';
import { buildDataset, type DatasetEvent } from '../../models/train/dataset.js';
import { type TrainReport, trainModel } from '../../models/train/train.js';
import { FEATURE_NAMES } from '../../operators/features/registry.js';

const T0 = Date.UTC(2024, 0, 1);
const TRAIN = [T0 + 120 * DAY_MS, T0 + 135 * DAY_MS, T0 + 150 * DAY_MS];
const VALIDATION = T0 + 180 * DAY_MS;
const TEST = T0 + 210 * DAY_MS;

/** A seeded PRNG so the synthetic data is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 400 customers buying every 3–10 days from a random start. Half keep buying to the end (day 330);
 * the other half stop at a random day between 60 and 300: at any cutoff, churners are those who
 * stopped before it (long recency) or are about to.
 */
function syntheticEvents(): DatasetEvent[] {
  const random = rng(7);
  const events: DatasetEvent[] = [];
  for (let c = 0; c < 400; c++) {
    const id = `c${c}`;
    const stop = c % 2 === 0 ? 330 : 60 + random() * 240;
    for (let day = random() * 60; day < stop; day += 3 + random() * 7) {
      events.push({
        customer_id: id,
        type: 'purchase',
        ts: T0 + Math.round(day * DAY_MS),
        amount: 5 + random() * 50,
      });
      if (random() < 0.05)
        events.push({ customer_id: id, type: 'refund', ts: T0 + Math.round((day + 1) * DAY_MS), amount: 3 });
    }
  }
  return events.sort((a, b) => a.ts - b.ts);
}

describe('trainModel', () => {
  let tf: Tf;
  let dir: string;
  let report: TrainReport;
  let tensorsBefore: number;
  let tensorsAfterTraining: number;
  const events = syntheticEvents();

  beforeAll(async () => {
    process.env['BW_TF_BACKEND'] = 'wasm';
    tf = (await loadTf('wasm')).tf;
    dir = await mkdtemp(path.join(tmpdir(), 'bw-train-'));
    tensorsBefore = tf.memory().numTensors;
    report = await trainModel({
      model: 'churn',
      events,
      trainCutoffs: TRAIN,
      validationCutoff: VALIDATION,
      testCutoff: TEST,
      outDir: dir,
      version: 't1',
      seed: 3,
      maxEpochs: 3,
      batchSize: 32,
      learningRate: 0.01,
      data: { file: '/somewhere/synthetic.csv.gz' },
      eventTypes: ['purchase', 'refund'],
      tf,
      log: () => {},
    });
    tensorsAfterTraining = tf.memory().numTensors;
  }, 30_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('disposes every tensor it creates', () => {
    expect(tensorsAfterTraining).toBe(tensorsBefore);
  });

  it('writes model.json, weights.bin, features.json and card.json', async () => {
    expect(report.dir).toBe(path.join(dir, 'churn', 't1'));
    expect((await readdir(report.dir)).sort()).toEqual([
      'card.json',
      'features.json',
      'model.json',
      'weights.bin',
    ]);
    const card = JSON.parse(await readFile(path.join(report.dir, 'card.json'), 'utf8'));
    expect(card).toMatchObject({ model: 'churn', version: 't1', label: 'churn_90d' });
    expect(card.data.file).toBe('synthetic.csv.gz');
    expect(card.cutoffs.test).toBe(new Date(TEST).toISOString());
    expect(card.rows.test.n).toBeGreaterThan(100);
    expect(card.reliability_test).toHaveLength(10);
    expect(Object.keys(card.metrics.test)).toEqual([
      'model',
      'recency_baseline',
      'logistic_baseline',
      'mlp_ensemble_alone',
      'logistic_irls_alone',
    ]);
    expect(typeof card.trained_at).toBe('string');
  });

  it('blends the ensemble with the exact logistic regression at the weight the validation cutoff prefers', async () => {
    const card = JSON.parse(await readFile(path.join(report.dir, 'card.json'), 'utf8'));
    const blend = card.training.blend as {
      weight_mlp: number;
      validation_log_loss_by_weight: Record<string, number>;
    };
    const losses = Object.entries(blend.validation_log_loss_by_weight);
    expect(losses).toHaveLength(11);
    const best = Math.min(...losses.map(([, l]) => l));
    expect(blend.validation_log_loss_by_weight[blend.weight_mlp.toFixed(1)]).toBe(best);
    const { model, mlp_ensemble_alone: mlp, logistic_irls_alone: logistic } = card.metrics.test;
    // The blend is a mixture of the two: its log loss is at most the worse of theirs (convexity).
    expect(model.log_loss).toBeLessThanOrEqual(Math.max(mlp.log_loss, logistic.log_loss) + 1e-9);
    if (blend.weight_mlp === 1) expect(model.roc_auc).toBeCloseTo(mlp.roc_auc, 6);
    if (blend.weight_mlp === 0) expect(model.roc_auc).toBeCloseTo(logistic.roc_auc, 6);
    expect(card.architecture).toMatch(/L2 logistic regression \(IRLS, λ = 1\)/);
  });

  it('chooses varying inputs with a valid spec', () => {
    const names = report.spec.inputs.map((i) => i.name);
    expect(names).toContain('days_since_last_purchase');
    expect(names).not.toContain('page_views_24h');
    expect(names).not.toContain('sessions_7d');
    for (const n of names) expect(FEATURE_NAMES).toContain(n);
    for (const input of report.spec.inputs) {
      expect(input.max).toBeGreaterThan(input.min);
      expect(input.std).toBeGreaterThan(0);
      expect(Number.isFinite(input.mean)).toBe(true);
    }
  });

  it('refuses to overwrite a version unless asked', async () => {
    await expect(
      trainModel({
        model: 'churn',
        events,
        trainCutoffs: TRAIN,
        validationCutoff: VALIDATION,
        testCutoff: TEST,
        outDir: dir,
        version: 't1',
        tf,
        log: () => {},
      }),
    ).rejects.toThrow(/exists/);
  });

  it('rejects a test cutoff whose label window runs past the data', async () => {
    await expect(
      trainModel({
        model: 'churn',
        events,
        trainCutoffs: TRAIN,
        validationCutoff: VALIDATION,
        testCutoff: T0 + 300 * DAY_MS,
        outDir: dir,
        version: 't2',
        tf,
        log: () => {},
      }),
    ).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE', message: expect.stringMatching(/label window/) });
  });

  it('loads back and separates the classes on the test cutoff', async () => {
    const before = tf.memory().numTensors;
    const loaded = await loadModelDir(tf, report.dir);
    try {
      expect(loaded.spec.model).toBe('churn');
      const model = loaded.model;
      if (isFusion(model)) throw new Error('train --kind mlp wrote a fusion');
      expect(model.inputs[0]!.shape[1]).toBe(loaded.spec.inputs.length);
      // The semantics of what it was trained on, in features.json and in the card alike.
      expect(loaded.spec.semantics?.event_types).toEqual(['purchase', 'refund']);
      expect(Object.keys(loaded.spec.semantics!.features).sort()).toEqual(specFeatures(loaded.spec).sort());
      expect(loaded.spec.semantics!.features['purchases_lifetime']).toEqual(['purchase']);
      expect(loaded.card?.['semantics']).toEqual(loaded.spec.semantics);
      const rows = buildDataset(events, [TEST]);
      const at = inputIndexes(loaded.spec, FEATURE_NAMES);
      const missing = loaded.spec.inputs[0]!.name;
      expect(() =>
        inputIndexes(
          loaded.spec,
          FEATURE_NAMES.filter((n) => n !== missing),
        ),
      ).toThrow(
        expect.objectContaining({ code: 'BW_ERR_MODEL_SHAPE', message: expect.stringContaining(missing) }),
      );
      const d = at.length;
      const x = new Float32Array(rows.length * d);
      rows.forEach((r, i) => {
        for (let k = 0; k < d; k++)
          x[i * d + k] = transformValue(loaded.spec.inputs[k]!, r.features[at[k]!]!);
      });
      const probs = tf.tidy(() =>
        (loaded.model.predict(tf.tensor2d(x, [rows.length, d]), { batchSize: 64 }) as Tensor).dataSync(),
      );
      expect(probs.length).toBe(rows.length);
      for (const p of probs) {
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
      }
      const auc = rocAuc(
        probs,
        rows.map((r) => r.churn),
      );
      expect(auc).toBeGreaterThan(0.75);
      expect(auc).toBeCloseTo(report.metrics.model.roc_auc, 5);
    } finally {
      loaded.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
