/**
 * The red team's tries against the customer budget, repeated on a real nats-server with real
 * engine processes and API keys (BW_EXPORT_LIMIT=20): single reads one at a time past the
 * limit, a burst of 200 concurrent connections, a second instance on the same NATS, and a
 * restart. Customer ids are sequential (`c000001`…), as the simulator's are; the sequential scan
 * is seen by a real subscriber on `bw.alerts.security`.
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { publishCore, type TestEvent } from '../support/publish.js';
import { strongApiKey, strongPiiKey } from '../support/test-keys.js';

const LIMIT = 20;
const PARTITIONS = 4;
const CUSTOMERS = 60;
const KEYS = {
  analyst: strongApiKey('analyst-key'),
  flood: strongApiKey('flood-key'),
  shared: strongApiKey('shared-key'),
  admin: strongApiKey('admin-key'),
};
const ROLES: Record<keyof typeof KEYS, string> = {
  analyst: 'analyst',
  flood: 'viewer',
  shared: 'viewer',
  admin: 'admin',
};
const auth = (who: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[who]}` });
const id = (n: number): string => `c${String(n).padStart(6, '0')}`;

interface SecurityAlert {
  kind: string;
  actor: string;
  route: string;
  detail: string;
}

let nats: TestNats;
let nc: NatsConnection;
let alertsSub: Subscription;
const alerts: SecurityAlert[] = [];
const engines: EngineProcess[] = [];

function startEngine(instance: string): Promise<EngineProcess> {
  return startEngineProcess(
    {
      BW_NATS_URL: nats.url,
      BW_PARTITIONS: String(PARTITIONS),
      BW_WORKERS: '1',
      BW_INSTANCE_ID: instance,
      BW_LEASE_SECONDS: '5',
      BW_PII_KEY: strongPiiKey('test'),
      BW_API_KEYS: Object.entries(KEYS)
        .map(([who, key]) => `${key}:${ROLES[who as keyof typeof KEYS]}:${who}`)
        .join(','),
      BW_EXPORT_LIMIT: String(LIMIT),
    },
    [],
    90_000,
  ).then((e) => {
    engines.push(e);
    return e;
  });
}

/** `bellwether_customer_budget_synced_total{direction}` of an engine. */
async function synced(engine: EngineProcess, direction: 'in' | 'out'): Promise<number> {
  const text = (await engine.get('/metrics', auth('admin'))).text;
  const m = new RegExp(
    `^bellwether_customer_budget_synced_total\\{direction="${direction}"\\} (\\d+)`,
    'm',
  ).exec(text);
  return m ? Number(m[1]) : 0;
}

/** Waits until every customer is answered by `engine` (through the population, which costs no budget). */
async function waitForCustomers(engine: EngineProcess): Promise<void> {
  await waitFor(
    async () => {
      const res = await engine.get('/v1/segments', auth('admin'));
      if (res.status !== 200) return undefined;
      const segments = (res.body as { segments: { customers: number }[] }).segments;
      return segments.reduce((sum, s) => sum + s.customers, 0) === CUSTOMERS ? true : undefined;
    },
    60_000,
    `${CUSTOMERS} customers`,
  );
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  alertsSub = nc.subscribe('bw.alerts.security');
  void (async () => {
    for await (const m of alertsSub) alerts.push(m.json<SecurityAlert>());
  })();
  const a = await startEngine('engine-a');
  const now = Date.now();
  const events: TestEvent[] = Array.from({ length: CUSTOMERS }, (_, i) => ({
    event_id: `p-${i + 1}`,
    customer_id: id(i + 1),
    type: 'purchase',
    ts: now - (i + 1) * 3_600_000,
    amount: 10 + i,
  }));
  await publishCore(nc, events);
  await waitForCustomers(a);
}, 120_000);

afterAll(async () => {
  for (const e of engines)
    if (e.child.exitCode === null && e.child.signalCode === null) await e.stop('SIGKILL');
  alertsSub?.unsubscribe();
  await nc?.close();
  await nats?.stop();
}, 60_000);

describe('red-team tries against the customer budget', () => {
  it('single reads one at a time: the limit, then 429 with Retry-After; a sequential scan raises an alert', async () => {
    const a = engines[0]!;
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<EngineProcess['get']>> | undefined;
    for (let n = 1; n <= 300; n++) {
      const res = await a.get(`/v1/customers/${id(n)}`, auth('analyst'));
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
    }
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(200));
    expect(statuses.slice(LIMIT)).toEqual(Array(300 - LIMIT).fill(429));
    expect((refused!.body as { error: { code: string } }).error.code).toBe('BW_ERR_EXPORT_LIMIT');
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(3000);
    // The same customers again within the hour cost nothing.
    expect((await a.get(`/v1/customers/${id(5)}`, auth('analyst'))).status).toBe(200);
    // Lists and exports draw from the same budget: a list with customers not yet read is refused.
    expect((await a.get('/v1/customers?limit=30', auth('analyst'))).status).toBe(429);

    const scan = await waitFor(
      async () => alerts.find((x) => x.kind === 'enumeration' && x.actor === 'analyst'),
      10_000,
      'an enumeration alert',
    );
    expect(scan.detail).toMatch(/^sequential ids/);
    expect(scan.route).toBe('/v1/customers/:id');
    expect(alerts.find((x) => x.kind === 'export_limit' && x.actor === 'analyst')).toBeDefined();
  });

  it('a burst of 200 concurrent connections reads no more than the limit', async () => {
    const a = engines[0]!;
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => a.get(`/v1/customers/${id((i % CUSTOMERS) + 1)}`, auth('flood'))),
    );
    const read = new Set(
      answers.filter((r) => r.status === 200).map((r) => (r.body as { customer_id: string }).customer_id),
    );
    expect(read.size).toBe(LIMIT);
    expect(answers.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  });

  it('a second instance on the same NATS shares every key’s budget', async () => {
    const a = engines[0]!;
    // Engine B reads the last hour's charges from NATS when it starts.
    const b = await startEngine('engine-b');
    await waitForCustomers(b);
    expect(await synced(b, 'in')).toBeGreaterThanOrEqual(2 * LIMIT);
    expect((await b.get(`/v1/customers/${id(45)}`, auth('analyst'))).status).toBe(429);
    expect((await b.get(`/v1/customers/${id(45)}`, auth('flood'))).status).toBe(429);
    await waitFor(
      async () =>
        (await b.get(`/v1/customers/${id(5)}`, auth('analyst'))).status === 200 ? true : undefined,
      30_000,
      'a customer already charged, read on the other instance',
    );

    // Half the budget on A, half on B, then neither gives one more.
    const bIn = await synced(b, 'in');
    for (let n = 1; n <= LIMIT / 2; n++) {
      expect((await a.get(`/v1/customers/${id(n)}`, auth('shared'))).status).toBe(200);
    }
    await waitFor(
      async () => ((await synced(b, 'in')) >= bIn + LIMIT / 2 ? true : undefined),
      10_000,
      'A’s charges at B',
    );
    const aIn = await synced(a, 'in');
    for (let n = LIMIT / 2 + 1; n <= LIMIT; n++) {
      const res = await b.get(`/v1/customers/${id(n)}`, auth('shared'));
      expect([n, res.status]).toEqual([n, 200]);
    }
    await waitFor(
      async () => ((await synced(a, 'in')) >= aIn + LIMIT / 2 ? true : undefined),
      10_000,
      'B’s charges at A',
    );
    expect((await a.get(`/v1/customers/${id(LIMIT + 1)}`, auth('shared'))).status).toBe(429);
    expect((await b.get(`/v1/customers/${id(LIMIT + 2)}`, auth('shared'))).status).toBe(429);
  });

  it('a restart of the engines does not reset the budget', async () => {
    for (const e of engines.splice(0)) await e.stop('SIGTERM');
    const a = await startEngine('engine-a');
    expect(await synced(a, 'in')).toBeGreaterThanOrEqual(3 * LIMIT);
    for (const who of ['analyst', 'flood', 'shared'] as const) {
      const res = await a.get(`/v1/customers/${id(50)}`, auth(who));
      expect([who, res.status]).toEqual([who, 429]);
    }
    await waitForCustomers(a);
    expect((await a.get(`/v1/customers/${id(1)}`, auth('shared'))).status).toBe(200);
  });
});
