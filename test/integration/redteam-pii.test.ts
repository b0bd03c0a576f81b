/**
 * The red team's personal-data findings (issue 22, items 3 and 4), against the engine process with
 * its embedded nats-server (so the data directory holds everything: the JetStream store, the
 * checkpoints, the audit log, the keys) and API keys on: profile properties spelled any way are sealed (none of their
 * values is in any file of the data directory, checkpoints included); a rule reaching for the
 * object prototype matches nobody while allow-listed fields still work; `-0` times and ids with a
 * lone surrogate are dead-lettered with their reasons; a weak inline key stops the start with its
 * coded error; the data directory is 0700 and every file in it 0600.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject } from '../../contract/subjects.js';
import { readCheckpoint } from '../../engine/state/checkpoint.js';
import { freePort } from '../../lib/ports.js';
import {
  connectEmbedded,
  type EngineProcess,
  startEngineProcess,
  waitFor,
} from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { publishCore, readStream } from '../support/publish.js';
import { strongApiKey } from '../support/test-keys.js';

const PARTITIONS = 2;
const OLD_FILE = 'p0000.ckpt.stale-2026-11-01T00-00-00-000Z';
const ADMIN = strongApiKey('redteam-admin');
const auth = { authorization: `Bearer ${ADMIN}` };

/** Personal properties as producers spell them: none has a name the engine used to recognise. */
const ANN_PERSONAL = {
  Phone: '13800138000',
  EMAIL: 'annabel.redteam@example.com',
  mobile: '13911112222',
  full_name: 'Annabel Redteam',
  first_name: 'Annabelle',
  idNumber: '110101199003074514',
  'Last Name': 'Redteamson',
  tel: '+49301234567',
  DOB: '1990-03-07',
  shipping_address: { street: 'Verstecktweg 12', zip: '10115' },
  wechat: 'annabel_wx_88',
};
const SECRETS = [
  '13800138000',
  'annabel.redteam@example.com',
  '13911112222',
  'Annabel Redteam',
  'Annabelle',
  '110101199003074514',
  'Redteamson',
  '+49301234567',
  '1990-03-07',
  'Verstecktweg 12',
  'annabel_wx_88',
];

let nc: NatsConnection;
let engine: EngineProcess;
let dir: string;
let dataDir: string;
let env: Record<string, string>;

async function customer(id: string, minEvents: number): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const res = await engine.get(`/v1/customers/${encodeURIComponent(id)}`, auth);
      const body = res.body as { features: Record<string, number> } | undefined;
      return res.status === 200 && (body?.features['events_lifetime'] ?? 0) >= minEvents
        ? (res.body as Record<string, unknown>)
        : undefined;
    },
    30_000,
    `customer ${id}`,
  );
}

async function entriesUnder(root: string): Promise<{ rel: string; dir: boolean; mode: number }[]> {
  const out = [{ rel: '.', dir: true, mode: (await stat(root)).mode & 0o777 }];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out.push({
      rel: path.relative(root, full),
      dir: entry.isDirectory(),
      mode: (await stat(full)).mode & 0o777,
    });
  }
  return out;
}

beforeAll(async () => {
  const natsPort = await freePort();
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-redteam-'));
  dataDir = path.join(dir, 'data');
  // A data directory as an earlier version left it: world-readable, with a readable checkpoint
  // (set aside) in it; and a file of the user's own, which the engine leaves as it is.
  await mkdir(path.join(dataDir, 'checkpoints'), { recursive: true });
  await writeFile(path.join(dataDir, 'checkpoints', OLD_FILE), 'old\n');
  await writeFile(path.join(dataDir, 'NOTES.txt'), 'the operator’s\n');
  await chmod(dataDir, 0o755);
  await chmod(path.join(dataDir, 'checkpoints'), 0o755);
  await chmod(path.join(dataDir, 'checkpoints', OLD_FILE), 0o644);
  await chmod(path.join(dataDir, 'NOTES.txt'), 0o644);
  await writeFile(
    path.join(dir, 'tags.yaml'),
    [
      'tags:',
      `  - { id: gold, kind: basic, when: "profile.tier == 'gold'" }`,
      '  - { id: proto, kind: basic, when: "profile.__proto__" }',
      '  - { id: ctor, kind: basic, when: "profile.constructor != null" }',
      '  - { id: to_string, kind: basic, when: "profile.toString" }',
      '  - { id: phone_seen, kind: basic, when: "profile.Phone != null or profile.phone != null" }',
    ].join('\n'),
  );
  await writeFile(
    path.join(dir, 'rules.yaml'),
    [
      'rules:',
      '  - { id: proto_rule, on: profile, when: "profile.__proto__" }',
      `  - { id: gold_rule, on: profile, when: "profile.tier == 'gold'" }`,
    ].join('\n'),
  );
  env = {
    BW_NATS_PORT: String(natsPort),
    BW_PARTITIONS: String(PARTITIONS),
    BW_WORKERS: '1',
    BW_DATA_DIR: dataDir,
    BW_MODELS_DIR: await writeFixtureModels(),
    BW_TAGS_FILE: path.join(dir, 'tags.yaml'),
    BW_RULES_FILE: path.join(dir, 'rules.yaml'),
    BW_API_KEYS: `${ADMIN}:admin:redteam`,
    BW_CHECKPOINT_SECONDS: '1',
  };
  engine = await startEngineProcess(env, ['--embedded']);
  // As the engine's own user (the seed in <data dir>/nats/): the embedded server admits no one else.
  nc = await connectEmbedded(dataDir, natsPort);
});

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('red team: personal data', () => {
  it('seals profile properties whatever their spelling; rules read allow-listed fields and nothing of the prototype', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    await publishCore(nc, [
      { event_id: 'ann-1', customer_id: 'ann', type: 'login', ts: iso(now - 60_000) },
      {
        event_id: 'ann-2',
        customer_id: 'ann',
        type: 'profile',
        ts: iso(now - 50_000),
        props: { ...ANN_PERSONAL, tier: 'gold', city: 'Berlin' },
      },
      {
        event_id: 'bob-1',
        customer_id: 'bob',
        type: 'profile',
        ts: iso(now - 40_000),
        props: { tier: 'silver' },
      },
    ]);
    const ann = await customer('ann', 2);
    const bob = await customer('bob', 1);
    expect(ann['tags']).toEqual(['gold']);
    expect(bob['tags']).toEqual([]);
    // Every personal property is in the customer's sealed record: masked for the admin by default.
    const pii = ann['pii'] as Record<string, string>;
    expect(Object.keys(pii).sort()).toEqual(Object.keys(ANN_PERSONAL).sort());
    expect(pii['Phone']).toBe('138****8000');
    expect(pii['EMAIL']).toBe('a**************@example.com');
    expect(pii['idNumber']).toBe('**************4514');
    const plain = await engine.get('/v1/customers/ann?pii=plain', auth);
    expect((plain.body as { pii: Record<string, string> }).pii['shipping_address']).toBe(
      JSON.stringify(ANN_PERSONAL.shipping_address),
    );
    const fired = await waitFor(async () => {
      const actions = (await readStream(nc, 'BW_CRM')).filter((m) => m.subject.startsWith('bw.actions.'));
      return actions.length >= 1 ? actions : undefined;
    });
    // Only the allow-listed rule fires; the prototype one matches nobody.
    await new Promise((r) => setTimeout(r, 1500));
    const all = (await readStream(nc, 'BW_CRM')).filter((m) => m.subject.startsWith('bw.actions.'));
    expect(fired.length).toBeGreaterThanOrEqual(1);
    expect(all.map((m) => [m.subject, m.json<{ customer_id: string }>().customer_id])).toEqual([
      ['bw.actions.gold_rule', 'ann'],
    ]);
  });

  it('dead-letters -0 times and ids with a lone surrogate with their reasons', async () => {
    const ts = new Date().toISOString();
    const raw = (type: string, customer: string, body: string) =>
      nc.publish(eventSubject(type, customer), body);
    raw('login', 'zed', '{"event_id":"neg-zero","customer_id":"zed","type":"login","ts":-0}');
    raw('login', 'zed', '{"event_id":"neg-zero-text","customer_id":"zed","type":"login","ts":"-0"}');
    await publishCore(nc, [
      { event_id: 'lone-1', customer_id: 'x\ud800', type: 'login', ts },
      { event_id: 'lone-2', customer_id: 'x\ud801', type: 'login', ts },
      { event_id: 'lone-\udc00', customer_id: 'yan', type: 'login', ts },
    ]);
    await nc.flush();
    const letters = await waitFor(async () => {
      const list = await readStream(nc, 'BW_DLQ');
      return list.length >= 5 ? list : undefined;
    });
    expect(letters.map((l) => [l.subject, l.headers['Bw-Error']]).sort()).toEqual([
      ['bw.dlq.bad_id', 'customer_id is not well-formed UTF-16'],
      ['bw.dlq.bad_id', 'customer_id is not well-formed UTF-16'],
      ['bw.dlq.bad_id', 'event_id is not well-formed UTF-16'],
      ['bw.dlq.bad_time', 'ts is negative zero'],
      ['bw.dlq.bad_time', 'ts is not a valid time'],
    ]);
    expect((await engine.get('/v1/customers/zed', auth)).status).toBe(404);
    expect((await engine.get('/v1/customers/yan', auth)).status).toBe(404);
  });

  it('leaves no personal value in plaintext anywhere in the data directory, checkpoints included; all of it 0700/0600', async () => {
    // The graceful stop writes every partition's checkpoint (and they are written each second).
    expect(await engine.stop('SIGTERM', { keepDataDir: true })).toBe(0);
    const entries = await entriesUnder(dataDir);
    const files = entries.filter((e) => !e.dir).map((e) => e.rel);
    expect(files).toEqual(expect.arrayContaining(['checkpoints/p0000.ckpt', 'checkpoints/p0001.ckpt']));
    expect(files.some((f) => f.startsWith(`nats${path.sep}jetstream${path.sep}`))).toBe(true);
    // The checkpoints hold the customers: ann's tier in the clear, her personal fields sealed.
    const held = await Promise.all([0, 1].map((p) => readCheckpoint(path.join(dataDir, 'checkpoints'), p)));
    const crm = held.map((s) => JSON.stringify(s?.extra ?? null)).join('\n');
    expect(crm).toContain('"tier":"gold"');
    expect(crm).toContain('bw2.');
    for (const file of files) {
      const bytes = await readFile(path.join(dataDir, file));
      for (const secret of SECRETS) expect(bytes.includes(secret), `${secret} in ${file}`).toBe(false);
    }
    const logs = engine.logs.join('\n');
    for (const secret of SECRETS) expect(logs.includes(secret), `${secret} in the logs`).toBe(false);
    const loose = entries.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600));
    expect(loose).toEqual([{ rel: 'NOTES.txt', dir: false, mode: 0o644 }]);
    expect(entries.find((e) => e.rel === path.join('checkpoints', OLD_FILE))?.mode).toBe(0o600);
    expect(entries.length).toBeGreaterThan(10);
  });

  it('refuses to start with a weak inline API or PII key, or a personal name declared plain, with the coded error', async () => {
    const weakKeys: Record<string, string>[] = [
      { BW_API_KEYS: 'aaaaaaaaaaaaaaaaaaaaaaaa:admin' },
      { BW_API_KEYS: 'admin-key-0000000000001:admin' },
      { BW_PII_KEY: `k1:${'11'.repeat(32)}` },
    ];
    for (const weak of weakKeys) {
      const failed = startEngineProcess({ ...env, BW_DATA_DIR: path.join(dir, 'weak'), ...weak }, [
        '--embedded',
      ]);
      await expect(failed).rejects.toThrow(
        /BW_ERR_KEY_WEAK: .*the key looks weak \(about \d+ bits, at least 96 needed\)/,
      );
      await expect(failed).rejects.not.toThrow(/aaaaaaaa|admin-key-0000/);
    }
    // Nor does a personal name declared plain get past the start.
    await expect(
      startEngineProcess(
        { ...env, BW_DATA_DIR: path.join(dir, 'weak'), BW_PROFILE_PLAIN_FIELDS: 'tier,Phone' },
        ['--embedded'],
      ),
    ).rejects.toThrow(/BW_ERR_CONFIG_INVALID: .*BW_PROFILE_PLAIN_FIELDS: Phone name personal data/);
  });
});
