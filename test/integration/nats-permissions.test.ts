/**
 * The engine against a nats-server whose account lets it publish and subscribe to exactly the
 * subjects docs/nats-security.md lists (read from the page, so page and test cannot drift apart):
 * the built engine starts, processes a simulated feed (dead letters, alerts, CRM effects, audit
 * records), restarts with changed stream and consumer settings, and `bellwether dlq read` reads the
 * dead letters, all without a single permission violation in the server's log. The engine gets no
 * credentials here: the server binds connections without any to the restricted user
 * (`no_auth_user`); test/integration/nats-auth.test.ts covers the credentials themselves.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionMapping } from '../../contract/subjects.js';
import { connectNats } from '../../lib/nats-connect.js';
import { distPath, PACKAGE_ROOT } from '../../lib/paths.js';
import { startEngineProcess, waitFor } from '../support/engine-process.js';
import { type ConfiguredNats, startConfiguredNats } from '../support/nats-configured-server.js';
import { partitionConsumer } from '../support/publish.js';

/** The engine permissions block of docs/nats-security.md, as nats-server configuration. */
function documentedEnginePermissions(): { publish: string[]; subscribe: string[] } {
  const doc = readFileSync(path.join(PACKAGE_ROOT, 'docs', 'nats-security.md'), 'utf8');
  const block = doc.split('<!-- engine-permissions:')[1]!;
  const list = (verb: string) =>
    JSON.parse(new RegExp(`${verb}: \\{ allow: (\\[[^\\]]*\\]) \\}`).exec(block)![1]!) as string[];
  return { publish: list('publish'), subscribe: list('subscribe') };
}

describe('the engine as a user allowed only the documented subjects', () => {
  const PARTITIONS = 4;
  let server: ConfiguredNats;
  let natsUrl: string;
  let dataDir: string;
  let admin: NatsConnection;

  beforeAll(async () => {
    const allowed = documentedEnginePermissions();
    const mapping = partitionMapping(PARTITIONS);
    server = await startConfiguredNats(({ port, storeDir }) =>
      [
        `listen: "127.0.0.1:${port}"`,
        `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
        'max_payload: 1MB',
        'accounts { BW {',
        '  jetstream: enabled',
        `  mappings = { ${JSON.stringify(mapping.from)}: ${JSON.stringify(mapping.to)} }`,
        '  users = [',
        `    { user: engine, password: "engine-pw", permissions: { publish: { allow: ${JSON.stringify(allowed.publish)} }, subscribe: { allow: ${JSON.stringify(allowed.subscribe)} } } }`,
        '    { user: admin, password: "admin-pw" }',
        '  ]',
        '} }',
        // The engine reads no credentials in this test: connections without any are the engine user.
        'no_auth_user: engine',
      ].join('\n'),
    );
    natsUrl = `nats://127.0.0.1:${server.port}`;
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'bw-nats-perms-data-'));
    admin = await connectNats({ natsUrl, natsUser: 'admin', natsPassword: 'admin-pw' });
  });

  afterAll(async () => {
    await admin?.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const messagesIn = async (stream: string): Promise<number> =>
    (await (await jetstreamManager(admin)).streams.info(stream)).state.messages;
  const violations = (): string[] =>
    server
      .log()
      .split('\n')
      .filter((l) => l.includes('Violation'));

  it('a publish outside the list shows in the server log as a violation', async () => {
    const nc = await connectNats({ natsUrl });
    nc.publish('not.allowed', 'x');
    await nc.flush();
    await nc.close();
    await waitFor(async () => (violations().some((l) => l.includes('"not.allowed"')) ? true : undefined));
  });

  it('runs, restarts with changed stream and consumer settings, and reads dead letters without a violation', async () => {
    const before = violations().length;
    const env = {
      BW_NATS_URL: natsUrl,
      BW_PARTITIONS: String(PARTITIONS),
      BW_WORKERS: '2',
      BW_DATA_DIR: dataDir,
      BW_RESCORE_SECONDS: '3',
      BW_CHECKPOINT_SECONDS: '5',
    };
    const first = await startEngineProcess(env, ['--simulate', '2000']);
    // Three dead letters for `dlq read` below (the feed sends about one bad event in a thousand).
    for (const [stream, least] of [
      ['BW_DLQ', 3],
      ['BW_ALERTS', 1],
      ['BW_CRM', 1],
    ] as const) {
      await waitFor(async () => ((await messagesIn(stream)) >= least ? true : undefined), 45_000, stream);
    }
    for (let i = 0; i < 3; i++) expect((await first.get('/v1/customers?limit=5')).status).toBe(200);
    await waitFor(async () => ((await messagesIn('BW_AUDIT')) > 0 ? true : undefined), 15_000, 'BW_AUDIT');
    expect(await first.stop('SIGTERM', { keepDataDir: true })).toBe(0);

    const jsm = await jetstreamManager(admin);
    const floors = await Promise.all(
      Array.from(
        { length: PARTITIONS },
        async (_, p) => (await partitionConsumer(jsm, `BW_EVENTS_${p}`, p)).ack_floor.stream_seq,
      ),
    );
    for (const floor of floors) expect(floor).toBeGreaterThan(0);

    const second = await startEngineProcess(
      { ...env, BW_EVENTS_MAX_AGE_DAYS: '400', BW_MAX_ACK_PENDING: '3000' },
      ['--simulate', '2000'],
    );
    await waitFor(
      async () =>
        (await partitionConsumer(jsm, 'BW_EVENTS_0', 0)).ack_floor.stream_seq > floors[0]! ? true : undefined,
      30_000,
      'acks after the restart',
    );
    expect(await second.stop('SIGTERM', { keepDataDir: true })).toBe(0);
    expect((await jsm.streams.info('BW_EVENTS_0')).config.max_age).toBe(400 * 86_400 * 1e9);
    expect((await partitionConsumer(jsm, 'BW_EVENTS_0', 0)).config.max_ack_pending).toBe(3000);

    const { stdout } = await promisify(execFile)(
      process.execPath,
      [distPath('cli', 'main.js'), 'dlq', 'read', '--limit', '3', '--nats-url', natsUrl],
      { env: { PATH: process.env['PATH'] ?? '', BW_DATA_DIR: dataDir } },
    );
    const letters = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { stream: string });
    expect(letters).toHaveLength(3);

    expect(violations().slice(before)).toEqual([]);
  }, 180_000);
});
