/**
 * Who may call what: bearer API keys and their roles' permissions, the loopback-only mode without
 * keys, rate limits per key and per address, refusals in the audit log, and the security alert
 * after repeated failed authentications.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ALICE_PII,
  type ApiHarness,
  auth,
  customerAnswer,
  type HarnessOptions,
  startApi,
  type TestRole,
} from '../support/api-server.js';

let api: ApiHarness | undefined;

async function harness(opts: HarnessOptions = {}): Promise<ApiHarness> {
  api = await startApi(opts);
  api.addCustomer(customerAnswer('alice', 0.5), ALICE_PII);
  return api;
}

afterEach(async () => {
  vi.useRealTimers();
  await api?.close();
  api = undefined;
});

describe('API keys', () => {
  it.each([
    [{}, 'missing or unknown API key: send Authorization: Bearer <key>'],
    [
      { authorization: 'Basic dmlld2VyOnNlY3JldA==' },
      'missing or unknown API key: send Authorization: Bearer <key>',
    ],
    [{ authorization: 'Bearer not-a-key-0000000001' }, 'missing or unknown API key: unknown API key'],
  ])('refuses %j with 401 BW_ERR_UNAUTHORIZED and a Bearer challenge', async (headers, message) => {
    const { app, view } = await harness();
    const res = await app.inject({ url: '/v1/customers/alice', headers });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json()).toEqual({ error: { code: 'BW_ERR_UNAUTHORIZED', message } });
    expect(view.callsOf('customer')).toEqual([]);
  });

  const matrix: [string, string, Record<TestRole, number>][] = [
    ['GET', '/v1/customers/alice', { viewer: 200, analyst: 200, admin: 200, service: 200 }],
    ['GET', '/v1/segments', { viewer: 200, analyst: 200, admin: 200, service: 200 }],
    ['GET', '/metrics', { viewer: 200, analyst: 200, admin: 200, service: 200 }],
    ['GET', '/v1/export/customers', { viewer: 403, analyst: 200, admin: 200, service: 200 }],
    ['POST', '/v1/models/reload', { viewer: 403, analyst: 403, admin: 200, service: 200 }],
  ];
  it.each(matrix)('%s %s answers each role as its permissions say', async (method, url, expected) => {
    const { app } = await harness();
    const got: Record<string, number> = {};
    for (const role of Object.keys(expected) as TestRole[]) {
      got[role] = (
        await app.inject({ method: method as 'GET' | 'POST', url, headers: auth(role) })
      ).statusCode;
    }
    expect(got).toEqual(expected);
  });

  it('audits every refusal with who asked, and no record for an unaudited route served', async () => {
    const { app, auditRecords } = await harness();
    await app.inject({ url: '/v1/segments', headers: auth('viewer') });
    await app.inject({ url: '/v1/segments' });
    await app.inject({ method: 'POST', url: '/v1/models/reload', headers: auth('analyst') });
    const records = await auditRecords(2);
    expect(records.map((r) => [r.actor, r.role, r.method, r.route, r.status, r.outcome])).toEqual([
      ['anonymous', 'none', 'GET', '/v1/segments', 401, 'denied'],
      ['analyst-key', 'analyst', 'POST', '/v1/models/reload', 403, 'denied'],
    ]);
  });
});

describe('without API keys', () => {
  it('serves a loopback caller as local admin, plain personal fields included, and audits it so', async () => {
    const { app, auditRecords } = await harness({ apiKeys: false });
    for (const host of ['localhost', '127.0.0.1:8080', '[::1]:8080', 'LOCALHOST:80']) {
      const res = await app.inject({ url: '/v1/customers/alice?pii=plain', headers: { host } });
      expect(res.statusCode).toBe(200);
      expect(res.json().pii).toEqual(ALICE_PII);
    }
    const records = await auditRecords(4);
    expect(records.map((r) => [r.actor, r.role, r.pii])).toEqual(Array(4).fill(['local', 'admin', 'plain']));
  });

  it('refuses any other Host, even on public routes (DNS rebinding)', async () => {
    const { app, view } = await harness({ apiKeys: false });
    for (const url of ['/v1/customers/alice', '/healthz']) {
      for (const host of ['bellwether.example.com', '127.0.0.1.evil.example', '10.0.0.5:8080']) {
        const res = await app.inject({ url, headers: { host } });
        expect(res.statusCode).toBe(403);
        expect(res.json().error).toEqual({
          code: 'BW_ERR_FORBIDDEN',
          message: 'the API key’s role does not allow this: without API keys only a loopback Host is served',
        });
      }
    }
    expect(view.callsOf('customer')).toEqual([]);
  });
});

describe('rate limits', () => {
  it('limits requests per key and minute; other keys keep their own allowance', async () => {
    const { app, auditRecords } = await harness({ rateLimit: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await app.inject({ url: '/v1/segments', headers: auth('viewer') })).statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await app.inject({ url: '/v1/segments', headers: auth('viewer') });
    expect(limited.json().error).toEqual({
      code: 'BW_ERR_RATE_LIMITED',
      message: expect.stringMatching(/^too many requests for this API key: 3 requests per minute; retry in /),
    });
    expect((await app.inject({ url: '/v1/segments', headers: auth('analyst') })).statusCode).toBe(200);
    const records = await auditRecords(2);
    expect(records.map((r) => [r.actor, r.status, r.outcome])).toEqual([
      ['viewer-key', 429, 'refused'],
      ['viewer-key', 429, 'refused'],
    ]);
  });

  it('limits failed authentications per address', async () => {
    const { app } = await harness({ rateLimit: 3 });
    const headers = { authorization: 'Bearer not-a-key-0000000001' };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await app.inject({ url: '/v1/segments', headers })).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const res = await app.inject({ url: '/v1/segments', headers });
    expect(res.json().error.message).toBe(
      'too many requests for this API key: 3 failed authentications per minute',
    );
    // A valid key from the same address is still served.
    expect((await app.inject({ url: '/v1/segments', headers: auth('viewer') })).statusCode).toBe(200);
  });
});

describe('security alerts', () => {
  it('raises auth_failures on the 20th failed authentication from one address within a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-12-07T10:00:05.000Z') });
    const { app, published, auditRecords } = await harness();
    for (let i = 0; i < 19; i++) await app.inject({ url: '/v1/segments' });
    expect(published.filter((p) => p.subject === 'bw.alerts.security')).toEqual([]);
    await app.inject({ url: '/v1/segments' });
    await app.inject({ url: '/v1/segments' });
    const records = await auditRecords(21);
    const twentieth = records[19]!;
    expect(twentieth.detail).toBe('20 requests with a missing or unknown API key within a minute');
    const alerts = published.filter((p) => p.subject === 'bw.alerts.security').map((p) => JSON.parse(p.data));
    expect(alerts).toEqual([
      {
        kind: 'auth_failures',
        actor: 'anonymous',
        role: null,
        route: '/v1/segments',
        ip: '127.0.0.1',
        detail: '20 requests with a missing or unknown API key within a minute',
        audit_hash: twentieth.hash,
        at: '2026-12-07T10:00:05.000Z',
      },
    ]);
    // The audit records went to the BW_AUDIT stream as well.
    const copied = published
      .filter((p) => p.subject.startsWith('bw.audit.'))
      .flatMap((p) => p.data.trim().split('\n'))
      .map((line) => JSON.parse(line).hash);
    expect(copied).toEqual(records.map((r) => r.hash));
  });
});
