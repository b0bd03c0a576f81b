/**
 * `train --kind fusion` end to end on the Online Retail data: the card reports every member, the
 * fusion and the reference (the shipped churn model) out of time, the directory loads back and
 * TF.js reproduces the card's figures, and a reference that is not out of time is refused.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrainCli } from '../../cli/train-command.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { loadEvents } from '../../models/datasets/load.js';
import { inputIndexes } from '../../models/feature-spec.js';
import { rocAuc } from '../../models/metrics.js';
import { isFusion, loadModelDir } from '../../models/model-files.js';
import { loadTf, type Tf } from '../../models/tf-backend.js';
import {
  buildDataset,
  type DatasetEvent,
  datasetFeatureNames,
  toMatrix,
} from '../../models/train/dataset.js';
import { type FusionReport, trainFusion } from '../../models/train/fusion.js';
import { predict } from '../../models/train/training-loop.js';

const RETAIL = path.join(PACKAGE_ROOT, '../shared/data/online_retail.csv.gz');
const REFERENCE = path.join(PACKAGE_ROOT, 'models/churn/2');
const day = (d: string) => Date.parse(`${d}T00:00:00Z`);

let tf: Tf;
let events: DatasetEvent[];
let dir: string;
let report: FusionReport;

beforeAll(async () => {
  tf = (await loadTf('wasm')).tf;
  events = (await loadEvents(RETAIL, 'online-retail')).events;
  dir = await mkdtemp(path.join(tmpdir(), 'bw-fusion-train-'));
  report = await trainFusion({
    model: 'churn',
    events,
    trainCutoffs: ['2011-04-01', '2011-05-01'].map(day),
    validationCutoff: day('2011-06-01'),
    testCutoff: day('2011-09-01'),
    outDir: dir,
    version: 'f1',
    gbt: { maxTrees: 40 },
    referenceDir: REFERENCE,
    tf,
    log: () => {},
  });
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trainFusion', () => {
  it('writes a card with every member, the fusion and the reference measured out of time', async () => {
    const card = JSON.parse(await readFile(path.join(report.dir, 'card.json'), 'utf8'));
    expect(card.kind).toBe('fusion');
    expect(card.out_of_time).toEqual({
      protocol: 'every training and validation label window ends before the test cutoff',
      last_label_window_end: '2011-08-30T00:00:00.000Z',
      test_cutoff: '2011-09-01T00:00:00.000Z',
      holds: true,
    });
    expect(Object.keys(card.metrics.test).sort()).toEqual(
      ['model', 'gbt', 'logistic_irls', 'recency_baseline', 'reference'].sort(),
    );
    expect(card.reference.version).toBe('2');
    expect(card.reference.beaten_by_fusion).toBe(report.beatsReference);
    expect(card.rows.test.n).toBe(3317);
    // The shipped card's figure for churn/2 on the same rows.
    expect(card.metrics.test.reference.roc_auc).toBeCloseTo(0.7388, 4);
    const weights = card.training.fusion.validation_log_loss_by_weight as Record<string, number>;
    expect(Object.keys(weights)).toHaveLength(11);
    expect(Math.min(...Object.values(weights))).toBe(
      weights[card.training.fusion.weight_logistic.toFixed(1)],
    );
    expect(card.training.gbt.trees).toBeGreaterThan(0);
    expect(card.training.gbt.trees).toBeLessThanOrEqual(40);
    expect(card.training.mlp_check.best.loss).toBeLessThanOrEqual(
      card.training.mlp_check.fusion_without_reference,
    );
  });

  it('loads back as a fusion whose TF.js scores reproduce the card', async () => {
    const loaded = await loadModelDir(tf, report.dir);
    try {
      expect(isFusion(loaded.model)).toBe(true);
      const rows = buildDataset(events, [day('2011-09-01')]);
      const m = toMatrix(rows, loaded.spec.inputs, inputIndexes(loaded.spec, datasetFeatureNames()), 'churn');
      const probs = predict(tf, loaded.model, m, 1024);
      expect(rocAuc(probs, m.y)).toBeCloseTo(report.metrics['model']!.roc_auc, 6);
    } finally {
      loaded.model.dispose();
    }
  });

  it('refuses a reference whose label windows run past the test cutoff', async () => {
    await expect(
      trainFusion({
        model: 'churn',
        events,
        trainCutoffs: [day('2011-03-01')],
        validationCutoff: day('2011-04-01'),
        testCutoff: day('2011-07-01'),
        outDir: dir,
        version: 'f2',
        gbt: { maxTrees: 5 },
        referenceDir: REFERENCE,
        tf,
        log: () => {},
      }),
    ).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE', message: expect.stringMatching(/label windows/) });
  });

  it('train refuses a --kind other than mlp or fusion', async () => {
    await expect(runTrainCli(['--model', 'churn', '--kind', 'forest', '--out', dir])).rejects.toMatchObject({
      code: 'BW_ERR_CLI_USAGE',
      message: expect.stringMatching(/--kind mlp\|fusion, got forest/),
    });
  });
});
