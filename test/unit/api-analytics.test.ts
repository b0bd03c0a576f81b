/**
 * CRM analytics routes over a fake engine view: segments, funnels, paths and attribution answer
 * what the engine gathered, pass their validated parameters on, and refuse bad ones with coded 400s.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ApiHarness, auth, startApi } from '../support/api-server.js';

let api: ApiHarness;

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api.close();
});

beforeEach(() => {
  api.view.calls.length = 0;
});

async function get(url: string) {
  const res = await api.app.inject({ url, headers: auth('viewer') });
  return { status: res.statusCode, body: res.json() };
}

describe('GET /v1/segments', () => {
  it('answers the segments the workers gathered', async () => {
    expect(await get('/v1/segments')).toEqual({ status: 200, body: api.view.segmentsReport });
    expect(api.view.callsOf('segments')).toEqual([[]]);
  });

  it('takes no query fields', async () => {
    const res = await get('/v1/segments?segment=core');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
    expect(api.view.callsOf('segments')).toEqual([]);
  });
});

describe('GET /v1/funnels/:id', () => {
  it('answers a funnel by id', async () => {
    expect(await get('/v1/funnels/checkout')).toEqual({ status: 200, body: api.view.funnels.checkout });
    expect(api.view.callsOf('funnel')).toEqual([['checkout']]);
  });

  it('answers 404 BW_ERR_NOT_FOUND for a funnel nobody defined', async () => {
    expect(await get('/v1/funnels/onboarding')).toEqual({
      status: 404,
      body: { error: { code: 'BW_ERR_NOT_FOUND', message: 'no funnel onboarding' } },
    });
  });

  it('refuses an id outside [a-z0-9_-]{1,64} before asking the engine', async () => {
    for (const id of ['Checkout', 'check%20out', 'x'.repeat(65)]) {
      const res = await get(`/v1/funnels/${id}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
      expect(res.body.error.message).toContain('params/id');
    }
    expect(api.view.callsOf('funnel')).toEqual([]);
  });
});

describe('GET /v1/paths', () => {
  it('asks for the top 10 paths from any event by default', async () => {
    expect(await get('/v1/paths')).toEqual({ status: 200, body: api.view.pathsReport });
    expect(api.view.callsOf('paths')).toEqual([[undefined, 10]]);
  });

  it('passes an event type and a limit on', async () => {
    expect((await get('/v1/paths?from=add_to_cart&limit=25')).status).toBe(200);
    expect(api.view.callsOf('paths')).toEqual([['add_to_cart', 25]]);
  });

  it.each([
    ['from=teleport', 'querystring/from'],
    ['limit=0', 'querystring/limit'],
    ['limit=101', 'querystring/limit'],
    ['limit=ten', 'querystring/limit'],
    ['depth=3', 'additional properties'],
  ])('refuses ?%s with 400 BW_ERR_BAD_REQUEST', async (query, mentioned) => {
    const res = await get(`/v1/paths?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
    expect(res.body.error.message).toContain(mentioned);
    expect(api.view.callsOf('paths')).toEqual([]);
  });
});

describe('GET /v1/attribution', () => {
  it('uses last_touch by default and each named model when asked', async () => {
    expect(await get('/v1/attribution')).toEqual({ status: 200, body: api.view.attributionReport });
    for (const model of ['linear', 'time_decay', 'shapley']) {
      expect((await get(`/v1/attribution?model=${model}`)).status).toBe(200);
    }
    expect(api.view.callsOf('attribution')).toEqual([
      ['last_touch'],
      ['linear'],
      ['time_decay'],
      ['shapley'],
    ]);
  });

  it('refuses a model it does not have', async () => {
    const res = await get('/v1/attribution?model=first_touch');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BW_ERR_BAD_REQUEST');
    expect(api.view.callsOf('attribution')).toEqual([]);
  });
});

describe('analytics and roles', () => {
  it('serves every role with a key and refuses callers without one', async () => {
    for (const role of ['viewer', 'analyst', 'admin', 'service'] as const) {
      const res = await api.app.inject({ url: '/v1/segments', headers: auth(role) });
      expect(res.statusCode).toBe(200);
    }
    const anonymous = await api.app.inject({ url: '/v1/segments' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe('BW_ERR_UNAUTHORIZED');
  });
});
