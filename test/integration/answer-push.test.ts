/**
 * Fresh answers pushed to the main thread's cache: once a customer has been read, the worker that
 * owns it sends its new answer after the batch that changes it, so the next read is served by the
 * main thread without asking the worker, and is fresh.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import { waitFor } from '../support/engine-process.js';
import { publishCore, type TestEvent } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;

const purchase = (customer: string, n: number, amount: number): TestEvent => ({
  event_id: `${customer}-${n}`,
  customer_id: customer,
  type: 'purchase',
  ts: new Date(Date.now() - (10 - n) * DAY_MS).toISOString(),
  amount,
});

async function metric(name: string): Promise<number> {
  const text = (await stack.engine.get('/metrics')).text;
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

interface Answer {
  features: Record<string, number | null>;
}

beforeAll(async () => {
  stack = await startStack(4, {
    // No rescore sweep and a long time-to-live: the only pushes are those after a batch.
    BW_RESCORE_SECONDS: '0',
    BW_ANSWER_CACHE_MS: '60000',
  });
});

afterAll(async () => {
  await stack?.stop('SIGTERM');
});

describe('answer push', () => {
  it("serves a read customer's next answer from the main thread, fresh after its batch", async () => {
    await publishCore(stack.nc, [purchase('pushed-1', 1, 10), purchase('quiet-1', 1, 7)]);
    const first = await waitFor(async () => {
      const res = await stack.engine.get('/v1/customers/pushed-1');
      return res.status === 200 ? (res.body as Answer) : undefined;
    });
    expect(first.features['spend_lifetime']).toBe(10);
    const pushedBefore = await metric('bellwether_answers_pushed_total');
    const missesBefore = await metric('bellwether_answer_cache_misses');

    await publishCore(stack.nc, [purchase('pushed-1', 2, 5)]);
    // No read in between: the batch's push is the only way the main thread can learn the new answer.
    await waitFor(async () =>
      (await metric('bellwether_answers_pushed_total')) > pushedBefore ? true : undefined,
    );
    await sleep(100); // the push travels on the query channel, the metrics reply on another one
    const hitsBefore = await metric('bellwether_answer_cache_hits');
    const fresh = (await stack.engine.get('/v1/customers/pushed-1')).body as Answer;
    expect(fresh.features['spend_lifetime']).toBe(15);
    expect(fresh.features['purchases_lifetime']).toBe(2);
    expect(await metric('bellwether_answer_cache_misses')).toBe(missesBefore);
    expect(await metric('bellwether_answer_cache_hits')).toBe(hitsBefore + 1);
  });

  it('pushes nothing for customers nobody reads', async () => {
    const before = await metric('bellwether_answers_pushed_total');
    await publishCore(stack.nc, [purchase('quiet-1', 2, 3), purchase('quiet-2', 1, 4)]);
    // Five purchases in all (two of pushed-1, two of quiet-1, one of quiet-2), then no read until now.
    await waitFor(async () => {
      const text = (await stack.engine.get('/metrics')).text;
      const n = Number(/^bellwether_events_processed_total\{type="purchase"\} (\d+)/m.exec(text)?.[1] ?? 0);
      return n >= 5 ? true : undefined;
    });
    expect(await metric('bellwether_answers_pushed_total')).toBe(before);
    const quiet = (await stack.engine.get('/v1/customers/quiet-1')).body as Answer;
    expect(quiet.features['spend_lifetime']).toBe(10);
  });
});
