/**
 * Operations and model routes over a fake engine view: liveness, readiness from the workers'
 * partition status, engine information, Prometheus text, the model registry and its reload,
 * OpenAPI at /docs, unknown routes, and how engine failures reach the caller.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BellwetherError } from '../../contract/errors.js';
import { PACKAGE_VERSION } from '../../lib/paths.js';
import { type ApiHarness, auth, FakeEngineView, partitionStatus, startApi } from '../support/api-server.js';

let api: ApiHarness;
const fresh = new FakeEngineView();

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api.close();
});

beforeEach(() => {
  api.view.calls.length = 0;
  api.view.failure = undefined;
  api.view.natsUp = true;
  api.view.statuses = fresh.statuses.map((s) => ({ ...s, partitions: s.partitions.map((p) => ({ ...p })) }));
});

describe('GET /healthz and /readyz', () => {
  it('answers liveness to anyone, without asking the engine', async () => {
    const res = await api.app.inject({ url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    expect(api.view.calls).toEqual([]);
  });

  it('is ready when NATS is connected and every partition is attached and caught up', async () => {
    const res = await api.app.inject({ url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      ready: true,
      nats_connected: true,
      partitions: 2,
      attached: 2,
      caught_up: 2,
      awaited: 0,
      pending: 7,
    });
  });

  it('answers 503 while a partition assigned to this cluster member is not run here yet', async () => {
    api.view.awaited = 3;
    const res = await api.app.inject({ url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ ready: false, attached: 2, caught_up: 2, awaited: 3 });
    api.view.awaited = 0;
  });

  it('answers 503 with the counts while NATS is down, a partition lags, or none is attached', async () => {
    api.view.natsUp = false;
    const down = await api.app.inject({ url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ ready: false, nats_connected: false, attached: 2 });

    api.view.natsUp = true;
    api.view.statuses[0]!.partitions[1]!.caught_up = false;
    const lagging = await api.app.inject({ url: '/readyz' });
    expect(lagging.statusCode).toBe(503);
    expect(lagging.json()).toMatchObject({ ready: false, partitions: 2, attached: 2, caught_up: 1 });

    api.view.statuses = [];
    const empty = await api.app.inject({ url: '/readyz' });
    expect(empty.statusCode).toBe(503);
    expect(empty.json()).toEqual({
      ready: false,
      nats_connected: true,
      partitions: 0,
      attached: 0,
      caught_up: 0,
      awaited: 0,
      pending: 0,
    });
  });
});

describe('GET /v1/info', () => {
  it('joins the engine information with each worker’s models and the partitions in order', async () => {
    api.view.statuses.push({
      index: 1,
      tf_backend: 'wasm',
      models: { churn: 'churn-v4' },
      shadow: [],
      tensors: 9,
      partitions: [partitionStatus(2, 0)],
    });
    const res = await api.app.inject({ url: '/v1/info', headers: auth('admin') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      ...api.view.engineInfo,
      worker_status: [
        { index: 0, models: { churn: 'churn-v3' }, tensors: 12 },
        { index: 1, models: { churn: 'churn-v4' }, tensors: 9 },
      ],
      partition_status: [partitionStatus(0, 2), partitionStatus(1, 5), partitionStatus(2, 0)],
    });
  });

  it('leaves the NATS connection out for every role but admin', async () => {
    const { nats: _nats, ...rest } = api.view.engineInfo;
    for (const role of ['viewer', 'analyst', 'service'] as const) {
      const res = await api.app.inject({ url: '/v1/info', headers: auth(role) });
      expect(res.statusCode).toBe(200);
      const body = res.json() as Record<string, unknown>;
      expect(body).not.toHaveProperty('nats');
      expect(body).toMatchObject(rest);
    }
  });
});

describe('GET /metrics', () => {
  it('answers the engine’s Prometheus text with its content type to a key with the metrics permission', async () => {
    const res = await api.app.inject({ url: '/metrics', headers: auth('viewer') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body.startsWith(api.view.metrics)).toBe(true);
  });

  it('adds the HTTP latency of earlier requests by route pattern, never by URL', async () => {
    await api.app.inject({ url: '/v1/customers/c-secret-42', headers: auth('viewer') });
    const res = await api.app.inject({ url: '/metrics', headers: auth('viewer') });
    expect(res.body).toContain('# TYPE bellwether_http_request_duration_seconds histogram');
    expect(res.body).toMatch(
      /bellwether_http_request_duration_seconds_count\{method="GET",route="\/v1\/customers\/:id",status_code="\d{3}"\} [1-9]/,
    );
    expect(res.body).not.toContain('c-secret-42');
  });

  it('needs a key unless BW_METRICS_PUBLIC is set', async () => {
    const keyed = await api.app.inject({ url: '/metrics' });
    expect(keyed.statusCode).toBe(401);
    const open = await startApi({ metricsPublic: true });
    try {
      const res = await open.app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('bellwether_events_total{type="purchase"} 42');
      // Only /metrics is opened.
      expect((await open.app.inject({ url: '/v1/info' })).statusCode).toBe(401);
    } finally {
      await open.close();
    }
  });
});

describe('/v1/models', () => {
  it('lists model versions with their cards and the versions each worker scores with', async () => {
    const res = await api.app.inject({ url: '/v1/models', headers: auth('viewer') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(api.view.listing);
  });

  it('reloads models for admins and services, and answers the versions each worker loaded', async () => {
    for (const role of ['admin', 'service'] as const) {
      const res = await api.app.inject({ method: 'POST', url: '/v1/models/reload', headers: auth(role) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ workers: [{ churn: 'churn-v4', intent: 'intent-v2' }] });
    }
    expect(api.view.callsOf('reloadModels')).toHaveLength(2);
  });

  it('refuses a reload to viewers and analysts without touching the engine', async () => {
    for (const role of ['viewer', 'analyst'] as const) {
      const res = await api.app.inject({ method: 'POST', url: '/v1/models/reload', headers: auth(role) });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toEqual({
        code: 'BW_ERR_FORBIDDEN',
        message: `the API key’s role does not allow this: role ${role} lacks models_reload`,
      });
    }
    expect(api.view.callsOf('reloadModels')).toEqual([]);
  });

  it('refuses a reload body over 1 KiB with a coded 413, and a GET with a coded 404', async () => {
    const big = await api.app.inject({
      method: 'POST',
      url: '/v1/models/reload',
      headers: { ...auth('admin'), 'content-type': 'application/json' },
      payload: JSON.stringify({ note: 'x'.repeat(2000) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('BW_ERR_BAD_REQUEST');
    const get = await api.app.inject({ url: '/v1/models/reload', headers: auth('admin') });
    expect(get.statusCode).toBe(404);
    expect(get.json()).toEqual({
      error: { code: 'BW_ERR_NOT_FOUND', message: 'no route GET /v1/models/reload' },
    });
    expect(api.view.callsOf('reloadModels')).toEqual([]);
  });
});

describe('POST /v1/models/reload body and audit', () => {
  const reload = (payload?: unknown) =>
    api.app.inject({
      method: 'POST',
      url: '/v1/models/reload',
      headers: { ...auth('admin'), ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
  const reloadRecords = async (atLeast: number) =>
    (await api.auditRecords()).filter((r) => r.route === '/v1/models/reload').slice(-atLeast);

  it('refuses unknown body fields with a coded 400 that lists the allowed ones, and audits the refusal', async () => {
    const res = await reload({ reason: 'weekly', force: true, versoin: 'churn-v5' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toEqual({
      code: 'BW_ERR_BAD_REQUEST',
      message: 'request is invalid: unknown reload body fields "force", "versoin"; allowed: reason',
    });
    for (const bad of [['churn-v5'], 'text', { reason: 7 }, { reason: 'a\nb' }, { reason: 'x'.repeat(201) }])
      expect((await reload(bad)).statusCode).toBe(400);
    expect(api.view.callsOf('reloadModels')).toEqual([]);
    const [record] = await reloadRecords(1);
    expect(record).toMatchObject({
      actor: 'admin-key',
      status: 400,
      outcome: 'failed',
      detail: 'model reload refused',
    });
  });

  it('audits a successful reload with the versions loaded and the reason given (over a real socket)', async () => {
    // Over a socket: an injected response never finishes as a socket's does, and the audit hook
    // records an answer that did not finish as failed.
    const url = `${await api.url()}/v1/models/reload`;
    const post = (body?: string) =>
      fetch(url, {
        method: 'POST',
        headers: { ...auth('admin'), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body }),
      });
    expect((await post(JSON.stringify({ reason: 'weekly retrain' }))).status).toBe(200);
    expect((await post()).status).toBe(200);
    const records = await reloadRecords(2);
    expect(records.map((r) => [r.status, r.outcome, r.detail])).toEqual([
      [200, 'ok', 'models reloaded: churn=churn-v4, intent=intent-v2 (reason: weekly retrain)'],
      [200, 'ok', 'models reloaded: churn=churn-v4, intent=intent-v2'],
    ]);
  });

  it('audits a failed reload with its status', async () => {
    api.view.failure = new BellwetherError('BW_ERR_MODEL_LOAD', 'churn-v5: model.json is missing');
    const res = await reload({ reason: 'try v5' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe('BW_ERR_MODEL_LOAD');
    const [record] = await reloadRecords(1);
    expect(record).toMatchObject({
      status: 500,
      outcome: 'failed',
      detail: 'model reload failed (reason: try v5)',
    });
  });
});

describe('routes, documents and failures', () => {
  it('documents every route in OpenAPI at /docs/json, and not the docs themselves', async () => {
    const res = await api.app.inject({ url: '/docs/json', headers: auth('viewer') });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.info).toMatchObject({ title: 'Bellwether', version: PACKAGE_VERSION });
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz',
      '/metrics',
      '/readyz',
      '/v1/aggregate',
      '/v1/aggregate/daily',
      '/v1/alerts',
      '/v1/alerts/stream',
      '/v1/association-rules',
      '/v1/attribution',
      '/v1/customers',
      '/v1/customers/{id}',
      '/v1/customers/{id}/events',
      '/v1/customers/{id}/recommendations',
      '/v1/export/customers',
      '/v1/funnels/{id}',
      '/v1/info',
      '/v1/models',
      '/v1/models/reload',
      '/v1/models/{name}/monitor',
      '/v1/paths',
      '/v1/rules',
      '/v1/rules/{id}',
      '/v1/segments',
      '/v1/whoami',
    ]);
    expect(doc.paths['/v1/models/reload'].post.tags).toEqual(['models']);
    expect(Object.keys(doc.paths['/v1/rules/{id}']).sort()).toEqual(['delete', 'put']);
    expect(
      Object.keys(
        doc.paths['/v1/customers/{id}/events'].get.responses['200'].content['application/json'].schema
          .properties,
      ).sort(),
    ).toEqual(['complete', 'customer_id', 'events', 'now', 'partition', 'scanned']);
  });

  it('serves Swagger UI at /docs and an OpenAPI document that validates, with the key and refusals on every guarded route', async () => {
    const ui = await api.app.inject({ url: '/docs' });
    const page = ui.statusCode === 302 ? await api.app.inject({ url: String(ui.headers.location) }) : ui;
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('swagger-ui');
    // Public: no data in it, and the UI fetches it without a key.
    const res = await api.app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const open = new Set(['/healthz', '/readyz', '/v1/whoami']);
    for (const [route, methods] of Object.entries(
      doc.paths as Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>,
    )) {
      for (const [method, op] of Object.entries(methods)) {
        if (open.has(route)) {
          expect(op.security, `${method} ${route}`).toBeUndefined();
          continue;
        }
        expect(op.security, `${method} ${route}`).toEqual([{ bearerAuth: [] }]);
        for (const code of ['401', '403', '429'])
          expect(op.responses[code], `${method} ${route} ${code}`).toBeDefined();
      }
    }
  });

  it('answers an unknown route with a coded 404 and the security headers', async () => {
    const res = await api.app.inject({ url: '/v2/customers?x=1', headers: auth('viewer') });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'BW_ERR_NOT_FOUND', message: 'no route GET /v2/customers' },
    });
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('passes a worker’s coded failure on with its status', async () => {
    api.view.failure = new BellwetherError('BW_ERR_WORKER_TIMEOUT', 'worker 1 did not answer within 5000 ms');
    const res = await api.app.inject({ url: '/v1/segments', headers: auth('viewer') });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      error: {
        code: 'BW_ERR_WORKER_TIMEOUT',
        message: 'partition worker did not answer in time: worker 1 did not answer within 5000 ms',
      },
    });
  });

  it('answers an uncoded failure as 500 BW_ERR_INTERNAL without its message', async () => {
    api.view.failure = new Error('checkpoint directory /data/secret is gone');
    const res = await api.app.inject({ url: '/v1/models', headers: auth('viewer') });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'BW_ERR_INTERNAL', message: 'internal error' } });
  });
});
