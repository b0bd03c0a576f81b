import { receiveMessageOnPort } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WorkerReply } from '../../engine/pool/thread-messages.js';
import { QUERY_SAFE_POINT } from '../../engine/worker/ingest.js';
import type { AggregatePartialJSON } from '../../operators/analytics/aggregate.js';
import { parseAggregateQuery } from '../../operators/analytics/aggregate-spec.js';
import type { DailyPartialJSON } from '../../operators/analytics/daily-cube.js';
import { fixtureChurn } from '../support/fixture-models.js';
import { batchFixture, DAY, message, purchase, T } from './worker-fixture.js';

type Fixture = Awaited<ReturnType<typeof batchFixture>>;

const SPEC = parseAggregateQuery({ metrics: 'sum:purchases_lifetime,max:churn.risk' }, () => false);

function askAggregate(f: Fixture, id: number): void {
  f.channel.port1.postMessage({ id, op: 'aggregate', spec: SPEC, deadline: Date.now() + 60_000 });
}

function reply(f: Fixture): WorkerReply | undefined {
  return receiveMessageOnPort(f.channel.port1)?.message as WorkerReply | undefined;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('aggregates on the query port', () => {
  it('are answered between two messages of a consume callback, the batch in progress scored first', async () => {
    const f = await batchFixture({ settings: { batchLingerMs: 60_000 } });
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('bob', 'b-0', T - 200 * DAY)));
    askAggregate(f, 9);
    // Not read before the safe point: the worker is inside its consume callback.
    for (let i = 1; i < QUERY_SAFE_POINT - 1; i++)
      f.ingest.onMessage(f.feed(), message(0, i + 1, purchase(`c-${i}`, `e-${i}`, T)));
    expect(reply(f)).toBeUndefined();
    expect(f.flush.scheduled).toBe(true);
    // The safe point: the open batch (every customer folded so far) is scored, then the pass runs.
    f.ingest.onMessage(f.feed(), message(0, QUERY_SAFE_POINT, purchase('ann', 'a-0', T)));
    const answer = reply(f);
    expect(answer).toMatchObject({ id: 9, ok: true });
    const partial = (answer as { value: AggregatePartialJSON }).value;
    expect(partial.customers).toBe(QUERY_SAFE_POINT);
    const [group] = partial.groups;
    expect(group!.count).toBe(QUERY_SAFE_POINT);
    expect(group!.sources['purchases_lifetime']!.sum).toBe(QUERY_SAFE_POINT);
    // bob's score is the fresh one, not the 0 of a customer not yet scored.
    expect(group!.sources['churn.risk']!.max).toBe(Math.round(fixtureChurn(200) * 100));
    expect(f.flush.scheduled).toBe(false);
    expect(f.batch.size).toBe(0);
    const passes = (await f.ctx.metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'bellwether_aggregate_pass_seconds',
    )!;
    const count = passes.values.find(
      (v) => (v as { metricName?: string }).metricName === 'bellwether_aggregate_pass_seconds_count',
    );
    expect(count?.value).toBe(1);
  });

  it('wait for the end of a flush they arrive in, and are answered with its customers scored', async () => {
    const f = await batchFixture({ settings: { batchLingerMs: 60_000 } });
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('bob', 'b-0', T - 200 * DAY)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('ann', 'a-0', T)));
    askAggregate(f, 3);
    // A safe point inside the flush (between its stages) leaves the aggregate for the flush's end.
    const score = vi.spyOn(f.queries, 'afterBatch');
    f.queries.poll();
    expect(reply(f)).toBeUndefined();
    f.flush.flush();
    expect(score).toHaveBeenCalledTimes(1);
    const partial = (reply(f) as { value: AggregatePartialJSON }).value;
    expect(partial.customers).toBe(2);
    expect(partial.groups[0]!.sources['churn.risk']!.max).toBe(Math.round(fixtureChurn(200) * 100));
  });

  it('are answered by the listener when the worker is idle, and a daily partial at once', async () => {
    const f = await batchFixture({ settings: { batchLingerMs: 60_000 } });
    f.queries.listen();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('bob', 'b-0', T - 200 * DAY)));
    const day = Math.floor(T / DAY);
    f.channel.port1.postMessage({
      id: 4,
      op: 'daily',
      spec: { from: day - 300, to: day, group_by: ['type'], metrics: ['events'] },
    });
    askAggregate(f, 5);
    const replies: WorkerReply[] = [];
    f.channel.port1.on('message', (m: WorkerReply) => replies.push(m));
    await vi.waitFor(() => expect(replies.map((r) => r.id)).toEqual([4, 5]));
    const daily = (replies[0] as { value: DailyPartialJSON }).value;
    expect(daily.groups).toEqual([{ key: ['purchase'], events: 1, cents: expect.any(Number) }]);
    expect((replies[1] as { value: AggregatePartialJSON }).value.customers).toBe(1);
    // The idle listener scored the open batch for the aggregate instead of waiting for its linger.
    expect(f.flush.scheduled).toBe(false);
  });

  it('answer a coded error for a tag the CRM does not define, and go on serving', async () => {
    const f = await batchFixture();
    const bad = parseAggregateQuery({ group_by: 'tag:nope' }, () => false);
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('bob', 'b-0', T)));
    f.channel.port1.postMessage({ id: 6, op: 'aggregate', spec: bad, deadline: Date.now() + 60_000 });
    askAggregate(f, 7);
    f.queries.betweenMessages();
    const first = reply(f) as { id: number; ok: false; error: { code: string } };
    expect(first).toMatchObject({ id: 6, ok: false, error: { code: 'BW_ERR_AGGREGATE_QUERY' } });
    expect(reply(f)).toMatchObject({ id: 7, ok: true, value: { customers: 1 } });
  });
});
