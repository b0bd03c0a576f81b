import { receiveMessageOnPort } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bucketOf } from '../../engine/pool/answer-versions.js';
import type { CustomerAnswer, WorkerReply } from '../../engine/pool/thread-messages.js';
import type { AlertBody } from '../../engine/worker/alerts.js';
import { FLUSH_CUSTOMERS } from '../../engine/worker/batch-flush.js';
import { fixtureChurn } from '../support/fixture-models.js';
import { batchFixture, DAY, message, purchase, T } from './worker-fixture.js';

type Fixture = Awaited<ReturnType<typeof batchFixture>>;

async function metricJson(f: Fixture, name: string) {
  return (await f.ctx.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)!;
}

function deferred(): { promise: Promise<unknown>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<unknown>((r) => {
    resolve = () => r({});
  });
  return { promise, resolve };
}

function alertsOf(f: Fixture, kind: string): AlertBody[] {
  return f.nats.published
    .filter((p) => p.subject === `bw.alerts.${kind}`)
    .map((p) => JSON.parse(p.data) as AlertBody);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('worker batch flush', () => {
  it('scores every touched customer once, from its fresh features, and empties the batch', async () => {
    const f = await batchFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'a-1', T - DAY)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('bob', 'b-1', T - 200 * DAY)));
    f.ingest.onMessage(f.feed(), message(0, 3, purchase('ann', 'a-2', T)));
    const state = f.feed().state;
    const ann = state.table.slotOf('ann')!;
    const bob = state.table.slotOf('bob')!;
    expect(Number.isNaN(state.churn.data[ann]!)).toBe(true);
    expect(f.flush.scheduled).toBe(true);
    f.flush.flush();
    expect(f.flush.scheduled).toBe(false);
    // The event clock's now is the watermark (T): ann bought today, bob 200 days ago.
    expect(state.churn.data[ann]).toBeCloseTo(fixtureChurn(0), 5);
    expect(state.churn.data[bob]).toBeCloseTo(fixtureChurn(200), 5);
    expect(state.touched.data[ann]).toBe(0);
    expect(state.touched.data[bob]).toBe(0);
    expect(f.batch.size).toBe(0);
    expect(f.batch.arrivalCount).toBe(0);
    // Their cached answers are void: one bump per customer per batch, however many events.
    expect(f.versions.buckets[bucketOf('ann')]).toBe(1);
    expect(f.versions.buckets[bucketOf('bob')]).toBe(1);
    const predictions = await metricJson(f, 'bellwether_predictions_total');
    expect(predictions.values.find((v) => v.labels['model'] === 'churn')?.value).toBe(2);
    const batches = await metricJson(f, 'bellwether_batch_size');
    const sum = batches.values.find(
      (v) => (v as { metricName?: string }).metricName === 'bellwether_batch_size_sum',
    );
    expect(sum?.value).toBe(3);
    const processed = await metricJson(f, 'bellwether_events_processed_total');
    expect(processed.values.find((v) => v.labels['type'] === 'purchase')?.value).toBe(3);
  });

  it('publishes the alert of a crossing and acks each partition only once its effects are stored', async () => {
    const f = await batchFixture();
    const stored = deferred();
    f.nats.jsOutcome = () => stored.promise;
    const first = message(0, 1, purchase('bob', 'b-1', T - 200 * DAY));
    const last = message(0, 2, purchase('ann', 'a-1', T));
    f.ingest.onMessage(f.feed(), first);
    f.ingest.onMessage(f.feed(), last);
    f.flush.flush();
    const churn = alertsOf(f, 'churn');
    expect(churn.map((a) => [a.customer_id, a.crossing, a.risk])).toEqual([
      ['bob', 1, Math.round(fixtureChurn(200) * 100)],
    ]);
    await Promise.resolve();
    expect(last.acks).toBe(0);
    stored.resolve();
    await f.flush.acked();
    // AckAll: the partition's last message of the batch, once.
    expect(first.acks).toBe(0);
    expect(last.acks).toBe(1);
    expect(f.feed().acked).toBe(2);
  });

  it('publishes, acks and checkpoints nothing for a partition whose lease ran out, and folds no more of it', async () => {
    const leaseUntil = new Float64Array([Date.now() + 60_000, Date.now() + 60_000]);
    const f = await batchFixture({ partitions: [0, 1], leaseUntil });
    const bob = message(0, 1, purchase('bob', 'b-1', T - 200 * DAY));
    f.ingest.onMessage(f.feed(0), bob);
    // The lease of partition 0 runs out before the batch is flushed (this process paused past it).
    leaseUntil[0] = Date.now() - 1;
    f.flush.flush();
    await f.flush.acked();
    expect(alertsOf(f, 'churn')).toEqual([]);
    expect(bob.acks).toBe(0);
    expect(f.feed(0).fenced).toBe(true);
    // Messages still buffered for it are dropped unfolded.
    f.ingest.onMessage(f.feed(0), message(0, 2, purchase('bob', 'b-2', T)));
    expect(f.feed(0).state.lastSequence).toBe(1);
    expect(f.feed(1).fenced).toBe(false);
    expect((await metricJson(f, 'bellwether_partitions_fenced_total')).values[0]?.value).toBe(1);
  });

  it('leaves a batch whose effects are given up unacked, and the next stored batch acks it', async () => {
    const f = await batchFixture();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    f.nats.jsOutcome = () => Promise.reject(new Error('stream refuses'));
    const refused = message(0, 1, purchase('bob', 'b-1', T - 200 * DAY));
    f.ingest.onMessage(f.feed(), refused);
    f.flush.flush();
    await vi.advanceTimersByTimeAsync(60_000); // every retry of the effect publisher
    await f.flush.acked();
    expect(refused.acks).toBe(0);
    expect(f.feed().acked).toBe(0);
    f.nats.jsOutcome = () => Promise.resolve({});
    const next = message(0, 2, purchase('bob', 'b-2', T));
    f.ingest.onMessage(f.feed(), next);
    f.flush.flush();
    await f.flush.acked();
    expect(next.acks).toBe(1);
    expect(f.feed().acked).toBe(2);
  });

  it('counts but does not publish the crossings of messages a previous run already handled', async () => {
    const f = await batchFixture();
    f.feed().replayUntil = 2;
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('bob', 'b-1', T - 400 * DAY)));
    const replayed = message(0, 2, purchase('ann', 'a-1', T - 200 * DAY));
    f.ingest.onMessage(f.feed(), replayed);
    f.flush.flush();
    await f.flush.acked();
    expect(alertsOf(f, 'churn')).toEqual([]);
    const state = f.feed().state;
    expect(state.churnCrossings.data[state.table.slotOf('bob')!]).toBe(1);
    expect(replayed.acks).toBe(1);
    // Past the replay: bob buys (his risk falls, the alert re-arms), then is seen 200 days later
    // without buying. His second crossing is named by its count, as in the run that published the first.
    f.ingest.onMessage(f.feed(), message(0, 3, purchase('bob', 'b-2', T - 200 * DAY)));
    f.flush.flush();
    const view = {
      event_id: 'b-3',
      customer_id: 'bob',
      type: 'page_view',
      ts: new Date(T).toISOString(),
    };
    f.ingest.onMessage(f.feed(), message(0, 4, view));
    f.flush.flush();
    expect(alertsOf(f, 'churn').map((a) => [a.customer_id, a.crossing])).toEqual([['bob', 2]]);
  });

  it('answers a query for a customer folded but not yet scored at the next turn, with its fresh scores', async () => {
    const f = await batchFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'a-1', T)));
    f.channel.port1.postMessage({ id: 7, op: 'customer', customerId: 'ann' });
    f.queries.poll();
    // Deferred: ann is touched, her scores are not computed yet.
    expect(receiveMessageOnPort(f.channel.port1)).toBeUndefined();
    expect(f.flush.scheduled).toBe(true);
    // The query cut the linger short: the batch is flushed at the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(f.flush.scheduled).toBe(false);
    const reply = receiveMessageOnPort(f.channel.port1)?.message as WorkerReply;
    expect(reply.id).toBe(7);
    const answer = (reply as { value: CustomerAnswer }).value;
    expect(answer.features['purchases_lifetime']).toBe(1);
    expect(answer.scores.churn?.probability).toBeCloseTo(fixtureChurn(0), 5);
  });

  it('flushes a full batch at the next turn instead of after its linger', async () => {
    const f = await batchFixture({ settings: { batchLingerMs: 1000 } });
    for (let i = 0; i < FLUSH_CUSTOMERS; i++)
      f.ingest.onMessage(f.feed(), message(0, i + 1, purchase(`c-${i}`, `e-${i}`, T)));
    expect(f.batch.size).toBe(FLUSH_CUSTOMERS);
    await new Promise((resolve) => setImmediate(resolve));
    expect(f.batch.size).toBe(0);
    expect(f.flush.scheduled).toBe(false);
  });
});
