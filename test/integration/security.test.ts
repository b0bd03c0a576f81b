/**
 * Customer data kept safe, end to end: the engine with its embedded nats-server (store encrypted),
 * SM4 sealing with a key file, API keys of every role, a small export limit and rate limit. Each
 * role sees exactly what it may; plaintext personal data is absent from every file the engine
 * wrote and from its logs; the audit chain verifies and breaks when a line is edited; the export
 * limit (distinct customers, single reads included) fires an alert; keys rotate without a restart.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject } from '../../contract/subjects.js';
import { distPath } from '../../lib/paths.js';
import { freePort } from '../../lib/ports.js';
import {
  connectEmbedded,
  type EngineProcess,
  startEngineProcess,
  waitFor,
} from '../support/engine-process.js';
import { publishCore, readStream, type TestEvent } from '../support/publish.js';
import { strongApiKey } from '../support/test-keys.js';

const run = promisify(execFile);

const KEYS = {
  viewer: strongApiKey('viewer-key'),
  analyst: strongApiKey('analyst-key'),
  admin: strongApiKey('admin-key'),
  service: strongApiKey('service-key'),
  flood: strongApiKey('flood-key'),
};
const auth = (role: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[role]}` });
const K1 = `k1:${'a1'.repeat(32)}`;
const K2 = `k2:${'b2'.repeat(32)}`;

/** Alice's personal data: none of it may appear in plaintext anywhere the engine writes. */
const ALICE = {
  name: '张三丰',
  phone: '13812345678',
  email: 'zhang.san@example.com',
  id_number: '110101199003074514',
  address: '北京市朝阳区建国路88号',
  birthday: '1990-03-07',
};
const CUSTOMERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank'];

let engine: EngineProcess;
let nc: NatsConnection;
let natsPort: number;
let keyDir: string;
let keyFile: string;
let dataDir: string;

beforeAll(async () => {
  natsPort = await freePort();
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'bw-pii-keys-'));
  keyFile = path.join(keyDir, 'pii.keys');
  await writeFile(keyFile, `${K1}\n`);
  engine = await startEngineProcess(
    {
      BW_NATS_PORT: String(natsPort),
      BW_PII_CIPHER: 'sm4',
      BW_PII_KEY_FILE: keyFile,
      BW_API_KEYS: Object.entries(KEYS)
        .map(([role, key]) => `${key}:${role === 'flood' ? 'viewer' : role}:${role}`)
        .join(','),
      BW_EXPORT_LIMIT: '10',
      BW_RATE_LIMIT: '40',
      BW_PARTITIONS: '4',
      BW_WORKERS: '2',
    },
    ['--embedded'],
  );
  dataDir = engine.dataDir;
  nc = await connectEmbedded(engine.dataDir, natsPort);
  const now = Date.now();
  const events: TestEvent[] = CUSTOMERS.flatMap((c, i) => [
    { event_id: `${c}-p1`, customer_id: c, type: 'purchase', ts: now - (i + 2) * 86_400_000, amount: 10 + i },
    { event_id: `${c}-l1`, customer_id: c, type: 'login', ts: now - 3_600_000 },
  ]);
  events.push({
    event_id: 'alice-profile',
    customer_id: 'alice',
    type: 'profile',
    ts: now - 60_000,
    props: { ...ALICE, country: 'CN' },
  });
  await publishCore(nc, events);
  // Two bad events carrying Alice's data: dead-lettered, and sealed there.
  nc.publish(
    eventSubject('profile', 'alice'),
    JSON.stringify({ customer_id: 'alice', type: 'profile', props: { phone: ALICE.phone } }),
  );
  nc.publish(eventSubject('profile', 'alice'), `not json ${ALICE.email} ${ALICE.id_number}`);
  await nc.flush();
  await waitFor(
    async () => {
      const res = await engine.get('/v1/customers/alice?pii=plain', auth('admin'));
      return res.status === 200 && (res.body as { pii?: { phone?: string } }).pii?.phone ? true : undefined;
    },
    40_000,
    'alice with personal fields',
  );
  await waitFor(
    async () => ((await readStream(nc, 'BW_DLQ')).length >= 2 ? true : undefined),
    20_000,
    'dead letters',
  );
}, 90_000);

afterAll(async () => {
  await nc?.close();
  if (engine) await engine.stop('SIGKILL');
  await rm(keyDir, { recursive: true, force: true });
});

interface Answer {
  customer_id: string;
  pii?: Record<string, string>;
  features: Record<string, number | null>;
}

describe('roles', () => {
  it('viewer: scores and segments, no personal data, no export', async () => {
    const res = await engine.get('/v1/customers/alice', auth('viewer'));
    expect(res.status).toBe(200);
    expect((res.body as Answer).pii).toBeUndefined();
    expect((res.body as Answer).features['purchases_lifetime']).toBe(1);
    expect(res.text).not.toContain(ALICE.phone);
    expect(res.text).not.toContain('138****5678');
    for (const query of ['pii=masked', 'pii=plain']) {
      const denied = await engine.get(`/v1/customers/alice?${query}`, auth('viewer'));
      expect(denied.status).toBe(403);
      expect((denied.body as { error: { code: string } }).error.code).toBe('BW_ERR_FORBIDDEN');
    }
    expect((await engine.get('/v1/export/customers', auth('viewer'))).status).toBe(403);
    expect((await engine.get('/v1/segments', auth('viewer'))).status).toBe(200);
  });

  it('analyst: masked personal data, never plain', async () => {
    const res = await engine.get('/v1/customers/alice', auth('analyst'));
    expect((res.body as Answer).pii).toEqual({
      name: '张**',
      phone: '138****5678',
      email: 'z********@example.com',
      id_number: '**************4514',
      address: '北京市朝阳区******',
      birthday: '1990******',
    });
    expect((await engine.get('/v1/customers/alice?pii=plain', auth('analyst'))).status).toBe(403);
    expect(
      ((await engine.get('/v1/customers/alice?pii=none', auth('analyst'))).body as Answer).pii,
    ).toBeUndefined();
  });

  it('admin: masked by default, plain when asked (and audited as plain)', async () => {
    const masked = await engine.get('/v1/customers/alice', auth('admin'));
    expect((masked.body as Answer).pii?.['phone']).toBe('138****5678');
    const plain = await engine.get('/v1/customers/alice?pii=plain', auth('admin'));
    expect((plain.body as Answer).pii).toEqual(ALICE);
  });

  it('service: scores without personal data; may reload models and export', async () => {
    const res = await engine.get('/v1/customers/alice', auth('service'));
    expect((res.body as Answer).pii).toBeUndefined();
    expect((await engine.get('/v1/customers/alice?pii=masked', auth('service'))).status).toBe(403);
    const reload = await fetch(`${engine.httpUrl}/v1/models/reload`, {
      method: 'POST',
      headers: auth('service'),
    });
    expect(reload.status).toBe(200);
    const denied = await fetch(`${engine.httpUrl}/v1/models/reload`, {
      method: 'POST',
      headers: auth('analyst'),
    });
    expect(denied.status).toBe(403);
    const exported = await engine.get('/v1/export/customers?limit=2', auth('service'));
    expect(exported.status).toBe(200);
    expect(exported.text).not.toContain('"pii"');
  });

  it('keys are required on every route but /healthz and /readyz; bad keys get 401', async () => {
    expect((await engine.get('/healthz')).status).toBe(200);
    expect([200, 503]).toContain((await engine.get('/readyz')).status);
    for (const route of ['/v1/customers/alice', '/v1/customers', '/metrics', '/v1/info', '/nope']) {
      const res = await engine.get(route);
      expect(res.status, route).toBe(401);
      expect((res.body as { error: { code: string } }).error.code).toBe('BW_ERR_UNAUTHORIZED');
    }
    expect((await engine.get('/v1/info', { authorization: 'Bearer not-a-key-at-all' })).status).toBe(401);
    expect((await engine.get('/v1/info', { authorization: KEYS.admin })).status).toBe(401);
    expect((await engine.get('/metrics', auth('viewer'))).status).toBe(200);
  });
});

describe('hardened HTTP', () => {
  it('rejects unknown query fields, sets security headers, leaks no stack', async () => {
    const res = await engine.get('/v1/customers/alice?debug=1', auth('admin'));
    expect(res.status).toBe(400);
    expect((await engine.get('/v1/segments?x=1', auth('admin'))).status).toBe(400);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.text).not.toMatch(/at .*\.js:\d+/);
  });

  it('limits requests per key and minute', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) statuses.push((await engine.get('/v1/info', auth('flood'))).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    const limited = await engine.get('/v1/info', auth('flood'));
    expect(limited.status).toBe(429);
    expect((limited.body as { error: { code: string } }).error.code).toBe('BW_ERR_RATE_LIMITED');
    // Other keys are not affected.
    expect((await engine.get('/v1/info', auth('viewer'))).status).toBe(200);
    // Requests without a valid key are limited per address, before authentication.
    const anonymous: number[] = [];
    for (let i = 0; i < 45; i++) {
      anonymous.push((await engine.get('/v1/info', { authorization: 'Bearer wrong-key-000000000' })).status);
    }
    expect(new Set(anonymous)).toEqual(new Set([401, 429]));
    // ...and raise a security alert (20 failures from one address within a minute).
    const alert = await waitFor(async () =>
      (await readStream(nc, 'BW_ALERTS'))
        .filter((m) => m.subject === 'bw.alerts.security')
        .map((m) => m.json<{ kind: string; ip: string }>())
        .find((a) => a.kind === 'auth_failures'),
    );
    expect(alert.ip).toBe('127.0.0.1');
    expect((await engine.get('/v1/info', auth('viewer'))).status).toBe(200);
  });
});

describe('bulk export', () => {
  it('exports NDJSON with personal fields by role, then refuses past the hourly limit and raises an alert', async () => {
    const res = await engine.get('/v1/export/customers?limit=100', auth('analyst'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = res.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Answer);
    expect(lines.map((l) => l.customer_id).sort()).toEqual([...CUSTOMERS].sort());
    expect(lines.find((l) => l.customer_id === 'alice')?.pii?.['phone']).toBe('138****5678');
    expect(res.text).not.toContain(ALICE.phone);

    // The same customers again cost nothing: the budget counts distinct customers.
    expect((await engine.get('/v1/customers?limit=3', auth('analyst'))).status).toBe(200);
    // 8 taken of 10 this hour: 3 new customers arrive, and a list carrying them is refused whole.
    const now = Date.now();
    await publishCore(
      nc,
      ['ivan', 'judy', 'kate'].map((c) => ({ event_id: `${c}-l1`, customer_id: c, type: 'login', ts: now })),
    );
    await waitFor(
      async () => {
        const res = await engine.get('/v1/segments', auth('admin'));
        const segments = (res.body as { segments?: { customers: number }[] }).segments ?? [];
        return segments.reduce((sum, x) => sum + x.customers, 0) === CUSTOMERS.length + 3 ? true : undefined;
      },
      20_000,
      'three more customers',
    );
    const refused = await engine.get('/v1/customers?limit=100', auth('analyst'));
    expect(refused.status).toBe(429);
    expect((refused.body as { error: { code: string } }).error.code).toBe('BW_ERR_EXPORT_LIMIT');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Single reads draw from the same budget: two more, then no more.
    expect((await engine.get('/v1/customers/ivan', auth('analyst'))).status).toBe(200);
    expect((await engine.get('/v1/customers/judy', auth('analyst'))).status).toBe(200);
    expect((await engine.get('/v1/customers/kate', auth('analyst'))).status).toBe(429);
    const alert = await waitFor(async () => {
      const msgs = (await readStream(nc, 'BW_ALERTS'))
        .filter((m) => m.subject === 'bw.alerts.security')
        .map((m) => m.json<{ kind: string; actor: string; route: string }>())
        .filter((a) => a.kind === 'export_limit');
      return msgs[0];
    });
    expect(alert).toMatchObject({ kind: 'export_limit', actor: 'analyst', route: '/v1/customers' });
  });
});

describe('dead letters', () => {
  it('hold sealed bodies that `bellwether dlq read` opens with the key', async () => {
    const letters = await readStream(nc, 'BW_DLQ');
    for (const letter of letters) {
      const text = Buffer.from(letter.data).toString('utf8');
      expect(text).not.toContain(ALICE.phone);
      expect(letter.headers['Bw-Sealed']).toBe('k1');
    }
    const { stdout } = await run(process.execPath, [distPath('cli', 'main.js'), 'dlq', 'read'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        // The embedded server of this data directory, as its engine user (the seed file there).
        BW_DATA_DIR: dataDir,
        BW_NATS_PORT: String(natsPort),
        BW_PII_KEY_FILE: keyFile,
        BW_PII_CIPHER: 'sm4',
      },
    });
    const opened = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; body: string });
    expect(opened.map((o) => o.reason).sort()).toEqual(['missing_field', 'not_json']);
    expect(opened.find((o) => o.reason === 'missing_field')?.body).toContain(ALICE.phone);
  });
});

describe('key rotation', () => {
  it('re-seals under a new first key without a restart; the old key can then go', async () => {
    const fields = async (keyId: string): Promise<number> => {
      const text = (await engine.get('/metrics', auth('admin'))).text;
      const m = new RegExp(`^bellwether_pii_fields\\{key_id="${keyId}"\\} (\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    expect(await fields('k1')).toBe(6);
    await writeFile(keyFile, `${K2}\n${K1}\n`);
    await waitFor(
      async () => ((await fields('k2')) === 6 && (await fields('k1')) === 0 ? true : undefined),
      20_000,
      're-sealing under k2',
    );
    await writeFile(keyFile, `${K2}\n`);
    await new Promise((r) => setTimeout(r, 1000));
    const plain = await engine.get('/v1/customers/alice?pii=plain', auth('admin'));
    expect((plain.body as Answer).pii).toEqual(ALICE);
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

describe('at rest and in the audit log', () => {
  it('no file the engine wrote and no log line holds plaintext personal data; the audit chain verifies, then catches an edit', async () => {
    // The audit stream copy has every record the file has (core publishes: let them land).
    const auditFile = path.join(dataDir, 'audit', 'audit.ndjson');
    await waitFor(
      async () => {
        const fileRecords = (await readFile(auditFile, 'utf8')).trim().split('\n');
        const streamRecords = (await readStream(nc, 'BW_AUDIT')).flatMap((m) =>
          Buffer.from(m.data).toString('utf8').trim().split('\n'),
        );
        return JSON.stringify(streamRecords) === JSON.stringify(fileRecords) ? true : undefined;
      },
      10_000,
      'the audit stream copy to match the file',
    );

    // Nor do the metrics.
    const metrics = (await engine.get('/metrics', auth('admin'))).text;
    for (const value of Object.values(ALICE))
      expect(metrics.includes(value), `${value} in /metrics`).toBe(false);

    await engine.stop('SIGTERM', { keepDataDir: true });
    const files = await filesUnder(dataDir);
    expect(files.some((f) => f.includes(`${path.sep}jetstream${path.sep}`))).toBe(true);
    expect(files.some((f) => f.includes(`${path.sep}checkpoints${path.sep}`))).toBe(true);
    const secrets = Object.values(ALICE).flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]);
    for (const file of files) {
      const bytes = await readFile(file);
      for (const secret of secrets) {
        expect(bytes.includes(Buffer.from(secret, 'utf8')), `${secret} in ${file}`).toBe(false);
      }
    }
    const logs = engine.logs.join('\n');
    for (const secret of secrets) expect(logs.includes(secret), `${secret} in the logs`).toBe(false);
    for (const key of Object.values(KEYS)) expect(logs.includes(key)).toBe(false);

    const records = (await readFile(auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toContainEqual(
      expect.objectContaining({
        actor: 'admin',
        customer_id: 'alice',
        pii: 'plain',
        outcome: 'ok',
        ip: '127.0.0.1',
      }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({
        actor: 'analyst',
        route: '/v1/export/customers',
        customers: 8,
        pii: 'masked',
      }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ actor: 'analyst', outcome: 'refused', status: 429 }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ actor: 'anonymous', outcome: 'denied', status: 401 }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ actor: 'viewer', outcome: 'denied', status: 403 }),
    );

    const cli = [distPath('cli', 'main.js'), 'audit', 'verify', '--file', auditFile];
    const ok = await run(process.execPath, cli);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, records: records.length });

    const lines = (await readFile(auditFile, 'utf8')).split('\n');
    const target = lines.findIndex((l) => l.includes('"pii":"plain"'));
    lines[target] = lines[target]!.replace('"actor":"admin"', '"actor":"viewer"');
    await writeFile(auditFile, lines.join('\n'));
    const broken = await run(process.execPath, cli).catch(
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect((broken as { code: number }).code).toBe(1);
    expect(JSON.parse((broken as { stdout: string }).stdout)).toMatchObject({
      ok: false,
      broken: { line: target + 1, reason: 'hash does not match the record' },
    });
    expect((broken as { stderr: string }).stderr).toContain('BW_ERR_AUDIT_CHAIN');
    await rm(dataDir, { recursive: true, force: true });
  });
});
