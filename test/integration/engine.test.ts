/**
 * The engine end to end: a real nats-server, the real engine process, events published over NATS,
 * answers read over HTTP and from the DLQ and alert streams.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOfCustomer } from '../../contract/subjects.js';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { predictCustomer } from '../../models/clv/predict.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { fixtureChurn, writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, openDeadLetter, publishCore, readStream, type TestEvent } from '../support/publish.js';

const PARTITIONS = 4;
/** The event-time clock: every partition's watermark is pinned at T by an anchor event. */
const T = Date.UTC(2026, 2, 10, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let seq = 0;

function ev(customer: string, type: string, ts: number, extra: Partial<TestEvent> = {}): TestEvent {
  return { event_id: `t-${++seq}`, customer_id: customer, type, ts: iso(ts), ...extra };
}

/** One anchor customer per partition, each with an event at T, so all watermarks equal T. */
function anchors(at = T): TestEvent[] {
  return anchorEvents(PARTITIONS, at);
}

async function customer(id: string, minEvents: number): Promise<CustomerAnswer> {
  return waitFor(
    async () => {
      const res = await engine.get(`/v1/customers/${encodeURIComponent(id)}`);
      if (res.status !== 200) return undefined;
      const body = res.body as CustomerAnswer;
      return (body.features['events_lifetime'] ?? 0) >= minEvents && body.scores.churn ? body : undefined;
    },
    30_000,
    `customer ${id}`,
  );
}

/** The published CDNOW estimates (Fader, Hardie & Lee 2005) as the live customer-base fit. */
const CLV = {
  unit: 'weeks' as const,
  bgnbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
  gamma_gamma: { p: 6.25, q: 3.74, v: 15.44 },
};

async function withClvParams(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'clv-params'), { recursive: true });
  const file = {
    kind: 'bellwether.clv-params',
    version: 'test-1',
    fitted_at: new Date(0).toISOString(),
    unit: CLV.unit,
    calibration_end: '2026-01-01',
    bgnbd: { ...CLV.bgnbd, log_likelihood: -1 },
    gamma_gamma: { ...CLV.gamma_gamma, log_likelihood: -1 },
    customers: 1,
    repeat_customers: 1,
  };
  await writeFile(path.join(dir, 'clv-params', 'test-1.json'), JSON.stringify(file));
  return dir;
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  engine = await startEngineProcess({
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: String(PARTITIONS),
    BW_WORKERS: '2',
    BW_CLOCK: 'event',
    // These scenarios move one partition's clock months ahead with one event (frank seen 200 days
    // later): no jump bound here; the bound and the common clock have their own engine test
    // (event-integrity.test.ts).
    BW_WATERMARK_MAX_JUMP_SECONDS: '0',
    BW_CHURN_ALERT_THRESHOLD: '60',
    BW_RESCORE_SECONDS: '1',
    // Models with a known function of days_since_last_purchase, so risks are predictable here.
    BW_MODELS_DIR: await withClvParams(await writeFixtureModels()),
  });
  await publishCore(nc, anchors());
});

afterAll(async () => {
  const code = await engine?.stop('SIGTERM');
  expect(code).toBe(0);
  await nc?.close();
  await nats?.stop();
});

describe('engine end to end', () => {
  it('serves exact features for known events published out of order', async () => {
    const events = [
      ev('alice', 'signup', T - 100 * DAY_MS),
      ev('alice', 'purchase', T - 95 * DAY_MS, { amount: 100 }),
      ev('alice', 'purchase', T - 40 * DAY_MS, { amount: 50 }),
      ev('alice', 'purchase', T - 2 * DAY_MS, { amount: 25.5 }),
      ev('alice', 'refund', T - DAY_MS, { amount: 25.5 }),
      ev('alice', 'session_start', T - 3 * HOUR_MS),
      ev('alice', 'page_view', T - 2 * HOUR_MS),
      ev('alice', 'page_view', T - 3 * DAY_MS),
      ev('alice', 'add_to_cart', T - HOUR_MS),
      ev('alice', 'support_ticket', T - 10 * DAY_MS),
      ev('alice', 'complaint', T - 60 * DAY_MS),
    ];
    // Newest first, then the oldest: the engine sees them far out of event-time order.
    await publishCore(nc, [...events].reverse());
    const body = await customer('alice', events.length);
    expect(body.features).toMatchObject({
      purchases_7d: 1,
      purchases_30d: 1,
      purchases_90d: 2,
      spend_30d: 25.5,
      spend_90d: 75.5,
      refunds_90d: 1,
      sessions_7d: 1,
      sessions_30d: 1,
      page_views_24h: 1,
      page_views_7d: 2,
      cart_adds_24h: 1,
      cart_adds_7d: 1,
      support_tickets_30d: 1,
      complaints_90d: 1,
      days_since_last_purchase: 2,
      days_since_last_event: 1 / 24,
      tenure_days: 100,
      purchases_lifetime: 3,
      spend_lifetime: 175.5,
    });
    expect(body.last_event_at).toBe(iso(T - HOUR_MS));
    // Customer-base figures: 3 purchase days (x = 2 repeats), first 95 days ago, last 2 days ago.
    expect(body.features['purchase_days_lifetime']).toBe(3);
    const expected = predictCustomer(CLV, { x: 2, t_x: 93 / 7, T: 95 / 7, monetary: 175.5 / 3 });
    expect(body.scores.p_alive).toBeCloseTo(expected.p_alive, 6);
    expect(body.scores.expected_purchases_90d).toBeCloseTo(expected.expected_purchases, 4);
    expect(body.scores.clv_365d).toBeCloseTo(expected.clv, 2);
    expect(body.scores.clv_version).toBe('test-1');
    expect(body.scores.clv_status).toBe('ok');
    expect(body.scores.p_alive).toBeGreaterThan(0.5);
    expect(body.partition).toBe(partitionOfCustomer('alice', PARTITIONS));
    expect(body.scores.churn!.reasons).toEqual([
      { feature: 'days_since_last_purchase', value: 2, direction: 'raises', impact: expect.any(Number) },
    ]);
    for (const score of [body.scores.churn!, body.scores.purchase_intent!]) {
      expect(score.probability).toBeGreaterThanOrEqual(0);
      expect(score.probability).toBeLessThanOrEqual(1);
      expect(score.risk).toBe(Math.round(score.probability * 100));
      expect(score.model_version).toBeTruthy();
    }
  });

  it('counts a duplicate event_id once', async () => {
    const purchase = ev('dora', 'purchase', T - 5 * DAY_MS, { amount: 10 });
    await publishCore(nc, [purchase, purchase, { ...purchase }, ev('dora', 'login', T - DAY_MS)]);
    const body = await customer('dora', 2);
    expect(body.features['purchases_lifetime']).toBe(1);
    expect(body.features['spend_lifetime']).toBe(10);
    expect(body.features['events_lifetime']).toBe(2);
    const metrics = await engine.get('/metrics');
    expect(Number(/bellwether_events_duplicate_total (\d+)/.exec(metrics.text)?.[1])).toBeGreaterThanOrEqual(
      2,
    );
  });

  it('dead-letters each kind of bad input and keeps processing the valid events around it', async () => {
    const subject = (type: string, id: string) => `bw.events.${type}.${id}`;
    const bad: [string, string, string][] = [
      ['not_json', subject('purchase', 'bad1'), '{"event_id": nope'],
      [
        'missing_field',
        subject('purchase', 'bad2'),
        JSON.stringify({ event_id: 'b2', type: 'purchase', ts: T }),
      ],
      [
        'unknown_type',
        subject('teleport', 'bad3'),
        JSON.stringify({ event_id: 'b3', customer_id: 'bad3', type: 'teleport', ts: T }),
      ],
      [
        'bad_time',
        subject('login', 'bad4'),
        JSON.stringify({ event_id: 'b4', customer_id: 'bad4', type: 'login', ts: 'soon' }),
      ],
      [
        'future_time',
        subject('login', 'bad5'),
        JSON.stringify({ event_id: 'b5', customer_id: 'bad5', type: 'login', ts: Date.now() + 3 * DAY_MS }),
      ],
      [
        'bad_amount',
        subject('purchase', 'bad6'),
        '{"event_id":"b6","customer_id":"bad6","type":"purchase","ts":1,"amount":1e999}',
      ],
      [
        'oversized',
        subject('login', 'bad7'),
        JSON.stringify({
          event_id: 'b7',
          customer_id: 'bad7',
          type: 'login',
          ts: T,
          props: { pad: 'x'.repeat(70_000) },
        }),
      ],
      [
        'subject_mismatch',
        subject('login', 'bad8'),
        JSON.stringify({ event_id: 'b8', customer_id: 'someone-else', type: 'login', ts: T }),
      ],
    ];
    await publishCore(nc, [ev('erin', 'purchase', T - DAY_MS, { amount: 5 })]);
    for (const [, subj, body] of bad) nc.publish(subj, body);
    await publishCore(nc, [ev('erin', 'purchase', T - 2 * DAY_MS, { amount: 7 })]);
    const erin = await customer('erin', 2);
    expect(erin.features['spend_lifetime']).toBe(12);

    const dlq = await waitFor(
      async () => {
        const msgs = await readStream(nc, 'BW_DLQ');
        return msgs.length >= bad.length ? msgs : undefined;
      },
      20_000,
      'dead letters',
    );
    for (const [reason, subj, body] of bad) {
      const letter = dlq.find((m) => m.subject === `bw.dlq.${reason}`);
      expect(letter, reason).toBeDefined();
      expect(letter!.headers['Bw-Reason']).toBe(reason);
      expect(letter!.headers['Bw-Error-Code']).toBe('BW_ERR_EVENT_SCHEMA');
      // The stored subject: the server's mapping drops the customer token (subjects.ts).
      expect(letter!.headers['Bw-Subject']).toMatch(new RegExp(`^bw\\.part\\.\\d+\\.${subj.split('.')[2]}$`));
      // Kept sealed (it may hold personal data); the engine's key opens it to the original bytes.
      expect(new TextDecoder().decode(letter!.data)).not.toBe(body);
      expect(await openDeadLetter(letter!, engine.dataDir)).toBe(body);
    }
    const metrics = await engine.get('/metrics');
    for (const [reason] of bad) {
      expect(metrics.text).toMatch(
        new RegExp(`bellwether_events_rejected_total\\{reason="${reason}"\\} [1-9]`),
      );
    }
    const health = await engine.get('/healthz');
    expect(health.status).toBe(200);
  });

  it('reads events stored with the customer token of earlier versions, checking that token', async () => {
    // Before 2026-11-23 the mapping kept the token: bw.part.<p>.<type>.<token>. Such messages
    // stay in the stream after an upgrade and are read as before.
    const p = partitionOfCustomer('hollis', PARTITIONS);
    const stored = (type: string, token: string, body: object) =>
      nc.publish(`bw.part.${p}.${type}.${token}`, JSON.stringify(body));
    stored('purchase', 'hollis', ev('hollis', 'purchase', T - DAY_MS, { amount: 9 }));
    stored('purchase', 'hollis', { ...ev('someone-else', 'purchase', T - DAY_MS), amount: 1 });
    await publishCore(nc, [ev('hollis', 'purchase', T - 2 * DAY_MS, { amount: 4 })]);
    const hollis = await customer('hollis', 2);
    expect(hollis.features['spend_lifetime']).toBe(13);
    const letter = await waitFor(
      async () =>
        (await readStream(nc, 'BW_DLQ')).find(
          (m) => m.headers['Bw-Subject'] === `bw.part.${p}.purchase.hollis`,
        ),
      20_000,
      'the dead letter of the mismatched token',
    );
    expect(letter.headers['Bw-Reason']).toBe('subject_mismatch');
  });

  it('fires a churn alert once per upward crossing, with a deterministic Nats-Msg-Id', async () => {
    // One purchase long ago: a lapsed customer, risk high.
    const lapsed = ev('frank', 'purchase', T - 300 * DAY_MS, { amount: 20 });
    await publishCore(nc, [lapsed]);
    const first = await customer('frank', 1);
    expect(first.scores.churn!.risk).toBe(Math.round(fixtureChurn(300) * 100));
    expect(first.scores.churn!.probability).toBeCloseTo(fixtureChurn(300), 5);
    // Many recent purchases: risk falls far below the threshold (re-arms).
    const recent = Array.from({ length: 12 }, (_, i) =>
      ev('frank', 'purchase', T - (i * 7 + 1) * DAY_MS, { amount: 80 }),
    );
    await publishCore(nc, recent);
    const active = await customer('frank', 13);
    expect(active.scores.churn!.risk).toBe(Math.round(fixtureChurn(1) * 100));
    // The same events again (a producer retry): nothing changes, no new alert.
    await publishCore(nc, [lapsed, ...recent]);
    // Months later he is seen once more without buying: risk crosses again.
    await publishCore(nc, [ev('frank', 'page_view', T + 200 * DAY_MS)]);
    const lapsedAgain = await customer('frank', 14);
    expect(lapsedAgain.features['events_lifetime']).toBe(14);
    expect(lapsedAgain.scores.churn!.risk).toBe(Math.round(fixtureChurn(201) * 100));

    const alerts = await waitFor(
      async () => {
        const all = (await readStream(nc, 'BW_ALERTS')).filter((m) => m.subject === 'bw.alerts.churn');
        const mine = all.filter((m) => m.json<{ customer_id: string }>().customer_id === 'frank');
        return mine.length >= 2 ? mine : undefined;
      },
      20_000,
      'two alerts',
    );
    expect(alerts).toHaveLength(2);
    const bodies = alerts.map((m) => m.json<Record<string, unknown>>());
    for (const [i, m] of alerts.entries()) {
      const body = bodies[i]!;
      expect(m.headers['Nats-Msg-Id']).toBe(body['alert_id']);
      expect(body).toMatchObject({ kind: 'churn', customer_id: 'frank', threshold: 60 });
      expect(body['risk']).toBeGreaterThanOrEqual(60);
      expect(Object.keys(body).sort()).toEqual(
        [
          'alert_id',
          'crossing',
          'customer_id',
          'emitted_at',
          'event_time',
          'kind',
          'model_version',
          'previous_risk',
          'reasons',
          'risk',
          'threshold',
        ].sort(),
      );
      expect(body['model_version']).toBe('fixture-1');
      expect(body['reasons']).toEqual([
        {
          feature: 'days_since_last_purchase',
          value: expect.any(Number),
          direction: 'raises',
          impact: expect.any(Number),
        },
      ]);
    }
    expect(bodies.map((b) => b['crossing'])).toEqual([1, 2]);
    expect(bodies[0]!['previous_risk']).toBeNull();
    expect(bodies[0]!['risk']).toBe(Math.round(fixtureChurn(300) * 100));
    expect(bodies[1]!['previous_risk']).toBe(Math.round(fixtureChurn(1) * 100));
    expect(bodies[1]!['risk']).toBe(Math.round(fixtureChurn(201) * 100));
    expect(bodies[1]!['event_time']).toBe(iso(T + 200 * DAY_MS));
  });

  it('raises a churn alert for a customer who stays silent while time passes (rescore sweep)', async () => {
    await publishCore(nc, [ev('gina', 'purchase', T - 50 * DAY_MS, { amount: 30 })]);
    const before = await customer('gina', 1);
    expect(before.scores.churn!.risk).toBe(Math.round(fixtureChurn(50) * 100));
    // Other customers' events move every partition's clock 60 days on; gina sends nothing.
    await publishCore(nc, anchors(T + 60 * DAY_MS));
    const alert = await waitFor(
      async () => {
        const mine = (await readStream(nc, 'BW_ALERTS'))
          .filter((m) => m.subject === 'bw.alerts.churn')
          .map((m) => m.json<Record<string, unknown>>())
          .filter((b) => b['customer_id'] === 'gina');
        return mine.length > 0 ? mine : undefined;
      },
      20_000,
      'a sweep alert',
    );
    expect(alert).toHaveLength(1);
    expect(alert[0]).toMatchObject({
      risk: Math.round(fixtureChurn(110) * 100),
      previous_risk: Math.round(fixtureChurn(50) * 100),
      event_time: iso(T - 50 * DAY_MS),
    });
    const after = await customer('gina', 1);
    expect(after.scores.churn!.risk).toBe(Math.round(fixtureChurn(110) * 100));
  });

  it('lists the riskiest customers first, gathered from all workers', async () => {
    const res = await engine.get('/v1/customers?min_churn_risk=0&limit=5');
    expect(res.status).toBe(200);
    const body = res.body as {
      customers: { customer_id: string; scores: { churn: { risk: number } } }[];
      count: number;
    };
    expect(body.count).toBe(5);
    const risks = body.customers.map((c) => c.scores.churn.risk);
    expect([...risks].sort((a, b) => b - a)).toEqual(risks);
    const high = await engine.get('/v1/customers?min_churn_risk=101');
    expect(high.status).toBe(400);
    const unknown = await engine.get('/v1/customers?min_churn_risk=0&color=red');
    expect(unknown.status).toBe(400);
  });

  it('answers 404 with a coded body for an unknown customer', async () => {
    const res = await engine.get('/v1/customers/nobody-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'BW_ERR_CUSTOMER_NOT_FOUND', message: expect.any(String) } });
  });

  it('reports info, readiness, metrics and OpenAPI docs', async () => {
    const info = await engine.get('/v1/info');
    expect(info.body).toMatchObject({
      name: 'bellwether',
      partitions: PARTITIONS,
      workers: 2,
      tf_backend: 'wasm',
      clock: 'event',
    });
    const ready = await waitFor(async () => {
      const r = await engine.get('/readyz');
      return r.status === 200 ? r : undefined;
    });
    expect(ready.body).toMatchObject({ ready: true, partitions: PARTITIONS, attached: PARTITIONS });
    const metrics = await engine.get('/metrics');
    for (const name of [
      'bellwether_events_processed_total{type="purchase"}',
      'bellwether_event_to_score_seconds_bucket',
      'bellwether_consumer_pending{partition="0"}',
      'bellwether_customers_tracked',
      'bellwether_predictions_total{model="churn"}',
      'bellwether_alerts_total{kind="churn"}',
      'process_cpu_user_seconds_total',
    ]) {
      expect(metrics.text).toContain(name);
    }
    expect(metrics.text).not.toMatch(/alice|frank/);
    // Where the threads' time went: on a core and waiting for one, per thread; the workers' busy
    // time per stage, every stage seen after the events above.
    const sample = (series: string): number => {
      const escaped = series.replace(/[{}"]/g, (c) => `\\${c}`);
      const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(metrics.text);
      return m ? Number(m[1]) : Number.NaN;
    };
    for (const thread of ['main', 'worker-0', 'worker-1']) {
      expect(sample(`bellwether_thread_cpu_seconds_total{thread="${thread}"}`)).toBeGreaterThan(0);
      expect(sample(`bellwether_thread_runqueue_seconds_total{thread="${thread}"}`)).toBeGreaterThanOrEqual(
        0,
      );
    }
    const stages = ['parse', 'fold', 'crm', 'score', 'effects', 'other'].map((stage) =>
      sample(`bellwether_worker_busy_seconds_total{stage="${stage}"}`),
    );
    for (const seconds of stages) expect(seconds).toBeGreaterThan(0);
    // Busy time is wall time of the two workers' event loops: at most their time since start.
    const workerCpu =
      sample('bellwether_thread_cpu_seconds_total{thread="worker-0"}') +
      sample('bellwether_thread_cpu_seconds_total{thread="worker-1"}');
    const workerWait =
      sample('bellwether_thread_runqueue_seconds_total{thread="worker-0"}') +
      sample('bellwether_thread_runqueue_seconds_total{thread="worker-1"}');
    expect(stages.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual((workerCpu + workerWait) * 1.05 + 0.5);
    const docs = await engine.get('/docs/json');
    expect(Object.keys((docs.body as { paths: object }).paths)).toEqual(
      expect.arrayContaining([
        '/v1/customers/{id}',
        '/v1/customers',
        '/v1/info',
        '/healthz',
        '/readyz',
        '/metrics',
      ]),
    );
  });

  it('serves repeated reads from the main thread until an event changes the customer', async () => {
    const hits = async () =>
      Number(/^bellwether_answer_cache_hits (\d+)/m.exec((await engine.get('/metrics')).text)?.[1] ?? 0);
    await publishCore(nc, [ev('reader-1', 'purchase', T - 3 * DAY_MS, { amount: 10 })]);
    await customer('reader-1', 1);
    // Its RFM cell and segment come with the next RFM cuts (rfm-cuts.ts), which move every answer:
    // wait for them, then the answer stays until an event changes the customer.
    const first = await waitFor(
      async () => {
        const body = (await engine.get('/v1/customers/reader-1')).body as CustomerAnswer;
        return body.rfm ? body : undefined;
      },
      30_000,
      'reader-1 with its RFM cell',
    );
    const before = await hits();
    for (let i = 0; i < 5; i++) {
      expect((await engine.get('/v1/customers/reader-1')).body).toEqual(first);
    }
    expect((await hits()) - before).toBeGreaterThanOrEqual(4);
    // An older event (the watermark stays) changes the customer: the next read is fresh, not cached.
    await publishCore(nc, [ev('reader-1', 'purchase', T - 2 * DAY_MS, { amount: 5 })]);
    const after = await customer('reader-1', 2);
    expect(after.features['spend_lifetime']).toBe(15);
  });
});
