/**
 * Aggregates end to end through a real nats-server and engine process: GET /v1/aggregate over
 * every worker's customers (hand-computed sums, averages, a filter and a bucketed dimension, a
 * profile field, a personal one refused), and GET /v1/aggregate/daily over events published out of
 * order, answered the same after a restart from checkpoints with the events stream purged.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { anchorEvents, publishCore, type TestEvent } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';

const PARTITIONS = 4;
/** 2026-05-10T12:00Z: every partition's "now" (event-time clock, pinned by the anchors). */
const T = Date.UTC(2026, 4, 10, 12);
const H = 3_600_000;
const DAY = 24 * H;
let stack: TestStack;
let engine: EngineProcess;
/** The engine started again on the first one's data directory (stopped here, not by the stack). */
let restarted: EngineProcess | undefined;
let n = 0;

function ev(customer: string, type: string, ts: number, extra: Partial<TestEvent> = {}): TestEvent {
  return { event_id: `agg-${++n}`, customer_id: customer, type, ts: new Date(ts).toISOString(), ...extra };
}

/**
 * | customer | events (time before T) | spend | lifecycle |
 * |---|---|---|---|
 * | u1 | purchase 30 (2 d, web), purchase 20 (1 d, web) | 50 | new |
 * | u2 | purchase 100 (40 d, app) | 100 | active |
 * | u3 | page_view (3 d), purchase 5 (3 h) | 5 | new |
 * | u4 | page_view (5 d), profile {country fr, email} (5 d) | 0 | prospect |
 * | 4 anchors | 3 logins each (0) | 0 | prospect |
 *
 * Published out of order: the latest first, the oldest last.
 */
const EVENTS: TestEvent[] = [
  ev('u3', 'purchase', T - 3 * H, { amount: 5 }),
  ev('u1', 'purchase', T - 1 * DAY, { amount: 20, channel: 'web' }),
  ev('u4', 'page_view', T - 5 * DAY),
  ev('u1', 'purchase', T - 2 * DAY, { amount: 30, channel: 'web' }),
  ev('u3', 'page_view', T - 3 * DAY),
  ev('u4', 'profile', T - 5 * DAY, { props: { country: 'fr', email: 'u4@example.com' } }),
  ev('u2', 'purchase', T - 40 * DAY, { amount: 100, channel: 'app' }),
];

async function aggregate(query: string) {
  const res = await engine.get(`/v1/aggregate?${query}`);
  return { status: res.status, body: res.body as Record<string, unknown> };
}

const DAILY =
  '/v1/aggregate/daily?from=2026-03-01&to=2026-05-10&group_by=day,type&metrics=events,customers,amount';

const EXPECTED_DAILY = [
  { key: { day: '2026-03-31', type: 'purchase' }, events: 1, customers: 1, amount: 100 },
  { key: { day: '2026-05-05', type: 'page_view' }, events: 1, customers: 1, amount: 0 },
  { key: { day: '2026-05-05', type: 'profile' }, events: 1, customers: 1, amount: 0 },
  { key: { day: '2026-05-07', type: 'page_view' }, events: 1, customers: 1, amount: 0 },
  { key: { day: '2026-05-08', type: 'purchase' }, events: 1, customers: 1, amount: 30 },
  { key: { day: '2026-05-09', type: 'purchase' }, events: 1, customers: 1, amount: 20 },
  { key: { day: '2026-05-10', type: 'login' }, events: 12, customers: 4, amount: 0 },
  { key: { day: '2026-05-10', type: 'purchase' }, events: 1, customers: 1, amount: 5 },
];

beforeAll(async () => {
  stack = await startStack(PARTITIONS, { BW_CLOCK: 'event' });
  engine = stack.engine;
  await publishCore(stack.nc, [...anchorEvents(PARTITIONS, T), ...EVENTS]);
  await waitFor(
    async () => {
      const { body } = await aggregate('metrics=sum:events_lifetime');
      const groups = body['groups'] as Record<string, number>[] | undefined;
      // 7 events and 3 logins for each of the 4 anchors (test/support/publish.ts anchorEvents).
      return groups?.[0]?.['sum:events_lifetime'] === 19 ? true : undefined;
    },
    30_000,
    'every event folded',
  );
});

afterAll(async () => {
  await restarted?.stop('SIGKILL');
  await stack?.stop('SIGKILL');
});

describe('GET /v1/aggregate on a live engine', () => {
  it('groups every worker’s customers by lifecycle with exact sums and averages', async () => {
    const { status, body } = await aggregate(
      'group_by=lifecycle&metrics=sum:spend_lifetime,avg:spend_lifetime',
    );
    expect(status).toBe(200);
    expect(body).toEqual({
      customers: 8,
      groups: [
        { key: { lifecycle: 'prospect' }, count: 5, 'sum:spend_lifetime': 0, 'avg:spend_lifetime': 0 },
        { key: { lifecycle: 'new' }, count: 2, 'sum:spend_lifetime': 55, 'avg:spend_lifetime': 27.5 },
        { key: { lifecycle: 'active' }, count: 1, 'sum:spend_lifetime': 100, 'avg:spend_lifetime': 100 },
      ],
      took_ms: expect.any(Number),
    });
  });

  it('filters and groups by a bucketed feature', async () => {
    const q = new URLSearchParams({
      filter: 'purchases_lifetime >= 1',
      group_by: 'bucket(days_since_last_purchase, 0, 7, 30)',
      metrics: 'sum:spend_lifetime,max:purchases_lifetime',
    });
    const { body } = await aggregate(String(q));
    expect(body['customers']).toBe(3);
    expect(body['groups']).toEqual([
      {
        key: { 'bucket(days_since_last_purchase,0,7,30)': '[0,7)' },
        count: 2,
        'sum:spend_lifetime': 55,
        'max:purchases_lifetime': 2,
      },
      {
        key: { 'bucket(days_since_last_purchase,0,7,30)': '[30,inf)' },
        count: 1,
        'sum:spend_lifetime': 100,
        'max:purchases_lifetime': 1,
      },
    ]);
  });

  it('groups by a profile field and refuses a personal one', async () => {
    expect((await aggregate('group_by=profile.country')).body['groups']).toEqual([
      { key: { 'profile.country': null }, count: 7 },
      { key: { 'profile.country': 'fr' }, count: 1 },
    ]);
    const refused = await aggregate('group_by=profile.email');
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error: {
        code: 'BW_ERR_AGGREGATE_QUERY',
        message:
          'aggregate query is invalid: group_by: profile.email is a personal field and cannot be grouped',
      },
    });
  });
});

describe('GET /v1/aggregate/daily on a live engine', () => {
  it('counts out-of-order events on their own day, and again after a restart from checkpoints', async () => {
    const first = await engine.get(DAILY);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      from: '2026-03-01',
      to: '2026-05-10',
      groups: EXPECTED_DAILY,
      dropped_events: 0,
      took_ms: expect.any(Number),
    });
    // A graceful stop checkpoints every partition; with the events gone from the stream the cube
    // can only come back from the checkpoints.
    await engine.stop('SIGTERM', { keepDataDir: true });
    const jsm = await jetstreamManager(stack.nc);
    for (let p = 0; p < PARTITIONS; p++) await jsm.streams.purge(`BW_EVENTS_${p}`);
    restarted = await startEngineProcess({
      BW_NATS_URL: stack.nats.url,
      BW_PARTITIONS: String(PARTITIONS),
      BW_WORKERS: '2',
      BW_CLOCK: 'event',
      BW_DATA_DIR: engine.dataDir,
    });
    engine = restarted;
    const again = await waitFor(async () => {
      const res = await engine.get(DAILY);
      return res.status === 200 && (res.body as { groups: unknown[] }).groups.length > 0
        ? res.body
        : undefined;
    });
    expect((again as { groups: unknown }).groups).toEqual(EXPECTED_DAILY);
  });
});
