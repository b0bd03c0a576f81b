import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitClv } from '../../models/clv/fit.js';
import {
  emptyCdnowStats,
  parseCdnowDate,
  parseCdnowLine,
  readCdnow,
  readCdnowSorted,
} from '../../models/datasets/cdnow.js';
import { inputFormat, loadEvents } from '../../models/datasets/load.js';

/** A few lines in the layout of the CDNOW master file (customer id, YYYYMMDD, CDs, dollars). */
const MASTER = [
  '00001 19970101 1 11.77',
  '00002 19970112 1 12.00',
  '00002 19970112 5 77.00',
  '00003 19970102 2 20.76',
  '00003 19970330 2 20.76',
  '',
  '00003 19970402 2 19.54',
  '00004 19970101 2 29.33',
  'garbage line',
  '00004 19970231 1 10.00',
  '00005 19970101 x 10.00',
  '00005 19970101 1 -3',
].join('\n');

/** The 5-column sample layout: customer id, sample id, date, CDs, dollars (tabs and runs of spaces). */
const SAMPLE = [
  '    4    1 19970101 2 29.33',
  '   18    2\t19970101 1 14.96',
  '   18    2 19970303 1 11.77',
].join('\r\n');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bw-cdnow-'));
  await writeFile(path.join(dir, 'CDNOW_master.txt'), MASTER);
  await writeFile(path.join(dir, 'CDNOW_sample.txt.gz'), gzipSync(SAMPLE));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseCdnowLine', () => {
  it('reads both layouts and normalises numeric ids', () => {
    expect(parseCdnowLine('00001 19970101 1 11.77')).toEqual({
      customer: '1',
      date: '19970101',
      ts: Date.UTC(1997, 0, 1),
      quantity: 1,
      amount: 11.77,
    });
    expect(parseCdnowLine('    4    1 19970101 2 29.33')).toMatchObject({
      customer: '4',
      quantity: 2,
      amount: 29.33,
    });
    expect(parseCdnowLine('abc 19970101 1 0')).toMatchObject({ customer: 'abc', amount: 0 });
  });

  it('rejects bad lines and dates', () => {
    expect(parseCdnowLine('1 2 3')).toBeUndefined();
    expect(parseCdnowLine('1 19970231 1 1')).toBeUndefined();
    expect(parseCdnowLine('1 1997-01-01 1 1')).toBeUndefined();
    expect(parseCdnowLine('1 19970101 1 -1')).toBeUndefined();
    expect(parseCdnowLine('1 19970101 x 1')).toBeUndefined();
    expect(Number.isNaN(parseCdnowDate('19971301'))).toBe(true);
    expect(parseCdnowDate('19980630')).toBe(Date.UTC(1998, 5, 30));
  });
});

describe('readCdnow', () => {
  it('emits one purchase per line with a unique event id and counts malformed lines', async () => {
    const stats = emptyCdnowStats();
    const events = [];
    for await (const e of readCdnow(path.join(dir, 'CDNOW_master.txt'), stats)) events.push(e);
    expect(stats).toEqual({ rows: 11, malformed: 4, events: 7 });
    expect(events[0]).toEqual({
      event_id: 'cd-1-19970101-1',
      customer_id: '1',
      type: 'purchase',
      ts: Date.UTC(1997, 0, 1),
      amount: 11.77,
      quantity: 1,
    });
    // Two purchases of customer 2 on one day stay two events.
    expect(events.filter((e) => e.customer_id === '2').map((e) => e.event_id)).toEqual([
      'cd-2-19970112-2',
      'cd-2-19970112-3',
    ]);
    expect(events.find((e) => e.customer_id === '3' && e.amount === 19.54)?.event_id).toBe('cd-3-19970402-7');
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  });

  it('sorts by time for replay and the offline tools; reads gzip and the 5-column layout', async () => {
    const sorted = await readCdnowSorted(path.join(dir, 'CDNOW_master.txt'));
    expect(sorted.map((e) => e.ts)).toEqual([...sorted.map((e) => e.ts)].sort((a, b) => a - b));
    expect(sorted.slice(0, 3).map((e) => e.customer_id)).toEqual(['1', '4', '3']);
    const sample = await readCdnowSorted(path.join(dir, 'CDNOW_sample.txt.gz'));
    expect(sample.map((e) => [e.customer_id, e.event_id])).toEqual([
      ['4', 'cd-4-19970101-1'],
      ['18', 'cd-18-19970101-2'],
      ['18', 'cd-18-19970303-3'],
    ]);
  });

  it('feeds the offline tools through loadEvents and the CLV fit', async () => {
    expect(inputFormat(undefined, 'x/CDNOW_master.txt')).toBe('cdnow');
    expect(inputFormat(undefined, 'online_retail.csv.gz')).toBe('online-retail');
    expect(inputFormat(undefined, 'events.ndjson')).toBe('ndjson');
    expect(() => inputFormat(undefined, 'data.bin')).toThrow(/--format/);
    expect(() => inputFormat('parquet', 'data.bin')).toThrow(/unknown --format/);
    const loaded = await loadEvents(path.join(dir, 'CDNOW_master.txt'), 'cdnow');
    expect(loaded.format).toBe('cdnow');
    expect(loaded.events).toHaveLength(7);
    const fit = fitClv({ events: loaded.events, calibrationEnd: Date.UTC(1997, 4, 1), unit: 'weeks' });
    expect(fit.customers).toBe(4);
    // Customer 2's two purchases are on one day: no repeat. Customer 3 has two repeat days.
    expect(fit.summaries.find((c) => c.customer_id === '2')).toMatchObject({ x: 0, first_spend: 89 });
    expect(fit.summaries.find((c) => c.customer_id === '3')).toMatchObject({ x: 2 });
    expect(fit.repeat_customers).toBe(1);
  });
});
