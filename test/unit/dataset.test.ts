import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import {
  emptyReaderStats,
  parseInvoiceDate,
  type RetailEvent,
  readAllSorted,
  readOnlineRetail,
  splitCsvLine,
} from '../../models/datasets/online-retail.js';
import {
  buildDataset,
  type DatasetEvent,
  type DatasetRow,
  eventTypeOf,
  lowerBound,
} from '../../models/train/dataset.js';
import { FeatureTable } from '../../operators/features/feature-table.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const C1 = Date.UTC(2024, 2, 1);
const C2 = Date.UTC(2024, 3, 1);

function ev(customer_id: string, type: 'purchase' | 'refund', ts: number, amount = 10): DatasetEvent {
  return { customer_id, type, ts, amount };
}

function sorted(events: DatasetEvent[]): DatasetEvent[] {
  return [...events].sort((a, b) => a.ts - b.ts);
}

/** Pre-cutoff history shared by the label tests. */
const HISTORY: DatasetEvent[] = [
  ev('a', 'purchase', C1 - 40 * DAY_MS, 25.5),
  ev('a', 'refund', C1 - 20 * DAY_MS, 5),
  ev('a', 'purchase', C1 - 3 * DAY_MS - HOUR_MS, 12.25),
  ev('b', 'purchase', C1 - 100 * DAY_MS, 99.99),
  ev('c', 'purchase', C1 - 1, 1),
  ev('f', 'purchase', C1 - 50 * DAY_MS, 7),
  ev('d', 'refund', C1 - 10 * DAY_MS, 3), // refund only: not a buyer
];

const FUTURE: DatasetEvent[] = [
  ev('a', 'purchase', C1), // exactly at the cutoff: after it
  ev('b', 'purchase', C1 + 90 * DAY_MS), // exactly at cutoff + 90d: outside the churn window
  ev('f', 'purchase', C1 + 14 * DAY_MS), // exactly at cutoff + 14d: outside the intent window
  ev('c', 'purchase', C1 + 90 * DAY_MS - 1),
  ev('c', 'purchase', C1 + 14 * DAY_MS - 1),
  ev('d', 'purchase', C1 + 2 * DAY_MS),
  ev('e', 'purchase', C1 + DAY_MS), // first seen after the cutoff
];

function byCustomer(rows: DatasetRow[], cutoff: number): Map<string, DatasetRow> {
  return new Map(rows.filter((r) => r.cutoff === cutoff).map((r) => [r.customer_id, r]));
}

/** Features of `id` from a fresh FeatureTable folded by hand with the events before `cutoff`. */
function handFolded(events: readonly DatasetEvent[], id: string, cutoff: number): Float64Array {
  const table = new FeatureTable();
  const slot = table.slotFor(id);
  for (const e of events) {
    if (e.customer_id !== id || e.ts >= cutoff) continue;
    table.fold(slot, { typeIndex: eventTypeIndex(e.type), ts: e.ts, amount: e.amount });
  }
  const out = new Float64Array(table.names.length);
  table.features(slot, cutoff, out);
  return out;
}

describe('buildDataset labels', () => {
  const rows = buildDataset(sorted([...HISTORY, ...FUTURE]), [C1]);
  const at = byCustomer(rows, C1);

  it('emits one row per customer with a purchase before the cutoff', () => {
    expect([...at.keys()].sort()).toEqual(['a', 'b', 'c', 'f']);
    expect(rows.every((r) => r.cutoff === C1)).toBe(true);
  });

  it('counts a purchase exactly at the cutoff as after it', () => {
    expect(at.get('a')).toMatchObject({ churn: 0, intent: 1 });
  });

  it('leaves purchases at cutoff + 90d and cutoff + 14d outside their windows', () => {
    expect(at.get('b')).toMatchObject({ churn: 1, intent: 0 });
    expect(at.get('f')).toMatchObject({ churn: 0, intent: 0 });
  });

  it('keeps purchases 1 ms before the window ends inside it', () => {
    expect(at.get('c')).toMatchObject({ churn: 0, intent: 1 });
  });

  it('honours other horizons', () => {
    const short = byCustomer(
      buildDataset(sorted([...HISTORY, ...FUTURE]), [C1], { churnDays: 1, intentDays: 1 }),
      C1,
    );
    expect(short.get('a')).toMatchObject({ churn: 0, intent: 1 });
    expect(short.get('c')).toMatchObject({ churn: 1, intent: 0 });
  });
});

describe('buildDataset features', () => {
  const events = sorted([...HISTORY, ...FUTURE]);
  const rows = buildDataset(events, [C1, C2]);

  it('equal those of a FeatureTable folded by hand with only pre-cutoff events', () => {
    for (const cutoff of [C1, C2]) {
      const at = byCustomer(rows, cutoff);
      for (const [id, row] of at)
        expect(Array.from(row.features)).toEqual(Array.from(handFolded(events, id, cutoff)));
    }
    expect(byCustomer(rows, C2).get('a')!.features).not.toEqual(byCustomer(rows, C1).get('a')!.features);
  });

  it('add customers as they make their first purchase', () => {
    expect([...byCustomer(rows, C2).keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('read the feature vector at now = cutoff', () => {
    const table = new FeatureTable();
    const a = byCustomer(rows, C1).get('a')!;
    const index = (name: string) => table.names.indexOf(name);
    expect(a.features[index('days_since_last_purchase')]).toBeCloseTo(3 + 1 / 24, 9);
    expect(a.features[index('purchases_lifetime')]).toBe(2);
    expect(a.features[index('spend_lifetime')]).toBeCloseTo(37.75, 9);
    expect(a.features[index('refunds_lifetime')]).toBe(1);
  });

  it('never see events after the cutoff', () => {
    const changedFuture = [
      ...FUTURE.map((e) => ({ ...e, amount: e.amount * 7 + 1 })),
      ev('a', 'refund', C1 + 5),
      ev('b', 'purchase', C1 + 1000),
      ev('c', 'refund', C1),
    ];
    const other = byCustomer(buildDataset(sorted([...HISTORY, ...changedFuture]), [C1]), C1);
    const base = byCustomer(buildDataset(sorted(HISTORY), [C1]), C1);
    for (const [id, row] of byCustomer(rows, C1)) {
      expect(Array.from(other.get(id)!.features)).toEqual(Array.from(row.features));
      expect(Array.from(base.get(id)!.features)).toEqual(Array.from(row.features));
    }
    // with no future at all everybody churns and nobody buys
    expect([...base.values()].every((r) => r.churn === 1 && r.intent === 0)).toBe(true);
  });

  it('rejects unsorted events, unsorted cutoffs and unknown types', () => {
    expect(() => buildDataset([ev('a', 'purchase', 2), ev('a', 'purchase', 1)], [C1])).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /sorted by ts, event 1 is earlier/),
    );
    expect(() => buildDataset([], [C2, C1])).toThrow(coded('BW_ERR_INVALID_ARGUMENT', /strictly ascending/));
    expect(() => buildDataset([{ customer_id: 'a', type: 'nope', ts: 1, amount: 0 }], [C1])).toThrow(
      coded('BW_ERR_INPUT_FORMAT', /unknown event type nope/),
    );
    expect(eventTypeOf({ type: 'refund' })).toBe(eventTypeIndex('refund'));
  });

  it('lowerBound finds the first element ≥ t', () => {
    const times = Float64Array.from([1, 3, 3, 5]);
    expect([0, 1, 2, 3, 4, 5, 6].map((t) => lowerBound(times, t))).toEqual([0, 0, 1, 1, 3, 3, 4]);
  });
});

describe('readOnlineRetail', () => {
  let dir: string;
  let file: string;
  const csv = [
    'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country',
    '536365,85123A,"WHITE HANGING HEART, T-LIGHT",6,2010-12-01 08:26:00,2.55,17850,United Kingdom',
    '536365,71053,"RECORD FRAME 7"" SINGLE",3,2010-12-01 08:27:00,0.10,17850,United Kingdom',
    '536366,22633,NO CUSTOMER,6,2010-12-01 08:28:00,1.85,,United Kingdom',
    'C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom',
    'C536379,D,Discount,-2,2010-12-01 09:41:00,0.33,14527,United Kingdom',
    '536370,22728,ALARM CLOCK,24,2010-12-01 08:45:00,3.75,12583,France',
    '536365,22752,LATE ROW OF 536365,1,2010-12-01 08:26:00,0.01,17850,United Kingdom',
    '',
  ].join('\n');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bw-retail-'));
    file = path.join(dir, 'retail.csv.gz');
    await writeFile(file, gzipSync(csv));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('splits quoted CSV fields', () => {
    expect(splitCsvLine('a,"b, c",d')).toEqual(['a', 'b, c', 'd']);
    expect(splitCsvLine('"x ""y"" z",,')).toEqual(['x "y" z', '', '']);
    expect(splitCsvLine('"",1')).toEqual(['', '1']);
  });

  it('reads InvoiceDate as UTC', () => {
    expect(parseInvoiceDate('2011-06-15 13:05:00')).toBe(Date.UTC(2011, 5, 15, 13, 5));
    expect(parseInvoiceDate('15/06/2011')).toBeNaN();
  });

  it('groups an invoice into one event and counts what it skips', async () => {
    const stats = emptyReaderStats();
    const events: RetailEvent[] = [];
    for await (const e of readOnlineRetail(file, stats)) events.push(e);
    expect(stats).toEqual({ rows: 7, skippedNoCustomer: 1, malformed: 0, invoices: 3, lateRows: 1 });
    const byId = new Map(events.map((e) => [e.event_id, e]));
    expect(byId.get('or-536365')).toEqual({
      event_id: 'or-536365',
      customer_id: '17850',
      type: 'purchase',
      ts: Date.UTC(2010, 11, 1, 8, 26),
      amount: 15.61, // 6 × 2.55 + 3 × 0.10 + 1 × 0.01
      quantity: 10,
    });
    expect(byId.get('or-C536379')).toEqual({
      event_id: 'or-C536379',
      customer_id: '14527',
      type: 'refund',
      ts: Date.UTC(2010, 11, 1, 9, 41),
      amount: 28.16,
      quantity: 3,
    });
    expect(byId.get('or-536370')).toMatchObject({ customer_id: '12583', amount: 90, quantity: 24 });
  });

  it('readAllSorted sorts by ts', async () => {
    const events = await readAllSorted(file);
    expect(events.map((e) => e.event_id)).toEqual(['or-536365', 'or-536370', 'or-C536379']);
  });
});
