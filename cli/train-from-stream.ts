/**
 * `bellwether train --model churn|intent --from-stream`: retrains from the events streams' history.
 *
 * 1. Reads every partition's events stream (engine/nats/stream-history.ts: the live parse, cleanse
 *    and dedupe steps), sorted by event time, as the `engine` user of the embedded server (or
 *    BW_NATS_URL and its credentials, or `--nats-url`), like the other tools.
 * 2. Chooses the cutoffs from the stream's event-time span (models/train/span-cutoffs.ts) unless
 *    `--cutoffs`, `--validation-cutoff` or `--test-cutoff` say otherwise.
 * 3. Pins the live champion (writes `<out>/<model>/LIVE` when it names no version yet), BEFORE the new
 *    version exists, so an engine watching the directory never switches to it.
 * 4. Trains the challenger with the same pipeline as `train --input` (models/train/train.ts: the
 *    point-in-time rows of dataset.ts) and writes it as the next version, not live.
 * 5. Scores the champion on the challenger's test cutoff with `eval` (models/train/evaluate.ts) and
 *    prints both, side by side (JSON on stdout, one line in English and Chinese on stderr).
 */
import path from 'node:path';
import { BellwetherError } from '../contract/errors.js';
import { loadConfig } from '../engine/config.js';
import { readStreamHistory, type StreamHistory } from '../engine/nats/stream-history.js';
import { connectNats } from '../lib/nats-connect.js';
import { liveModelDir, pinnedVersion, writePin } from '../models/registry.js';
import { loadTf } from '../models/tf-backend.js';
import { CHURN_DAYS, INTENT_DAYS } from '../models/train/dataset.js';
import { evaluateModel } from '../models/train/evaluate.js';
import { cutoffsFromSpan } from '../models/train/span-cutoffs.js';
import { type TrainableModel, trainModel } from '../models/train/train.js';
import { loadCleansingRules } from '../operators/cleansing/rules.js';
import { toolNatsSettings } from './tool-nats-settings.js';

export interface TrainFromStreamOptions {
  model: TrainableModel;
  outDir: string;
  /** Default: the next free version. */
  version?: string;
  nextVersion: () => Promise<string>;
  seed: number;
  maxEpochs?: number;
  force: boolean;
  natsUrl?: string;
  /** Cutoff flags (epoch ms); each absent one is chosen from the stream's span. */
  trainCutoffs?: number[];
  validationCutoff?: number;
  testCutoff?: number;
}

const iso = (t: number) => new Date(t).toISOString().slice(0, 10);
const f4 = (v: number | null | undefined) =>
  v === null || v === undefined ? null : Math.round(v * 1e4) / 1e4;

async function readHistory(natsUrl: string | undefined): Promise<StreamHistory> {
  const config = loadConfig(process.env);
  const nats = toolNatsSettings(config, 'engine', natsUrl);
  const nc = await connectNats(nats.settings, { ...nats.client, name: 'bellwether-train' });
  try {
    return await readStreamHistory(nc, {
      cleansing: await loadCleansingRules(config.cleansingFile),
      log: (line) => process.stderr.write(`train: ${line}\n`),
    });
  } finally {
    await nc.drain();
  }
}

/** The live version of `model` under `outDir` (undefined when there is none), pinned in LIVE. */
async function pinChampion(
  outDir: string,
  model: string,
): Promise<{ dir: string; version: string } | undefined> {
  let dir: string;
  try {
    dir = await liveModelDir(outDir, model);
  } catch {
    return undefined;
  }
  const version = path.basename(dir);
  // Atomic (registry.ts): an engine reading LIVE meanwhile sees no name or the whole one.
  if ((await pinnedVersion(outDir, model, 'LIVE')) === undefined)
    await writePin(outDir, model, 'LIVE', version);
  return { dir, version };
}

export async function runTrainFromStream(o: TrainFromStreamOptions): Promise<void> {
  const started = Date.now();
  const history = await readHistory(o.natsUrl);
  const { stats } = history;
  process.stderr.write(
    `train: ${history.streams.length} stream(s), ${stats.messages} messages → ${stats.events} events; quarantined ${stats.quarantined}, duplicates ${stats.duplicates}, anonymous ${stats.anonymous}, rejected ${JSON.stringify(stats.rejected)}\n`,
  );
  if (history.events.length === 0)
    throw new BellwetherError('BW_ERR_STREAM_HISTORY', `no admitted event in ${history.streams.join(', ')}`);
  const horizon = o.model === 'churn' ? CHURN_DAYS : INTENT_DAYS;
  const given =
    o.trainCutoffs !== undefined && o.validationCutoff !== undefined && o.testCutoff !== undefined;
  const span = given ? undefined : cutoffsFromSpan(horizon, stats.first_ts, stats.last_ts);
  const trainCutoffs = o.trainCutoffs ?? span!.train;
  const validationCutoff = o.validationCutoff ?? span!.validation;
  const testCutoff = o.testCutoff ?? span!.test;

  const champion = await pinChampion(o.outDir, o.model);
  const version = o.version ?? (await o.nextVersion());
  if (champion?.version === version)
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `--version ${version} is the live champion: choose another`,
    );
  const tf = await loadTf(process.env['BW_TF_BACKEND'] === 'wasm' ? 'wasm' : 'auto');
  const source = `stream ${history.streams[0]}${history.streams.length > 1 ? `…${history.streams.at(-1)}` : ''}`;
  const report = await trainModel({
    model: o.model,
    events: history.events,
    trainCutoffs,
    validationCutoff,
    testCutoff,
    outDir: o.outDir,
    version,
    seed: o.seed,
    ...(o.maxEpochs !== undefined ? { maxEpochs: o.maxEpochs } : {}),
    overwrite: o.force,
    data: { file: source },
    tf: tf.tf,
  });
  const challenger = report.metrics.model;
  const championEval = champion
    ? await evaluateModel({
        modelDir: champion.dir,
        events: history.events,
        cutoff: testCutoff,
        data: { file: source, format: 'stream' },
        seed: o.seed,
        tf: tf.tf,
      })
    : undefined;
  const metric = (m: { roc_auc: number; pr_auc: number; brier: number | null; log_loss: number | null }) => ({
    roc_auc: f4(m.roc_auc),
    pr_auc: f4(m.pr_auc),
    brier: f4(m.brier),
    log_loss: f4(m.log_loss),
  });
  const out = {
    model: o.model,
    test_cutoff: new Date(testCutoff).toISOString(),
    cutoffs: report.card['cutoffs'],
    cutoffs_from: given ? 'flags' : 'stream span',
    stream: {
      streams: history.streams,
      ...stats,
      first_ts: new Date(stats.first_ts).toISOString(),
      last_ts: new Date(stats.last_ts).toISOString(),
    },
    challenger: {
      version,
      dir: path.relative(process.cwd(), report.dir) || '.',
      live: false,
      rows: report.card['rows'],
      test: metric(challenger),
    },
    champion: championEval
      ? {
          version: champion!.version,
          dir: path.relative(process.cwd(), champion!.dir) || '.',
          live: true,
          out_of_time: championEval.out_of_time,
          out_of_time_note: championEval.out_of_time_note,
          n: championEval.n,
          test: metric(championEval),
        }
      : null,
    delta_roc_auc: championEval ? f4(challenger.roc_auc - championEval.roc_auc) : null,
    total_ms: Date.now() - started,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  const at = iso(testCutoff);
  process.stderr.write(
    championEval
      ? `${o.model} ${version} (challenger, not live) vs ${champion!.version} (live) at ${at}: ROC AUC ${f4(challenger.roc_auc)} vs ${f4(championEval.roc_auc)}${championEval.out_of_time ? '' : ' (the champion saw these labels in training: not out of time)'}; to make it live: bellwether models promote ${o.model} ${version} / 挑战者 ${version}（未上线）对比 在线模型 ${champion!.version}，测试截止 ${at}：ROC AUC ${f4(challenger.roc_auc)} 对 ${f4(championEval.roc_auc)}${championEval.out_of_time ? '' : '（在线模型训练时见过这些标签，非样本外）'}；如需上线：bellwether models promote ${o.model} ${version}\n`
      : `${o.model} ${version} written; no live champion under ${o.outDir} to compare with, so it is the only version and is live / 已写入 ${version}；没有可比较的在线模型，它是唯一版本，因此上线\n`,
  );
}
