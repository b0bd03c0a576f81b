/**
 * nats-server stopped and restarted mid-stream on the same store: the engine reports not-ready
 * while it cannot consume, reconnects by itself, and loses nothing.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOfCustomer } from '../../contract/subjects.js';
import { eventsStreamOf } from '../../engine/nats/streams.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, featureOf, waitFor } from '../support/engine-process.js';
import type { TestNats } from '../support/nats-server.js';
import { partitionConsumer, publishCore, purchaseRun, type TestEvent } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';

const T = Date.UTC(2026, 6, 1);
let nats: TestNats;
let engine: EngineProcess;

function purchases(customer: string, from: number, count: number): TestEvent[] {
  return purchaseRun(customer, from, count, { end: T, stepMs: 3_600_000, amount: 1 });
}

function lifetime(id: string): Promise<number | undefined> {
  return featureOf(engine, id, 'purchases_lifetime');
}

async function withClient<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: nats.url });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack(4, { BW_CLOCK: 'event' });
  ({ nats, engine } = stack);
});

afterAll(async () => {
  await stack?.stop('SIGKILL');
});

describe('NATS faults', () => {
  it('reconnects after nats-server restarts and loses nothing', async () => {
    await withClient((nc) => publishCore(nc, purchases('ivy', 0, 50)));
    await waitFor(async () => ((await lifetime('ivy')) === 50 ? true : undefined), 20_000, 'first half');
    const r0 = await engine.get('/readyz');
    expect(r0.status, JSON.stringify(r0.body)).toBe(200);

    await nats.restart();
    // Right after the restart the engine may still be reconnecting; it must come back by itself.
    await withClient((nc) => publishCore(nc, purchases('ivy', 50, 50)));
    await waitFor(async () => ((await lifetime('ivy')) === 100 ? true : undefined), 60_000, 'second half');
    const ready = await waitFor(
      async () => ((await engine.get('/readyz')).status === 200 ? true : undefined),
      30_000,
    );
    expect(ready).toBe(true);
    const answer = (await engine.get('/v1/customers/ivy')).body as CustomerAnswer;
    expect(answer.features['spend_lifetime']).toBe(100);
    expect(answer.features['days_since_last_purchase']).toBe(0);
    expect(answer.features['tenure_days']).toBeCloseTo(99 / 24, 10);
  });

  it('is not ready while the server is down', async () => {
    await nats.stopOnly();
    const notReady = await waitFor(
      async () => {
        const res = await engine.get('/readyz');
        return res.status === 503 ? res.body : undefined;
      },
      30_000,
      'not ready',
    );
    expect(notReady).toMatchObject({ ready: false, nats_connected: false });
    expect((await engine.get('/healthz')).status).toBe(200);
    await nats.startAgain();
    await waitFor(
      async () => ((await engine.get('/readyz')).status === 200 ? true : undefined),
      60_000,
      'ready again',
    );
  });

  it('recreates a consumer that was deleted under it and resumes after its last sequence', async () => {
    await withClient((nc) => publishCore(nc, purchases('jon', 0, 20)));
    await waitFor(async () => ((await lifetime('jon')) === 20 ? true : undefined), 20_000, 'jon first');
    await withClient(async (nc) => {
      const jsm = await jetstreamManager(nc);
      const p = partitionOfCustomer('jon', 4);
      await jsm.consumers.delete(
        eventsStreamOf(p, 'partitioned'),
        (await partitionConsumer(jsm, eventsStreamOf(p, 'partitioned'), p)).name,
      );
    });
    await withClient((nc) => publishCore(nc, purchases('jon', 20, 20)));
    await waitFor(
      async () => ((await lifetime('jon')) === 40 ? true : undefined),
      60_000,
      'jon after recreation',
    );
    const answer = (await engine.get('/v1/customers/jon')).body as CustomerAnswer;
    expect(answer.features['spend_lifetime']).toBe(40);
    expect(engine.logs.some((l) => l.includes('consumer recreated'))).toBe(true);
    await waitFor(
      async () => ((await engine.get('/readyz')).status === 200 ? true : undefined),
      30_000,
      'ready',
    );
  });
});
