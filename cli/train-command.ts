/**
 * Trains a Bellwether model (by default on the UCI Online Retail data) and writes
 * `<out>/<model>/<version>/`. Also `bellwether train` (models/commands.ts calls `runTrainCli`).
 *
 *   node dist/cli/train-command.js --model churn|intent [--input ../shared/data/online_retail.csv.gz]
 *     [--format online-retail|cdnow|ndjson] [--out models] [--version V] [--seed N] [--force]
 *     [--train-cutoffs 2011-03-01,2011-04-01] [--validation-cutoff 2011-06-01] [--test-cutoff 2011-09-01]
 *
 * `--kind fusion` trains the logistic regression + gradient-boosted trees fusion
 * (models/train/fusion.ts) instead of the MLP ensemble (`--kind mlp`, the default), measured beside
 * the live model of `--out` (or `--reference DIR`).
 *
 * `--cutoffs` is another name for `--train-cutoffs`. Relative paths resolve against the working
 * directory; the defaults against the package root. Cutoffs are UTC midnights. Progress goes to
 * stderr, the card's metrics to stdout as JSON. The default cutoffs fit the Online Retail dates:
 * pass all three for other data. `--from-stream` trains from the events streams instead of a file
 * and does not make the new version live (train-from-stream.ts).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BellwetherError } from '../contract/errors.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { startProgress } from '../lib/progress.js';
import { FORMAT_EVENT_TYPES, inputFormat } from '../models/datasets/load.js';
import { listVersions, liveModelDir } from '../models/registry.js';
import { loadTf } from '../models/tf-backend.js';
import { CHURN_DAYS, INTENT_DAYS } from '../models/train/dataset.js';
import { trainFusion } from '../models/train/fusion.js';
import { type TrainableModel, trainModel } from '../models/train/train.js';
import { loadInput } from './load-input.js';

interface Cutoffs {
  train: string[];
  validation: string;
  test: string;
}

/** The 1st and the 15th of each month from `first` to `last` (YYYY-MM, both included), as YYYY-MM-DD. */
function halfMonthly(first: string, last: string): string[] {
  const dates: string[] = [];
  const month = new Date(`${first}-01T00:00:00Z`);
  for (let ym = first; ym <= last; ym = month.toISOString().slice(0, 7)) {
    dates.push(`${ym}-01`, `${ym}-15`);
    month.setUTCMonth(month.getUTCMonth() + 1);
  }
  return dates;
}

/**
 * Defaults for the data (2010-12-01 → 2011-12-09). Every label window of the test cutoff lies
 * inside the data, and the training and validation label windows end before the test cutoff, so
 * nothing the test labels see is used for fitting or early stopping.
 * - churn (90 days): train 2011-02-01 … 2011-05-15 (half-monthly), validation 2011-06-01
 *   (labels to 2011-08-30), test 2011-09-01 (labels to 2011-11-30).
 * - intent (14 days): train 2011-03-01 … 2011-08-15 (half-monthly), validation 2011-09-01, test
 *   2011-11-01 (labels to 2011-11-15).
 */
const DEFAULT_CUTOFFS: Record<TrainableModel, Cutoffs> = {
  churn: { train: halfMonthly('2011-02', '2011-05'), validation: '2011-06-01', test: '2011-09-01' },
  intent: { train: halfMonthly('2011-03', '2011-08'), validation: '2011-09-01', test: '2011-11-01' },
};

export const TRAIN_USAGE =
  'usage: train --model churn|intent [--input FILE] [--format online-retail|cdnow|ndjson] [--out DIR]' +
  ' [--version V] [--seed N] [--force] [--train-cutoffs|--cutoffs D,D,...] [--validation-cutoff D]' +
  ' [--test-cutoff D] [--max-epochs N] [--kind mlp|fusion] [--reference DIR]' +
  ' [--from-stream [--nats-url URL]]';

function day(text: string): number {
  const t = Date.parse(`${text.trim()}T00:00:00Z`);
  if (Number.isNaN(t)) throw new BellwetherError('BW_ERR_CLI_USAGE', `bad date ${text} (want YYYY-MM-DD)`);
  return t;
}

async function nextVersion(outDir: string, model: string): Promise<string> {
  const numbers = (await listVersions(outDir, model)).map(Number).filter(Number.isInteger);
  return String(Math.max(0, ...numbers) + 1);
}

/**
 * The fusion's reference: the live model under `outDir`, or, when that is the version being
 * (re)written, the highest other version; undefined when there is none.
 */
async function defaultReference(outDir: string, model: string, version: string): Promise<string | undefined> {
  const live = await liveModelDir(outDir, model).catch(() => undefined);
  if (live && path.basename(live) !== version) return live;
  const other = (await listVersions(outDir, model)).filter((v) => v !== version).at(-1);
  return other === undefined ? undefined : path.join(outDir, model, other);
}

/** `train` with command-line arguments (without the command name). */
export async function runTrainCli(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      input: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      version: { type: 'string' },
      seed: { type: 'string' },
      force: { type: 'boolean', default: false },
      'train-cutoffs': { type: 'string' },
      cutoffs: { type: 'string' },
      'validation-cutoff': { type: 'string' },
      'test-cutoff': { type: 'string' },
      'max-epochs': { type: 'string' },
      kind: { type: 'string', default: 'mlp' },
      reference: { type: 'string' },
      'from-stream': { type: 'boolean', default: false },
      'nats-url': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${TRAIN_USAGE}\n`);
    return;
  }
  const model = values.model;
  if (model !== 'churn' && model !== 'intent') {
    throw new BellwetherError('BW_ERR_CLI_USAGE', `--model churn|intent is required\n${TRAIN_USAGE}`);
  }
  const kind = values.kind;
  if (kind !== 'mlp' && kind !== 'fusion') {
    throw new BellwetherError('BW_ERR_CLI_USAGE', `--kind mlp|fusion, got ${kind}\n${TRAIN_USAGE}`);
  }
  const outDir = values.out ? path.resolve(values.out) : path.join(PACKAGE_ROOT, 'models');
  if (values['from-stream']) {
    if (values.input !== undefined || values.format !== undefined || kind !== 'mlp')
      throw new BellwetherError(
        'BW_ERR_CLI_USAGE',
        '--from-stream takes neither --input, --format nor --kind fusion',
      );
    const { runTrainFromStream } = await import('./train-from-stream.js');
    const { loadConfig } = await import('../engine/config.js');
    const train = values['train-cutoffs'] ?? values.cutoffs;
    // The engine's registry (BW_MODELS_DIR) unless --out says otherwise.
    const registry = values.out ? outDir : loadConfig(process.env).modelsDir;
    return runTrainFromStream({
      model,
      outDir: registry,
      ...(values.version ? { version: values.version } : {}),
      nextVersion: () => nextVersion(registry, model),
      seed: values.seed ? Number(values.seed) : 42,
      ...(values['max-epochs'] ? { maxEpochs: Number(values['max-epochs']) } : {}),
      force: values.force,
      ...(values['nats-url'] ? { natsUrl: values['nats-url'] } : {}),
      ...(train ? { trainCutoffs: train.split(',').map(day) } : {}),
      ...(values['validation-cutoff'] ? { validationCutoff: day(values['validation-cutoff']) } : {}),
      ...(values['test-cutoff'] ? { testCutoff: day(values['test-cutoff']) } : {}),
    });
  }
  const input = values.input
    ? path.resolve(values.input)
    : path.resolve(PACKAGE_ROOT, '../shared/data/online_retail.csv.gz');
  const version = values.version ?? (await nextVersion(outDir, model));
  const defaults = DEFAULT_CUTOFFS[model];
  const format = inputFormat(values.format, input);
  const trainCutoffs = ((values['train-cutoffs'] ?? values.cutoffs)?.split(',') ?? defaults.train).map(day);
  const validationCutoff = day(values['validation-cutoff'] ?? defaults.validation);
  const testCutoff = day(values['test-cutoff'] ?? defaults.test);

  const tf = await loadTf(process.env['BW_TF_BACKEND'] === 'wasm' ? 'wasm' : 'auto');
  process.stderr.write(`tfjs backend ${tf.backend} (${tf.package})\n`);
  const started = Date.now();
  const loaded = await loadInput(input, format);
  const events = loaded.events;
  if (kind === 'fusion') {
    const referenceDir = values.reference
      ? path.resolve(values.reference)
      : await defaultReference(outDir, model, version);
    const fusion = await trainFusion({
      model,
      events,
      trainCutoffs,
      validationCutoff,
      testCutoff,
      outDir,
      version,
      seed: values.seed ? Number(values.seed) : 42,
      overwrite: values.force,
      ...(referenceDir ? { referenceDir } : {}),
      eventTypes: FORMAT_EVENT_TYPES[loaded.format],
      data: loaded.format === 'online-retail' ? { file: input, stats: loaded.stats } : { file: input },
      tf: tf.tf,
    });
    const fcard = fusion.card;
    const summary = {
      model: fcard.model,
      version: fcard.version,
      kind: 'fusion',
      dir: path.relative(process.cwd(), fusion.dir) || '.',
      label: fcard['label'],
      cutoffs: fcard['cutoffs'],
      out_of_time: fcard['out_of_time'],
      rows: fcard['rows'],
      test: fusion.metrics,
      reference: fcard['reference'] ?? null,
      beats_reference: fusion.beatsReference,
      training: fcard['training'],
      total_ms: Date.now() - started,
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  // Epoch lines feed a progress bar (epochs and their rate; early stopping leaves the total open);
  // the other lines (blend weight, where the model went) stay.
  const epochs = startProgress({ label: `train 训练 ${model}`, unit: 'epochs' });
  let epochCount = 0;
  const log = (line: string): void => {
    if (/ epoch \d+: /.test(line)) epochs.update(++epochCount, line);
    else process.stderr.write(`${line}\n`);
  };
  const report = await trainModel({
    model,
    events,
    trainCutoffs,
    validationCutoff,
    testCutoff,
    outDir,
    version,
    seed: values.seed ? Number(values.seed) : 42,
    ...(values['max-epochs'] ? { maxEpochs: Number(values['max-epochs']) } : {}),
    overwrite: values.force,
    eventTypes: FORMAT_EVENT_TYPES[loaded.format],
    data: loaded.format === 'online-retail' ? { file: input, stats: loaded.stats } : { file: input },
    tf: tf.tf,
    log,
  });
  epochs.stop();
  const card = report.card;
  const out = {
    model: card.model,
    version: card.version,
    dir: path.relative(process.cwd(), report.dir) || '.',
    label: card['label'],
    horizon_days: model === 'churn' ? CHURN_DAYS : INTENT_DAYS,
    cutoffs: card['cutoffs'],
    rows: card['rows'],
    inputs: card['inputs'],
    test: report.metrics,
    expected_calibration_error_test: card['expected_calibration_error_test'],
    reliability_test: card['reliability_test'],
    training: card['training'],
    total_ms: Date.now() - started,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  runTrainCli(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
