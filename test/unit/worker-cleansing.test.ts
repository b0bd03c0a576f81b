import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { REVIEWED_HEADER } from '../../engine/nats/dead-letters.js';
import { fileCheckpoints } from '../../engine/worker/checkpoint-backends.js';
import { WorkerCheckpoints } from '../../engine/worker/checkpoints.js';
import { newFeed } from '../../engine/worker/lifecycle.js';
import { compileCleansingRules } from '../../operators/cleansing/rules.js';
import { deadLetterAad, openSealedBytes } from '../../security/pii-cipher.js';
import { featuresOf, ingestFixture, keyring, message, T, type TestMsg } from './worker-fixture.js';

type Fixture = ReturnType<typeof ingestFixture>;

async function cleansed(f: Fixture, rule: string, action: string): Promise<number> {
  const metric = (await f.ctx.metrics.registry.getMetricsAsJSON()).find(
    (m) => m.name === 'bellwether_events_cleansed_total',
  );
  return metric?.values.find((v) => v.labels['rule'] === rule && v.labels['action'] === action)?.value ?? 0;
}

function buy(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `e-${i}`,
    customer_id: `c${i % 50}`,
    type: 'purchase',
    ts: new Date(T + i * 1000).toISOString(),
    amount: 20 + (i % 17) * 5,
    currency: 'EUR',
    sku: `SKU-${i}`,
    channel: 'web',
    ...over,
  };
}

/** 100 ordinary purchases at sequences 1…100: the amounts' distribution is warm. */
function warmed(): Fixture {
  const f = ingestFixture();
  for (let i = 1; i <= 100; i++) f.ingest.onMessage(f.feed(), message(0, i, buy(i)));
  f.ctx.effects.commit();
  expect(f.nats.published).toEqual([]);
  return f;
}

function reviewed(msg: TestMsg, reason: string): TestMsg {
  const h = headers();
  h.set(REVIEWED_HEADER, reason);
  (msg as unknown as { headers: unknown }).headers = h;
  return msg;
}

describe('worker cleansing', () => {
  it('quarantines an outlier to bw.dlq.outlier with its original body sealed, kept out of the features', async () => {
    const f = warmed();
    const wild = buy(101, { customer_id: 'ann', amount: 2_500_000 });
    f.ingest.onMessage(f.feed(), message(0, 101, wild));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.outlier']);
    const letter = f.nats.published[0]!;
    expect(letter.headers!.get('Bw-Reason')).toBe('outlier');
    expect(letter.headers!.get('Bw-Error-Code')).toBe('BW_ERR_EVENT_QUARANTINED');
    expect(letter.headers!.get('Bw-Error')).toMatch(
      /^amount \d+\.\d robust sd from the median of its currency$/,
    );
    expect(openSealedBytes(keyring, letter.data, deadLetterAad(101, 'BW_EVENTS_0')).toString('utf8')).toBe(
      JSON.stringify(wild),
    );
    expect(featuresOf(f.feed(), 'ann')).toBeNull();
    expect(await cleansed(f, 'outlier_amount', 'quarantined')).toBe(1);
    expect(
      (await f.ctx.metrics.registry.getMetricsAsJSON()).find(
        (m) => m.name === 'bellwether_events_rejected_total',
      )?.values,
    ).toEqual([expect.objectContaining({ labels: { reason: 'outlier' }, value: 1 })]);
  });

  it('quarantines a near-duplicate to bw.dlq.near_duplicate and admits a reviewed one', async () => {
    const f = warmed();
    f.ingest.onMessage(f.feed(), message(0, 101, buy(101, { customer_id: 'ann', sku: 'X-1', amount: 40 })));
    f.ingest.onMessage(f.feed(), message(0, 102, buy(102, { customer_id: 'ann', sku: 'X-1', amount: 40 })));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.near_duplicate']);
    expect(featuresOf(f.feed(), 'ann')!['purchases_lifetime']).toBe(1);
    // `bellwether dlq replay` re-publishes it marked reviewed (under its producer subject: a new sequence).
    f.ingest.onMessage(
      f.feed(),
      reviewed(message(0, 103, buy(102, { customer_id: 'ann', sku: 'X-1', amount: 40 })), 'near_duplicate'),
    );
    f.ctx.effects.commit();
    expect(f.nats.published).toHaveLength(1);
    expect(featuresOf(f.feed(), 'ann')!['purchases_lifetime']).toBe(2);
    expect(await cleansed(f, 'near_duplicate', 'quarantined')).toBe(1);
    expect(await cleansed(f, 'near_duplicate', 'reviewed')).toBe(1);
  });

  it('admits a reviewed outlier without letting it move the distribution', async () => {
    const f = warmed();
    f.ingest.onMessage(
      f.feed(),
      reviewed(message(0, 101, buy(101, { customer_id: 'ann', amount: 2_500_000 })), 'outlier'),
    );
    expect(featuresOf(f.feed(), 'ann')!['spend_lifetime']).toBe(2_500_000);
    f.ingest.onMessage(f.feed(), message(0, 102, buy(102, { customer_id: 'bob', amount: 2_400_000 })));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.outlier']);
    expect(await cleansed(f, 'outlier_amount', 'reviewed')).toBe(1);
  });

  it('repairs a missing channel and standardises values before the event is folded, counted', async () => {
    const f = ingestFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, buy(1, { channel: undefined, currency: ' eur' })));
    f.ingest.onMessage(f.feed(), message(0, 2, buy(2, { channel: 'Mobile App' })));
    f.ctx.effects.commit();
    expect(f.nats.published).toEqual([]);
    expect(await cleansed(f, 'missing_channel', 'repaired')).toBe(1);
    expect(await cleansed(f, 'currency_code', 'standardised')).toBe(1);
    expect(await cleansed(f, 'channel_name', 'standardised')).toBe(1);
  });

  it('takes reloaded rules in every partition, keeping what they learnt', () => {
    const f = warmed();
    f.ctx.setCleansing(compileCleansingRules({ outliers: { amount: { enabled: false } } }, 'reload.yaml'));
    expect(f.feed().cleanser.rules.source).toBe('reload.yaml');
    f.ingest.onMessage(f.feed(), message(0, 101, buy(101, { customer_id: 'ann', amount: 2_500_000 })));
    f.ctx.setCleansing(compileCleansingRules({}, 'back.yaml'));
    f.ingest.onMessage(f.feed(), message(0, 102, buy(102, { customer_id: 'bob', amount: 2_500_000 })));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.outlier']);
    expect(featuresOf(f.feed(), 'ann')).not.toBeNull();
  });

  it('publishes no quarantine again for a message a previous run already handled', async () => {
    const f = warmed();
    f.feed().replayUntil = 101;
    f.ingest.onMessage(f.feed(), message(0, 101, buy(101, { customer_id: 'ann', amount: 2_500_000 })));
    f.ctx.effects.commit();
    expect(f.nats.published).toEqual([]);
    expect(featuresOf(f.feed(), 'ann')).toBeNull();
    expect(await cleansed(f, 'outlier_amount', 'quarantined')).toBe(0);
  });

  it('checkpoints what decides quarantine with the partition: a restart decides the same way', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bw-cleansing-ckpt-'));
    const f = warmed();
    f.ingest.onMessage(f.feed(), message(0, 101, buy(101, { customer_id: 'ann', sku: 'X-1', amount: 40 })));
    const checkpoints = new WorkerCheckpoints(f.ctx, fileCheckpoints(dir), f.crm);
    await checkpoints.writeAll();
    // A fresh feed (a restarted worker) loads the checkpoint, then gets the next messages.
    f.ctx.feeds.set(0, newFeed(f.ctx, 0, 0, 'partitioned', f.crm));
    await checkpoints.load(f.feed(), f.crm);
    expect(f.feed().state.lastSequence).toBe(101);
    f.ingest.onMessage(f.feed(), message(0, 102, buy(102, { customer_id: 'ann', sku: 'X-1', amount: 40 })));
    f.ingest.onMessage(f.feed(), message(0, 103, buy(103, { customer_id: 'bob', amount: 2_500_000 })));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.near_duplicate', 'bw.dlq.outlier']);
  });
});
