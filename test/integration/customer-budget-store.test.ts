/**
 * The customer budget's copy in NATS (engine/customer-budget-store.ts) on a real nats-server,
 * with two stores in this process standing for two instances: what one charges reaches the
 * other; both writing the same minutes at once lose nothing (compare-and-set merges); a minute
 * holding more than one entry's worth of customers spreads over parts; a store started later
 * loads the hour.
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomerBudgetStore } from '../../engine/customer-budget-store.js';
import { CustomerBudget } from '../../security/customer-budget.js';
import { waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';

let nats: TestNats;
const connections: NatsConnection[] = [];
const stores: CustomerBudgetStore[] = [];
const log = pino({ level: 'silent' });

async function instance(limit: number): Promise<{ budget: CustomerBudget; store: CustomerBudgetStore }> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  const budget = new CustomerBudget(limit);
  const store = await CustomerBudgetStore.start(nc, budget, { replicas: 1, log, registry: new Registry() });
  stores.push(store);
  return { budget, store };
}

const ids = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}-customer-with-a-long-id-${i}`);

beforeAll(async () => {
  nats = await startNats(1);
}, 30_000);

afterAll(async () => {
  for (const s of stores) await s.stop();
  for (const nc of connections) await nc.close();
  await nats?.stop();
});

describe('customer budget store', () => {
  it('shares charges between instances, loses none when both write at once, and spreads a large minute over parts', async () => {
    const a = await instance(100_000);
    const b = await instance(100_000);
    // Both charge the same key in the same minute, at the same time: 6,000 each, 2,000 in common.
    const fromA = ids('x', 6000);
    const fromB = ids('x', 8000).slice(2000);
    expect(a.budget.takeAll('analyst', fromA).ok).toBe(true);
    expect(b.budget.takeAll('analyst', fromB).ok).toBe(true);
    await Promise.all([a.store.flush(), b.store.flush()]);
    await waitFor(
      async () => (a.budget.used('analyst') === 8000 && b.budget.used('analyst') === 8000 ? true : undefined),
      20_000,
      'both instances to know all 8,000 customers',
    );

    // A store started now loads the same hour from the bucket.
    const c = await instance(8000);
    expect(c.budget.used('analyst')).toBe(8000);
    expect(c.budget.take('analyst', 'one-more').ok).toBe(false);
    expect(c.budget.take('analyst', fromB[0]!).ok).toBe(true);

    // 8,000 long ids do not fit one entry: the minute has several parts (`<key>.<minute>.<part>`).
    const kv = await new Kvm(jetstream(connections[0]!)).open('BW_BUDGET');
    const keys: string[] = [];
    for await (const key of await kv.keys('analyst.>')) keys.push(key);
    const parts = new Set(keys.map((k) => k.split('.')[2]));
    expect(parts.size).toBeGreaterThan(1);
    // Two stores spilling the same minute at once may both write an id into different parts: the
    // load takes the union, so what counts is that every customer is there, once or more.
    const stored = new Set<string>();
    for (const key of keys) {
      const entry = await kv.get(key);
      for (const id of Object.keys(entry!.json<Record<string, number>>())) stored.add(id);
    }
    expect(stored.size).toBe(8000);
  });

  it('keeps a key name outside [A-Za-z0-9_-] apart from the others', async () => {
    const a = await instance(10);
    const b = await instance(10);
    expect(a.budget.take('alice@example.com', 'c1').ok).toBe(true);
    await a.store.flush();
    await waitFor(
      async () => (b.budget.used('alice@example.com') === 1 ? true : undefined),
      10_000,
      'the charge at b',
    );
    expect(b.budget.used('alice')).toBe(0);
  });
});
