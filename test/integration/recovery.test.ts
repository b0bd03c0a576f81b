/**
 * kill -9 at any moment: a producer publishes a known workload (with duplicates) while the engine
 * is killed with SIGKILL several times and restarted on the same data directory. Once it has caught
 * up, every customer's features must equal the truth computed from the distinct events, exactly,
 * and no alert may have been published twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import { eventSubject } from '../../contract/subjects.js';
import { DAY_MS } from '../../contract/time.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { FeatureTable } from '../../operators/features/feature-table.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, readStream, type TestEvent } from '../support/publish.js';

const PARTITIONS = 4;
const CUSTOMERS = 200;
const EVENTS = 6000;
const T = Date.UTC(2026, 4, 1);

let nats: TestNats;
let nc: NatsConnection;
let dataDir: string;
let modelsDir: string;
let engine: EngineProcess | undefined;

function workload(): TestEvent[] {
  let seed = 12345;
  const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const events: TestEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const type = EVENT_TYPES[Math.floor(rand() * EVENT_TYPES.length)]!;
    const e: TestEvent = {
      event_id: `w-${i}`,
      customer_id: `cust-${Math.floor(rand() * CUSTOMERS)}`,
      type,
      ts: new Date(T - Math.floor(rand() * 120 * DAY_MS) - 1).toISOString(),
    };
    // Amounts of one shop's range (20–500): a few cents beside hundreds would be quarantined as
    // outliers by the default cleansing rules (docs/cleansing.md), and this test is about crashes.
    if (type === 'purchase' || type === 'refund') e.amount = 20 + Math.round(rand() * 48_000) / 100;
    events.push(e);
  }
  // One event per partition at T pins every watermark (event clock) to T.
  events.push(...anchorEvents(PARTITIONS, T));
  return events;
}

function engineEnv(): Record<string, string> {
  return {
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: String(PARTITIONS),
    BW_WORKERS: '2',
    BW_CLOCK: 'event',
    BW_DATA_DIR: dataDir,
    BW_MODELS_DIR: modelsDir,
    BW_CHECKPOINT_SECONDS: '0.5',
    // A restart after a kill -9 waits for the killed instance's partition leases to run out.
    BW_LEASE_SECONDS: '2',
    BW_CHURN_ALERT_THRESHOLD: '50',
  };
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'bw-recovery-'));
  modelsDir = await writeFixtureModels();
});

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('recovery after kill -9', () => {
  it('ends with exactly the features of the distinct events, after several SIGKILLs', async () => {
    const events = workload();
    // 10% of the events are published a second time, later, without Nats-Msg-Id (a producer retry).
    const retries = events.filter((_, i) => i % 10 === 3);
    const js = jetstream(nc);
    engine = await startEngineProcess(engineEnv(), [], 60_000);
    let kills = 0;
    const chunks = 12;
    const size = Math.ceil(events.length / chunks);
    for (let c = 0; c < chunks; c++) {
      const chunk = events.slice(c * size, (c + 1) * size);
      await Promise.all(
        chunk.map((e) =>
          js.publish(eventSubject(e.type, e.customer_id), JSON.stringify(e), { msgID: e.event_id }),
        ),
      );
      const retry = retries.filter((_, i) => i % chunks === c);
      for (const e of retry) nc.publish(eventSubject(e.type, e.customer_id), JSON.stringify(e));
      await nc.flush();
      if (c % 3 === 1) {
        // Let the engine work for a random moment, then kill it mid-stream and restart it.
        await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 900)));
        await engine.stop('SIGKILL');
        kills++;
        engine = await startEngineProcess(engineEnv(), [], 60_000);
      }
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const live = engine;
    await waitFor(
      async () => {
        // Every partition run here (the killed instance's leases ran out), attached and caught up.
        if ((await live.get('/readyz')).status !== 200) return undefined;
        const res = await live.get('/v1/info');
        const parts = (
          res.body as { partition_status: { pending: number; ack_pending: number; caught_up: boolean }[] }
        ).partition_status;
        return parts.every((p) => p.caught_up && p.pending === 0 && p.ack_pending === 0) ? true : undefined;
      },
      60_000,
      'caught up',
    );

    const truth = new FeatureTable();
    for (const e of events) {
      truth.fold(truth.slotFor(e.customer_id), {
        typeIndex: eventTypeIndex(e.type),
        ts: Date.parse(String(e.ts)),
        amount: e.amount ?? 0,
      });
    }
    const customers = new Set(events.map((e) => e.customer_id));
    for (const id of customers) {
      const res = await live.get(`/v1/customers/${id}`);
      expect(res.status, id).toBe(200);
      const answer = res.body as CustomerAnswer;
      expect(answer.features, id).toEqual(truth.featureRecord(truth.slotOf(id)!, T));
    }

    const alerts = (await readStream(nc, 'BW_ALERTS')).map((m) => m.json<Record<string, string>>());
    const ids = alerts.map((a) => a['alert_id']);
    expect(new Set(ids).size).toBe(ids.length);
    const crossings = alerts.map((a) => `${a['kind']}|${a['customer_id']}|${a['event_time']}`);
    expect(new Set(crossings).size).toBe(crossings.length);
  }, 240_000);
});
