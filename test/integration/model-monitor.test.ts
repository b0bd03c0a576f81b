/**
 * The model monitor on the live stream: the UCI Online Retail file replayed on the event clock
 * gives, at cutoff 2011-09-01, a realised churn ROC AUC equal (within 0.01) to what
 * `bellwether eval --model churn --cutoff 2011-09-01` measures offline on the same data, the
 * snapshot survives a restart from the checkpoints, and the metrics show it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelMonitorView } from '../../engine/view.js';
import { distPath, PACKAGE_ROOT } from '../../lib/paths.js';
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
