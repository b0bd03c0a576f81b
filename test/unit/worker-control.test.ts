import { describe, expect, it } from 'vitest';
import type { CustomerSummary, WorkerStatus } from '../../engine/pool/thread-messages.js';
import { workerControl } from '../../engine/worker/control.js';
import type { AggregatePartialJSON } from '../../operators/analytics/aggregate.js';
import { parseAggregateQuery } from '../../operators/analytics/aggregate-spec.js';
import type { DailyPartialJSON } from '../../operators/analytics/daily-cube.js';
import { PiiKeyring } from '../../security/pii-keyring.js';
import { fixtureChurn } from '../support/fixture-models.js';
import { batchFixture, DAY, message, purchase, T } from './worker-fixture.js';

async function controlled() {
  const f = await batchFixture();
  const stopped: string[] = [];
  const handle = workerControl(f.ctx, {
    index: 3,
    models: f.models,
    crm: f.crm,
    push: f.push,
    batch: f.batch,
    monitor: f.monitor,
    stop: async () => {
      stopped.push('stop');
    },
    sweep: () => {
      stopped.push('sweep');
    },
    own: async (p, epoch) => {
      stopped.push(`own ${p}@${epoch}`);
    },
    disown: async (p, mode) => {
      stopped.push(`disown ${p} ${mode}`);
    },
  });
  return { ...f, handle, stopped };
}

describe('worker control requests', () => {
  it('scores the batch in progress before listing the riskiest customers', async () => {
    const f = await controlled();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('bob', 'b-1', T - 200 * DAY)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('ann', 'a-1', T)));
    const top = (await f.handle({ id: 1, op: 'top', minChurnRisk: 50, limit: 10 })) as CustomerSummary[];
    expect(top.map((c) => c.customer_id)).toEqual(['bob']);
    expect(top[0]!.scores.churn?.risk).toBe(Math.round(fixtureChurn(200) * 100));
    expect(f.flush.scheduled).toBe(false);
  });

  it('scores the batch in progress before aggregating, and answers its partial and the daily cube', async () => {
    const f = await controlled();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('bob', 'b-1', T - 200 * DAY)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('ann', 'a-1', T)));
    const spec = parseAggregateQuery({ metrics: 'sum:purchases_lifetime,max:churn.risk' }, () => false);
    const partial = (await f.handle({
      id: 1,
      op: 'aggregate',
      spec,
      deadline: Date.now() + 60_000,
    })) as AggregatePartialJSON;
    expect(partial.customers).toBe(2);
    const [group] = partial.groups;
    expect(group!.sources['purchases_lifetime']!.sum).toBe(2);
    // Scored before the pass: bob's churn risk is there.
    expect(group!.sources['churn.risk']!.max).toBe(Math.round(fixtureChurn(200) * 100));
    expect(f.flush.scheduled).toBe(false);
    const day = Math.floor(T / DAY);
    const daily = (await f.handle({
      id: 2,
      op: 'daily',
      spec: { from: day - 300, to: day, group_by: ['type'], metrics: ['events'] },
    })) as DailyPartialJSON;
    expect(daily.groups).toEqual([{ key: ['purchase'], events: 2, cents: expect.any(Number) }]);
  });

  it('says which partitions, models and backend the worker has', async () => {
    const f = await controlled();
    f.ingest.onMessage(f.feed(), message(0, 5, purchase('ann', 'a-1', T), { pending: 12 }));
    const status = (await f.handle({ id: 1, op: 'status' })) as WorkerStatus;
    expect(status.index).toBe(3);
    expect(status.tf_backend).toBe('wasm');
    expect(status.models).toMatchObject({ churn: 'fixture-1', intent: 'fixture-1' });
    expect(status.partitions).toEqual([
      expect.objectContaining({ partition: 0, customers: 1, last_sequence: 5, pending: 12 }),
    ]);
  });

  it('refuses a customer query, which comes over the query port', async () => {
    const f = await controlled();
    await expect(f.handle({ id: 1, op: 'customer', customerId: 'ann' })).rejects.toMatchObject({
      code: 'BW_ERR_WORKER_FAILED',
    });
  });

  it('voids every cached answer of its partitions when the RFM cuts change', async () => {
    const f = await controlled();
    const before = f.versions.epochs[0]!;
    await f.handle({ id: 1, op: 'cuts', cuts: { r: [1, 2, 3, 4], f: [1, 2, 3, 4], m: [1, 2, 3, 4] } });
    expect(f.crm.cuts).toBeDefined();
    expect(f.versions.epochs[0]).toBe(before + 1);
    // The first cuts classify the segments at once (a sweep); later ones wait for the next sweep.
    expect(f.stopped).toEqual(['sweep']);
    await f.handle({ id: 2, op: 'cuts', cuts: { r: [1, 2, 3, 5], f: [1, 2, 3, 5], m: [1, 2, 3, 5] } });
    expect(f.stopped).toEqual(['sweep']);
  });

  it('counts the events processed since the last batch in its metrics', async () => {
    const f = await controlled();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'a-1', T)));
    const metrics = (await f.handle({ id: 1, op: 'metrics' })) as {
      name: string;
      values: { value: number; labels: Record<string, string> }[];
    }[];
    const processed = metrics.find((m) => m.name === 'bellwether_events_processed_total')!;
    expect(processed.values.find((v) => v.labels['type'] === 'purchase')?.value).toBe(1);
  });

  it('re-seals personal fields under a new keyring, and seals what follows with it', async () => {
    const f = await controlled();
    const profile = {
      event_id: 'p-1',
      customer_id: 'ann',
      type: 'profile',
      ts: new Date(T).toISOString(),
      props: { phone: '13812345678' },
    };
    f.ingest.onMessage(f.feed(), message(0, 1, profile));
    const next = PiiKeyring.parse(`k2:${'b2'.repeat(32)},k1:${'a1'.repeat(32)}`, 'aes-256-gcm', 'test');
    expect(await f.handle({ id: 1, op: 'keyring', keyring: next.toData() })).toBe(1);
    expect(f.ctx.sealer().keyring.current.id).toBe('k2');
    f.ingest.onMessage(f.feed(), message(0, 2, 'not json'));
    f.ctx.effects.commit();
    const letter = f.nats.published.find((p) => p.subject === 'bw.dlq.not_json')!;
    expect(letter.headers!.get('Bw-Sealed')).toBe('k2');
  });

  it('stops through the lifecycle', async () => {
    const f = await controlled();
    expect(await f.handle({ id: 1, op: 'stop' })).toBe(true);
    expect(f.stopped).toEqual(['stop']);
  });
});
