/**
 * A partition worker thread that dies mid-stream is restarted, reloads its partitions'
 * checkpoints and resumes; the process keeps serving and no event is lost or counted twice.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, featureOf, waitFor } from '../support/engine-process.js';
import { publishCore, purchaseRun, type TestEvent } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';

const T = Date.UTC(2026, 8, 1);
let nc: NatsConnection;
let engine: EngineProcess;

function purchases(customer: string, from: number, count: number): TestEvent[] {
  return purchaseRun(customer, from, count, { end: T, stepMs: 60_000, amount: 2 });
}

function lifetime(id: string): Promise<number | undefined> {
  return featureOf(engine, id, 'purchases_lifetime');
}

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack(4, {
    BW_CLOCK: 'event',
    BW_CHECKPOINT_SECONDS: '0.3',
    BW_TEST_CRASH_EVENT_ID: 'kim-crash',
    // Reads always ask the worker here (the cache-off path).
    BW_ANSWER_CACHE_MS: '0',
  });
  ({ nc, engine } = stack);
});

afterAll(async () => {
  await stack?.stop('SIGKILL');
});

describe('worker thread crash', () => {
  it('restarts the thread, resumes from checkpoints, and loses or doubles nothing', async () => {
    const customers = ['kim', 'lee', 'max', 'ned', 'oda', 'pia'];
    for (const c of customers) await publishCore(nc, purchases(c, 0, 30));
    await waitFor(async () => {
      const counts = await Promise.all(customers.map(lifetime));
      return counts.every((n) => n === 30) ? true : undefined;
    });
    // Let a checkpoint cover the first batch, then crash kim's worker in the middle of the next one.
    await new Promise((r) => setTimeout(r, 800));
    const crash: TestEvent = { ...purchases('kim', 30, 1)[0]!, event_id: 'kim-crash' };
    for (const c of customers) {
      await publishCore(
        nc,
        c === 'kim' ? [...purchases(c, 31, 10), crash, ...purchases(c, 41, 10)] : purchases(c, 30, 21),
      );
    }
    await waitFor(
      async () => {
        const counts = await Promise.all(customers.map(lifetime));
        return counts.every((n) => n === 51) ? true : undefined;
      },
      30_000,
      'all events after the restart',
    );
    const metrics = await engine.get('/metrics');
    expect(metrics.text).toMatch(/^bellwether_worker_restarts 1$/m);
    expect(engine.logs.some((l) => l.includes('worker thread exited; restarting it'))).toBe(true);
    for (const c of customers) {
      const body = (await engine.get(`/v1/customers/${c}`)).body as CustomerAnswer;
      expect(body.features['spend_lifetime'], c).toBe(102);
      expect(body.features['events_lifetime'], c).toBe(51);
    }
    expect((await engine.get('/healthz')).status).toBe(200);
    await waitFor(async () => ((await engine.get('/readyz')).status === 200 ? true : undefined));
  });
});
