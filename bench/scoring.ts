/**
 * Scoring throughput, in its own process: rows/s of the engine's `ModelScorer.score` (feature
 * vectors → spec transform → one predict per batch → probabilities) on the live churn model, at
 * several batch sizes, against a standalone `model.predict(tensor, {batchSize: n})` on the same
 * model, backend and input values (tensor creation and reading the result included in both).
 * Feature vectors come from a `FeatureTable` fed with simulated events; every row has a purchase,
 * so every row is in the model's population and both sides predict the same rows.
 *
 *   scoring.js [--batches 64,512,4096] [--seconds 1] [--rounds 3] [--backend wasm]
 */

import { parseArgs } from 'node:util';
import type { Tensor } from '@tensorflow/tfjs';
import { parseEvent } from '../contract/event-parse.js';
import { DAY_MS } from '../contract/time.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { inputIndexes, transformValue } from '../models/feature-spec.js';
import { loadModelDir } from '../models/model-files.js';
import { liveModelDir } from '../models/registry.js';
import { ModelScorer } from '../models/scorer.js';
import { loadTf } from '../models/tf-backend.js';
import { FeatureTable } from '../operators/features/feature-table.js';
import { numberArg, report, runMain } from './lib/report.js';
import { median } from './lib/stats.js';

const TYPES = ['page_view', 'login', 'search', 'add_to_cart', 'purchase', 'campaign_touch', 'support_ticket'];

/** Feature vectors of `rows` customers with a few weeks of mixed events each. */
function featureRows(table: FeatureTable, rows: number, now: number): Float64Array {
  const encoder = new TextEncoder();
  for (let c = 0; c < rows; c++) {
    const id = `c${c}`;
    const events = 2 + (c % 12);
    for (let k = 0; k < events; k++) {
      const type = k === 0 ? 'purchase' : TYPES[(c * 31 + k * 7) % TYPES.length]!;
      const ts = new Date(now - (((c * 7 + k * 13) % 80) + k * 0.1) * DAY_MS).toISOString();
      const amount = type === 'purchase' ? `,"amount":${10 + ((c * k) % 200)}` : '';
      const body = `{"event_id":"e${c}-${k}","customer_id":"${id}","type":"${type}","ts":"${ts}"${amount}}`;
      const parsed = parseEvent(encoder.encode(body), type, id, now);
      if (!parsed.ok) throw new Error(`bench event rejected: ${parsed.reason}`);
      table.fold(table.slotFor(id), parsed.event);
    }
  }
  const width = table.names.length;
  const out = new Float64Array(rows * width);
  for (let slot = 0; slot < rows; slot++) table.features(slot, now, out, slot * width);
  return out;
}

/** Rows per second of `fn(batch)` over about `seconds`, after a warm-up of half that (JIT, kernels). */
function rate(fn: () => void, batch: number, seconds: number): number {
  const warm = performance.now();
  while (performance.now() - warm < Math.max(150, seconds * 500)) fn();
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    fn();
    calls++;
    elapsed = performance.now() - started;
  }
  return (calls * batch) / (elapsed / 1000);
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      batches: { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const batches = (values.batches ?? '64,512,4096').split(',').map(Number);
  const seconds = numberArg(values.seconds, 'seconds', 1);
  const rounds = numberArg(values.rounds, 'rounds', 3);
  const backend = values.backend === 'cpu' ? 'cpu' : values.backend === 'auto' ? 'auto' : 'wasm';
  const loaded = await loadTf(backend);
  const tf = loaded.tf;
  const dir = await liveModelDir(`${PACKAGE_ROOT}/models`, 'churn');
  const model = await loadModelDir(tf, dir);
  const table = new FeatureTable(undefined, undefined, undefined, [['purchase', 'refund']]);
  const width = table.names.length;
  const maxRows = Math.max(...batches);
  const features = featureRows(table, maxRows, Date.now());
  const scorer = new ModelScorer(tf, model, table);
  const out = new Float32Array(maxRows);

  // Standalone input: the same rows, transformed once up front.
  const spec = model.spec;
  const d = spec.inputs.length;
  const indexes = inputIndexes(spec, table.names);
  const inputs = new Float32Array(maxRows * d);
  for (let r = 0; r < maxRows; r++)
    for (let k = 0; k < d; k++)
      inputs[r * d + k] = transformValue(spec.inputs[k]!, features[r * width + indexes[k]!]!);
  let eligible = 0;
  for (let r = 0; r < maxRows; r++) if (scorer.inPopulation(features, r * width)) eligible++;

  const perBatch: Record<
    string,
    {
      engine_rows_per_s: number;
      standalone_rows_per_s: number;
      ratio: number;
      engine: number[];
      standalone: number[];
    }
  > = {};
  for (const n of batches) {
    const engine: number[] = [];
    const standalone: number[] = [];
    for (let round = 0; round < rounds; round++) {
      engine.push(rate(() => scorer.score(features, width, n, out), n, seconds));
      standalone.push(
        rate(
          () => {
            tf.tidy(() => {
              const x = tf.tensor2d(inputs.subarray(0, n * d), [n, d]);
              (model.model.predict(x, { batchSize: n }) as Tensor).dataSync();
            });
          },
          n,
          seconds,
        ),
      );
      report('progress', { batch: n, round });
    }
    const e = median(engine);
    const s = median(standalone);
    perBatch[String(n)] = {
      engine_rows_per_s: e,
      standalone_rows_per_s: s,
      ratio: e / s,
      engine,
      standalone,
    };
  }
  report('result', {
    backend: loaded.backend,
    model: `${spec.model}/${spec.version}`,
    inputs: d,
    features: width,
    eligible_fraction: eligible / maxRows,
    seconds_per_measure: seconds,
    rounds,
    per_batch: perBatch,
  });
});
