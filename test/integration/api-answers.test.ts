/**
 * Every documented route's live answer against its documented 200 schema. The engine runs in this
 * process (workers from dist/) over an embedded nats-server with the simulated feed from dist/, so
 * the answers are the real ones. Fastify serialises an answer with its response schema and silently
 * drops what the schema does not name: each answer is compared with the object its handler
 * returned (captured before serialisation), and both are validated against /docs/json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presentAnswer } from '../../api/pii-view.js';
import { buildServer } from '../../api/server.js';
import { loadConfig } from '../../engine/config.js';
import { type OpenEngine, openEngine } from '../../engine/engine.js';
import type * as SimulatorHost from '../../feeds/simulator-host.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { freePort } from '../../lib/ports.js';
import { waitFor } from '../support/engine-process.js';

type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
  >;
  components: object;
};

let dataDir: string;
let engine: OpenEngine;
let app: FastifyInstance;
let sim: ReturnType<typeof SimulatorHost.startSimulatorWorker>;
/** The object each handler returned, by the request's x-probe header, before serialisation. */
const returned = new Map<string, unknown>();

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'bw-answers-'));
  const config = loadConfig({
    BW_DATA_DIR: dataDir,
    BW_NATS_PORT: String(await freePort()),
    BW_PARTITIONS: '4',
    BW_WORKERS: '2',
    BW_CLOCK: 'event',
    BW_RESCORE_SECONDS: '5',
    BW_STREAM_CHECK_SECONDS: '0',
    BW_LOG_LEVEL: 'error',
  });
  engine = await openEngine(config, silent);
  app = await buildServer(engine.view, { logger: false, security: engine.security, rateLimit: 0 });
  app.addHook('preSerialization', async (request, _reply, payload) => {
    returned.set(String(request.headers['x-probe']), JSON.parse(JSON.stringify(payload)));
    return payload;
  });
  await app.ready();
  await engine.startWorkers();
  const { startSimulatorWorker } = (await import(
    path.join(PACKAGE_ROOT, 'dist', 'feeds', 'simulator-host.js')
  )) as typeof SimulatorHost;
  sim = startSimulatorWorker({
    ...engine.natsSettings,
    rate: 5000,
    liveRate: 50,
    customers: 300,
    seed: 42,
    historyDays: 60,
    badRate: 0.001,
    faultRate: 0.002,
  });
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  await app?.close();
  await engine?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const silent = pino({ level: 'silent' });

/** Every field path of a JSON value (array elements as `[]`). */
function keyPaths(value: unknown, at = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) keyPaths(item, `${at}[]`, out);
  else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) {
      out.add(`${at}.${key}`);
      keyPaths(item, `${at}.${key}`, out);
    }
  return out;
}

let probes = 0;
async function get(url: string) {
  const probe = String(++probes);
  const res = await app.inject({ url, headers: { 'x-probe': probe } });
  return { res, raw: returned.get(probe) };
}

describe('live answers and their documents', () => {
  it('every route answers what /docs/json documents, and serialisation drops no field', async () => {
    // Enough simulated history for every part of the answers: scored customers, a funnel, paths, credit.
    const customer = await waitFor(
      async () => {
        const body = (await app.inject({ url: '/v1/customers?limit=20' })).json() as {
          customers: { customer_id: string; scores: { churn: unknown } }[];
        };
        const attribution = (await app.inject({ url: '/v1/attribution' })).json() as { channels: unknown[] };
        const scored = body.customers.find((c) => c.scores.churn !== null);
        return scored && attribution.channels.length > 0 ? scored.customer_id : undefined;
      },
      90_000,
      'scored customers and attributed purchases',
    );
    const doc = (await app.inject({ url: '/docs/json' })).json() as Doc;
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('date-time', (s: string) => /^\d{4}-\d\d-\d\dT/.test(s) && !Number.isNaN(Date.parse(s)));
    // Parameters and query strings that reach every optional part of an answer.
    const samples: Record<string, string[]> = {
      '/v1/customers/{id}': [`/v1/customers/${customer}`, `/v1/customers/${customer}?pii=masked`],
      '/v1/customers/{id}/recommendations': [`/v1/customers/${customer}/recommendations`],
      '/v1/customers/{id}/events': [
        `/v1/customers/${customer}/events`,
        `/v1/customers/${customer}/events?pii=masked`,
      ],
      '/v1/funnels/{id}': ['/v1/funnels/checkout'],
      '/v1/paths': ['/v1/paths', '/v1/paths?from=page_view'],
      '/v1/attribution': [
        '/v1/attribution',
        '/v1/attribution?model=shapley',
        '/v1/attribution?model=time_decay',
      ],
      '/v1/aggregate': [
        '/v1/aggregate',
        '/v1/aggregate?group_by=segment&metrics=avg:spend_90d,p90:churn.risk',
      ],
      '/v1/aggregate/daily': ['/v1/aggregate/daily?group_by=day,type'],
      '/v1/association-rules': ['/v1/association-rules?min_support=0&min_confidence=0&limit=5'],
      '/v1/models/{name}/monitor': ['/v1/models/churn/monitor', '/v1/models/intent/monitor'],
    };
    let checked = 0;
    for (const [route, methods] of Object.entries(doc.paths)) {
      const op = methods['get'];
      if (!op) continue;
      const ok = op.responses['200'];
      expect(ok, `GET ${route} documents its 200 answer`).toBeDefined();
      const json = ok?.content?.['application/json']?.schema;
      if (!json) {
        // Not JSON (Prometheus text, server-sent events, NDJSON): documented by media type.
        expect(Object.keys(ok?.content ?? {}), `GET ${route}`).not.toHaveLength(0);
        continue;
      }
      const validate = ajv.compile({ ...json, components: doc.components });
      const urls = samples[route] ?? (route.includes('{') ? [] : [route]);
      expect(urls, `a sample URL for GET ${route}`).not.toHaveLength(0);
      for (const url of urls) {
        const { res, raw } = await get(url);
        expect(res.statusCode, `GET ${url}: ${res.body.slice(0, 300)}`).toBe(200);
        const answer = res.json();
        expect(validate(answer), `GET ${url}: ${ajv.errorsText(validate.errors)}`).toBe(true);
        if (raw === undefined && route === '/v1/customers/{id}') {
          // This route serialises with its schema itself (reply.serialize, cached per answer) and
          // sends the text: compare with the engine's answer presented the same way, by field path
          // (the values move on with the live feed; no field may be missing).
          const view = url.includes('pii=masked') ? 'masked' : 'none';
          const fresh = await engine.view.customer(customer);
          const presented = JSON.parse(JSON.stringify(presentAnswer(fresh!, view, engine.security, silent)));
          expect(
            validate(presented),
            `GET ${url} (engine's answer): ${ajv.errorsText(validate.errors)}`,
          ).toBe(true);
          const sent = keyPaths(answer);
          expect(
            [...keyPaths(presented)].filter((k) => !sent.has(k)),
            `GET ${url}: fields dropped`,
          ).toEqual([]);
        } else {
          expect(validate(raw), `GET ${url} (handler's object): ${ajv.errorsText(validate.errors)}`).toBe(
            true,
          );
          expect(answer, `GET ${url}: the answer is the handler's object, no field dropped`).toEqual(raw);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('each line of the NDJSON export is a documented customer answer', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as Doc;
    const schema =
      doc.paths['/v1/export/customers']!['get']!.responses['200']!.content!['application/x-ndjson']!.schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
    const validate = ajv.compile({ ...schema, components: doc.components });
    const res = await app.inject({ url: '/v1/export/customers?limit=50&pii=masked' });
    expect(res.statusCode).toBe(200);
    const lines = res.body.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(validate(JSON.parse(line)), ajv.errorsText(validate.errors)).toBe(true);
  });
});
