/**
 * Integrity of what goes in (issues 18 and 22), on a real nats-server and engine process: a stray
 * far-future event does not age a partition's customers, a partition running ahead of the others
 * is held to the common clock, and out-of-bounds amounts are dead-lettered while big legitimate
 * sums are neither saturated nor able to break an answer.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOfCustomer } from '../../contract/subjects.js';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, publishCore, readStream, type TestEvent } from '../support/publish.js';

const PARTITIONS = 4;
/** The event clock of every partition starts here (anchors). */
const T = Date.UTC(2026, 5, 16, 12);
const iso = (ms: number) => new Date(ms).toISOString();

let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let seq = 0;

function ev(customer: string, type: string, ts: number, extra: Partial<TestEvent> = {}): TestEvent {
  return { event_id: `i-${++seq}`, customer_id: customer, type, ts: iso(ts), ...extra };
}

/** A customer id of `partition` not used yet, starting with `prefix`. */
function customerOf(partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partitionOfCustomer(id, PARTITIONS) === partition) return id;
  }
}

async function answer(id: string, events: number): Promise<CustomerAnswer> {
  return waitFor(
    async () => {
      const res = await engine.get(`/v1/customers/${encodeURIComponent(id)}`);
      if (res.status !== 200) return undefined;
      const body = res.body as CustomerAnswer;
      return body.features['events_lifetime'] === events ? body : undefined;
    },
    30_000,
    `customer ${id} with ${events} events`,
  );
}

async function metric(name: string): Promise<number> {
  const text = (await engine.get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  engine = await startEngineProcess({
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: String(PARTITIONS),
    BW_WORKERS: '2',
    BW_CLOCK: 'event',
    BW_MODELS_DIR: await writeFixtureModels(),
  });
  await publishCore(nc, anchorEvents(PARTITIONS, T));
});

afterAll(async () => {
  const code = await engine?.stop('SIGTERM');
  expect(code).toBe(0);
  await nc?.close();
  await nats?.stop();
});

describe('integrity of what goes in', () => {
  it('does not age a partition for one event stamped at the wall clock, and holds a runaway partition to the common clock', async () => {
    const kim = 'kim';
    const p = partitionOfCustomer(kim, PARTITIONS);
    await publishCore(nc, [ev(kim, 'purchase', T - 10 * DAY_MS, { amount: 40 })]);
    expect((await answer(kim, 1)).features['days_since_last_purchase']).toBe(10);
    // Issue 18: one event of another customer of the partition, stamped ~3 months ahead.
    await publishCore(nc, [ev(customerOf(p, 'stray'), 'login', T + 82 * DAY_MS)]);
    await publishCore(nc, [ev(kim, 'page_view', T - HOUR_MS)]);
    const after = await answer(kim, 2);
    expect(after.features['days_since_last_purchase']).toBe(10);
    expect(await metric('bellwether_watermark_held_total')).toBe(1);
    // A burst of far-ahead events in this partition alone: a quorum moves its watermark, but its
    // clock stays within a day of the others' (the partitions' median).
    await publishCore(
      nc,
      [1, 2, 3].map((k) => ev(customerOf(p, `burst${k}`), 'login', T + 90 * DAY_MS)),
    );
    await publishCore(nc, [ev(kim, 'page_view', T - HOUR_MS)]);
    const held = await answer(kim, 3);
    expect(held.features['days_since_last_purchase']).toBe(11);
  });

  it('dead-letters negative, huge and infinite-making amounts, and sums big legitimate ones without saturating', async () => {
    const lee = 'lee';
    await publishCore(nc, [
      ev(lee, 'purchase', T - DAY_MS, { amount: -50 }),
      ev(lee, 'purchase', T - DAY_MS, { amount: 9.9e12 }),
      ev(lee, 'purchase', T - DAY_MS, { amount: 1e308 }),
      ev(lee, 'purchase', T - DAY_MS, { amount: 1e308 }),
      ev(lee, 'purchase', T - DAY_MS, { amount: 10, quantity: -3 }),
      ev(lee, 'purchase', T - DAY_MS, { amount: 30_000_000.25 }),
      ev(lee, 'purchase', T - 2 * DAY_MS, { amount: 1e9 }),
      ev(lee, 'purchase', T - 2 * DAY_MS, { amount: 1e9 }),
    ]);
    const body = await answer(lee, 3);
    // Above the old 32-bit cents limit (21,474,836.47), exact to the cent.
    expect(body.features['spend_7d']).toBe(2_030_000_000.25);
    expect(body.features['spend_lifetime']).toBe(2_030_000_000.25);
    expect(body.features['purchases_lifetime']).toBe(3);
    const letters = await waitFor(async () => {
      const all = (await readStream(nc, 'BW_DLQ')).filter((m) => m.subject !== 'bw.dlq.subject_mismatch');
      return all.length >= 5 ? all : undefined;
    });
    expect(letters.map((m) => m.headers['Bw-Reason']).sort()).toEqual([
      'bad_amount',
      'bad_amount',
      'bad_amount',
      'bad_amount',
      'bad_quantity',
    ]);
    expect(letters.map((m) => m.subject)).toContain('bw.dlq.bad_quantity');
  });
});
