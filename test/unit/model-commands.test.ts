import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runModelCommand } from '../../cli/model-commands.js';
import { DAY_MS } from '../../contract/time.js';
import { datasetFeatureNames } from '../../models/train/dataset.js';
import { mulberry32 } from './clv-simulate.js';

const T0 = Date.UTC(2024, 0, 1);
const date = (days: number) => new Date(T0 + days * DAY_MS).toISOString().slice(0, 10);

/** 300 customers buying every 3–10 days (half stop early), with some page views to be skipped. */
function ndjsonEvents(): string {
  const random = mulberry32(5);
  const lines: string[] = [];
  for (let c = 0; c < 300; c++) {
    const stop = c % 2 === 0 ? 330 : 60 + random() * 240;
    for (let day = random() * 60, k = 0; day < stop; day += 3 + random() * 7, k++) {
      const ts = new Date(T0 + Math.round(day * DAY_MS)).toISOString();
      lines.push(
        JSON.stringify({
          event_id: `p${c}-${k}`,
          customer_id: `c${c}`,
          type: 'purchase',
          ts,
          amount: 10 + (c % 7),
        }),
      );
      if (k % 5 === 0)
        lines.push(JSON.stringify({ event_id: `v${c}-${k}`, customer_id: `c${c}`, type: 'page_view', ts }));
    }
  }
  return `${lines.join('\n')}\n`;
}

let dir: string;
let input: string;
let stdout: string[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bw-commands-'));
  input = path.join(dir, 'events.ndjson');
  await writeFile(input, ndjsonEvents());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture(): void {
  stdout = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
}
afterEach(() => {
  vi.restoreAllMocks();
});

describe('runModelCommand', () => {
  it('dataset writes CSV and NDJSON rows with features and labels', async () => {
    capture();
    const csv = path.join(dir, 'rows.csv');
    await runModelCommand('dataset', [
      '--input',
      input,
      '--cutoffs',
      `${date(150)},${date(120)}`,
      '--out',
      csv,
    ]);
    const lines = (await readFile(csv, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe(['customer_id', 'cutoff', ...datasetFeatureNames(), 'churn', 'intent'].join(','));
    expect(lines.length).toBeGreaterThan(300);
    expect(lines[1]!.split(',')[1]).toBe(`${date(120)}T00:00:00.000Z`);
    const nd = path.join(dir, 'rows.ndjson');
    await runModelCommand('dataset', [
      '--input',
      input,
      '--format',
      'ndjson',
      '--cutoffs',
      date(120),
      '--out',
      nd,
    ]);
    const first = JSON.parse((await readFile(nd, 'utf8')).split('\n')[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ cutoff: `${date(120)}T00:00:00.000Z` });
    expect(first['churn'] === 0 || first['churn'] === 1).toBe(true);
    expect(typeof first['purchases_lifetime']).toBe('number');
  });

  it('clv fit prints the fit and writes a parameter version', async () => {
    capture();
    const out = path.join(dir, 'clv-params');
    await runModelCommand('clv', [
      'fit',
      '--input',
      input,
      '--calibration-end',
      date(200),
      '--holdout-end',
      date(300),
      '--json',
      '--out',
      out,
    ]);
    const result = JSON.parse(stdout.join('')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(result['bgnbd']!)).toEqual(
      expect.arrayContaining(['r', 'alpha', 'a', 'b', 'log_likelihood']),
    );
    expect(Object.keys(result['gamma_gamma']!)).toEqual(
      expect.arrayContaining(['p', 'q', 'v', 'log_likelihood']),
    );
    expect(result['customers']).toBe(300);
    expect(result).not.toHaveProperty('summaries');
    expect(result['holdout']).toHaveProperty('purchases');
    expect(existsSync(path.join(out, '1.json'))).toBe(true);
    capture();
    await runModelCommand('clv', [
      'fit',
      '--input',
      input,
      '--calibration-end',
      date(200),
      '--unit',
      'days',
      '--out',
      out,
    ]);
    expect(stdout.join('')).toMatch(/BG\/NBD {7}r /);
    expect(existsSync(path.join(out, '2.json'))).toBe(true);
  });

  it('train delegates to train-cli (with --format and --cutoffs) and eval reads the card', async () => {
    capture();
    const models = path.join(dir, 'models');
    await runModelCommand('train', [
      '--model',
      'churn',
      '--input',
      input,
      '--format',
      'ndjson',
      '--cutoffs',
      `${date(60)},${date(75)},${date(90)}`,
      '--validation-cutoff',
      date(120),
      '--test-cutoff',
      date(210),
      '--out',
      models,
      '--version',
      't1',
      '--max-epochs',
      '3',
    ]);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ model: 'churn', version: 't1' });
    capture();
    await runModelCommand('eval', ['--model', path.join(models, 'churn', 't1'), '--input', input, '--json']);
    const report = JSON.parse(stdout.join('')) as Record<string, unknown>;
    expect(report['cutoff']).toBe(`${date(210)}T00:00:00.000Z`);
    expect(report['out_of_time']).toBe(true);
    expect(report).toHaveProperty('baselines.logistic.roc_auc');
    capture();
    await runModelCommand('eval', ['--model', path.join(models, 'churn', 't1'), '--input', input]);
    expect(stdout.join('')).toMatch(/RANDOM 70\/30 SPLIT/);
  });

  it('turns bad command lines into BW_ERR_CLI_USAGE', async () => {
    capture();
    await expect(runModelCommand('dataset', ['--input', input, '--out', 'x.csv'])).rejects.toMatchObject({
      code: 'BW_ERR_CLI_USAGE',
      message: expect.stringMatching(/--cutoffs/),
    });
    await expect(runModelCommand('dataset', ['--bogus'])).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE' });
    await expect(runModelCommand('clv', ['predict'])).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE' });
    await expect(
      runModelCommand('clv', ['fit', '--input', input, '--calibration-end', '2024-13-01']),
    ).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE' });
    await expect(
      runModelCommand('clv', ['fit', '--input', input, '--calibration-end', date(10), '--unit', 'months']),
    ).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE' });
    await expect(runModelCommand('eval', ['--model', path.join(dir, 'nope')])).rejects.toMatchObject({
      code: 'BW_ERR_CLI_USAGE',
    });
    await expect(runModelCommand('train', ['--model', 'ltv'])).rejects.toMatchObject({
      code: 'BW_ERR_CLI_USAGE',
    });
  });
});

describe('readNdjsonPurchases', () => {
  it('keeps purchases and refunds, counts the rest', async () => {
    const { emptyNdjsonStats, readNdjsonPurchases } = await import('../../models/datasets/ndjson.js');
    const file = path.join(dir, 'mixed.ndjson');
    await writeFile(
      file,
      [
        '{"event_id":"a","customer_id":"c1","type":"purchase","ts":"2024-01-02T10:00:00Z","amount":12.5,"quantity":2}',
        '{"customer_id":"c1","type":"refund","ts":1704200000000,"amount":-3}',
        '{"event_id":"b","customer_id":"c1","type":"login","ts":1704200000000}',
        '{"event_id":"c","type":"purchase","ts":1704200000000}',
        '{"event_id":"d","customer_id":"c2","type":"purchase","ts":"yesterday"}',
        '',
      ].join('\n'),
    );
    const stats = emptyNdjsonStats();
    const events = [];
    for await (const e of readNdjsonPurchases(file, stats)) events.push(e);
    expect(stats).toEqual({ rows: 5, otherTypes: 1, malformed: 2, events: 2 });
    expect(events).toEqual([
      {
        event_id: 'a',
        customer_id: 'c1',
        type: 'purchase',
        ts: Date.UTC(2024, 0, 2, 10),
        amount: 12.5,
        quantity: 2,
      },
      { event_id: 'nd-2', customer_id: 'c1', type: 'refund', ts: 1704200000000, amount: 3, quantity: 0 },
    ]);
    await writeFile(file, 'not json\n');
    const read = async () => {
      for await (const _ of readNdjsonPurchases(file)) {
        // drain
      }
    };
    await expect(read()).rejects.toMatchObject({ code: 'BW_ERR_INPUT_FORMAT' });
  });
});
