/**
 * The Customer 360 timeline route and the rule-editing routes over a fake engine view and the real
 * security layer: personal properties of stored events by role, the windows each event counts in,
 * the customer budget and audit records; rule edits for the admin role only, coded refusals.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredCustomerEvent } from '../../engine/view.js';
import { type ApiHarness, auth, customerAnswer, startApi, type TestRole } from '../support/api-server.js';

let api: ApiHarness;
const NOW = Date.parse('2026-12-01T12:00:00.000Z');

function stored(
  id: string,
  type: string,
  ts: number,
  extra: Partial<StoredCustomerEvent> = {},
): StoredCustomerEvent {
  return {
    event_id: id,
    type,
    ts,
    amount: null,
    currency: null,
    channel: null,
    category: null,
    sku: null,
    props: {},
    personal: {},
    seq: 1,
    stored_at: new Date(ts).toISOString(),
    ...extra,
  };
}

/** Over a real socket: the audit log tells a complete answer from a cut one only there. */
async function send(method: 'GET' | 'PUT' | 'DELETE', url: string, role?: TestRole, payload?: unknown) {
  const res = await fetch(`${await api.url()}${url}`, {
    method,
    headers: {
      ...(role ? auth(role) : {}),
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked by the assertions
  return { status: res.status, body: (await res.json()) as any };
}

beforeEach(async () => {
  api = await startApi({ exportLimit: 2 });
  api.addCustomer(customerAnswer('alice', 0.82));
  api.view.storedEvents.set('alice', [
    stored('e3', 'purchase', NOW - 2 * 3_600_000, {
      amount: 42.5,
      currency: 'EUR',
      channel: 'web',
      category: 'coffee',
    }),
    stored('e2', 'profile', NOW - 3 * 86_400_000, {
      props: { tier: 'gold' },
      personal: { email: 'zhang.san@example.com', phone: '13812345678' },
    }),
    stored('e1', 'signup', NOW - 40 * 86_400_000),
  ]);
});
afterEach(() => api.close());

describe('GET /v1/customers/:id/events', () => {
  it('gives each event its windows at the customer clock, newest first', async () => {
    const { status, body } = await send('GET', '/v1/customers/alice/events?limit=10', 'viewer');
    expect(status).toBe(200);
    expect(body.now).toBe('2026-12-01T12:00:00.000Z');
    expect(body.events.map((e: { event_id: string }) => e.event_id)).toEqual(['e3', 'e2', 'e1']);
    expect(body.events[0]).toMatchObject({
      type: 'purchase',
      amount: 42.5,
      channel: 'web',
      category: 'coffee',
      ts: '2026-12-01T10:00:00.000Z',
      windows: ['24h', '7d', '30d', '90d'],
    });
    expect(body.events[1].windows).toEqual(['7d', '30d', '90d']);
    expect(body.events[2].windows).toEqual(['90d']);
    expect(api.view.callsOf('customerEvents')).toEqual([['alice', 10]]);
  });

  it('shows personal properties by role exactly as the profile: none, masked, plain', async () => {
    const viewer = await send('GET', '/v1/customers/alice/events', 'viewer');
    expect(viewer.body.events[1].pii).toBeUndefined();
    expect(viewer.body.events[1].props).toEqual({ tier: 'gold' });
    const analyst = await send('GET', '/v1/customers/alice/events', 'analyst');
    expect(analyst.body.events[1].pii).toEqual({ email: 'z********@example.com', phone: '138****5678' });
    expect(JSON.stringify(analyst.body)).not.toContain('zhang.san');
    expect((await send('GET', '/v1/customers/alice/events?pii=plain', 'analyst')).status).toBe(403);
    const admin = await send('GET', '/v1/customers/alice/events?pii=plain', 'admin');
    expect(admin.body.events[1].pii.email).toBe('zhang.san@example.com');
  });

  it('answers 404 for an unknown customer, charges the budget and audits every read', async () => {
    expect((await send('GET', '/v1/customers/nobody/events', 'analyst')).body.error.code).toBe(
      'BW_ERR_CUSTOMER_NOT_FOUND',
    );
    api.addCustomer(customerAnswer('bob', 0.3));
    api.addCustomer(customerAnswer('carol', 0.3));
    expect((await send('GET', '/v1/customers/alice/events', 'analyst')).status).toBe(200);
    expect((await send('GET', '/v1/customers/bob/events', 'analyst')).status).toBe(200);
    const third = await send('GET', '/v1/customers/carol/events', 'analyst');
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('BW_ERR_EXPORT_LIMIT');
    const records = await api.auditRecords(4);
    const alice = records.find((r) => r.route === '/v1/customers/:id/events' && r.customer_id === 'alice');
    expect(alice).toMatchObject({ customers: 1, pii: 'masked', outcome: 'ok' });
    expect(alice?.fields).toEqual(['events', 'pii.email', 'pii.phone']);
  });
});

describe('rules', () => {
  it('lists rules with their triggers and tags for any reader', async () => {
    const { status, body } = await send('GET', '/v1/rules', 'viewer');
    expect(status).toBe(200);
    expect(body.rules[0]).toMatchObject({ id: 'big_order', kind: 'event', triggers: 3 });
    expect(body.tags[0].id).toBe('vip');
  });

  it('lets only an admin write or delete a rule, audited', async () => {
    const rule = { on: 'purchase', when: 'spend_7d > 50', action: { channel: 'email' } };
    for (const role of ['viewer', 'analyst', 'service'] as const)
      expect((await send('PUT', '/v1/rules/thanks', role, rule)).status).toBe(403);
    const put = await send('PUT', '/v1/rules/thanks', 'admin', rule);
    expect(put.status).toBe(200);
    expect(put.body.rules.map((r: { id: string }) => r.id)).toEqual(['big_order', 'thanks']);
    expect(api.view.callsOf('saveRule')).toEqual([[{ ...rule, id: 'thanks' }]]);
    expect((await send('PUT', '/v1/rules/thanks', 'admin', { ...rule, id: 'other' })).body.error.code).toBe(
      'BW_ERR_BAD_REQUEST',
    );
    expect((await send('DELETE', '/v1/rules/thanks', 'admin')).status).toBe(200);
    const missing = await send('DELETE', '/v1/rules/thanks', 'admin');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('BW_ERR_RULE_NOT_FOUND');
    const records = (await api.auditRecords(7)).filter((r) => r.route === '/v1/rules/:id');
    expect(records.map((r) => [r.method, r.status, r.detail])).toContainEqual([
      'PUT',
      200,
      'rule thanks written',
    ]);
    expect(records.map((r) => [r.method, r.status, r.detail])).toContainEqual([
      'DELETE',
      200,
      'rule thanks removed',
    ]);
    expect(records.map((r) => [r.method, r.status, r.detail])).toContainEqual([
      'DELETE',
      404,
      'rule thanks refused',
    ]);
    expect(records.filter((r) => r.outcome === 'denied')).toHaveLength(3);
  });
});
