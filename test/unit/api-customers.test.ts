/**
 * Customer routes over a fake engine view and the real security layer: one customer's answer with
 * personal fields by role, the riskiest customers, the NDJSON export, the hourly export limit and
 * the audit records every read leaves.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerAnswer } from '../../engine/view.js';
import { verifyAuditFile } from '../../security/audit-log.js';
import {
  ALICE_PII,
  type ApiHarness,
  auth,
  customerAnswer,
  startApi,
  summaryOf,
  type TestRole,
} from '../support/api-server.js';

const MASKED = { name: '张**', phone: '138****5678', email: 'z********@example.com' };

let api: ApiHarness;
let alice: CustomerAnswer;
let bob: CustomerAnswer;
let carol: CustomerAnswer;

/** The answer as the API presents it: without the ciphertext, with `pii` when given. */
function presented(answer: CustomerAnswer, pii?: Record<string, string>): unknown {
  const { sealed_pii: _sealed, ...rest } = answer;
  return pii ? { ...rest, pii } : rest;
}

async function get(url: string, role?: TestRole) {
  const res = await api.app.inject({ url, headers: role ? auth(role) : {} });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

beforeEach(async () => {
  api = await startApi({ exportLimit: 5 });
  alice = api.addCustomer(customerAnswer('alice', 0.82, { segment: 'at_risk', tags: ['vip'] }), ALICE_PII);
  bob = api.addCustomer(customerAnswer('bob', 0.35, { segment: 'core', partition: 1 }));
  carol = api.addCustomer(customerAnswer('carol', 0.91, { segment: 'at_risk' }));
});

afterEach(async () => {
  await api.close();
});

describe('GET /v1/customers/:id', () => {
  it('gives an analyst the answer with personal fields masked', async () => {
    const res = await get('/v1/customers/alice', 'analyst');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual(presented(alice, MASKED));
    expect(api.view.callsOf('customer')).toEqual([['alice', undefined]]);
  });

  it('gives an admin masked fields by default and plain ones when asked', async () => {
    expect((await get('/v1/customers/alice', 'admin')).body).toEqual(presented(alice, MASKED));
    expect((await get('/v1/customers/alice?pii=plain', 'admin')).body).toEqual(presented(alice, ALICE_PII));
    expect((await get('/v1/customers/alice?pii=none', 'admin')).body).toEqual(presented(alice));
  });

  it('answers 308 to the customer for a linked anonymous id, keeping the pii view asked', async () => {
    api.addCustomer({ ...customerAnswer('dev-1', 0.2), linked_to: 'alice' });
    const res = await get('/v1/customers/dev-1?pii=masked', 'analyst');
    expect(res.status).toBe(308);
    expect(res.headers['location']).toBe('/v1/customers/alice?pii=masked');
    expect(res.body).toEqual({ customer_id: 'alice' });
    // An anonymous profile not linked yet answers for itself, marked anonymous; a customer lists its devices.
    api.addCustomer({ ...customerAnswer('dev-2', 0.2), anonymous: true });
    expect((await get('/v1/customers/dev-2', 'viewer')).body).toMatchObject({
      anonymous: true,
      identities: [],
    });
    api.addCustomer({ ...customerAnswer('dora', 0.2), identities: ['dev-1', 'dev-3'] });
    expect((await get('/v1/customers/dora', 'viewer')).body).toMatchObject({
      identities: ['dev-1', 'dev-3'],
    });
  });

  it('gives viewers and services no personal fields at all', async () => {
    for (const role of ['viewer', 'service'] as const) {
      const res = await get('/v1/customers/alice', role);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(presented(alice));
      expect(JSON.stringify(res.body)).not.toContain('138');
    }
  });

  it('refuses a view above the role with BW_ERR_FORBIDDEN', async () => {
    expect(await get('/v1/customers/alice?pii=masked', 'viewer')).toMatchObject({
      status: 403,
      body: {
        error: {
          code: 'BW_ERR_FORBIDDEN',
          message: 'the API key’s role does not allow this: role viewer may not read personal data',
        },
      },
    });
    expect(await get('/v1/customers/alice?pii=plain', 'analyst')).toMatchObject({
      status: 403,
      body: {
        error: {
          code: 'BW_ERR_FORBIDDEN',
          message: expect.stringContaining('role analyst may not read plain'),
        },
      },
    });
  });

  it('answers a customer without personal fields without a pii field, whatever the role', async () => {
    expect((await get('/v1/customers/bob?pii=plain', 'admin')).body).toEqual(presented(bob, {}));
    expect((await get('/v1/customers/bob', 'viewer')).body).toEqual(presented(bob));
  });

  it('leaves out personal fields that do not open under the keyring', async () => {
    const sealed = alice.sealed_pii as string;
    // The same record bound to another customer: authentication fails for carol.
    api.view.customers.set('carol', { ...carol, sealed_pii: sealed });
    const res = await get('/v1/customers/carol?pii=plain', 'admin');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(presented(carol, {}));
  });

  it('answers 404 BW_ERR_CUSTOMER_NOT_FOUND for a customer the engine has not seen', async () => {
    expect(await get('/v1/customers/zoe', 'viewer')).toMatchObject({
      status: 404,
      body: {
        error: {
          code: 'BW_ERR_CUSTOMER_NOT_FOUND',
          message: 'customer not found: no events seen for this customer',
        },
      },
    });
  });

  it('answers 400 BW_ERR_BAD_REQUEST for an unknown view or query field', async () => {
    for (const url of ['/v1/customers/alice?pii=everything', '/v1/customers/alice?verbose=1']) {
      const res = await get(url, 'admin');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
    }
    expect((await get('/v1/customers/alice?pii=everything', 'admin')).body.error.message).toContain(
      'querystring/pii',
    );
  });

  it('answers 414 with a coded body for an id longer than the router takes', async () => {
    const res = await get(`/v1/customers/${'x'.repeat(300)}`, 'admin');
    expect(res.status).toBe(414);
    expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(api.view.callsOf('customer')).toEqual([]);
  });
});

describe('GET /v1/customers', () => {
  it('lists the riskiest customers first, with scores and no personal fields', async () => {
    const res = await get('/v1/customers', 'viewer');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ customers: [carol, alice, bob].map(summaryOf), count: 3 });
    expect(api.view.callsOf('top')).toEqual([[0, 50, { tag: undefined, segment: undefined }]]);
  });

  it('passes the risk floor, limit, tag and segment to the engine', async () => {
    const res = await get('/v1/customers?min_churn_risk=80&limit=1&segment=at_risk', 'viewer');
    expect(res.body).toEqual({ customers: [summaryOf(carol)], count: 1 });
    await get('/v1/customers?tag=vip', 'viewer');
    expect(api.view.callsOf('top')).toEqual([
      [80, 1, { tag: undefined, segment: 'at_risk' }],
      [0, 50, { tag: 'vip', segment: undefined }],
    ]);
  });

  it.each([
    ['min_churn_risk=101', 'min_churn_risk'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['tag=VIP%20customers', 'tag'],
    ['segment=whales', 'segment'],
    ['sort=spend', 'additional properties'],
  ])('refuses ?%s with 400 BW_ERR_BAD_REQUEST', async (query, mentioned) => {
    const res = await get(`/v1/customers?${query}`, 'viewer');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
    expect(res.body.error.message).toContain(mentioned);
    expect(api.view.callsOf('top')).toEqual([]);
  });

  it('refuses a list over the hourly export limit, audits the refusal and raises an alert', async () => {
    for (const [id, churn] of [
      ['dave', 0.5],
      ['erin', 0.6],
      ['fay', 0.7],
    ] as const)
      api.addCustomer(customerAnswer(id, churn));
    expect((await get('/v1/customers?limit=3', 'analyst')).body.count).toBe(3);
    // The same customers again cost nothing: the budget counts distinct customers.
    expect((await get('/v1/customers?limit=3', 'analyst')).body.count).toBe(3);
    const refused = await get('/v1/customers?limit=6', 'analyst');
    expect(refused).toMatchObject({
      status: 429,
      body: {
        error: {
          code: 'BW_ERR_EXPORT_LIMIT',
          message:
            'hourly export limit of this API key reached: 6 customers asked, 3 taken in the last hour, limit 5',
        },
      },
    });
    expect(Number(refused.headers['retry-after'])).toBe(3600);
    // Another key has its own budget.
    expect((await get('/v1/customers?limit=3', 'viewer')).body.count).toBe(3);
    const records = await api.auditRecords(4);
    const record = records.find((r) => r.status === 429)!;
    expect(record).toMatchObject({ actor: 'analyst-key', outcome: 'refused', customers: 0, pii: 'none' });
    const alerts = api.published
      .filter((p) => p.subject === 'bw.alerts.security')
      .map((p) => JSON.parse(p.data));
    expect(alerts).toEqual([
      {
        kind: 'export_limit',
        actor: 'analyst-key',
        role: 'analyst',
        route: '/v1/customers',
        ip: '127.0.0.1',
        detail: '6 customers asked, 3 taken in the last hour, limit 5',
        audit_hash: record.hash,
        at: record.ts,
      },
    ]);
  });
});

describe('GET /v1/export/customers', () => {
  async function exportAs(role: TestRole, query = '') {
    const res = await api.app.inject({ url: `/v1/export/customers${query}`, headers: auth(role) });
    return {
      status: res.statusCode,
      type: res.headers['content-type'],
      lines: res.body
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l)),
    };
  }

  it('streams full answers as NDJSON, riskiest first, personal fields masked for an analyst', async () => {
    const res = await exportAs('analyst');
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/x-ndjson');
    expect(res.lines).toEqual([presented(carol, {}), presented(alice, MASKED), presented(bob, {})]);
    expect(api.view.callsOf('top')).toEqual([[0, 1000, { tag: undefined, segment: undefined }]]);
    expect(api.view.callsOf('customer')).toEqual([
      ['carol', { bulk: true }],
      ['alice', { bulk: true }],
      ['bob', { bulk: true }],
    ]);
  });

  it('gives a service answers without personal fields and an admin plain ones when asked', async () => {
    expect((await exportAs('service', '?segment=at_risk')).lines).toEqual([
      presented(carol),
      presented(alice),
    ]);
    expect((await exportAs('admin', '?tag=vip&pii=plain')).lines).toEqual([presented(alice, ALICE_PII)]);
  });

  it('refuses viewers, a service asking for personal fields, and bad queries', async () => {
    const viewer = await api.app.inject({ url: '/v1/export/customers', headers: auth('viewer') });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().error).toEqual({
      code: 'BW_ERR_FORBIDDEN',
      message: 'the API key’s role does not allow this: role viewer lacks export',
    });
    const service = await api.app.inject({
      url: '/v1/export/customers?pii=masked',
      headers: auth('service'),
    });
    expect(service.statusCode).toBe(403);
    const bad = await api.app.inject({ url: '/v1/export/customers?limit=100001', headers: auth('admin') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('BW_ERR_BAD_REQUEST');
    expect(api.view.callsOf('top')).toEqual([]);
  });

  it('counts the distinct customers an export carried against the hourly limit', async () => {
    for (const [id, churn] of [
      ['dave', 0.5],
      ['erin', 0.6],
      ['fay', 0.7],
    ] as const)
      api.addCustomer(customerAnswer(id, churn));
    expect((await exportAs('analyst', '?limit=2')).lines).toHaveLength(2);
    // carol and alice again, and 3 more: 5, the limit, still served.
    expect((await exportAs('analyst', '?limit=5')).lines).toHaveLength(5);
    const refused = await api.app.inject({ url: '/v1/export/customers?limit=6', headers: auth('analyst') });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('3600');
    expect(refused.json().error).toEqual({
      code: 'BW_ERR_EXPORT_LIMIT',
      message:
        'hourly export limit of this API key reached: 6 customers asked, 5 taken in the last hour, limit 5',
    });
  });
});

describe('audit records of customer reads (over a real socket)', () => {
  it('records who read which customer, which field groups and which view; the chain verifies', async () => {
    const base = await api.url();
    const read = await fetch(`${base}/v1/customers/alice`, { headers: auth('analyst') });
    expect(read.status).toBe(200);
    const missing = await fetch(`${base}/v1/customers/zoe?pii=plain`, { headers: auth('admin') });
    expect(missing.status).toBe(404);
    const denied = await fetch(`${base}/v1/customers/alice?pii=plain`, { headers: auth('viewer') });
    expect(denied.status).toBe(403);
    const records = await api.auditRecords(3);
    expect(records).toHaveLength(3);
    expect(records[0]).toMatchObject({
      seq: 1,
      actor: 'analyst-key',
      role: 'analyst',
      method: 'GET',
      route: '/v1/customers/:id',
      status: 200,
      outcome: 'ok',
      customers: 1,
      customer_id: 'alice',
      fields: [
        'features',
        'recommendations',
        'scores',
        'segment',
        'tags',
        'pii.email',
        'pii.name',
        'pii.phone',
      ],
      pii: 'masked',
      ip: '127.0.0.1',
    });
    expect(records[1]).toMatchObject({
      actor: 'admin-key',
      status: 404,
      outcome: 'failed',
      customers: 0,
      customer_id: 'zoe',
      fields: [],
      pii: 'plain',
    });
    expect(records[2]).toMatchObject({ actor: 'viewer-key', status: 403, outcome: 'denied', customers: 0 });
    expect(JSON.stringify(records)).not.toContain(ALICE_PII.phone);
    expect(await verifyAuditFile(api.security.audit.file)).toMatchObject({ ok: true, records: 3 });
  });

  it('records an export when it starts and again with what it carried', async () => {
    const res = await fetch(`${await api.url()}/v1/export/customers?segment=at_risk`, {
      headers: auth('analyst'),
    });
    expect((await res.text()).trim().split('\n')).toHaveLength(2);
    const records = await api.auditRecords(2);
    expect(records.map((r) => [r.outcome, r.customers, r.fields, r.pii])).toEqual([
      ['started', 2, [], 'masked'],
      [
        'ok',
        2,
        ['features', 'pii.email', 'pii.name', 'pii.phone', 'recommendations', 'scores', 'segment', 'tags'],
        'masked',
      ],
    ]);
    expect(records[0]!.detail).toBe('export of up to 2 customers started');
    expect(records[1]!.route).toBe('/v1/export/customers');
  });

  it('records list reads with the number of customers and no personal fields', async () => {
    await fetch(`${await api.url()}/v1/customers?limit=2`, { headers: auth('viewer') });
    const [record] = await api.auditRecords(1);
    expect(record).toMatchObject({
      route: '/v1/customers',
      outcome: 'ok',
      customers: 2,
      fields: ['scores', 'segment', 'tags'],
      pii: 'none',
    });
  });
});
