/**
 * A message that crashes its worker thread every time is dead-lettered (reason `poison`) after
 * POISON_CRASHES crashes; the partition then goes on, and the process serves throughout.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { POISON_CRASHES } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, waitFor } from '../support/engine-process.js';
import { openDeadLetter, publishCore, readStream, type TestEvent } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';

const T = Date.UTC(2026, 9, 1);
let nc: NatsConnection;
let engine: EngineProcess;

function purchase(customer: string, i: number, id = `${customer}-${i}`): TestEvent {
  return {
    event_id: id,
    customer_id: customer,
    type: 'purchase',
    ts: new Date(T - i * 60_000).toISOString(),
    amount: 3,
  };
}

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack(2, {
    BW_CLOCK: 'event',
    BW_CHECKPOINT_SECONDS: '0.3',
    BW_TEST_CRASH_EVENT_ID: 'poison-pill',
    BW_TEST_CRASH_ALWAYS: '1',
  });
  ({ nc, engine } = stack);
});

afterAll(async () => {
  await stack?.stop('SIGKILL');
});

describe('poison message', () => {
  it(`is dead-lettered after ${POISON_CRASHES} crashes and the events after it are processed`, async () => {
    await publishCore(nc, [purchase('quinn', 0), purchase('quinn', 1)]);
    await waitFor(async () => {
      const res = await engine.get('/v1/customers/quinn');
      return res.status === 200 && (res.body as CustomerAnswer).features['purchases_lifetime'] === 2
        ? true
        : undefined;
    });
    await publishCore(nc, [purchase('quinn', 2, 'poison-pill'), purchase('quinn', 3), purchase('quinn', 4)]);
    const body = await waitFor(
      async () => {
        const res = await engine.get('/v1/customers/quinn');
        const answer = res.body as CustomerAnswer;
        return res.status === 200 && answer.features['purchases_lifetime'] === 4 ? answer : undefined;
      },
      40_000,
      'events after the poison message',
    );
    expect(body.features['spend_lifetime']).toBe(12);
    const dlq = await waitFor(async () => {
      const letters = (await readStream(nc, 'BW_DLQ')).filter((m) => m.subject === 'bw.dlq.poison');
      return letters.length > 0 ? letters : undefined;
    });
    expect(dlq).toHaveLength(1);
    // The body is kept sealed; the engine's key opens it.
    expect(dlq[0]!.headers['Bw-Sealed']).toBeTruthy();
    const original = JSON.parse(await openDeadLetter(dlq[0]!, engine.dataDir)) as TestEvent;
    expect(original.event_id).toBe('poison-pill');
    expect(dlq[0]!.headers['Bw-Error-Code']).toBe('BW_ERR_WORKER_FAILED');
    const metrics = (await engine.get('/metrics')).text;
    expect(metrics).toMatch(new RegExp(`^bellwether_worker_restarts ${POISON_CRASHES}$`, 'm'));
    expect(metrics).toMatch(/bellwether_events_rejected_total\{reason="poison"\} 1/);
  });
});
