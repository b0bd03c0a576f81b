import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStreams, eventsStreamOf } from '../../engine/nats/streams.js';
import {
  createPacer,
  openReplaySource,
  type ReplayableEvent,
  readEvents,
  replayFile,
} from '../../feeds/replay.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { readStream } from '../support/publish.js';

const CDNOW = ['00001 19970101 1 11.77', '00002 19970103 2 20.00', '00001 19970102 3 30.50', 'bad'].join(
  '\n',
);

const RETAIL = [
  'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country',
  '536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom',
  '536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom',
  '536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom',
  'C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom',
].join('\n');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bw-replay-'));
  await writeFile(path.join(dir, 'cdnow.txt'), CDNOW);
  await writeFile(path.join(dir, 'retail.csv.gz'), gzipSync(RETAIL));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function all(source: AsyncIterable<ReplayableEvent>): Promise<ReplayableEvent[]> {
  const out: ReplayableEvent[] = [];
  for await (const e of source) out.push(e);
  return out;
}

describe('replay formats', () => {
  it('cdnow: purchases in event-time order with ISO ts', async () => {
    const source = await openReplaySource(path.join(dir, 'cdnow.txt'), 'cdnow');
    expect(source.total).toBe(3);
    expect(source.stats).toEqual({ rows: 4, malformed: 1, events: 3 });
    expect(await all(source.events)).toEqual([
      {
        event_id: 'cd-1-19970101-1',
        customer_id: '1',
        type: 'purchase',
        ts: '1997-01-01T00:00:00.000Z',
        amount: 11.77,
        quantity: 1,
        currency: 'USD',
      },
      expect.objectContaining({ event_id: 'cd-1-19970102-3', ts: '1997-01-02T00:00:00.000Z', amount: 30.5 }),
      expect.objectContaining({ event_id: 'cd-2-19970103-2', customer_id: '2', quantity: 2 }),
    ]);
  });

  it('online-retail: one purchase per invoice, refunds, rows without CustomerID skipped and counted', async () => {
    const source = await openReplaySource(path.join(dir, 'retail.csv.gz'), 'online-retail');
    expect(source.stats).toMatchObject({ rows: 4, skippedNoCustomer: 1, invoices: 2 });
    expect(await all(source.events)).toEqual([
      {
        event_id: 'or-536365',
        customer_id: '17850',
        type: 'purchase',
        ts: '2010-12-01T08:26:00.000Z',
        amount: 35.64,
        quantity: 12,
        currency: 'GBP',
      },
      expect.objectContaining({ event_id: 'or-C536379', type: 'refund', amount: 27.5, customer_id: '14527' }),
    ]);
  });

  it('ndjson passes through and unknown formats are usage errors', async () => {
    const file = path.join(dir, 'events.ndjson');
    await writeFile(
      file,
      '{"event_id":"e1","customer_id":"c","type":"login","ts":5}\n\n{"event_id":"e2","anonymous_id":"d","type":"page_view","ts":6}\n',
    );
    expect(await all(await readEvents(file, 'ndjson'))).toEqual([
      { event_id: 'e1', customer_id: 'c', type: 'login', ts: 5 },
      { event_id: 'e2', anonymous_id: 'd', type: 'page_view', ts: 6 },
    ]);
    const orphan = path.join(dir, 'orphan.ndjson');
    await writeFile(orphan, '{"event_id":"e3","type":"page_view","ts":6}\n');
    await expect(all(await readEvents(orphan, 'ndjson'))).rejects.toMatchObject({
      code: 'BW_ERR_INPUT_FORMAT',
    });
    await expect(readEvents(file, 'parquet')).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE' });
  });
});

describe('createPacer', () => {
  function clock() {
    let now = 1_000;
    const sleeps: number[] = [];
    return {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(Math.round(ms));
        now += ms;
      },
      sleeps,
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  it('speedup sleeps event-time gaps divided by X', async () => {
    const c = clock();
    const pace = createPacer({ rate: 0, speedup: 3600, now: c.now, sleep: c.sleep });
    const H = 3_600_000;
    await pace(0);
    await pace(H); // one hour of history → 1 s
    await pace(H); // same instant: no wait
    await pace(3 * H); // two more hours → 2 s
    await pace(2 * H); // out of order: never goes back, no wait
    expect(c.sleeps).toEqual([1000, 2000]);
  });

  it('rate caps events per second, and the later deadline wins with both', async () => {
    const c = clock();
    const pace = createPacer({ rate: 10, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 4; i++) await pace(Number.NaN);
    expect(c.sleeps).toEqual([100, 100, 100]);
    const d = clock();
    const both = createPacer({ rate: 2, speedup: 1000, now: d.now, sleep: d.sleep });
    await both(0);
    await both(100); // event time says 0.1 ms, rate says 500 ms
    await both(2_000_000); // event time says 2 s, rate 1 s
    expect(d.sleeps).toEqual([500, 1500]);
  });

  it('skips waits of 5 ms or less without drifting', async () => {
    const c = clock();
    const pace = createPacer({ rate: 0, speedup: 1, now: c.now, sleep: c.sleep });
    await pace(0);
    for (let i = 1; i <= 5; i++) await pace(i);
    // 1 ms gaps are skipped; deadlines are absolute, so skipped time is kept in the next sleep.
    await pace(40);
    expect(c.sleeps).toEqual([40]);
    c.advance(100); // publishing fell behind: no sleep until event time catches up
    await pace(120);
    await pace(150);
    expect(c.sleeps).toEqual([40, 10]);
  });
});

describe('replayFile', () => {
  let nats: TestNats;
  beforeAll(async () => {
    nats = await startNats(1);
    const nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc), {
      partitions: 1,
      eventsMaxAgeDays: 1,
      auditRetentionDays: 1,
    });
    await nc.close();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('publishes a cdnow file paced by --speedup, deduplicated by event id', async () => {
    // Two days of history at a speed-up of 2 days per 0.6 s.
    const speedup = (2 * 86_400_000) / 600;
    const started = Date.now();
    const result = await replayFile({
      file: path.join(dir, 'cdnow.txt'),
      format: 'cdnow',
      natsUrl: nats.url,
      rate: 0,
      speedup,
      quiet: true,
    });
    const elapsed = Date.now() - started;
    expect(result.published).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(590);
    expect(elapsed).toBeLessThan(5000);
    await replayFile({
      file: path.join(dir, 'cdnow.txt'),
      format: 'cdnow',
      natsUrl: nats.url,
      rate: 0,
      quiet: true,
    });
    const nc = await connect({ servers: nats.url });
    try {
      // One partition: its stream holds every event, in publish order.
      const stored = await readStream(nc, eventsStreamOf(0, 'partitioned'));
      expect(stored).toHaveLength(3);
      expect(stored.map((m) => m.headers['Nats-Msg-Id'])).toEqual([
        'cd-1-19970101-1',
        'cd-1-19970102-3',
        'cd-2-19970103-2',
      ]);
      expect(stored[0]!.json<ReplayableEvent>()).toMatchObject({
        type: 'purchase',
        ts: '1997-01-01T00:00:00.000Z',
      });
    } finally {
      await nc.close();
    }
  });

  it('rejects a negative speedup', async () => {
    await expect(
      replayFile({
        file: path.join(dir, 'cdnow.txt'),
        format: 'cdnow',
        natsUrl: nats.url,
        rate: 0,
        speedup: -1,
      }),
    ).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE' });
  });
});
