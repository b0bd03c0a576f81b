/**
 * The built engine against a production-like nats-server: TLS that verifies client certificates
 * and operator-mode (JWT) auth, with JetStream and the partition mapping in the account. Every
 * client signs in with its own `.creds` file whose user JWT allows exactly what
 * docs/nats-security.md lists for it (read from the page): the engine its permission block, the
 * producer and `bellwether replay` their table rows. `bellwether run` starts, owns every
 * partition, counts every purchase a producer published and every one `bellwether replay` sent,
 * without a permission violation in the server's log; a client certificate the server does not
 * trust, or a `.creds` file of another operator, stops the start with BW_ERR_NATS_AUTH.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionMapping, partitionOfCustomer } from '../../contract/subjects.js';
import { connectNats } from '../../lib/nats-connect.js';
import type { NatsConnectSettings } from '../../lib/nats-connect-options.js';
import { distPath } from '../../lib/paths.js';
import { waitForExact } from '../support/cluster-engines.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { type ConfiguredNats, startConfiguredNats } from '../support/nats-configured-server.js';
import { documentedClientPermissions, documentedEnginePermissions } from '../support/nats-doc-permissions.js';
import { makeOperator } from '../support/nats-jwt.js';
import { makeTlsFiles, type TlsFiles } from '../support/nats-tls-files.js';
import { publishCore, purchaseRun, type TestEvent } from '../support/publish.js';

const PARTITIONS = 4;
const INSTANCE_ID = 'tls-engine';
const END = Date.parse('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

/** Two customers of each partition, ids `tls-<n>`. */
function customersOfEveryPartition(): string[] {
  const perPartition = new Map<number, string[]>();
  for (
    let n = 0;
    perPartition.size < PARTITIONS || [...perPartition.values()].some((c) => c.length < 2);
    n++
  ) {
    const id = `tls-${n}`;
    const list = perPartition.get(partitionOfCustomer(id, PARTITIONS)) ?? [];
    if (list.length < 2) list.push(id);
    perPartition.set(partitionOfCustomer(id, PARTITIONS), list);
  }
  return [...perPartition.values()].flat();
}

/** The exit code and stderr of `bellwether <args>` with this environment (no other variables). */
function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [distPath('cli', 'main.js'), ...args], {
      env: { PATH: process.env['PATH'] ?? '', BW_TF_BACKEND: 'wasm', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bellwether ${args[0]} still running after ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('the engine over TLS with client certificates and a .creds file (operator mode)', () => {
  const mapping = partitionMapping(PARTITIONS);
  const operator = makeOperator({ mappings: { [mapping.from]: mapping.to } });
  const customers = customersOfEveryPartition();
  const expected = new Map<string, number>();
  let dir: string;
  let tls: TlsFiles;
  let server: ConfiguredNats;
  let url: string;
  let engine: EngineProcess | undefined;
  let producer: NatsConnection;
  const creds = (name: string): string => path.join(dir, `${name}.creds`);
  /** TLS settings as BW_NATS_TLS_* (the client certificate the server's CA signed). */
  const tlsEnv = (): Record<string, string> => ({
    BW_NATS_TLS_CA: tls.caCert,
    BW_NATS_TLS_CERT: tls.clientCert,
    BW_NATS_TLS_KEY: tls.clientKey,
  });
  const violations = (): string[] =>
    server
      .log()
      .split('\n')
      .filter((l) => l.includes('Violation'));

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bw-nats-engine-tls-'));
    tls = await makeTlsFiles(dir);
    await writeFile(creds('engine'), operator.userCreds('engine', documentedEnginePermissions()), {
      mode: 0o600,
    });
    await writeFile(
      creds('producer'),
      operator.userCreds('producer', documentedClientPermissions('producer')),
      {
        mode: 0o600,
      },
    );
    await writeFile(creds('replay'), operator.userCreds('replay', documentedClientPermissions('replay')), {
      mode: 0o600,
    });
    await writeFile(creds('foreign'), makeOperator().userCreds('intruder'), { mode: 0o600 });
    await writeFile(path.join(dir, 'operator.jwt'), operator.operatorJwt);
    server = await startConfiguredNats(({ port, storeDir }) =>
      [
        `listen: "127.0.0.1:${port}"`,
        'tls {',
        `  cert_file: ${JSON.stringify(tls.serverCert)}`,
        `  key_file: ${JSON.stringify(tls.serverKey)}`,
        `  ca_file: ${JSON.stringify(tls.caCert)}`,
        '  verify: true',
        '  timeout: 2',
        '}',
        `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
        'max_payload: 1MB',
        operator.serverConfig(path.join(dir, 'operator.jwt')),
      ].join('\n'),
    );
    url = `tls://127.0.0.1:${server.port}`;
    const producerSettings: NatsConnectSettings = {
      natsUrl: url,
      natsCreds: creds('producer'),
      natsTlsCa: tls.caCert,
      natsTlsCert: tls.clientCert,
      natsTlsKey: tls.clientKey,
    };
    producer = await connectNats(producerSettings, { name: 'tls-test-producer' });
  }, 60_000);

  afterAll(async () => {
    await producer?.close();
    await engine?.stop('SIGKILL');
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a producer publish outside its documented subjects shows in the server log as a violation', async () => {
    producer.publish('bw.alerts.forged', 'x');
    await producer.flush();
    await waitFor(
      async () => (violations().some((l) => l.includes('"bw.alerts.forged"')) ? true : undefined),
      10_000,
      'the violation in the server log',
    );
  });

  it('runs as the engine user, owns every partition and counts every published purchase', async () => {
    const before = violations().length;
    engine = await startEngineProcess(
      {
        BW_NATS_URL: url,
        BW_NATS_CREDS: creds('engine'),
        ...tlsEnv(),
        BW_INSTANCE_ID: INSTANCE_ID,
        BW_PARTITIONS: String(PARTITIONS),
        BW_WORKERS: '2',
        BW_CHECKPOINT_SECONDS: '2',
        BW_RESCORE_SECONDS: '0',
      },
      [],
      90_000,
    );
    const connected = engine.logs.find((l) => l.includes('"connected to NATS"'));
    expect(JSON.parse(connected!)).toMatchObject({ auth: 'creds', tls: { cert: tls.clientCert } });
    await waitFor(
      async () => ((await engine!.get('/readyz')).status === 200 ? true : undefined),
      60_000,
      '/readyz',
    );

    const info = (await engine.get('/v1/info')).body as {
      cluster: {
        instance_id: string;
        members: { instance_id: string }[];
        partitions: Record<string, string>;
      };
    };
    expect(info.cluster.instance_id).toBe(INSTANCE_ID);
    expect(info.cluster.members.map((m) => m.instance_id)).toEqual([INSTANCE_ID]);
    expect(info.cluster.partitions).toEqual(
      Object.fromEntries(Array.from({ length: PARTITIONS }, (_, p) => [String(p), INSTANCE_ID])),
    );

    // 3 to 10 purchases each, core-published through the account's mapping to the partition streams.
    const events: TestEvent[] = customers.flatMap((id, i) =>
      purchaseRun(id, 0, 3 + i, { end: END, stepMs: DAY, amount: 20 + i }),
    );
    for (const e of events) expected.set(e.customer_id, (expected.get(e.customer_id) ?? 0) + 1);
    await publishCore(producer, events);
    await waitForExact(engine, expected, 60_000);
    expect(violations().slice(before)).toEqual([]);
  }, 180_000);

  it('`bellwether replay` over the same TLS with its own .creds stores every event, and the engine counts them', async () => {
    expect(engine).toBeDefined();
    const before = violations().length;
    // Two more purchases for each known customer, three for a new one.
    const events: TestEvent[] = [
      ...customers.flatMap((id) => purchaseRun(id, 100, 2, { end: END, stepMs: DAY, amount: 5 })),
      ...purchaseRun('tls-replayed', 0, 3, { end: END, stepMs: DAY, amount: 7 }),
    ];
    const file = path.join(dir, 'events.ndjson');
    await writeFile(file, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
    const { code, stderr } = await runCli(
      ['replay', file, '--format', 'ndjson'],
      { BW_NATS_URL: url, BW_NATS_CREDS: creds('replay'), ...tlsEnv(), BW_DATA_DIR: dir },
      60_000,
    );
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`replay: ${events.length} events published`);
    for (const e of events) expected.set(e.customer_id, (expected.get(e.customer_id) ?? 0) + 1);
    await waitForExact(engine!, expected, 60_000);
    expect(violations().slice(before)).toEqual([]);
    expect(await engine!.stop('SIGTERM')).toBe(0);
    engine = undefined;
  }, 120_000);

  it('a client certificate the server does not trust, or a .creds file of another operator, stops `run` with BW_ERR_NATS_AUTH (exit 1)', async () => {
    const base = {
      BW_NATS_URL: url,
      BW_PARTITIONS: String(PARTITIONS),
      BW_HTTP_PORT: '0',
      BW_DATA_DIR: path.join(dir, 'refused-data'),
    };
    // The other CA's own certificate: valid PEM, its key matches, but the server's CA did not sign it.
    const untrusted = await runCli(
      ['run'],
      {
        ...base,
        BW_NATS_CREDS: creds('engine'),
        BW_NATS_TLS_CA: tls.caCert,
        BW_NATS_TLS_CERT: path.join(dir, 'bw-other-ca.pem'),
        BW_NATS_TLS_KEY: path.join(dir, 'bw-other-ca.key'),
      },
      60_000,
    );
    expect(untrusted.code, untrusted.stderr).toBe(1);
    expect(untrusted.stderr).toContain('bellwether: BW_ERR_NATS_AUTH:');
    expect(untrusted.stderr).toContain('did not accept BW_NATS_TLS_CERT');

    const foreign = await runCli(['run'], { ...base, BW_NATS_CREDS: creds('foreign'), ...tlsEnv() }, 60_000);
    expect(foreign.code, foreign.stderr).toBe(1);
    expect(foreign.stderr).toContain('bellwether: BW_ERR_NATS_AUTH:');
    expect(foreign.stderr).toContain('Authorization Violation');
    // Neither refused start told the server anything that breaks a permission.
    expect(violations().filter((l) => !l.includes('"bw.alerts.forged"'))).toEqual([]);
  }, 120_000);
});
