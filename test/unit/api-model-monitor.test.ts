/**
 * GET /v1/models/:name/monitor over a fake engine view whose workers answer two partitions' monitor
 * state: the answer's exact shape, metrics computed on the union of the partitions (not averaged),
 * null metrics before the labels, drift per input, the key it needs, and 404 for another model;
 * and which snapshots count as breaches for `bw.alerts.model`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorMerge } from '../../engine/pool/monitor-merge.js';
import type { MonitorEntryJSON, MonitorReport } from '../../engine/state/partition-monitor.js';
import { mulberry32 } from '../../lib/random.js';
import { brier, rocAuc } from '../../models/metrics.js';
import { addScore, emptyHistogram, histogramToJSON, psi } from '../../models/monitor-metrics.js';
import { type ApiHarness, auth, startApi } from '../support/api-server.js';

let api: ApiHarness;
const CUTOFF = Date.UTC(2011, 8, 1);
const LATER = CUTOFF + 7 * 86_400_000;

/** Scores and labels of one partition, with their labelled entry. */
function partitionEntry(seed: number, n: number): { p: number[]; y: number[]; entry: MonitorEntryJSON } {
  const r = mulberry32(seed);
  const p: number[] = [];
  const y: number[] = [];
  const hist = emptyHistogram();
  for (let i = 0; i < n; i++) {
    const label = r() < 0.45 ? 1 : 0;
    const score = Math.min(0.999, Math.max(0.001, 0.45 + (label ? 0.15 : -0.1) + 0.5 * (r() - 0.5)));
    p.push(score);
    y.push(label);
    addScore(hist, score, label);
  }
  return {
    p,
    y,
    entry: {
      model: 'churn',
      version: '2',
      cutoff: CUTOFF,
      horizon_days: 90,
      scored: n,
      drift: [
        {
          feature: 'spend_90d',
          counts: seed === 1 ? [10, 20, 70] : [30, 30, 40],
          fractions: [0.3, 0.3, 0.4],
        },
      ],
      hist: histogramToJSON(hist),
    },
  };
}

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api.close();
});

describe('GET /v1/models/:name/monitor', () => {
  it('answers the union of the partitions, with null metrics until a snapshot is labelled', async () => {
    const a = partitionEntry(1, 400);
    const b = partitionEntry(2, 900);
    const open: MonitorEntryJSON = { ...a.entry, cutoff: LATER, scored: 410, hist: null, drift: [] };
    const reports: MonitorReport[] = [
      { partitions: [{ partition: 0, last_cutoff: LATER }], entries: [a.entry, open] },
      { partitions: [{ partition: 1, last_cutoff: CUTOFF }], entries: [b.entry] },
    ];
    api.view.monitorReports = reports;
    const res = await api.app.inject({ url: '/v1/models/churn/monitor', headers: auth('viewer') });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body)).toEqual(['model', 'label_horizon_days', 'snapshot_every_days', 'versions']);
    expect(body).toMatchObject({ model: 'churn', label_horizon_days: 90, snapshot_every_days: 7 });
    expect(body.versions).toHaveLength(1);
    const [first, second] = body.versions[0].snapshots;
    const p = [...a.p, ...b.p];
    const y = [...a.y, ...b.y];
    expect(first).toMatchObject({ cutoff: '2011-09-01', scored: 1300, labelled: 1300 });
    expect(first.positives).toBe(y.filter((v) => v === 1).length);
    // The union's AUC (within the fine bins' ties), not the mean of the partitions'.
    expect(Math.abs(first.roc_auc - rocAuc(p, y))).toBeLessThan(0.002);
    expect(first.brier).toBeCloseTo(brier(p, y), 10);
    expect(first.calibration).toHaveLength(10);
    expect(first.calibration.reduce((n: number, c: { n: number }) => n + c.n, 0)).toBe(1300);
    expect(Object.keys(first.calibration[0])).toEqual(['lo', 'hi', 'predicted', 'observed', 'n']);
    expect(second).toEqual({
      cutoff: '2011-09-08',
      scored: 410,
      labelled: 0,
      positives: null,
      roc_auc: null,
      pr_auc: null,
      brier: null,
      calibration: [],
    });
    expect(body.versions[0].drift).toEqual([
      { feature: 'spend_90d', psi: psi([40, 50, 110], [0.3, 0.3, 0.4]), window_end: '2011-09-01' },
    ]);
  });

  it('needs a key, and answers 404 for a model the engine does not run', async () => {
    expect((await api.app.inject({ url: '/v1/models/churn/monitor' })).statusCode).toBe(401);
    const res = await api.app.inject({ url: '/v1/models/ltv/monitor', headers: auth('viewer') });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('BW_ERR_MODEL_NOT_FOUND');
  });
});

describe('monitor breaches', () => {
  const entry = (over: Partial<MonitorEntryJSON>): MonitorEntryJSON => ({
    model: 'churn',
    version: '2',
    cutoff: CUTOFF,
    horizon_days: 90,
    scored: 0,
    drift: [],
    hist: null,
    ...over,
  });
  /** A partition whose customers all got 0.9 and half churned: ECE 0.4. */
  function overconfident(n: number): MonitorEntryJSON {
    const hist = emptyHistogram();
    for (let i = 0; i < n; i++) addScore(hist, 0.9, i % 2 === 0 ? 1 : 0);
    return entry({ scored: n, hist: histogramToJSON(hist) });
  }

  it('are counted only at cutoffs every partition has passed, calibration only once labelled everywhere', () => {
    const drifted = { feature: 'spend_90d', counts: [0, 0, 100], fractions: [0.3, 0.3, 0.4] };
    const report = (partition: number, last: number | null, entries: MonitorEntryJSON[]): MonitorReport => ({
      partitions: [{ partition, last_cutoff: last }],
      entries,
    });
    // Partition 1 has not reached the cutoff: nothing is judged yet.
    const early = new MonitorMerge(
      [report(0, CUTOFF, [{ ...overconfident(40), drift: [drifted] }]), report(1, null, [])],
      2,
    );
    expect(early.breaches(0.2, 0.1)).toEqual([]);
    // Both passed it; partition 1 has not labelled it yet: drift only.
    const partial = new MonitorMerge(
      [
        report(0, CUTOFF, [{ ...overconfident(40), drift: [drifted] }]),
        report(1, CUTOFF, [entry({ scored: 10, drift: [drifted] })]),
      ],
      2,
    );
    expect(
      partial.breaches(0.2, 0.1).map((b) => [b.breach, b.cutoff, b.features.map((f) => f.feature)]),
    ).toEqual([['drift', '2011-09-01', ['spend_90d']]]);
    // Labelled everywhere: the calibration breach too, with the union's ECE.
    const labelled = new MonitorMerge(
      [report(0, CUTOFF, [overconfident(40)]), report(1, CUTOFF, [overconfident(10)])],
      2,
    );
    const [calibration] = labelled.breaches(0.2, 0.1);
    expect(calibration).toMatchObject({
      breach: 'calibration',
      model: 'churn',
      version: '2',
      threshold: 0.1,
    });
    expect(calibration!.ece).toBeCloseTo(0.4, 10);
    expect(labelled.breaches(0.2, 0.5)).toEqual([]);
  });
});
