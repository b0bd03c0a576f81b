/**
 * Baskets on the live stream, end to end through a real nats-server and the engine: planted
 * orders (one purchase event per line, the order id as session_id) in each of two partitions are
 * mined into the hand-computed rules, merged across the partitions; a customer who bought A is
 * recommended B, carries the tag reading `likely_to_buy` and fires the rule on it; the counts
 * survive a restart from the checkpoints.
 *
 * Per partition: b1 {A, B}, b2 {A, B}, b3 {A, B, C}, b4 {A, C}, b5 {C}; merged N = 10:
 *   B → A: count 6, support 0.6, confidence 1, lift 1 / 0.8 = 1.25
 *   A → B: count 6, support 0.6, confidence 6/8 = 0.75, lift 0.75 / 0.6 = 1.25
 *   C → A: count 4, support 0.4, confidence 4/6 = 0.666667, lift 0.833333
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOfCustomer } from '../../contract/subjects.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, publishCore, readStream, type TestEvent } from '../support/publish.js';

const PARTITIONS = 2;
const T = Date.UTC(2026, 4, 10, 12);
const MIN = 60_000;
const PLANTED = [['a', 'b'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'c'], ['c']];
let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let dir: string;
let env: Record<string, string>;
let n = 0;

/** The first `count` ids `<prefix>-<i>` that land in `partition`. */
function idsIn(prefix: string, partition: number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++)
    if (partitionOfCustomer(`${prefix}-${i}`, PARTITIONS) === partition) out.push(`${prefix}-${i}`);
  return out;
}

/** One order line; categories in the form cleansing standardises them to (lower case). */
function line(customer: string, order: string, category: string, ts: number): TestEvent {
  return {
    event_id: `bk-${++n}`,
    customer_id: customer,
    type: 'purchase',
    ts: new Date(ts).toISOString(),
    amount: 10,
    session_id: order,
    sku: `${category}-sku`,
    category,
  };
}

interface Rules {
  level: string;
  baskets: number;
  exact: boolean;
  rules: {
    antecedent: string;
    consequent: string;
    count: number;
    support: number;
    confidence: number;
    lift: number;
  }[];
}

const EXPECTED = {
  level: 'category',
  baskets: 10,
  exact: true,
  rules: [
    { antecedent: 'b', consequent: 'a', count: 6, support: 0.6, confidence: 1, lift: 1.25 },
    { antecedent: 'a', consequent: 'b', count: 6, support: 0.6, confidence: 0.75, lift: 1.25 },
    { antecedent: 'c', consequent: 'a', count: 4, support: 0.4, confidence: 0.666667, lift: 0.833333 },
  ],
};

async function rules(): Promise<Rules> {
  return waitFor(async () => {
    const res = await engine.get('/v1/association-rules?min_support=0.3&min_confidence=0.6');
    const body = res.body as Rules;
    return res.status === 200 && body.baskets >= 10 ? body : undefined;
  });
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-baskets-'));
  await writeFile(
    path.join(dir, 'tags.yaml'),
    ['tags:', '  - { id: likely_b, kind: predictive, when: "likely_to_buy == \'b\'" }'].join('\n'),
  );
  await writeFile(
    path.join(dir, 'rules.yaml'),
    ['rules:', '  - { id: cross_sell_b, on: purchase, when: "likely_to_buy == \'b\'" }'].join('\n'),
  );
  env = {
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: String(PARTITIONS),
    BW_WORKERS: '2',
    BW_CLOCK: 'event',
    BW_DATA_DIR: path.join(dir, 'data'),
    BW_MODELS_DIR: await writeFixtureModels(),
    BW_TAGS_FILE: path.join(dir, 'tags.yaml'),
    BW_RULES_FILE: path.join(dir, 'rules.yaml'),
    BW_ALLOWED_LATENESS_SECONDS: '0',
  };
  engine = await startEngineProcess(env);
});

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('baskets on the live stream', () => {
  it('mines the planted orders of both partitions into the hand-computed rules', async () => {
    const events: TestEvent[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const buyers = idsIn(`buyer-p${p}`, p, PLANTED.length);
      PLANTED.forEach((items, b) => {
        for (const [i, category] of items.entries())
          events.push(line(buyers[b]!, `order-${p}-${b}`, category, T + b * MIN + i * 1000));
      });
    }
    await publishCore(nc, events);
    // An hour later in every partition: the open orders time out and are counted.
    await publishCore(nc, anchorEvents(PARTITIONS, T + 60 * MIN));
    expect(await rules()).toEqual(EXPECTED);
    const sku = (await engine.get('/v1/association-rules?level=sku&min_support=0.5&min_confidence=0.7'))
      .body as Rules;
    expect(sku.rules.map((r) => `${r.antecedent}→${r.consequent}`)).toEqual(['b-sku→a-sku', 'a-sku→b-sku']);
  });

  it('recommends B to a customer who bought A, tags them and fires the rule on likely_to_buy', async () => {
    await publishCore(nc, [line('zoe', 'zoe-1', 'a', T + 61 * MIN)]);
    const recs = await waitFor(async () => {
      const res = await engine.get('/v1/customers/zoe/recommendations');
      return res.status === 200 ? (res.body as CustomerAnswer['recommendations']) : undefined;
    });
    // zoe's partition: N = 5, score(B) = conf(A→B) + 0.01 · 3/5 = 0.756, score(C) = 0.5 + 0.006
    expect(recs).toMatchObject({
      customer_id: 'zoe',
      next_best_category: 'b',
      tag: 'likely_to_buy:b',
      categories: [
        { category: 'b', score: 0.756 },
        { category: 'c', score: 0.506 },
      ],
      just_bought: ['a'],
      baskets: 5,
    });
    const answer = (await engine.get('/v1/customers/zoe')).body as CustomerAnswer;
    expect(answer.tags).toEqual(['likely_b']);
    expect(answer.recommendations.next_best_category).toBe('b');
    const fired = await waitFor(async () => {
      const list = (await readStream(nc, 'BW_CRM'))
        .filter((m) => m.subject === 'bw.actions.cross_sell_b')
        .map((m) => m.json<{ customer_id: string }>().customer_id);
      return list.length > 0 ? list : undefined;
    });
    expect(fired).toEqual(['zoe']);
  });

  it("keeps the basket counts and the customers' interest across a restart from the checkpoints", async () => {
    expect(await engine.stop('SIGTERM')).toBe(0);
    engine = await startEngineProcess(env);
    expect(await rules()).toEqual(EXPECTED);
    // zoe's interest columns and the category dictionary they index came back too
    const recs = (await engine.get('/v1/customers/zoe/recommendations')).body;
    expect(recs).toMatchObject({
      next_best_category: 'b',
      just_bought: ['a'],
      recent: [{ category: 'a', weight: 5 }],
    });
  });
});
