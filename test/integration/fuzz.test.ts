/**
 * Fuzz: thousands of malformed HTTP requests (random methods, paths, query strings, headers, bodies,
 * and raw bytes that are not HTTP) and thousands of malformed events, all seeded. Zero 5xx answers,
 * no crash, every bad event in the DLQ with nothing valid lost.
 */
import { connect as tcpConnect } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { customerToken, eventSubject } from '../../contract/subjects.js';
import { mulberry32 } from '../../lib/random.js';
import { type EngineProcess, waitFor } from '../support/engine-process.js';
import { readStream } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';
import { strongApiKey } from '../support/test-keys.js';

const ADMIN = strongApiKey('fuzz-admin-key');
const rand = mulberry32(20261123);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

let stack: TestStack;
let nc: NatsConnection;
let engine: EngineProcess;

beforeAll(async () => {
  stack = await startStack(4, { BW_API_KEYS: `${ADMIN}:admin:fuzzer`, BW_RATE_LIMIT: '0' });
  ({ nc, engine } = stack);
});

afterAll(async () => {
  expect(await stack?.stop('SIGTERM')).toBe(0);
});

const NASTY = [
  '',
  '%',
  '%zz',
  '%00',
  '..%2f..%2fetc%2fpasswd',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  'prototype',
  '😀'.repeat(40),
  'a'.repeat(300),
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '$' + '{jndi:ldap://x}',
  '\u0000',
  '-1',
  '1e309',
  'NaN',
  'null',
  '[]',
  '{}',
  'true',
];

function randomText(max: number): string {
  const n = int(max);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(int(3) === 0 ? int(0x2fff) : 32 + int(95));
  return s;
}

function fuzzPath(): string {
  const v = () =>
    encodeURIComponent(int(3) === 0 ? randomText(40) : pick(NASTY)).replace(/%25/g, pick(['%', '%25']));
  const raw = () => pick(NASTY);
  const bases = [
    () => `/v1/customers/${v()}`,
    () => `/v1/customers/${raw()}`,
    () => `/v1/customers?limit=${v()}&min_churn_risk=${v()}`,
    () => `/v1/customers?segment=${v()}&tag=${v()}`,
    () => `/v1/customers?limit=1&limit=2&${v()}=${v()}`,
    () => `/v1/customers/alice?pii=${v()}`,
    () => `/v1/export/customers?limit=${v()}&pii=${v()}`,
    () => `/v1/funnels/${v()}`,
    () => `/v1/paths?from=${v()}&limit=${v()}`,
    () => `/v1/attribution?model=${v()}`,
    () => `/v1/segments?${v()}=1`,
    () => `/v1/models/${v()}`,
    () => `/${v()}/${v()}`,
    () => `/v1/customers?__proto__[polluted]=1&constructor[prototype][polluted]=1`,
    () => `/metrics?${v()}`,
    () => `/readyz?${v()}`,
    () => `/docs/${v()}`,
  ];
  return pick(bases)();
}

async function fuzzRequest(): Promise<number | undefined> {
  const method = pick(['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  const headers: Record<string, string> = {};
  const authKind = int(6);
  if (authKind < 4) headers['authorization'] = `Bearer ${ADMIN}`;
  else if (authKind === 4)
    headers['authorization'] = pick(['Bearer', 'Basic abc', `Bearer ${'x'.repeat(600)}`, ADMIN]);
  let body: string | undefined;
  if (method !== 'GET' && method !== 'HEAD' && int(2) === 0) {
    headers['content-type'] = pick([
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'foo/bar',
    ]);
    body = pick([
      '{',
      '{"__proto__":{"polluted":true}}',
      'null',
      '[]'.repeat(5000),
      randomText(200),
      'x'.repeat(20_000),
      JSON.stringify({ a: 'b'.repeat(30_000) }),
    ]);
  }
  try {
    const res = await fetch(engine.httpUrl + fuzzPath(), {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    // The client refused to send it (an invalid URL or header): nothing reached the server.
    if (err instanceof TypeError && !String(err.cause ?? '').includes('ECONNREFUSED')) return undefined;
    throw err;
  }
}

/** Bytes that are not valid HTTP: the server answers 400 or closes, never 5xx. */
function rawRequest(payload: string): Promise<string> {
  const url = new URL(engine.httpUrl);
  return new Promise((resolve) => {
    const socket = tcpConnect(Number(url.port), url.hostname);
    let data = '';
    socket.setTimeout(3000, () => socket.destroy());
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
    socket.end(payload);
  });
}

describe('HTTP fuzz', () => {
  it('answers thousands of malformed requests without a 5xx', async () => {
    const statuses = new Map<number, number>();
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < 3000) {
        sent++;
        const status = await fuzzRequest();
        if (status !== undefined) statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const raw = [
      'GET /v1/customers/%ZZ HTTP/1.1\r\nHost: x\r\n\r\n',
      `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /healthz HTTP/1.1\r\n${'X: y\r\n'.repeat(5000)}\r\n`,
      'POST /v1/models/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n{',
      'POST /v1/models/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzzz',
      '\u0000\u0001\u0002 garbage \r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
    ];
    for (let i = 0; i < 200; i++) raw.push(`${randomText(80)}\r\n\r\n`);
    for (const payload of raw) {
      const answer = await rawRequest(payload);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      if (status) statuses.set(Number(status), (statuses.get(Number(status)) ?? 0) + 1);
    }
    const fiveXX = [...statuses].filter(([s]) => s >= 500);
    expect(fiveXX).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(2500);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
    expect(engine.child.exitCode).toBeNull();
    expect((await engine.get('/healthz')).status).toBe(200);
  }, 120_000);
});

interface Sample {
  subject: string;
  body: Uint8Array | string;
}

const enc = new TextEncoder();
let validSeq = 0;

function valid(customer: string): Record<string, unknown> {
  validSeq++;
  return {
    event_id: `ok-${validSeq}`,
    customer_id: customer,
    type: pick(EVENT_TYPES),
    ts: Date.now() - int(30) * 86_400_000,
    amount: int(100),
  };
}

/** One event that must be rejected, by construction, with the reason it must get. */
function badEvent(): Sample {
  const customer = `fz-${int(200)}`;
  const base = valid(customer);
  validSeq--; // not a valid one after all
  const subject = eventSubject(String(base['type']), customer);
  const json = (o: unknown) => JSON.stringify(o);
  switch (int(12)) {
    case 11:
      return { subject: eventSubject('hack_type', customer), body: json({ ...base, type: 'hack_type' }) };
    case 0: {
      const bytes = new Uint8Array(int(300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
      if (bytes.length > 0 && bytes[0] === 0x7b) bytes[0] = 0x78; // never starts like an object
      return { subject, body: bytes };
    }
    case 1: {
      delete base[pick(['event_id', 'customer_id', 'type', 'ts'])];
      return { subject, body: json(base) };
    }
    case 2:
      return { subject, body: json({ ...base, amount: pick(['12', null, {}, [], true]) }) };
    case 3:
      return {
        subject,
        body: json({ ...base, ts: pick([{}, [], true, 'yesterday', '2026-13-45T99:00:00Z', '']) }),
      };
    case 4:
      return { subject, body: json({ ...base, ts: Date.now() + 10 * 86_400_000 }) };
    case 5:
      return { subject: `bw.events.${base['type']}.${customerToken(`${customer}-other`)}`, body: json(base) };
    case 6:
      return { subject, body: json({ ...base, props: { blob: 'x'.repeat(70_000) } }) };
    case 7: {
      const text = json(base);
      return { subject, body: text.slice(0, int(text.length - 1)) };
    }
    case 8:
      return {
        subject,
        body: `{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"customer_id":"${customer}"}`,
      };
    case 9:
      return {
        subject,
        body: `{"event_id":"x","customer_id":"${customer}","type":"purchase","ts":1,"amount":1e999}`,
      };
    default: {
      const body = enc.encode(`{"customer_id":"${customer}","type":"purchase","ts":1,"sku":"\xff\xfe`);
      const bytes = new Uint8Array(body.length + 3);
      bytes.set(body);
      bytes.set([0xc3, 0x28, 0x7d], body.length); // invalid UTF-8, and no event_id
      return { subject, body: bytes };
    }
  }
}

describe('event fuzz', () => {
  it('dead-letters every malformed event and loses no valid one', async () => {
    const bad: Sample[] = Array.from({ length: 2500 }, badEvent);
    const good: Sample[] = [];
    for (let i = 0; i < 800; i++) {
      const e = valid(`fz-${int(200)}`);
      // Legal but odd: prototype-looking keys in props, unicode ids, long extra fields.
      if (i % 5 === 0) e['props'] = JSON.parse('{"__proto__":{"x":1},"nested":{"a":[1,[2,[3]]]}}');
      if (i % 7 === 0) e['note'] = '😀'.repeat(100);
      good.push({
        subject: eventSubject(String(e['type']), String(e['customer_id'])),
        body: JSON.stringify(e),
      });
    }
    const all = [...bad, ...good].sort(() => rand() - 0.5);
    for (const s of all) nc.publish(s.subject, s.body);
    await nc.flush();

    const counter = (text: string, name: string): number =>
      [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce(
        (a, m) => a + Number(m[1]),
        0,
      );
    const metrics = await waitFor(
      async () => {
        const text = (await engine.get('/metrics', { authorization: `Bearer ${ADMIN}` })).text;
        const done =
          counter(text, 'bellwether_events_processed_total') +
          counter(text, 'bellwether_events_rejected_total');
        return done >= all.length ? text : undefined;
      },
      60_000,
      'every fuzzed event handled',
    );
    expect(counter(metrics, 'bellwether_events_rejected_total')).toBe(bad.length);
    expect(counter(metrics, 'bellwether_events_processed_total')).toBe(good.length);
    const dlq = await waitFor(async () => {
      const letters = await readStream(nc, 'BW_DLQ');
      return letters.length >= bad.length ? letters : undefined;
    });
    expect(dlq).toHaveLength(bad.length);
    for (const letter of dlq) expect(letter.headers['Bw-Reason']).toBeTruthy();
    expect(engine.child.exitCode).toBeNull();
  }, 120_000);
});
