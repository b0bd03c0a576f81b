/**
 * Test models with a known, simple function, so alert tests can predict risks exactly:
 * churn = sigmoid(0.05 · days_since_last_purchase − 5), intent = sigmoid(−0.05 · days + 2).
 * They go through the same files, loader and scorer as the shipped models.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { saveModelDir } from '../../models/model-files.js';
import { modelSemantics } from '../../models/semantics.js';
import { loadTf } from '../../models/tf-backend.js';

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
