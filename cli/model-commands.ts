/**
 * The offline model commands behind `bellwether dataset | train | eval | clv fit`:
 *
 *   dataset --input FILE [--format F] --cutoffs D,D,... --out FILE|- [--churn-days N] [--intent-days N]
 *   train   --model churn|intent [--input FILE] [--format F] [--cutoffs D,...] … (train-cli.ts)
 *   eval    --model DIR|churn|intent [--input FILE] [--format F] [--cutoff D] [--json] [--seed N]
 *   clv fit [--input FILE] [--format F] --calibration-end D [--unit weeks|days] [--holdout-end D]
 *           [--json] [--out DIR [--version V] [--force]]
 *   clv fit --from-stream [--calibration-end D] [--unit U] [--out DIR] [--version V] [--force]
 *           [--json] [--nats-url URL]   (the events streams' history → the next models/clv-params version)
 *
 * F is online-retail | cdnow | ndjson (guessed from the file name when absent); dates are
 * YYYY-MM-DD (UTC midnight); `--input` defaults to ../shared/data/online_retail.csv.gz beside the
 * package. Results go to stdout (JSON with --json), progress to stderr.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BellwetherError } from '../contract/errors.js';
import { DAY_MS } from '../contract/time.js';
import { type ClvRefit, refitClvFromStream } from '../engine/clv-refit.js';
import { loadConfig } from '../engine/config.js';
import { connectNats } from '../lib/nats-connect.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { type ClvFit, fitClv } from '../models/clv/fit.js';
import { clvFitStatus } from '../models/clv/fit-status.js';
import { holdoutCheck } from '../models/clv/holdout.js';
import { CLV_PARAMS_DIRNAME, clvParamsRecord, nextClvVersion, writeClvParams } from '../models/clv/params.js';
import { inputFormat, type LoadedEvents } from '../models/datasets/load.js';
import { liveModelDir } from '../models/registry.js';
import { buildDataset } from '../models/train/dataset.js';
import { writeDataset } from '../models/train/dataset-export.js';
import { type EvalReport, evaluateModel, type MetricSet } from '../models/train/evaluate.js';
import { loadCleansingRules } from '../operators/cleansing/rules.js';
import { loadInput } from './load-input.js';
import { toolNatsSettings } from './tool-nats-settings.js';
import { runTrainCli } from './train-command.js';

export type ModelCommand = 'dataset' | 'train' | 'eval' | 'clv';

const DEFAULT_INPUT = path.resolve(PACKAGE_ROOT, '../shared/data/online_retail.csv.gz');

function day(text: string, flag: string): number {
  const t = Date.parse(`${text.trim()}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text.trim()) || Number.isNaN(t)) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', `${flag} ${text}: want YYYY-MM-DD`);
  }
  return t;
}

function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new BellwetherError('BW_ERR_CLI_USAGE', `${flag} wants a positive integer`);
  return n;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '')
    throw new BellwetherError('BW_ERR_CLI_USAGE', `${flag} is required`);
  return value;
}

/** Runs a parseArgs call, turning its errors into BW_ERR_CLI_USAGE. */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', err instanceof Error ? err.message : String(err));
  }
}

async function load(input: string | undefined, format: string | undefined): Promise<LoadedEvents> {
  const file = input ? path.resolve(input) : DEFAULT_INPUT;
  if (!existsSync(file)) throw new BellwetherError('BW_ERR_CLI_USAGE', `--input ${file} does not exist`);
  return loadInput(file, inputFormat(format, file));
}

async function datasetCommand(args: string[]): Promise<void> {
  const { values } = parsed(() =>
    parseArgs({
      args: args,
      options: {
        input: { type: 'string' },
        format: { type: 'string' },
        cutoffs: { type: 'string' },
        out: { type: 'string' },
        'churn-days': { type: 'string' },
        'intent-days': { type: 'string' },
      },
    }),
  );
  const cutoffs = required(values.cutoffs, '--cutoffs')
    .split(',')
    .map((d) => day(d, '--cutoffs'))
    .sort((a, b) => a - b);
  if (new Set(cutoffs).size !== cutoffs.length)
    throw new BellwetherError('BW_ERR_CLI_USAGE', 'repeated cutoff');
  const out = required(values.out, '--out');
  const loaded = await load(required(values.input, '--input'), values.format);
  const rows = buildDataset(loaded.events, cutoffs, {
    churnDays: positiveInt(values['churn-days'], '--churn-days', 90),
    intentDays: positiveInt(values['intent-days'], '--intent-days', 14),
  });
  const format = await writeDataset(out === '-' ? out : path.resolve(out), rows);
  for (const c of cutoffs) {
    const at = rows.filter((r) => r.cutoff === c);
    const churn = at.reduce((s, r) => s + r.churn, 0);
    const intent = at.reduce((s, r) => s + r.intent, 0);
    process.stderr.write(
      `${new Date(c).toISOString().slice(0, 10)}: ${at.length} rows, churn ${churn}, intent ${intent}\n`,
    );
  }
  process.stderr.write(`wrote ${rows.length} rows (${format}) to ${out}\n`);
}

async function resolveModelDir(model: string): Promise<string> {
  if (existsSync(model)) return path.resolve(model);
  if (model === 'churn' || model === 'intent') {
    return liveModelDir(loadConfig(process.env).modelsDir, model);
  }
  throw new BellwetherError('BW_ERR_CLI_USAGE', `--model ${model}: no such directory`);
}

const f3 = (v: number | null) => (v === null || Number.isNaN(v) ? '   —  ' : v.toFixed(4));

function metricLine(name: string, m: MetricSet): string {
  return `  ${name.padEnd(22)} ${f3(m.roc_auc)}  ${f3(m.pr_auc)}  ${f3(m.brier)}  ${f3(m.log_loss)}  ${f3(m.precision_at['5%'])}  ${f3(m.precision_at['10%'])}`;
}

function formatEvalReport(r: EvalReport): string {
  const b = r.baselines;
  const lines = [
    `${r.model.name} ${r.model.version} (${r.model.label}) at ${r.cutoff.slice(0, 10)}: n ${r.n}, positives ${r.positives} (${(r.positive_rate * 100).toFixed(1)} %)`,
    `out of time: ${r.out_of_time ? 'yes' : 'NO'} — ${r.out_of_time_note}`,
    `  ${''.padEnd(22)} ROC AUC PR AUC  Brier   LogLoss P@5%    P@10%`,
    metricLine('model', r),
    metricLine('recency', b.recency),
    metricLine('bgnbd_p_alive', b.bgnbd_p_alive),
    metricLine('bgnbd_p_label', b.bgnbd_p_label),
    ...(b.bgnbd_p_alive.note ? [`  (BG/NBD: ${b.bgnbd_p_alive.note})`] : []),
    'skipped' in b.logistic
      ? `  logistic               skipped: ${b.logistic.skipped}`
      : metricLine('logistic', b.logistic),
    `expected calibration error ${f3(r.expected_calibration_error)}`,
    '',
    r.random_split_70_30.label,
    metricLine('random logistic', r.random_split_70_30.logistic),
    metricLine('random model', r.random_split_70_30.model),
  ];
  return `${lines.join('\n')}\n`;
}

async function evalCommand(args: string[]): Promise<void> {
  const { values } = parsed(() =>
    parseArgs({
      args: args,
      options: {
        model: { type: 'string' },
        input: { type: 'string' },
        format: { type: 'string' },
        cutoff: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }),
  );
  const modelDir = await resolveModelDir(required(values.model, '--model'));
  let cutoff: number;
  if (values.cutoff !== undefined) {
    cutoff = day(values.cutoff, '--cutoff');
  } else {
    const { readFile } = await import('node:fs/promises');
    const card = JSON.parse(await readFile(path.join(modelDir, 'card.json'), 'utf8').catch(() => '{}')) as {
      cutoffs?: { test?: string };
    };
    const test = card.cutoffs?.test ? Date.parse(card.cutoffs.test) : Number.NaN;
    if (Number.isNaN(test))
      throw new BellwetherError('BW_ERR_CLI_USAGE', '--cutoff is required (the card has no test cutoff)');
    cutoff = test;
  }
  const loaded = await load(values.input, values.format);
  const report = await evaluateModel({
    modelDir,
    events: loaded.events,
    cutoff,
    data: { file: path.basename(loaded.file), format: loaded.format },
    seed: positiveInt(values.seed, '--seed', 42),
  });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatEvalReport(report));
}

async function clvCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'fit') throw new BellwetherError('BW_ERR_CLI_USAGE', `clv ${sub ?? ''}: only "clv fit" exists`);
  const { values } = parsed(() =>
    parseArgs({
      args: rest,
      options: {
        input: { type: 'string' },
        format: { type: 'string' },
        'calibration-end': { type: 'string' },
        'holdout-end': { type: 'string' },
        unit: { type: 'string', default: 'weeks' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        version: { type: 'string' },
        force: { type: 'boolean', default: false },
        'from-stream': { type: 'boolean', default: false },
        'nats-url': { type: 'string' },
      },
    }),
  );
  const unit = values.unit;
  if (unit !== 'weeks' && unit !== 'days') throw new BellwetherError('BW_ERR_CLI_USAGE', '--unit weeks|days');
  if (values['from-stream']) return clvFitFromStream(values, unit);
  const calibrationEnd = day(required(values['calibration-end'], '--calibration-end'), '--calibration-end');
  const holdoutEnd = values['holdout-end'] ? day(values['holdout-end'], '--holdout-end') : undefined;
  if (holdoutEnd !== undefined && holdoutEnd <= calibrationEnd + DAY_MS) {
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      '--holdout-end must be at least two days after --calibration-end (day D is in the calibration)',
    );
  }
  const loaded = await load(values.input, values.format);
  const started = Date.now();
  const fit = fitClv({ events: loaded.events, calibrationEnd, unit });
  process.stderr.write(`clv: fitted ${fit.customers} customers in ${Date.now() - started} ms\n`);
  const holdout = holdoutEnd === undefined ? undefined : holdoutCheck(fit, loaded.events, holdoutEnd);
  const data = { file: path.basename(loaded.file), format: loaded.format, events: loaded.events.length };
  let written: string | undefined;
  if (values.out !== undefined) {
    const dir = path.resolve(values.out);
    const version = values.version ?? (await nextClvVersion(dir));
    const record = {
      ...clvParamsRecord(fit, { version, data, ...(holdout ? { holdout } : {}) }),
      status: clvFitStatus(fit),
    };
    written = await writeClvParams(dir, record, { overwrite: values.force });
    process.stderr.write(`clv: wrote ${written}\n`);
  }
  const { summaries: _summaries, ...result } = fit;
  const status = clvFitStatus(fit);
  const out = { ...result, status, data, ...(holdout ? { holdout } : {}), ...(written ? { written } : {}) };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const lines = clvFitLines(fit, unit, status);
  if (holdout) {
    const p = holdout.purchases;
    lines.push(
      `holdout to ${holdout.holdout_end.slice(0, 10)} (${holdout.length.toFixed(2)} ${unit}): purchases actual ${p.actual_total}, predicted ${p.predicted_total.toFixed(1)}, MAE ${p.mae.toFixed(3)}, r ${p.correlation.toFixed(3)}, buy-again ROC AUC ${p.buy_again_roc_auc.toFixed(3)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `clv fit --from-stream`: the live stream's own history, written as the next parameter version. */
async function clvFitFromStream(
  values: {
    'calibration-end'?: string | undefined;
    'holdout-end'?: string | undefined;
    out?: string | undefined;
    version?: string | undefined;
    force: boolean;
    json: boolean;
    'nats-url'?: string | undefined;
    input?: string | undefined;
  },
  unit: 'weeks' | 'days',
): Promise<void> {
  if (values.input !== undefined || values['holdout-end'] !== undefined)
    throw new BellwetherError('BW_ERR_CLI_USAGE', '--from-stream takes neither --input nor --holdout-end');
  const config = loadConfig(process.env);
  const nats = toolNatsSettings(config, 'engine', values['nats-url']);
  const nc = await connectNats(nats.settings, { ...nats.client, name: 'bellwether-clv-fit' });
  const started = Date.now();
  let refit: ClvRefit;
  try {
    refit = await refitClvFromStream(nc, {
      dir: values.out ? path.resolve(values.out) : path.join(config.modelsDir, CLV_PARAMS_DIRNAME),
      unit,
      ...(values['calibration-end']
        ? { calibrationEnd: day(values['calibration-end'], '--calibration-end') }
        : {}),
      ...(values.version ? { version: values.version } : {}),
      overwrite: values.force,
      cleansing: await loadCleansingRules(config.cleansingFile),
      log: (line) => process.stderr.write(`clv: ${line}\n`),
    });
  } finally {
    await nc.drain();
  }
  process.stderr.write(
    `clv: fitted ${refit.fit.customers} customers in ${Date.now() - started} ms, wrote ${refit.file}\n`,
  );
  const { summaries: _summaries, ...result } = refit.fit;
  if (values.json) {
    const out = { ...result, status: refit.status, data: refit.record['data'], written: refit.file };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const s = refit.stream;
  const lines = clvFitLines(refit.fit, unit, refit.status);
  lines.push(
    `stream: ${s.streams.length} stream(s), ${s.messages} messages → ${s.events} events (${new Date(s.first_ts).toISOString().slice(0, 10)} … ${new Date(s.last_ts).toISOString().slice(0, 10)}); quarantined ${s.quarantined}, duplicates ${s.duplicates}, anonymous ${s.anonymous}, rejected ${JSON.stringify(s.rejected)}`,
    `wrote ${refit.file} (version ${refit.record.version})`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** The printed summary of a fit, with its served status in English and Chinese. */
function clvFitLines(fit: ClvFit, unit: string, status: string): string[] {
  const bg = fit.bgnbd;
  const gg = fit.gamma_gamma;
  const se = (v: number | undefined) => (v === undefined ? '' : ` ± ${v.toPrecision(3)}`);
  const lines = [
    `CLV fit (${unit}, calibration end day ${fit.calibration_end.slice(0, 10)} included): ${fit.customers} customers, ${fit.repeat_customers} with repeat purchases`,
    `BG/NBD       r ${bg.r.toPrecision(4)}${se(bg.se?.r)}  alpha ${bg.alpha.toPrecision(4)}${se(bg.se?.alpha)}  a ${bg.a.toPrecision(4)}${se(bg.se?.a)}  b ${bg.b.toPrecision(4)}${se(bg.se?.b)}  LL ${bg.log_likelihood.toFixed(2)}`,
    ...(bg.at_bound ? [`             at the search bound: ${bg.at_bound.join(', ')}`] : []),
    ...(bg.degenerate ? [`             note: ${bg.degenerate}`] : []),
    `Gamma-Gamma  p ${gg.p.toPrecision(4)}${se(gg.se?.p)}  q ${gg.q.toPrecision(4)}${se(gg.se?.q)}  v ${gg.v.toPrecision(4)}${se(gg.se?.v)}  LL ${gg.log_likelihood.toFixed(2)} (${gg.customers} customers)`,
    status === 'ok'
      ? 'status ok: the engine serves p_alive, expected purchases and CLV from this fit / 状态正常：引擎将据此提供存活概率、预期购买次数和客户终身价值'
      : `status ${status}: the engine will not serve p_alive or CLV from this fit / 拟合退化：引擎不会据此提供存活概率或客户终身价值`,
  ];
  return lines;
}

export async function runModelCommand(command: ModelCommand, args: string[]): Promise<void> {
  switch (command) {
    case 'dataset':
      return datasetCommand(args);
    case 'train':
      return runTrainCli(args);
    case 'eval':
      return evalCommand(args);
    case 'clv':
      return clvCommand(args);
    default:
      throw new BellwetherError('BW_ERR_CLI_USAGE', `unknown model command ${String(command)}`);
  }
}
