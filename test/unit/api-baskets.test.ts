/**
 * Basket routes over a fake engine view and the real security layer: the association rules pass
 * their validated query on (with defaults) and refuse bad ones; a customer's recommendations answer
 * from the customer's answer, by role, with an audit record.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiHarness, auth, customerAnswer, startApi } from '../support/api-server.js';

let api: ApiHarness;

beforeEach(async () => {
  api = await startApi();
  api.addCustomer(customerAnswer('alice', 0.2));
});

afterEach(async () => {
  await api.close();
});

async function get(url: string, role: 'viewer' | 'analyst' | 'admin' | 'service' | null = 'viewer') {
  const res = await api.app.inject({ url, headers: role ? auth(role) : {} });
  return { status: res.statusCode, body: res.json() };
}

describe('GET /v1/association-rules', () => {
  it('answers the rules the engine mined, asking with the defaults', async () => {
    expect(await get('/v1/association-rules')).toEqual({ status: 200, body: api.view.rules });
    expect(api.view.callsOf('associationRules')).toEqual([
      ['category', { minSupport: 0.01, minConfidence: 0.1, limit: 100 }],
    ]);
  });

  it('passes min_support, min_confidence, level and limit on', async () => {
    const res = await get('/v1/association-rules?min_support=0.3&min_confidence=0.6&level=sku&limit=7');
    expect(res.status).toBe(200);
    expect(res.body.level).toBe('sku');
    expect(api.view.callsOf('associationRules')).toEqual([
      ['sku', { minSupport: 0.3, minConfidence: 0.6, limit: 7 }],
    ]);
  });

  it('refuses a level, support or confidence outside what it takes, before asking the engine', async () => {
    for (const q of ['level=brand', 'min_support=1.5', 'min_confidence=-0.1', 'limit=0', 'sort=lift']) {
      const res = await get(`/v1/association-rules?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
    }
    expect(api.view.callsOf('associationRules')).toEqual([]);
  });

  it('refuses a caller without a key', async () => {
    expect((await get('/v1/association-rules', null)).status).toBe(401);
  });
});

describe('GET /v1/customers/:id/recommendations', () => {
  it("answers the customer's next-best categories and skus with the predictive tag", async () => {
    expect(await get('/v1/customers/alice/recommendations')).toEqual({
      status: 200,
      body: {
        customer_id: 'alice',
        next_best_category: 'filters',
        tag: 'likely_to_buy:filters',
        categories: [{ category: 'filters', score: 0.75 }],
        skus: [{ sku: 'FIL-1', category: 'filters', baskets: 3 }],
        recent: [{ category: 'coffee', weight: 5 }],
        just_bought: ['coffee'],
        baskets: 4,
      },
    });
    expect(api.view.callsOf('customer')).toEqual([['alice', undefined]]);
  });

  it('answers 404 BW_ERR_CUSTOMER_NOT_FOUND for a customer the engine has not seen', async () => {
    const res = await get('/v1/customers/zoe/recommendations');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('BW_ERR_CUSTOMER_NOT_FOUND');
  });

  it('takes no query fields and refuses a caller without a key', async () => {
    expect((await get('/v1/customers/alice/recommendations?pii=plain')).status).toBe(400);
    expect((await get('/v1/customers/alice/recommendations', null)).status).toBe(401);
  });

  it('leaves an audit record naming the customer and the field group read', async () => {
    await get('/v1/customers/alice/recommendations', 'service');
    const [record] = await api.auditRecords(1);
    expect(record).toMatchObject({
      actor: 'service-key',
      route: '/v1/customers/:id/recommendations',
      status: 200,
      customers: 1,
      customer_id: 'alice',
      fields: ['recommendations'],
      pii: 'none',
    });
  });

  it("charges the customer to the key's hourly budget, as the customer's answer does", async () => {
    const limited = await startApi({ exportLimit: 1 });
    try {
      limited.addCustomer(customerAnswer('alice', 0.2));
      limited.addCustomer(customerAnswer('bob', 0.3));
      const read = (id: string) =>
        limited.app.inject({ url: `/v1/customers/${id}/recommendations`, headers: auth('viewer') });
      expect((await read('alice')).statusCode).toBe(200);
      expect((await read('alice')).statusCode).toBe(200); // the same customer again is free
      const refused = await read('bob');
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('BW_ERR_EXPORT_LIMIT');
    } finally {
      await limited.close();
    }
  });

  it('is listed in /docs with its query and response schemas', async () => {
    const res = await api.app.inject({ url: '/docs/json', headers: auth('viewer') });
    const paths = res.json().paths;
    expect(paths['/v1/customers/{id}/recommendations'].get.responses['200']).toBeDefined();
    const rules = paths['/v1/association-rules'].get;
    expect(rules.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
      'level',
      'limit',
      'min_confidence',
      'min_support',
    ]);
    expect(rules.responses['200']).toBeDefined();
  });
});
