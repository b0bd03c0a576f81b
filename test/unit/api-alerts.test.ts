/**
 * The alerts routes over a fake engine view: the recent alerts with their kind filter and limit,
 * and the server-sent event stream over a real socket (an alert published after the stream opened
 * arrives as one event; closing the stream stops watching and is audited).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AlertRecord } from '../../engine/view.js';
import { type ApiHarness, auth, startApi } from '../support/api-server.js';

let api: ApiHarness;

const alert = (kind: string, customer: string, risk: number): AlertRecord => ({
  type: 'alert',
  kind,
  subject: `bw.alerts.${kind}`,
  body: { kind, customer_id: customer, risk },
  received_at: '2026-12-07T06:00:00.000Z',
});

beforeAll(async () => {
  api = await startApi();
  api.view.recentAlerts = [alert('churn', 'c1', 85), alert('intent', 'c2', 91), alert('churn', 'c3', 88)];
});

afterAll(async () => {
  await api.close();
});

describe('GET /v1/alerts', () => {
  it('answers the recent alerts, of one kind when asked, up to the limit', async () => {
    const all = await api.app.inject({ url: '/v1/alerts', headers: auth('viewer') });
    expect(all.statusCode).toBe(200);
    expect(all.json().alerts).toEqual(api.view.recentAlerts);
    const churn = await api.app.inject({ url: '/v1/alerts?kind=churn&limit=1', headers: auth('viewer') });
    expect(churn.json().alerts).toEqual([alert('churn', 'c3', 88)]);
    expect(api.view.callsOf('alerts.recent')).toEqual([
      [undefined, 100],
      ['churn', 1],
    ]);
  });

  it('refuses a bad kind or limit, and callers without a key', async () => {
    for (const url of ['/v1/alerts?kind=Churn.x', '/v1/alerts?limit=0', '/v1/alerts?limit=1001']) {
      const res = await api.app.inject({ url, headers: auth('viewer') });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code).toBe('BW_ERR_BAD_REQUEST');
    }
    expect((await api.app.inject({ url: '/v1/alerts' })).statusCode).toBe(401);
  });
});

describe('GET /v1/alerts/stream', () => {
  it('sends each alert published after it opened as one server-sent event, and stops watching when closed', async () => {
    const base = await api.url();
    const controller = new AbortController();
    const res = await fetch(`${base}/v1/alerts/stream`, {
      headers: auth('analyst'),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toBe(': bellwether alerts\n\n');
    expect(api.view.alertListeners).toBe(1);
    const live = alert('churn', 'c9', 93);
    api.view.emitAlert(live);
    text = decoder.decode((await reader.read()).value);
    expect(text).toBe(`event: alert\ndata: ${JSON.stringify(live)}\n\n`);
    controller.abort();
    await vi.waitFor(() => expect(api.view.alertListeners).toBe(0));
    const records = await api.auditRecords();
    const stream = records.find((r) => r.route === '/v1/alerts/stream');
    expect(stream).toMatchObject({
      actor: 'analyst-key',
      outcome: 'ok',
      customers: 1,
      fields: ['alerts'],
      pii: 'none',
      detail: 'stream of 1 alerts and actions',
    });
  });
});

describe('GET /v1/whoami', () => {
  it('answers without a key whether keys are required, and who a key is, without a 401', async () => {
    const none = await api.app.inject({ url: '/v1/whoami' });
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual({ keys_required: true, name: null, role: null });
    const analyst = await api.app.inject({ url: '/v1/whoami', headers: auth('analyst') });
    expect(analyst.json()).toEqual({ keys_required: true, name: 'analyst-key', role: 'analyst' });
    const wrong = await api.app.inject({ url: '/v1/whoami', headers: { authorization: 'Bearer bw_wrong' } });
    expect(wrong.statusCode).toBe(200);
    expect(wrong.json()).toEqual({ keys_required: true, name: null, role: null });
  });

  it('says every loopback caller is the local admin when the engine has no keys', async () => {
    const open = await startApi({ apiKeys: false });
    try {
      const res = await open.app.inject({ url: '/v1/whoami' });
      expect(res.json()).toEqual({ keys_required: false, name: 'local', role: 'admin' });
    } finally {
      await open.close();
    }
  });
});

describe('/ui', () => {
  it('serves the console and its libraries without a key, under a policy that allows only its own files', async () => {
    const page = await api.app.inject({ url: '/ui/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const policy = String(page.headers['content-security-policy']);
    expect(policy).toContain("default-src 'none'");
    expect(policy).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(policy).toContain("connect-src 'self'");
    for (const file of ['/ui/app.js', '/ui/style.css', '/ui/vendor/preact.mjs', '/ui/vendor/uPlot.esm.js']) {
      const res = await api.app.inject({ url: file });
      expect(res.statusCode, file).toBe(200);
    }
    expect((await api.app.inject({ url: '/ui' })).headers.location).toBe('/ui/');
    for (const file of [
      '/ui/../package.json',
      '/ui/vendor/../../package.json',
      '/ui/vendor/nope.js',
      '/ui/%2e%2e/package.json',
    ]) {
      // Nothing outside console/ and the listed libraries: refused off any route (401) or not found.
      const res = await api.app.inject({ url: file });
      expect([401, 404], file).toContain(res.statusCode);
      expect(res.body).not.toContain('"name": "bellwether"');
    }
  });
});
