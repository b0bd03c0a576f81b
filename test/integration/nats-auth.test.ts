import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BellwetherError } from '../../contract/errors.js';
import { connectNats } from '../../lib/nats-connect.js';
import type { NatsConnectSettings } from '../../lib/nats-connect-options.js';
import { distPath } from '../../lib/paths.js';
import { type ConfiguredNats, startConfiguredNats } from '../support/nats-configured-server.js';
import { makeOperator } from '../support/nats-jwt.js';
import { makeTlsFiles, type TlsFiles } from '../support/nats-tls-files.js';

let dir: string;
let tls: TlsFiles;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-nats-auth-files-'));
  tls = await makeTlsFiles(dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Core publish → subscription, then a stream created and a JetStream publish acknowledged. */
async function roundTrip(nc: NatsConnection, stream: string): Promise<void> {
  const sub = nc.subscribe(`${stream}.core`, { max: 1 });
  nc.publish(`${stream}.core`, 'ping');
  for await (const m of sub) expect(m.string()).toBe('ping');
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.js.>`] });
  const ack = await jetstream(nc).publish(`${stream}.js.1`, 'hello');
  expect(ack).toMatchObject({ stream, seq: 1 });
  await nc.close();
}

/** The coded error connecting with these settings gives (fails when it connects). */
async function refusal(settings: NatsConnectSettings, timeout?: number): Promise<BellwetherError> {
  try {
    const nc = await connectNats(settings, timeout ? { timeout } : {});
    await nc.close();
  } catch (err) {
    expect(err).toBeInstanceOf(BellwetherError);
    return err as BellwetherError;
  }
  throw new Error('connected');
}

describe('TLS with client certificates, users with a password or an NKEY', () => {
  let server: ConfiguredNats;
  let url: string;
  const nkeyUser = nkeys.createUser();
  let seedFile: string;
  const mtls = () => ({ natsTlsCa: tls.caCert, natsTlsCert: tls.clientCert, natsTlsKey: tls.clientKey });

  beforeAll(async () => {
    seedFile = path.join(dir, 'engine.nk');
    await writeFile(seedFile, `${new TextDecoder().decode(nkeyUser.getSeed())}\n`, { mode: 0o600 });
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
        'accounts { BW { jetstream: enabled, users: [',
        '  { user: bw, password: "s3cret-pw" }',
        `  { nkey: ${nkeyUser.getPublicKey()} }`,
        '] } }',
      ].join('\n'),
    );
    url = `tls://localhost:${server.port}`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('a user and password with the client certificate publish and create a stream', async () => {
    const nc = await connectNats({ natsUrl: url, natsUser: 'bw', natsPassword: 's3cret-pw', ...mtls() });
    await roundTrip(nc, 'T_PASSWORD');
  });

  it('an NKEY user signs in with its seed file', async () => {
    const nc = await connectNats({ natsUrl: url, natsNkeySeedFile: seedFile, ...mtls() });
    await roundTrip(nc, 'T_NKEY');
  });

  it('a wrong password or no credentials is refused as an authorization violation', async () => {
    for (const creds of [{ natsUser: 'bw', natsPassword: 'wrong' }, {}]) {
      const err = await refusal({ natsUrl: url, ...creds, ...mtls() });
      expect(err.code).toBe('BW_ERR_NATS_AUTH');
      expect(err.message).toContain('Authorization Violation');
      expect(err.message).toContain('BW_NATS_USER/BW_NATS_PASSWORD');
      expect(err.message).not.toContain('wrong');
    }
  });

  it('an NKEY the server does not know is refused', async () => {
    const stranger = path.join(dir, 'stranger.nk');
    await writeFile(stranger, new TextDecoder().decode(nkeys.createUser().getSeed()));
    const err = await refusal({ natsUrl: url, natsNkeySeedFile: stranger, ...mtls() });
    expect(err.code).toBe('BW_ERR_NATS_AUTH');
    expect(err.message).toContain('Authorization Violation');
  });

  it('a server certificate from another CA, or no CA at all, fails TLS', async () => {
    const otherCa = await refusal({
      natsUrl: url,
      natsUser: 'bw',
      natsPassword: 's3cret-pw',
      ...mtls(),
      natsTlsCa: tls.otherCaCert,
    });
    expect(otherCa.code).toBe('BW_ERR_NATS_AUTH');
    expect(otherCa.message).toContain('TLS failed');
    expect(otherCa.message).toContain('BW_NATS_TLS_CA');
    const plain = await refusal({
      natsUrl: `nats://localhost:${server.port}`,
      natsUser: 'bw',
      natsPassword: 'x',
    });
    expect(plain.code).toBe('BW_ERR_NATS_AUTH');
    expect(plain.message).toContain('TLS failed');
  });

  it('no client certificate, or one the server does not trust, is named as the reason', async () => {
    const none = await refusal(
      { natsUrl: url, natsUser: 'bw', natsPassword: 's3cret-pw', natsTlsCa: tls.caCert },
      2000,
    );
    expect(none.code).toBe('BW_ERR_NATS_AUTH');
    expect(none.message).toContain('set BW_NATS_TLS_CERT and BW_NATS_TLS_KEY');
    // A certificate the server's CA did not sign: the other CA's own, used as a client certificate.
    const selfSigned = await refusal(
      {
        natsUrl: url,
        natsUser: 'bw',
        natsPassword: 's3cret-pw',
        natsTlsCa: tls.caCert,
        natsTlsCert: path.join(dir, 'bw-other-ca.pem'),
        natsTlsKey: path.join(dir, 'bw-other-ca.key'),
      },
      2000,
    );
    expect(selfSigned.code).toBe('BW_ERR_NATS_AUTH');
    expect(selfSigned.message).toContain('did not accept BW_NATS_TLS_CERT');
    const log = server.log();
    expect(log).toContain("client didn't provide a certificate");
  });
});

describe('operator mode: a .creds file over TLS', () => {
  const operator = makeOperator();
  let server: ConfiguredNats;
  let credsPath: string;
  let url: string;

  beforeAll(async () => {
    credsPath = path.join(dir, 'engine.creds');
    await writeFile(credsPath, operator.userCreds('engine'), { mode: 0o600 });
    await writeFile(path.join(dir, 'operator.jwt'), operator.operatorJwt);
    server = await startConfiguredNats(({ port, storeDir }) =>
      [
        `listen: "127.0.0.1:${port}"`,
        `tls { cert_file: ${JSON.stringify(tls.serverCert)}, key_file: ${JSON.stringify(tls.serverKey)} }`,
        `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
        operator.serverConfig(path.join(dir, 'operator.jwt')),
      ].join('\n'),
    );
    url = `tls://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('the user of a .creds file publishes and creates a stream', async () => {
    const nc = await connectNats({ natsUrl: url, natsCreds: credsPath, natsTlsCa: tls.caCert });
    await roundTrip(nc, 'T_CREDS');
  });

  it('a .creds file of another operator, or none, is refused', async () => {
    const foreign = path.join(dir, 'foreign.creds');
    await writeFile(foreign, makeOperator().userCreds('intruder'));
    for (const creds of [{ natsCreds: foreign }, {}]) {
      const err = await refusal({ natsUrl: url, natsTlsCa: tls.caCert, ...creds });
      expect(err.code).toBe('BW_ERR_NATS_AUTH');
      expect(err.message).toContain('Authorization Violation');
    }
  });

  it('a worker thread builds the options from the settings it was sent and connects', async () => {
    const settings: NatsConnectSettings = { natsUrl: url, natsCreds: credsPath, natsTlsCa: tls.caCert };
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.module).then(async ({ connectNats }) => {
        try {
          const nc = await connectNats(workerData.settings, { name: 'thread' });
          nc.publish('thread.hello', 'hi');
          await nc.flush();
          parentPort.postMessage({ ok: true, server: nc.info.server_name });
          await nc.close();
        } catch (err) {
          parentPort.postMessage({ ok: false, code: err.code, message: err.message });
        }
      });`;
    const run = (s: NatsConnectSettings) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const worker = new Worker(code, {
          eval: true,
          workerData: { module: pathToFileURL(distPath('lib', 'nats-connect.js')).href, settings: s },
        });
        worker.once('message', (m: Record<string, unknown>) => {
          resolve(m);
          void worker.terminate();
        });
        worker.once('error', reject);
      });
    expect(await run(settings)).toMatchObject({ ok: true });
    expect(await run({ ...settings, natsCreds: path.join(dir, 'absent.creds') })).toMatchObject({
      ok: false,
      code: 'BW_ERR_NATS_SETTINGS',
    });
  });
});

describe('a list of servers', () => {
  let first: ConfiguredNats;
  let second: ConfiguredNats;
  const plain = ({ port }: { port: number }) => `listen: "127.0.0.1:${port}"\n`;

  beforeAll(async () => {
    first = await startConfiguredNats(plain);
    second = await startConfiguredNats(plain);
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
  });

  it('moves to the next server when its server stops, and connects when the first is down', async () => {
    const natsUrl = ` nats://127.0.0.1:${first.port} , 127.0.0.1:${second.port} `;
    const nc = await connectNats(
      { natsUrl },
      { noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 },
    );
    expect(nc.info?.port).toBe(first.port);
    const reconnected = (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') return;
    })();
    await first.stop();
    await reconnected;
    expect(nc.info?.port).toBe(second.port);
    await nc.close();
    const again = await connectNats({ natsUrl }, { noRandomize: true });
    expect(again.info?.port).toBe(second.port);
    await again.close();
  });
});
