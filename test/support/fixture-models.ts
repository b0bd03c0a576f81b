/**
 * Test models with a known, simple function, so alert tests can predict risks exactly:
 * churn = sigmoid(0.05 · days_since_last_purchase − 5), intent = sigmoid(−0.05 · days + 2).
 * They go through the same files, loader and scorer as the shipped models.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { saveFusionDir, saveModelDir } from '../../models/model-files.js';
import { modelSemantics } from '../../models/semantics.js';
import { loadTf } from '../../models/tf-backend.js';
import { type FusionFile, fusionProbability } from '../../models/tree-ensemble.js';

export const fixtureChurn = (days: number) => 1 / (1 + Math.exp(-(0.05 * days - 5)));

export async function writeFixtureModels(
  dir?: string,
  version = 'fixture-1',
  weights: readonly (readonly [string, number, number])[] = [
    ['churn', 0.05, -5],
    ['intent', -0.05, 2],
  ],
): Promise<string> {
  dir ??= await mkdtemp(path.join(os.tmpdir(), 'bw-models-'));
  const { tf } = await loadTf('wasm');
  for (const [name, w, b] of weights) {
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 1, activation: 'sigmoid', inputShape: [1] })],
    });
    model.setWeights([tf.tensor2d([[w]]), tf.tensor1d([b])]);
    await saveModelDir(
      tf,
      model,
      path.join(dir, name, version),
      {
        model: name,
        version,
        label: name,
        inputs: [
          {
            name: 'days_since_last_purchase',
            transform: 'identity',
            fill: 365,
            min: 0,
            max: 1000,
            mean: 0,
            std: 1,
          },
        ],
        // Trained (so to speak) on every event type: the engine's full features.
        semantics: modelSemantics(EVENT_TYPES, ['days_since_last_purchase']),
      },
      { model: name, version, trained_at: new Date(0).toISOString(), note: 'test fixture' },
    );
    model.dispose();
  }
  return dir;
}

/**
 * A churn fusion over days_since_last_purchase: 0.5 × sigmoid(0.05 · days − 5) + 0.5 × sigmoid(tree),
 * the tree giving −1 up to 30 days and +1.5 above (base 0.25).
 */
export const FIXTURE_FUSION: FusionFile = {
  format: 'bellwether-fusion',
  inputs: 1,
  logistic: { weight: 0.5, coefficients: [0.05], intercept: -5 },
  trees: {
    weight: 0.5,
    ensemble: {
      base: 0.25,
      trees: [
        {
          feature: [0, -1, -1],
          threshold: [30, 0, 0],
          left: [1, -1, -1],
          right: [2, -1, -1],
          value: [0.2, -1, 1.5],
        },
      ],
    },
  },
};

export const fixtureFusionChurn = (days: number) => fusionProbability(FIXTURE_FUSION, [days]);

/** Writes FIXTURE_FUSION as `<dir>/churn/<version>` (a fusion model directory). */
export async function writeFixtureFusion(dir: string, version: string): Promise<void> {
  await saveFusionDir(
    FIXTURE_FUSION,
    path.join(dir, 'churn', version),
    {
      model: 'churn',
      version,
      label: 'churn',
      inputs: [
        {
          name: 'days_since_last_purchase',
          transform: 'identity',
          fill: 365,
          min: 0,
          max: 1000,
          mean: 0,
          std: 1,
        },
      ],
      semantics: modelSemantics(EVENT_TYPES, ['days_since_last_purchase']),
    },
    { model: 'churn', version, trained_at: new Date(0).toISOString(), kind: 'fusion', note: 'test fixture' },
  );
}
