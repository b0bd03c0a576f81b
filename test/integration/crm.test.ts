/**
 * CRM on the live stream, end to end: tags, rules (event, absence with a keyed timer pending across
 * a restart, condition), funnels, paths, attribution and segments, with hand-computed answers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, publishCore, readStream, type TestEvent } from '../support/publish.js';

const PARTITIONS = 4;
const T = Date.UTC(2026, 4, 10, 12);
const MIN = 60_000;
const DAY = 86_400_000;
let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let dir: string;
let env: Record<string, string>;
let n = 0;

function ev(customer: string, type: string, ts: number, extra: Partial<TestEvent> = {}): TestEvent {
  return { event_id: `crm-${++n}`, customer_id: customer, type, ts: new Date(ts).toISOString(), ...extra };
}

function anchors(at: number): TestEvent[] {
  return anchorEvents(PARTITIONS, at);
}

async function answer(id: string, minEvents: number): Promise<CustomerAnswer> {
  return waitFor(async () => {
    const res = await engine.get(`/v1/customers/${id}`);
    const body = res.body as CustomerAnswer;
    return res.status === 200 && (body.features['events_lifetime'] ?? 0) >= minEvents ? body : undefined;
  });
}

async function actions(): Promise<Record<string, string>[]> {
  return (await readStream(nc, 'BW_CRM'))
    .filter((m) => m.subject.startsWith('bw.actions.'))
    .map((m) => ({
      ...m.json<Record<string, string>>(),
      subject: m.subject,
      msg_id: m.headers['Nats-Msg-Id'] ?? '',
    }));
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-crm-'));
  await writeFile(
    path.join(dir, 'tags.yaml'),
    [
      'tags:',
      '  - { id: big_spender, kind: value, when: "spend_90d > 100" }',
      '  - { id: browser, kind: behaviour, when: "page_views_7d > 0 and purchases_7d == 0" }',
      '  - { id: lapsing, kind: predictive, when: "churn.risk >= 80" }',
      '  - { id: german, kind: basic, when: "profile.country == \'DE\'" }',
    ].join('\n'),
  );
  await writeFile(
    path.join(dir, 'rules.yaml'),
    [
      'rules:',
      '  - { id: welcome, on: signup }',
      '  - { id: welcome_recent, on: signup, max_age: 2d }',
      '  - { id: nudge, on: signup, unless: { type: purchase, within: 7d } }',
      '  - { id: big_order, on: purchase, when: "spend_90d > 100" }',
      '  - { id: rescue, when: "churn.risk >= 80" }',
    ].join('\n'),
  );
  await writeFile(
    path.join(dir, 'funnels.json'),
    JSON.stringify({
      funnels: [{ id: 'shop', steps: ['page_view', 'add_to_cart', 'purchase'], max_gap: '1h' }],
    }),
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
    BW_FUNNELS_FILE: path.join(dir, 'funnels.json'),
    BW_ALLOWED_LATENESS_SECONDS: '0',
    BW_RESCORE_SECONDS: '1',
  };
  engine = await startEngineProcess(env);
});

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('CRM on the live stream', () => {
  it('tags customers and fires event rules with deterministic action ids', async () => {
    // The anchors first: the clock (every partition's watermark) is at T when the sign-ups arrive.
    await publishCore(nc, anchors(T));
    await publishCore(nc, [
      ev('ana', 'signup', T - 10 * DAY),
      ev('ana', 'profile', T - 10 * DAY, { props: { country: 'DE', name: 'Ana Beispiel' } }),
      ev('ana', 'purchase', T - 8 * DAY, { amount: 150 }),
      ev('ben', 'signup', T - 1 * DAY),
      ev('ben', 'page_view', T - 1 * DAY + MIN),
    ]);
    const ana = await answer('ana', 3);
    expect(ana.tags).toEqual(['big_spender', 'german']);
    const ben = await answer('ben', 2);
    // The fixture churn model scores everyone; never having bought reads as 365 days: risk 100.
    expect(ben.tags).toEqual(['browser', 'lapsing']);
    const fired = await waitFor(async () => {
      const list = await actions();
      return list.length >= 4 ? list : undefined;
    });
    const byRule = (rule: string) =>
      fired
        .filter((a) => a['rule_id'] === rule)
        .map((a) => a['customer_id'])
        .sort();
    expect(byRule('welcome')).toEqual(['ana', 'ben']);
    // ana's sign-up is 10 days behind the clock: too old for a rule with max_age 2d.
    expect(byRule('welcome_recent')).toEqual(['ben']);
    expect(byRule('big_order')).toEqual(['ana']);
    expect(byRule('nudge')).toEqual([]);
    for (const a of fired) {
      expect(a['subject']).toBe(`bw.actions.${a['rule_id']}`);
      expect(a['msg_id']).toBe(a['action_id']);
    }
    const listed = (await engine.get('/v1/customers?min_churn_risk=0&tag=big_spender')).body as {
      customers: { customer_id: string }[];
    };
    expect(listed.customers.map((c) => c.customer_id)).toEqual(['ana']);
  });

  it('fires an absence rule once, after a restart while its timer was pending, and never for a customer who bought', async () => {
    // ana signed up 10 days before T and bought within 7 days: no nudge. ben signed up 1 day before T.
    const code = await engine.stop('SIGTERM');
    expect(code).toBe(0);
    engine = await startEngineProcess(env);
    // The clock moves past ben's signup + 7 days.
    await publishCore(nc, anchors(T + 7 * DAY));
    const nudges = await waitFor(
      async () => {
        const list = (await actions()).filter((a) => a['rule_id'] === 'nudge');
        return list.length > 0 ? list : undefined;
      },
      30_000,
      'the nudge',
    );
    await publishCore(nc, anchors(T + 9 * DAY));
    await new Promise((r) => setTimeout(r, 1500));
    const all = (await actions()).filter((a) => a['rule_id'] === 'nudge');
    expect(all).toHaveLength(1);
    expect(nudges[0]).toMatchObject({
      customer_id: 'ben',
      kind: 'absence',
      at: new Date(T - DAY + 7 * DAY).toISOString(),
    });
  });

  it('fires a condition rule on its false → true transition only', async () => {
    await publishCore(nc, [ev('cyd', 'purchase', T + 9 * DAY - 300 * DAY, { amount: 5 })]);
    const cyd = await answer('cyd', 1);
    expect(cyd.tags).toContain('lapsing');
    await publishCore(nc, [ev('cyd', 'page_view', T + 9 * DAY - 200 * DAY)]);
    await answer('cyd', 2);
    const rescues = await waitFor(async () => {
      const list = (await actions()).filter((a) => a['rule_id'] === 'rescue' && a['customer_id'] === 'cyd');
      return list.length > 0 ? list : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(
      (await actions()).filter((a) => a['rule_id'] === 'rescue' && a['customer_id'] === 'cyd'),
    ).toHaveLength(rescues.length);
    expect(rescues).toHaveLength(1);
  });

  it('counts funnel steps, paths and attribution as computed by hand', async () => {
    const t = T + 9 * DAY - 2 * DAY;
    await publishCore(nc, [
      // dee completes the funnel; eli stops after the cart; fay's cart comes more than 1 h late.
      ev('dee', 'page_view', t),
      ev('dee', 'add_to_cart', t + 10 * MIN),
      ev('dee', 'purchase', t + 20 * MIN, { amount: 40 }),
      ev('eli', 'page_view', t),
      ev('eli', 'add_to_cart', t + 5 * MIN),
      ev('fay', 'page_view', t),
      ev('fay', 'add_to_cart', t + 2 * 60 * MIN),
      // gus: email then social touches, then a purchase.
      ev('gus', 'campaign_touch', t - 5 * DAY, { channel: 'email' }),
      ev('gus', 'campaign_touch', t - 2 * DAY, { channel: 'social' }),
      ev('gus', 'purchase', t, { amount: 60 }),
    ]);
    await answer('gus', 3);
    await answer('fay', 2);
    const funnel = (await engine.get('/v1/funnels/shop')).body as {
      steps: { type: string; entered: number }[];
    };
    // Page views so far: ben, cyd, dee, eli, fay; carts within the hour: dee, eli; purchase: dee.
    expect(funnel.steps.map((s) => s.entered)).toEqual([5, 2, 1]);
    expect((await engine.get('/v1/funnels/nope')).status).toBe(404);

    const paths = (await engine.get('/v1/paths?from=page_view')).body as {
      transitions: { next: { type: string; count: number }[] };
    };
    const next = Object.fromEntries(paths.transitions.next.map((x) => [x.type, x.count]));
    expect(next['add_to_cart']).toBe(3);

    const last = (await engine.get('/v1/attribution?model=last_touch')).body as {
      channels: { channel: string; conversions: number }[];
    };
    expect(Object.fromEntries(last.channels.map((c) => [c.channel, c.conversions]))).toEqual({ social: 1 });
    const linear = (await engine.get('/v1/attribution?model=linear')).body as {
      channels: { channel: string; conversions: number; revenue: number }[];
    };
    expect(Object.fromEntries(linear.channels.map((c) => [c.channel, c.conversions]))).toEqual({
      email: 0.5,
      social: 0.5,
    });
    expect(Object.fromEntries(linear.channels.map((c) => [c.channel, c.revenue]))).toEqual({
      email: 30,
      social: 30,
    });
    expect((await engine.get('/v1/attribution?model=nonsense')).status).toBe(400);
  });

  it('puts every customer in a segment and counts them', async () => {
    const body = await waitFor(
      async () => {
        const res = (await engine.get('/v1/segments')).body as {
          segments: { segment: string; customers: number }[];
        };
        const total = res.segments.reduce((sum, s) => sum + s.customers, 0);
        return total >= 11 ? res : undefined;
      },
      20_000,
      'segments',
    );
    expect(body.segments.map((s) => s.segment)).toEqual([
      'new',
      'dormant',
      'at_risk',
      'core',
      'potential',
      'regular',
    ]);
    const cyd = await answer('cyd', 2);
    expect(cyd.segment).toBe('dormant');
    const dee = await answer('dee', 3);
    expect(dee.segment).toBe('new');
  });

  it('reloads a changed tags file without a restart and keeps the old one when an edit is invalid', async () => {
    const tags = path.join(dir, 'tags.yaml');
    await writeFile(tags, 'tags:\n  - { id: any_buyer, kind: value, when: "purchases_lifetime >= 1" }\n');
    const ana = await waitFor(
      async () => {
        const body = (await engine.get('/v1/customers/ana')).body as CustomerAnswer;
        return body.tags.includes('any_buyer') ? body : undefined;
      },
      20_000,
      'the new tag',
    );
    expect(ana.tags).toEqual(['any_buyer']);
    await writeFile(tags, 'tags:\n  - { id: Bad Id, kind: nope, when: "spend_90d >" }\n');
    await waitFor(
      async () => (engine.logs.some((l) => l.includes('crm configuration rejected')) ? true : undefined),
      20_000,
      'the rejection',
    );
    expect(engine.logs.join('\n')).toContain('BW_ERR_CRM_CONFIG');
    expect((await engine.get('/healthz')).status).toBe(200);
    expect(((await engine.get('/v1/customers/ana')).body as CustomerAnswer).tags).toEqual(['any_buyer']);
  });
});
