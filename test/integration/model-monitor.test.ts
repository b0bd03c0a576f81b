/**
 * The model monitor on the live stream: the UCI Online Retail file replayed on the event clock
 * gives, at cutoff 2011-09-01, a realised churn ROC AUC equal (within 0.01) to what
 * `bellwether eval --model churn --cutoff 2011-09-01` measures offline on the same data, the
 * snapshot survives a restart from the checkpoints, and the metrics show it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import type { ModelMonitorView } from '../../engine/view.js';
import { EventSimulator } from '../../feeds/simulator.js';
import { distPath, PACKAGE_ROOT } from '../../lib/paths.js';
import type { FeatureSpec } from '../../models/feature-spec.js';
import { referenceDistribution } from '../../models/monitor-metrics.js';
import {
  buildDataset,
  type DatasetEvent,
  datasetFeatureNames,
  toMatrix,
} from '../../models/train/dataset.js';
import { startEngineProcess, waitFor } from '../support/engine-process.js';
import { startStack, type TestStack } from '../support/stack.js';

const DATA = path.resolve(PACKAGE_ROOT, '../shared/data/online_retail.csv.gz');
const CUTOFF = '2011-09-01';
const ENV = {
  BW_CLOCK: 'event',
  BW_MONITOR_EPOCH: CUTOFF,
  BW_MONITOR_SNAPSHOT_DAYS: '7',
  BW_MONITOR_CHECK_SECONDS: '1',
};
let stack: TestStack;
const day = (t: number): string => new Date(t).toISOString().slice(0, 10);

/** Runs a `bellwether` command (asynchronously: the test's event loop keeps answering vitest). */
function cli(args: string[], timeout = 300_000): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [distPath('cli', 'main.js'), ...args], {
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  });
}

function snapshotAt(view: ModelMonitorView, cutoff: string) {
  return view.versions
    .flatMap((v) => v.snapshots.map((s) => ({ version: v.version, ...s })))
    .find((s) => s.cutoff === cutoff);
}

beforeAll(async () => {
  expect(existsSync(DATA), `${DATA} (../shared/data)`).toBe(true);
  stack = await startStack(4, ENV);
}, 120_000);

afterAll(async () => {
  await stack?.stop('SIGKILL');
});

describe('model monitor on the Online Retail replay', () => {
  it('reports the realised churn AUC at 2011-09-01 that bellwether eval measures offline', async () => {
    await cli(['replay', DATA, '--format', 'online-retail', '--nats-url', stack.nats.url]);
    const offline = JSON.parse(
      (await cli(['eval', '--model', 'churn', '--cutoff', CUTOFF, '--json'])).stdout,
    ) as {
      n: number;
      positives: number;
      roc_auc: number;
      pr_auc: number;
      brier: number;
    };
    const live = await waitFor(
      async () => {
        const res = await stack.engine.get('/v1/models/churn/monitor');
        if (res.status !== 200) return undefined;
        const s = snapshotAt(res.body as ModelMonitorView, CUTOFF);
        return s && s.roc_auc !== null && s.labelled === s.scored
          ? { view: res.body as ModelMonitorView, s }
          : undefined;
      },
      240_000,
      'the labelled 2011-09-01 churn snapshot',
    );
    const { view, s } = live;
    console.log(
      `churn at ${CUTOFF}: live scored ${s.scored}, positives ${s.positives}, ROC AUC ${s.roc_auc}, PR AUC ${s.pr_auc}, Brier ${s.brier}; eval rows ${offline.n}, positives ${offline.positives}, ROC AUC ${offline.roc_auc}, PR AUC ${offline.pr_auc}, Brier ${offline.brier}`,
    );
    console.log(
      `calibration ${s.calibration.map((c) => `${c.predicted?.toFixed(3)}→${c.observed?.toFixed(3)} (${c.n})`).join(', ')}; drift ${view.versions[0]!.drift.filter(
        (d) => d.window_end === CUTOFF,
      )
        .map((d) => `${d.feature} ${d.psi?.toFixed(3)}`)
        .join(', ')}`,
    );
    expect(view.model).toBe('churn');
    expect(view.label_horizon_days).toBe(90);
    expect(view.snapshot_every_days).toBe(7);
    expect(s.version).toBe('2');
    expect(Math.abs(s.roc_auc! - offline.roc_auc)).toBeLessThan(0.01);
    expect(s.calibration).toHaveLength(10);
    expect(s.calibration.reduce((n, c) => n + c.n, 0)).toBe(s.labelled);
    const drift = view.versions[0]!.drift.filter((d) => d.window_end === CUTOFF);
    expect(drift).toHaveLength(26);
    for (const d of drift) expect(d.psi).toBeGreaterThanOrEqual(0);

    const metrics = await waitFor(async () => {
      const text = (await stack.engine.get('/metrics')).text;
      return text.includes('bellwether_model_realized_auc{model="churn",version="2"}') ? text : undefined;
    }, 30_000);
    expect(metrics).toMatch(/bellwether_feature_drift_psi\{model="churn",feature="spend_90d"\} [0-9.e-]+/);
  }, 600_000);

  it('keeps the snapshots across a restart from the checkpoints', async () => {
    const before = (await stack.engine.get('/v1/models/churn/monitor')).body as ModelMonitorView;
    const dataDir = stack.engine.dataDir;
    await stack.engine.stop('SIGTERM', { keepDataDir: true });
    stack.engine = await startEngineProcess({
      ...ENV,
      BW_NATS_URL: stack.nats.url,
      BW_PARTITIONS: '4',
      BW_WORKERS: '2',
      BW_DATA_DIR: dataDir,
    });
    const after = await waitFor(async () => {
      const res = await stack.engine.get('/v1/models/churn/monitor');
      return res.status === 200 ? (res.body as ModelMonitorView) : undefined;
    });
    expect(after).toEqual(before);
  }, 120_000);
});

/** The simulated feed's customers (cli/run.ts starts the feed with seed 42 and 180 days of history). */
const SIM_CUSTOMERS = 400;
const SIM_HISTORY_DAYS = 180;

/**
 * The shipped churn/2 and intent/3 in a temporary models directory, with churn's card given the
 * reference distribution of the UNDRIFTED simulated feed (computed here, offline, from the same
 * simulator, seed and start, at `cutoffs`): against it, only what the injected drift moves can drift. (Against the Online Retail reference every input of a
 * simulated customer base is far off.)
 */
async function modelsWithSimulatedReference(startMs: number, cutoffs: number[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-monitor-models-'));
  for (const [name, version] of [
    ['churn', '2'],
    ['intent', '3'],
  ] as const)
    await cp(path.join(PACKAGE_ROOT, 'models', name, version), path.join(dir, name, version), {
      recursive: true,
    });
  const sim = new EventSimulator({ customers: SIM_CUSTOMERS, seed: 42, startMs });
  const events: DatasetEvent[] = [];
  const end = cutoffs.at(-1)!;
  for (let e = sim.next(); e.ts < end; e = sim.next()) {
    const body = JSON.parse(String(e.body)) as { customer_id?: string; type: string; amount?: number };
    if (body.customer_id !== undefined)
      events.push({ customer_id: body.customer_id, ts: e.ts, type: body.type, amount: body.amount ?? 0 });
  }
  const churnDir = path.join(dir, 'churn', '2');
  const spec = JSON.parse(await readFile(path.join(churnDir, 'features.json'), 'utf8')) as FeatureSpec;
  const names = datasetFeatureNames();
  const m = toMatrix(
    buildDataset(events, cutoffs, { eventTypes: spec.semantics?.event_types ?? [] }),
    spec.inputs,
    Int32Array.from(spec.inputs, (i) => names.indexOf(i.name)),
    'churn',
  );
  const card = JSON.parse(await readFile(path.join(churnDir, 'card.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  card['reference_distribution'] = referenceDistribution(
    m.x,
    m.n,
    spec.inputs.map((i) => i.name),
  );
  await writeFile(path.join(churnDir, 'card.json'), JSON.stringify(card));
  return dir;
}

describe('model monitor on the simulated feed with injected drift', () => {
  it('publishes a drift alert on bw.alerts.model once the amounts shift', async () => {
    const epoch = Date.UTC(2000, 0, 3);
    const week = 7 * DAY_MS;
    const startMs = Date.now() - SIM_HISTORY_DAYS * DAY_MS;
    // The reference is the undrifted feed at one cutoff (on the monitor's epoch, a week or more ago),
    // and the alert looked for is the live snapshot's at the same cutoff: only the drift differs.
    const cutoff = epoch + Math.floor((Date.now() - week - epoch) / week) * week;
    const cutoffs = [cutoff];
    const modelsDir = await modelsWithSimulatedReference(startMs, cutoffs);
    const sim = await startStack(4, {
      ...ENV,
      BW_MONITOR_EPOCH: '2000-01-03',
      BW_MODELS_DIR: modelsDir,
      BW_SIMULATE: '20000',
      BW_SIMULATE_CUSTOMERS: String(SIM_CUSTOMERS),
      BW_SIMULATE_DRIFT: '10',
    });
    try {
      type Alert = {
        body: {
          alert_id: string;
          breach: string;
          model: string;
          cutoff: string;
          features: { feature: string; psi: number }[];
        };
      };
      const alert = await waitFor(
        async () => {
          const res = await sim.engine.get('/v1/alerts?kind=model&limit=1000');
          const found = (res.body as { alerts: Alert[] }).alerts.find(
            (a) =>
              a.body.breach === 'drift' &&
              a.body.model === 'churn' &&
              a.body.cutoff === day(cutoff) &&
              a.body.features.some((f) => f.feature === 'spend_30d'),
          );
          return found?.body;
        },
        240_000,
        `a churn drift alert at ${day(cutoff)} naming spend_30d`,
      );
      const view = (await sim.engine.get('/v1/models/churn/monitor')).body as ModelMonitorView;
      const at = view.versions[0]!.drift.filter((d) => d.window_end === alert.cutoff);
      const psiOf = (feature: string) => at.find((d) => d.feature === feature)!.psi!;
      console.log(
        `drift alert at ${alert.cutoff}: ${alert.features.map((f) => `${f.feature} ${f.psi.toFixed(3)}`).join(', ')}; all inputs: ${at.map((d) => `${d.feature} ${d.psi?.toFixed(3)}`).join(', ')}`,
      );
      // The inputs the ×10 amounts move are over the threshold; those that count events are not.
      for (const f of ['spend_30d', 'spend_90d', 'avg_order_value_90d'])
        expect(psiOf(f)).toBeGreaterThan(0.2);
      for (const f of [
        'purchases_30d',
        'purchases_90d',
        'events_30d',
        'days_since_last_purchase',
        'tenure_days',
      ])
        expect(psiOf(f)).toBeLessThan(0.2);
      expect(alert.features.every((f) => /spend|order_value/.test(f.feature))).toBe(true);
      // Once per breach: the monitor checks every second, and the alert is still there once.
      await new Promise((r) => setTimeout(r, 4000));
      const alerts = (await sim.engine.get('/v1/alerts?kind=model&limit=1000')).body as { alerts: Alert[] };
      expect(alerts.alerts.filter((a) => a.body.alert_id === alert.alert_id)).toHaveLength(1);
      await rm(modelsDir, { recursive: true, force: true });
    } finally {
      await sim.stop('SIGKILL');
    }
  }, 400_000);
});
