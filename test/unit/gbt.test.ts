/**
 * Gradient-boosted trees (models/train/gbt.ts) and their TF.js inference (models/fusion-model.ts):
 * a split known by construction, determinism with a seed, and the GEMM form equal to the trees'
 * own JavaScript evaluation on every row of point-in-time rows built from the Online Retail data.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { loadEvents } from '../../models/datasets/load.js';
import { FusionModel } from '../../models/fusion-model.js';
import { loadModelDir, saveFusionDir } from '../../models/model-files.js';
import { ModelScorer } from '../../models/scorer.js';
import { datasetSemantics } from '../../models/semantics.js';
import { loadTf, type Tf } from '../../models/tf-backend.js';
import type { Matrix } from '../../models/train/dataset.js';
import { chooseFusionWeight } from '../../models/train/fusion.js';
import { binEdges, trainGbt } from '../../models/train/gbt.js';
import { fitLogistic } from '../../models/train/logistic.js';
import { type TrainingSplits, trainingSplits } from '../../models/train/splits.js';
import {
  type FusionFile,
  fusionContributions,
  fusionProbability,
  saabas,
  sigmoid,
  treeMargin,
} from '../../models/tree-ensemble.js';

const RETAIL = path.join(PACKAGE_ROOT, '../shared/data/online_retail.csv.gz');
const day = (d: string) => Date.parse(`${d}T00:00:00Z`);

let tf: Tf;
let splits: TrainingSplits;

beforeAll(async () => {
  tf = (await loadTf('wasm')).tf;
  const { events } = await loadEvents(RETAIL, 'online-retail');
  splits = trainingSplits(
    {
      model: 'churn',
      events,
      trainCutoffs: ['2011-03-01', '2011-04-01', '2011-05-01'].map(day),
      validationCutoff: day('2011-06-01'),
      testCutoff: day('2011-09-01'),
    },
    () => {},
  );
}, 120_000);

/** x0 = 0 … 199 (one row each), x1 = noise; y = 1 exactly when x0 ≥ 100. */
function stepData(): Matrix {
  const n = 200;
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i * 2] = i;
    x[i * 2 + 1] = (i * 7919) % 13;
    y[i] = i >= 100 ? 1 : 0;
  }
  return { x, y, n, d: 2 };
}

describe('gradient-boosted trees', () => {
  it('splits a step function at its step, with the leaf values of one Newton step', () => {
    const data = stepData();
    const { ensemble } = trainGbt(data, data, {
      maxTrees: 1,
      maxDepth: 1,
      learningRate: 1,
      lambda: 1,
      minSamplesLeaf: 1,
      subsample: 1,
    });
    const [tree] = ensemble.trees;
    expect(ensemble.base).toBe(0); // logit(0.5)
    expect(tree!.feature[0]).toBe(0);
    expect(tree!.threshold[0]).toBe(99);
    // p = 0.5 everywhere: G_left = 100 · 0.5, H_left = 100 · 0.25 → −50 / (25 + 1).
    expect(tree!.value[tree!.left[0]!]).toBeCloseTo(-50 / 26, 6);
    expect(tree!.value[tree!.right[0]!]).toBeCloseTo(50 / 26, 6);
    expect(tree!.feature[tree!.left[0]!]).toBe(-1);
    expect(treeMargin(ensemble, [99, 0])).toBeLessThan(0);
    expect(treeMargin(ensemble, [100, 0])).toBeGreaterThan(0);
  });

  it('takes at most maxBins quantile edges, each a training value below the largest', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i % 400);
    const edges = binEdges(values, 16);
    expect(edges.length).toBeLessThanOrEqual(15);
    expect(edges.length).toBeGreaterThan(10);
    for (let i = 1; i < edges.length; i++) expect(edges[i]!).toBeGreaterThan(edges[i - 1]!);
    for (const e of edges) expect(Number.isInteger(e) && e < 399).toBe(true);
    expect(Array.from(binEdges(Float32Array.from([3, 1, 2, 2]), 255))).toEqual([1, 2]);
  });

  it('stops early on the validation log loss and keeps the best prefix', () => {
    const { train, val } = splits;
    const result = trainGbt(train, val, { maxTrees: 400, learningRate: 0.3, maxDepth: 5, patience: 10 });
    expect(result.bestTrees).toBe(result.ensemble.trees.length);
    expect(result.validationLogLoss.length).toBeLessThan(401);
    const best = Math.min(...result.validationLogLoss);
    expect(result.validationLogLoss[result.bestTrees]).toBe(best);
    expect(result.validationLogLoss.length - 1 - result.bestTrees).toBe(11);
  });

  it('trains the same trees from the same seed, and other trees from another', () => {
    const { train, val } = splits;
    const options = { maxTrees: 15, subsample: 0.7, patience: 100 };
    const a = trainGbt(train, val, { ...options, seed: 5 });
    const b = trainGbt(train, val, { ...options, seed: 5 });
    const c = trainGbt(train, val, { ...options, seed: 6 });
    expect(a.ensemble.trees.length).toBe(15);
    expect(b.ensemble).toEqual(a.ensemble);
    expect(b.validationLogLoss).toEqual(a.validationLogLoss);
    expect(c.ensemble).not.toEqual(a.ensemble);
  });
});

describe('the fusion in TF.js (GEMM form)', () => {
  let fusion: FusionFile;
  let model: FusionModel;
  let tensorsBefore: number;

  beforeAll(() => {
    const { train } = splits;
    // Early stopping on the training rows themselves: the loss falls with every tree, all 80 stay.
    const gbt = trainGbt(train, train, { maxTrees: 80, maxDepth: 5, learningRate: 0.1, patience: 200 });
    const logistic = fitLogistic(train, { l2: 1 });
    fusion = {
      format: 'bellwether-fusion',
      inputs: train.d,
      logistic: {
        weight: 0.3,
        coefficients: Array.from(logistic.weights, Math.fround),
        intercept: Math.fround(logistic.intercept),
      },
      trees: { weight: 0.7, ensemble: gbt.ensemble },
    };
    tensorsBefore = tf.memory().numTensors;
    model = new FusionModel(tf, fusion);
  });

  afterAll(() => {
    model.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('equals the JavaScript evaluation on every row of the training, validation and test cutoffs', () => {
    expect(fusion.trees.ensemble.trees.length).toBe(80);
    let rows = 0;
    let worstMargin = 0;
    let worstProbability = 0;
    for (const m of [splits.train, splits.val, splits.test]) {
      const { margins, probs } = tf.tidy(() => {
        const x = tf.tensor2d(m.x, [m.n, m.d]);
        return {
          margins: model.margins(x).dataSync(),
          probs: (model.predict(x) as Tensor).dataSync(),
        };
      });
      expect(probs.length).toBe(m.n);
      for (let i = 0; i < m.n; i++) {
        worstMargin = Math.max(
          worstMargin,
          Math.abs(margins[i]! - treeMargin(fusion.trees.ensemble, m.x, i * m.d)),
        );
        worstProbability = Math.max(
          worstProbability,
          Math.abs(probs[i]! - fusionProbability(fusion, m.x, i * m.d)),
        );
      }
      rows += m.n;
    }
    expect(rows).toBe(splits.train.n + splits.val.n + splits.test.n);
    expect(rows).toBeGreaterThan(10_000);
    expect(worstMargin).toBeLessThanOrEqual(1e-4);
    expect(worstProbability).toBeLessThanOrEqual(1e-5);
  });

  it('leaves no tensor behind per batch', () => {
    const before = tf.memory().numTensors;
    const m = splits.test;
    const rows = 600; // two chunks
    for (let k = 0; k < 2; k++)
      tf.tidy(() =>
        (model.predict(tf.tensor2d(m.x.subarray(0, rows * m.d), [rows, m.d])) as Tensor).dataSync(),
      );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('scores through the engine’s ModelScorer as the JavaScript evaluation, with the attribution as reasons', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bw-fusion-'));
    try {
      // The rows fold every event type (no eventTypes given): the semantics of the full feature view.
      const spec = {
        model: 'churn',
        version: 'f1',
        label: 'churn_90d',
        inputs: splits.inputs,
        semantics: datasetSemantics({}, { inputs: splits.inputs }),
      };
      await saveFusionDir(fusion, path.join(dir, 'churn', 'f1'), spec, {
        model: 'churn',
        version: 'f1',
        trained_at: new Date(0).toISOString(),
      });
      const loaded = await loadModelDir(tf, path.join(dir, 'churn', 'f1'));
      const scorer = new ModelScorer(tf, loaded, { names: splits.names, viewOf: () => 0 });
      try {
        expect(scorer.surrogateFit).toBeNaN();
        expect(scorer.inference).toMatch(/^fusion: logistic 0.3 \+ trees 0.7 × 80 trees \(GEMM/);
        const rows = splits.testRows;
        const width = splits.names.length;
        const features = new Float64Array(rows.length * width);
        rows.forEach((r, i) => {
          features.set(r.features, i * width);
        });
        const out = new Float32Array(rows.length);
        scorer.score(features, width, rows.length, out);
        let worst = 0;
        for (let i = 0; i < rows.length; i++)
          worst = Math.max(
            worst,
            Math.abs(out[i]! - fusionProbability(fusion, splits.test.x, i * splits.test.d)),
          );
        expect(worst).toBeLessThanOrEqual(1e-5);
        const reasons = scorer.explain(features, 0, out[0]!, 3);
        const shares = fusionContributions(fusion, splits.test.x, 0);
        const top = Array.from(shares, (v, k) => ({ k, v })).sort(
          (a, b) => Math.abs(b.v) - Math.abs(a.v),
        )[0]!;
        expect(reasons).toHaveLength(3);
        expect(reasons[0]!.feature).toBe(splits.inputs[top.k]!.name);
        expect(reasons[0]!.direction).toBe(top.v >= 0 ? 'raises' : 'lowers');
        expect(reasons[0]!.impact).toBeCloseTo(Math.abs(top.v) * 100, 1);
      } finally {
        scorer.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('attributes each row’s margin exactly along its paths (Saabas)', () => {
    const m = splits.test;
    for (let i = 0; i < 200; i++) {
      const { bias, contributions } = saabas(fusion.trees.ensemble, m.x, i * m.d, m.d);
      const sum = contributions.reduce((s, c) => s + c, bias);
      expect(sum).toBeCloseTo(treeMargin(fusion.trees.ensemble, m.x, i * m.d), 9);
      const shares = fusionContributions(fusion, m.x, i * m.d);
      expect(shares.some((s) => s !== 0)).toBe(true);
    }
  });
});

describe('fusion weight', () => {
  it('picks the member with the lower log loss when the other is noise', () => {
    const y = Float64Array.from({ length: 400 }, (_, i) => i % 2);
    const good = Float64Array.from(y, (v) => (v ? 0.8 : 0.2));
    const noise = Float64Array.from(y, (_, i) => sigmoid(Math.sin(i * 12.9898) * 3));
    const choice = chooseFusionWeight(good, noise, y);
    expect(choice.weight).toBeGreaterThanOrEqual(0.9);
    expect(Object.keys(choice.byWeight)).toHaveLength(11);
    expect(choice.byWeight[choice.weight.toFixed(1)]).toBeCloseTo(choice.loss, 6);
  });
});
