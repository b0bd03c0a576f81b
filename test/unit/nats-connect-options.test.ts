/**
 * NATS settings → connection options: the server list forms, the credential files (creds, NKEY
 * seed) turned into authenticators that sign the server's nonce, TLS files read and checked, and
 * every invalid combination refused with BW_ERR_NATS_SETTINGS listing each problem and no secret.
 * Certificates come from the real `openssl`; NKEYs and JWTs from the nkeys library nats.js ships.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Auth, nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BellwetherError } from '../../contract/errors.js';
import {
  describeNatsSettings,
  externalOnlySettings,
  type NatsConnectSettings,
  natsConnectOptions,
  natsSettingsOf,
  parseServerList,
} from '../../lib/nats-connect-options.js';
import { credsFile, makeOperator } from '../support/nats-jwt.js';
import { makeTlsFiles, type TlsFiles } from '../support/nats-tls-files.js';

let dir: string;
let tls: TlsFiles;
const file = (name: string): string => path.join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-nats-opts-'));
  tls = await makeTlsFiles(dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The BW_ERR_NATS_SETTINGS problems these settings raise (fails when they raise none). */
function problemsOf(settings: NatsConnectSettings): string[] {
  try {
    natsConnectOptions(settings);
  } catch (err) {
    expect(err).toBeInstanceOf(BellwetherError);
    expect((err as BellwetherError).code).toBe('BW_ERR_NATS_SETTINGS');
    return ((err as BellwetherError).data as { problems: string[] }).problems;
  }
  throw new Error('no BW_ERR_NATS_SETTINGS');
}

/** What the authenticator sends the server for a nonce. */
function authFor(settings: NatsConnectSettings, nonce = 'nonce-123'): Record<string, string | undefined> {
  const { authenticator } = natsConnectOptions(settings);
  expect(typeof authenticator).toBe('function');
  return (authenticator as (nonce?: string) => Auth)(nonce) as unknown as Record<string, string | undefined>;
}

function verifies(publicKey: string, nonce: string, sig: string): boolean {
  return nkeys.fromPublic(publicKey).verify(new TextEncoder().encode(nonce), nkeys.decode(sig));
}

describe('server list', () => {
  it.each([
    ['nats://127.0.0.1:4222', ['127.0.0.1:4222'], false],
    ['nats://nats.internal', ['nats.internal:4222'], false],
    ['10.0.0.5:4333', ['10.0.0.5:4333'], false],
    [' nats://a:4222 , b:4223,nats://c ', ['a:4222', 'b:4223', 'c:4222'], false],
    ['nats://[::1]:5000,[fd00::2]:4222', ['[::1]:5000', '[fd00::2]:4222'], false],
    ['tls://n1.example.com:4222,tls://n2.example.com', ['n1.example.com:4222', 'n2.example.com:4222'], true],
  ])('%s connects to %j (TLS required: %s)', (url, servers, tls) => {
    const options = natsConnectOptions({ natsUrl: url });
    expect(options.servers).toEqual(servers);
    expect(options.tls !== undefined).toBe(tls);
    expect(options.authenticator).toBeUndefined();
  });

  it.each([
    ['http://a:4222', 'scheme http:// is not allowed'],
    ['ws://a:4222', 'scheme ws:// is not allowed'],
    ['localhost', 'is not nats://host[:port], tls://host[:port] or host:port'],
    ['a:0', 'is not nats://'],
    ['nats://a:70000', 'is not nats://'],
    ['a:4222,,b:4222', 'has an empty entry'],
    ['a:4222,', 'has an empty entry'],
    ['nats://a:4222/path', 'has a path or query'],
    ['tls://a:4222,nats://b:4222', 'mixes tls:// and plain entries'],
  ])('%s is refused: %s', (url, said) => {
    const problems = problemsOf({ natsUrl: url });
    expect(problems.join('\n')).toContain(said);
  });

  it('refuses user and password in a URL without repeating them', () => {
    for (const url of ['nats://bw:hunter2@a:4222', 'bw:hunter2@a:4222']) {
      const problems = problemsOf({ natsUrl: url });
      expect(problems).toHaveLength(1);
      expect(problems[0]).not.toContain('hunter2');
    }
    expect(problemsOf({ natsUrl: 'nats://bw:hunter2@a:4222' })[0]).toContain('BW_NATS_USER');
  });

  it('keeps every entry of a valid list in order', () => {
    expect(parseServerList('tls://a:1, tls://b:2')).toEqual([
      { hostPort: 'a:1', tls: true },
      { hostPort: 'b:2', tls: true },
    ]);
  });
});

describe('credentials', () => {
  it('signs the server nonce with the seed of a .creds file and sends its JWT', async () => {
    const creds = makeOperator().userCreds('engine');
    await writeFile(file('engine.creds'), creds);
    const jwt = creds.split('\n')[1]!;
    const auth = authFor({ natsUrl: 'a:4222', natsCreds: file('engine.creds') }, 'abc');
    expect(auth['jwt']).toBe(jwt);
    expect(verifies(auth['nkey']!, 'abc', auth['sig']!)).toBe(true);
  });

  it('reads a .creds file with Windows line ends', async () => {
    const creds = makeOperator().userCreds('engine');
    await writeFile(file('crlf.creds'), creds.replaceAll('\n', '\r\n'));
    const auth = authFor({ natsUrl: 'a:4222', natsCreds: file('crlf.creds') });
    expect(auth['jwt']).toBe(creds.split('\n')[1]);
  });

  it('refuses a .creds file whose seed belongs to another user, or that is no creds file', async () => {
    const op = makeOperator();
    const jwtOfOne = op.userCreds('one').split('\n')[1]!;
    const seedOfTwo = new TextDecoder().decode(nkeys.createUser().getSeed());
    await writeFile(file('mixed.creds'), credsFile(jwtOfOne, seedOfTwo));
    await writeFile(file('garbage.creds'), 'not a creds file\n');
    expect(problemsOf({ natsUrl: 'a:4222', natsCreds: file('mixed.creds') })).toEqual([
      `BW_NATS_CREDS ${file('mixed.creds')}: the seed does not belong to the JWT's user`,
    ]);
    expect(problemsOf({ natsUrl: 'a:4222', natsCreds: file('garbage.creds') })[0]).toContain(
      'not a .creds file',
    );
  });

  it('signs the nonce with an NKEY seed file and sends its public key', async () => {
    const user = nkeys.createUser();
    await writeFile(file('user.nk'), `${new TextDecoder().decode(user.getSeed())}\n`);
    const auth = authFor({ natsUrl: 'a:4222', natsNkeySeedFile: file('user.nk') }, 'xyz');
    expect(auth['nkey']).toBe(user.getPublicKey());
    expect(verifies(user.getPublicKey(), 'xyz', auth['sig']!)).toBe(true);
  });

  it('refuses an account seed or garbage where a user seed belongs, without printing it', async () => {
    const accountSeed = new TextDecoder().decode(nkeys.createAccount().getSeed());
    await writeFile(file('account.nk'), accountSeed);
    await writeFile(file('junk.nk'), 'SUNOTASEED');
    const account = problemsOf({ natsUrl: 'a:4222', natsNkeySeedFile: file('account.nk') });
    expect(account).toEqual([
      `BW_NATS_NKEY_SEED_FILE ${file('account.nk')}: the seed is not a user seed (SU…)`,
    ]);
    expect(account[0]).not.toContain(accountSeed);
    expect(problemsOf({ natsUrl: 'a:4222', natsNkeySeedFile: file('junk.nk') })[0]).toContain(
      'not a valid NKEY seed',
    );
  });

  it('sends user and password', () => {
    const auth = authFor({ natsUrl: 'a:4222', natsUser: 'bw', natsPassword: 's3cret' });
    expect(auth).toEqual({ user: 'bw', pass: 's3cret' });
  });

  it('refuses two ways to authenticate and a user without password, never echoing the password', async () => {
    await writeFile(file('user2.nk'), new TextDecoder().decode(nkeys.createUser().getSeed()));
    const both = problemsOf({
      natsUrl: 'a:4222',
      natsCreds: file('engine.creds'),
      natsUser: 'bw',
      natsPassword: 'hunter2',
    });
    expect(both).toEqual([
      'BW_NATS_CREDS and BW_NATS_USER/BW_NATS_PASSWORD are set: use one way to authenticate (a .creds file, an NKEY seed file, or a user and password)',
    ]);
    expect(problemsOf({ natsUrl: 'a:4222', natsPassword: 'hunter2' })).toEqual([
      'BW_NATS_USER and BW_NATS_PASSWORD go together: set both or neither',
    ]);
    expect(
      problemsOf({
        natsUrl: 'a:4222',
        natsNkeySeedFile: file('user2.nk'),
        natsUser: 'bw',
        natsPassword: 'x',
      })[0],
    ).toContain('BW_NATS_NKEY_SEED_FILE and BW_NATS_USER/BW_NATS_PASSWORD are set');
  });

  it('says which file is missing', () => {
    expect(problemsOf({ natsUrl: 'a:4222', natsCreds: file('absent.creds') })).toEqual([
      `BW_NATS_CREDS ${file('absent.creds')}: cannot be read (ENOENT)`,
    ]);
  });
});

describe('TLS', () => {
  it('reads the CA, client certificate and key once, and requires TLS', async () => {
    const options = natsConnectOptions({
      natsUrl: 'nats://localhost:4222',
      natsTlsCa: tls.caCert,
      natsTlsCert: tls.clientCert,
      natsTlsKey: tls.clientKey,
    });
    expect(options.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect(options.tls?.cert).toContain('BEGIN CERTIFICATE');
    expect(options.tls?.key).toContain('PRIVATE KEY');
    expect(options.tls?.caFile).toBeUndefined();
  });

  it('refuses a certificate without its key, a key of another certificate, and a CA that is not PEM', async () => {
    await writeFile(file('not-a-cert.pem'), 'hello\n');
    expect(problemsOf({ natsUrl: 'a:4222', natsTlsCert: tls.clientCert })).toEqual([
      'BW_NATS_TLS_CERT and BW_NATS_TLS_KEY go together: the client certificate and its key',
    ]);
    expect(problemsOf({ natsUrl: 'a:4222', natsTlsCert: tls.clientCert, natsTlsKey: tls.serverKey })).toEqual(
      [`BW_NATS_TLS_KEY ${tls.serverKey}: not the key of BW_NATS_TLS_CERT ${tls.clientCert}`],
    );
    expect(problemsOf({ natsUrl: 'a:4222', natsTlsCa: file('not-a-cert.pem') })).toEqual([
      `BW_NATS_TLS_CA ${file('not-a-cert.pem')}: not a PEM certificate`,
    ]);
  });
});

describe('settings', () => {
  it('lists every problem at once', () => {
    const problems = problemsOf({
      natsUrl: 'http://x:1,y',
      natsCreds: file('absent.creds'),
      natsTlsKey: tls.clientKey,
    });
    expect(problems).toHaveLength(4);
  });

  it('crosses a thread boundary as plain data and builds the same options there', async () => {
    const settings = natsSettingsOf(
      { natsUrl: 'ignored', natsCreds: file('engine.creds'), natsTlsCa: tls.caCert, natsUser: '' },
      'tls://localhost:4222',
    );
    expect(settings).toEqual({
      natsUrl: 'tls://localhost:4222',
      natsCreds: file('engine.creds'),
      natsTlsCa: tls.caCert,
    });
    const clone = structuredClone(settings);
    expect(natsConnectOptions(clone).servers).toEqual(natsConnectOptions(settings).servers);
    expect(externalOnlySettings(settings)).toEqual(['BW_NATS_CREDS', 'BW_NATS_TLS_CA']);
  });

  it('describes the settings for a log line without the password', () => {
    const described = describeNatsSettings({
      natsUrl: 'nats://a:4222',
      natsUser: 'bw',
      natsPassword: 'hunter2',
      natsTlsCa: '/etc/bw/ca.pem',
    });
    expect(described).toEqual({
      url: 'nats://a:4222',
      auth: 'user',
      user: 'bw',
      tls: { ca: '/etc/bw/ca.pem' },
    });
    expect(JSON.stringify(described)).not.toContain('hunter2');
  });
});
