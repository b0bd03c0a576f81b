/**
 * Cleansing end to end: a real nats-server, the real engine with a rules file (BW_CLEANSING_FILE),
 * events published over NATS. An outlier lands on bw.dlq.outlier and a near-duplicate on
 * bw.dlq.near_duplicate (sealed, counted, kept out of the features), a missing channel is repaired
 * and counted, and `bellwether dlq replay --reason outlier` brings the reviewed outlier back.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { distPath } from '../../lib/paths.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, openDeadLetter, publishCore, readStream, type TestEvent } from '../support/publish.js';

const PARTITIONS = 2;
const T = Date.UTC(2026, 2, 10, 12, 0, 0);
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let rules: string;

function purchase(id: string, customer: string, ts: number, amount: number, sku: string): TestEvent {
  return {
    event_id: id,
    customer_id: customer,
    type: 'purchase',
    ts: iso(ts),
    amount,
    currency: 'EUR',
    sku,
    channel: 'web',
  };
}

async function metric(rule: string, action: string): Promise<number> {
  const text = (await engine.get('/metrics')).text;
  const m = new RegExp(`bellwether_events_cleansed_total\\{rule="${rule}",action="${action}"\\} (\\d+)`).exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

async function answer(id: string): Promise<CustomerAnswer | undefined> {
  const res = await engine.get(`/v1/customers/${id}`);
  return res.status === 200 ? (res.body as CustomerAnswer) : undefined;
}

function dlq(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(
    process.execPath,
    [distPath('cli', 'main.js'), 'dlq', ...args, '--nats-url', nats.url],
    {
      env: { PATH: process.env['PATH'] ?? '', BW_DATA_DIR: engine.dataDir },
    },
  );
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  const dir = await mkdtemp(path.join(tmpdir(), 'bw-cleansing-it-'));
  rules = path.join(dir, 'cleansing.yaml');
  // Judged after 20 amounts per currency in a partition, so a short test warms up.
  await writeFile(rules, 'outliers:\n  amount:\n    min_count: 20\nnear_duplicates:\n  window: 10m\n');
  engine = await startEngineProcess({
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: String(PARTITIONS),
    BW_WORKERS: '1',
    BW_CLOCK: 'event',
    BW_CLEANSING_FILE: rules,
    BW_MODELS_DIR: await writeFixtureModels(),
  });
  await publishCore(nc, anchorEvents(PARTITIONS, T));
}, 90_000);

afterAll(async () => {
  const code = await engine?.stop('SIGTERM');
  expect(code).toBe(0);
  await nc?.close();
  await nats?.stop();
});

describe('cleansing end to end', () => {
  it('quarantines an outlier and a near-duplicate, repairs a missing channel, and replays the reviewed outlier', async () => {
    // 60 customers with ordinary purchases: every partition's euro amounts are warm.
    const ordinary = Array.from({ length: 60 }, (_, i) =>
      purchase(`w-${i}`, `buyer-${i}`, T - 2 * DAY_MS, 20 + (i % 9) * 10, `SKU-${i}`),
    );
    await publishCore(nc, ordinary);
    await waitFor(
      async () => ((await answer('buyer-59')) ? true : undefined),
      30_000,
      'the ordinary purchases',
    );
    await publishCore(nc, [
      purchase('o-1', 'olga', T - DAY_MS, 4_500_000, 'SKU-o'),
      purchase('n-1', 'ned', T - DAY_MS, 40, 'SKU-n'),
      purchase('n-2', 'ned', T - DAY_MS + 2 * MIN, 40, 'SKU-n'),
      { event_id: 'm-1', customer_id: 'mia', type: 'session_start', ts: iso(T - DAY_MS), session_id: 's1' },
    ]);
    const letters = await waitFor(
      async () => {
        const msgs = await readStream(nc, 'BW_DLQ');
        return msgs.length >= 2 ? msgs : undefined;
      },
      30_000,
      'two quarantined events',
    );
    expect(letters.map((m) => m.subject).sort()).toEqual(['bw.dlq.near_duplicate', 'bw.dlq.outlier']);
    for (const letter of letters) expect(letter.headers['Bw-Error-Code']).toBe('BW_ERR_EVENT_QUARANTINED');
    const outlier = letters.find((m) => m.subject === 'bw.dlq.outlier')!;
    expect(JSON.parse(await openDeadLetter(outlier, engine.dataDir))).toMatchObject({
      event_id: 'o-1',
      amount: 4_500_000,
    });
    const ned = await waitFor(() => answer('ned'), 30_000, 'ned');
    expect(ned.features['purchases_lifetime']).toBe(1);
    await waitFor(() => answer('mia'), 30_000, 'mia');
    expect(await answer('olga')).toBeUndefined();
    expect(await metric('outlier_amount', 'quarantined')).toBe(1);
    expect(await metric('near_duplicate', 'quarantined')).toBe(1);
    expect(await metric('missing_channel', 'repaired')).toBeGreaterThanOrEqual(1);

    // `dlq read` shows both with their bodies opened; `dlq replay` needs a reason.
    const read = (await dlq(['read', '--limit', '5'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(read.map((l: { reason: string }) => l.reason).sort()).toEqual(['near_duplicate', 'outlier']);
    expect(read.find((l: { reason: string }) => l.reason === 'near_duplicate').body).toContain(
      '"event_id":"n-2"',
    );
    await expect(dlq(['replay'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('BW_ERR_CLI_USAGE'),
    });

    // A dry run says what it would do and changes nothing.
    const dry = await dlq(['replay', '--reason', 'outlier', '--dry-run']);
    expect(
      dry.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      expect.objectContaining({ event_id: 'o-1', subject: 'bw.events.purchase.olga', replayed: false }),
    ]);
    expect((await readStream(nc, 'BW_DLQ')).length).toBe(2);

    // Reviewed and replayed: admitted this time, and gone from the dead letters.
    const done = await dlq(['replay', '--reason', 'outlier']);
    expect(
      done.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([expect.objectContaining({ event_id: 'o-1', replayed: true })]);
    const olga = await waitFor(() => answer('olga'), 30_000, 'olga replayed');
    expect(olga.features['spend_lifetime']).toBe(4_500_000);
    expect((await readStream(nc, 'BW_DLQ')).map((m) => m.subject)).toEqual(['bw.dlq.near_duplicate']);
    expect(await metric('outlier_amount', 'reviewed')).toBe(1);
    // Nothing left to replay for that reason.
    expect((await dlq(['replay', '--reason', 'outlier'])).stdout.trim()).toBe('');
  }, 120_000);

  it('reloads the rules file on change, keeping the previous rules after an invalid edit', async () => {
    const logged = (text: string) =>
      waitFor(async () => (engine.logs.some((l) => l.includes(text)) ? true : undefined), 15_000, text);
    await writeFile(rules, 'outliers:\n  amount:\n    threshold: -1\n');
    await logged('cleansing rules rejected; keeping the previous ones');
    await publishCore(nc, [purchase('o-2', 'owen', T - DAY_MS, 6_000_000, 'SKU-w')]);
    await waitFor(
      async () =>
        (await readStream(nc, 'BW_DLQ')).filter((m) => m.subject === 'bw.dlq.outlier').length === 1
          ? true
          : undefined,
      15_000,
      'the outlier quarantined under the previous rules',
    );
    // Amounts no longer judged: another wild one is admitted.
    await writeFile(rules, 'outliers:\n  amount:\n    enabled: false\n');
    await logged('"cleansing rules reloaded"');
    await publishCore(nc, [purchase('o-3', 'oscar', T - DAY_MS, 9_000_000, 'SKU-x')]);
    const oscar = await waitFor(() => answer('oscar'), 30_000, 'oscar admitted');
    expect(oscar.features['spend_lifetime']).toBe(9_000_000);
    expect(await answer('owen')).toBeUndefined();
  }, 120_000);
});
