/**
 * Single reads draw from the key's budget of distinct customers like lists and exports: the same
 * customer again is free, a new one past the limit is refused with 429, `Retry-After`, an audit
 * record and (once) an alert, before the engine is asked and whether or not the customer exists.
 * Sequential ids and many misses raise enumeration alerts on `bw.alerts.security`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiHarness, auth, customerAnswer, startApi } from '../support/api-server.js';

let api: ApiHarness;

async function get(url: string) {
  const res = await api.app.inject({ url, headers: auth('analyst') });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

function securityAlerts(): {
  kind: string;
  actor: string;
  route: string;
  detail: string;
  audit_hash: string;
}[] {
  return api.published.filter((p) => p.subject === 'bw.alerts.security').map((p) => JSON.parse(p.data));
}

beforeEach(async () => {
  api = await startApi({ exportLimit: 5 });
  for (let i = 1; i <= 8; i++) api.addCustomer(customerAnswer(`c00000${i}`, i / 10));
});

afterEach(async () => {
  await api.close();
});

describe('single reads and the customer budget', () => {
  it('charge each distinct customer once, then refuse new ones with 429 and Retry-After', async () => {
    for (const id of ['c000008', 'c000007', 'c000006', 'c000001', 'c000002']) {
      expect((await get(`/v1/customers/${id}`)).status).toBe(200);
    }
    // Read again within the hour: free.
    expect((await get('/v1/customers/c000001')).status).toBe(200);
    const refused = await get('/v1/customers/c000004');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toEqual({
      code: 'BW_ERR_EXPORT_LIMIT',
      message:
        'hourly export limit of this API key reached: 1 customers asked, 5 taken in the last hour, limit 5',
    });
    expect(refused.headers['retry-after']).toBe('3600');
    // Past the limit a customer that does not exist is refused the same way: no existence oracle.
    expect((await get('/v1/customers/nobody')).status).toBe(429);
    // The engine was not asked for either.
    expect(api.view.callsOf('customer').map(([id]) => id)).not.toContain('c000004');
    expect(api.view.callsOf('customer').map(([id]) => id)).not.toContain('nobody');
    // A list of customers already read is still served; one with a new customer is not.
    expect((await get('/v1/customers?min_churn_risk=50&limit=3')).status).toBe(200);
    expect((await get('/v1/customers?limit=4')).status).toBe(429);

    const records = await api.auditRecords(10);
    const refusals = records.filter((r) => r.status === 429);
    expect(refusals.map((r) => [r.customer_id, r.outcome, r.customers])).toEqual([
      ['c000004', 'refused', 0],
      ['nobody', 'refused', 0],
      [undefined, 'refused', 0],
    ]);
    // One alert for the refusals of the minute, carrying the first refusal's audit hash.
    expect(securityAlerts()).toEqual([
      expect.objectContaining({ kind: 'export_limit', actor: 'analyst-key', audit_hash: refusals[0]!.hash }),
    ]);
  });

  it('let a refused key read again once its charges are an hour old', async () => {
    const budget = api.security.customerBudget;
    const hourAgo = Date.now() - 3_600_000 + 60_000;
    for (const id of ['c000001', 'c000002', 'c000003', 'c000004', 'c000005'])
      budget.merge('analyst-key', id, hourAgo);
    const refused = await get('/v1/customers/c000006');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await get('/v1/customers/c000001')).status).toBe(200);
  });
});

describe('enumeration alerts', () => {
  it('a key reading ids in sequence raises one alert, and its misses another', async () => {
    await api.close();
    api = await startApi({ exportLimit: 1000 });
    for (let i = 1; i <= 8; i++) api.addCustomer(customerAnswer(`c00000${i}`, i / 10));
    const statuses = new Set<number>();
    for (let i = 1; i <= 300; i++) {
      statuses.add((await get(`/v1/customers/c${String(i).padStart(6, '0')}`)).status);
    }
    expect(statuses).toEqual(new Set([200, 404]));
    const alerts = securityAlerts().filter((a) => a.kind === 'enumeration');
    expect(alerts.map((a) => a.detail.split(':')[0]).sort()).toEqual(['distinct misses', 'sequential ids']);
    for (const alert of alerts)
      expect(alert).toMatchObject({ actor: 'analyst-key', route: '/v1/customers/:id' });
    const hashes = new Set((await api.auditRecords(300)).map((r) => r.hash));
    for (const alert of alerts) expect(hashes.has(alert.audit_hash)).toBe(true);
  });
});
