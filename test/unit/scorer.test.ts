import path from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS } from '../../contract/time.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { type FeatureInput, transformValue } from '../../models/feature-spec.js';
import { PLAN_MAX_ROWS } from '../../models/inference-plan.js';
import { type LoadedModel, loadModelDir } from '../../models/model-files.js';
import { liveModelDir, MODEL_NAMES } from '../../models/registry.js';
import { compileRowWriter, LOG1P_TABLE, ModelScorer } from '../../models/scorer.js';
import { type LoadedTf, loadTf } from '../../models/tf-backend.js';
import { FeatureTable } from '../../operators/features/feature-table.js';

const MODELS = path.join(PACKAGE_ROOT, 'models');
const NOW = Date.UTC(2026, 5, 1);
let tf: LoadedTf;

/** A table of `customers` (500) with varied purchase histories, and their feature vectors at NOW. */
function population(customers = 500): { table: FeatureTable; features: Float64Array } {
  const table = new FeatureTable(undefined, undefined, undefined, [['purchase', 'refund']]);
  let seed = 7;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let c = 0; c < customers; c++) {
    const slot = table.slotFor(`c${c}`);
    const n = 1 + Math.floor(rand() * 12);
    for (let i = 0; i < n; i++) {
      table.fold(slot, {
        typeIndex: eventTypeIndex('purchase'),
        ts: NOW - rand() * 360 * DAY_MS,
        amount: rand() * 300,
      });
    }
  }
  const width = table.names.length;
  const features = new Float64Array(customers * width);
  for (let slot = 0; slot < customers; slot++) table.features(slot, NOW, features, slot * width);
  return { table, features };
}

beforeAll(async () => {
  tf = await loadTf('wasm');
});

describe.each(MODEL_NAMES)('shipped %s model', (name) => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadModelDir(tf.tf, await liveModelDir(MODELS, name));
  });

  it('scores a batch exactly as model.predict does on the spec-transformed inputs', () => {
    const { table, features } = population();
    const scorer = new ModelScorer(tf.tf, loaded, table);
    const width = table.names.length;
    const out = new Float32Array(500);
    scorer.score(features, width, 500, out);
    const index = loaded.spec.inputs.map((input) => table.names.indexOf(input.name));
    const rows = Array.from({ length: 500 }, (_, r) =>
      loaded.spec.inputs.map((input, k) => transformValue(input, features[r * width + index[k]!]!)),
    );
    const expected = tf.tf.tidy(() => (loaded.model.predict(tf.tf.tensor2d(rows)) as Tensor).dataSync());
    for (let r = 0; r < 500; r++) {
      expect(out[r]).toBeGreaterThanOrEqual(0);
      expect(out[r]).toBeLessThanOrEqual(1);
      expect(out[r]).toBeCloseTo(expected[r]!, 5);
    }
    // Scores differ across customers: the model reads its inputs.
    expect(new Set(Array.from(out, (p) => p.toFixed(3))).size).toBeGreaterThan(20);
  });

  it('scores small batches with its compiled plan, to float32 rounding of model.predict', () => {
    const { table, features } = population(PLAN_MAX_ROWS + 1);
    const scorer = new ModelScorer(tf.tf, loaded, table);
    expect(scorer.inference).toMatch(/^plan of \d+ fused matMul/);
    const width = table.names.length;
    const index = loaded.spec.inputs.map((input) => table.names.indexOf(input.name));
    for (const batch of [1, 7, 64, PLAN_MAX_ROWS, PLAN_MAX_ROWS + 1]) {
      const out = new Float32Array(batch);
      scorer.score(features, width, batch, out);
      const rows = Array.from({ length: batch }, (_, r) =>
        loaded.spec.inputs.map((input, k) => transformValue(input, features[r * width + index[k]!]!)),
      );
      const expected = tf.tf.tidy(() => (loaded.model.predict(tf.tf.tensor2d(rows)) as Tensor).dataSync());
      for (let r = 0; r < batch; r++) expect(Math.abs(out[r]! - expected[r]!)).toBeLessThan(1e-5);
    }
  });

  it('keeps the TF.js tensor count flat over many batches and explanations', () => {
    const { table, features } = population();
    const scorer = new ModelScorer(tf.tf, loaded, table);
    const width = table.names.length;
    const out = new Float32Array(500);
    scorer.score(features, width, 500, out);
    scorer.explain(features, 0, out[0]!);
    const before = tf.tf.memory().numTensors;
    for (let i = 0; i < 300; i++) {
      scorer.score(features, width, 1 + (i % 500), out);
      if (i % 10 === 0) scorer.explain(features, (i % 500) * width, out[i % 500]!);
    }
    expect(tf.tf.memory().numTensors).toBe(before);
  });

  it('explains a score with its three strongest inputs, from a faithful linear surrogate', () => {
    const { table, features } = population();
    const scorer = new ModelScorer(tf.tf, loaded, table);
    // The surrogate reproduces the model's logit well where standardised inputs live.
    expect(scorer.surrogateFit).toBeGreaterThan(0.8);
    const out = new Float32Array(500);
    scorer.score(features, table.names.length, 500, out);
    const reasons = scorer.explain(features, 3 * table.names.length, out[3]!);
    expect(reasons).toHaveLength(3);
    for (const r of reasons) {
      expect(loaded.spec.inputs.map((i) => i.name)).toContain(r.feature);
      expect(['raises', 'lowers']).toContain(r.direction);
      expect(r.impact).toBeGreaterThanOrEqual(0);
    }
    expect(reasons[0]!.impact).toBeGreaterThanOrEqual(reasons[2]!.impact);
  });

  it('gives no score to customers outside the population the model was trained on', () => {
    expect(loaded.spec.population).toEqual({ feature: 'purchases_lifetime', min: 1 });
    const table = new FeatureTable(undefined, undefined, undefined, [['purchase', 'refund']]);
    const browser = table.slotFor('browser');
    table.fold(browser, { typeIndex: eventTypeIndex('page_view'), ts: NOW - DAY_MS, amount: 0 });
    const buyer = table.slotFor('buyer');
    table.fold(buyer, { typeIndex: eventTypeIndex('purchase'), ts: NOW - DAY_MS, amount: 10 });
    const width = table.names.length;
    const features = new Float64Array(2 * width);
    table.features(browser, NOW, features, 0);
    table.features(buyer, NOW, features, width);
    const scorer = new ModelScorer(tf.tf, loaded, table);
    const out = new Float32Array(2);
    scorer.score(features, width, 2, out);
    expect(out[0]).toBeNaN();
    expect(out[1]).toBeGreaterThan(0);
    expect(out[1]).toBeLessThan(1);
  });
});

describe('compiled input transform', () => {
  it('matches transformValue on fills, clamps, signed log1p and table lookups', () => {
    const input = (over: Partial<FeatureInput>): FeatureInput => ({
      name: 'x',
      fill: 0,
      min: Number.NEGATIVE_INFINITY,
      max: Number.POSITIVE_INFINITY,
      transform: 'identity',
      mean: 0,
      std: 1,
      ...over,
    });
    const inputs = [
      input({ fill: 3.5, mean: 1.25, std: 0.5 }),
      input({ min: -2, max: 40, transform: 'log1p', mean: 0.7, std: 1.3 }),
      input({ transform: 'log1p', fill: -1, mean: -0.1, std: 2 }),
      input({ min: 0, max: 1e-7, mean: 1e-8, std: 3e-8 }),
    ];
    const values = [Number.NaN, -5, -1.5, -0, 0, 0.25, 1, 7, 39.9, 40, 41, 4095, 4096, 1e9, 123.456];
    const writer = compileRowWriter(inputs, Int32Array.of(3, 2, 1, 0));
    const buffer = new Float32Array(inputs.length);
    for (const a of values)
      for (const b of values) {
        const features = Float64Array.of(b, a, b, a);
        writer(features, 0, buffer, 0, LOG1P_TABLE);
        const expected = inputs.map((spec, k) => transformValue(spec, features[[3, 2, 1, 0][k]!]!));
        for (const [k, e] of expected.entries()) expect(buffer[k]).toBeCloseTo(Math.fround(e), 4);
      }
  });
});
