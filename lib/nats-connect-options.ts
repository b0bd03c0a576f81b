/**
 * NATS connection settings → nats.js connection options. One plain, structured-clone-safe settings
 * object ({@link NatsConnectSettings}: the server list, paths of the credential and TLS files, a
 * user and password) is what travels between threads; each thread that connects (the main thread,
 * every partition worker, the simulator) builds its options from it with {@link natsConnectOptions}
 * (an authenticator is a function and cannot be cloned). The files are read once per build, not on
 * every reconnect, and checked then: a missing file, a seed that is no user seed, a certificate that
 * does not match its key or two credentials at once fail at start with BW_ERR_NATS_SETTINGS, every
 * problem listed (`connectNats` in nats-connect.ts connects and codes the server's refusals). The
 * password and the seeds are never in a message or a log line: {@link describeNatsSettings} is what
 * may be logged.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type Authenticator,
  jwtAuthenticator,
  type NodeConnectionOptions,
  nkeyAuthenticator,
  nkeys,
  usernamePasswordAuthenticator,
} from '@nats-io/transport-node';
import { BellwetherError } from '../contract/errors.js';

/** How to reach and authenticate to NATS: plain data, safe to pass to a worker thread. */
export interface NatsConnectSettings {
  /** One server or a comma-separated list: `nats://host[:port]`, `tls://host[:port]` or `host:port`. */
  natsUrl: string;
  /** Path of a `.creds` file (user JWT and seed, as `nsc` writes it). */
  natsCreds?: string | undefined;
  natsUser?: string | undefined;
  /** Secret: never logged. */
  natsPassword?: string | undefined;
  /** Path of a file holding an NKEY user seed (`SU…`). */
  natsNkeySeedFile?: string | undefined;
  /** PEM file of the CA(s) that signed the server certificate (default: Node's bundled roots). */
  natsTlsCa?: string | undefined;
  /** PEM client certificate, for servers that verify clients (`verify: true`); with natsTlsKey. */
  natsTlsCert?: string | undefined;
  natsTlsKey?: string | undefined;
}

/** Environment variable of each setting, for messages that say what to change. */
const NATS_SETTING_ENV: Readonly<Record<keyof NatsConnectSettings, string>> = {
  natsUrl: 'BW_NATS_URL',
  natsCreds: 'BW_NATS_CREDS',
  natsUser: 'BW_NATS_USER',
  natsPassword: 'BW_NATS_PASSWORD',
  natsNkeySeedFile: 'BW_NATS_NKEY_SEED_FILE',
  natsTlsCa: 'BW_NATS_TLS_CA',
  natsTlsCert: 'BW_NATS_TLS_CERT',
  natsTlsKey: 'BW_NATS_TLS_KEY',
};

const OPTIONAL_KEYS = [
  'natsCreds',
  'natsUser',
  'natsPassword',
  'natsNkeySeedFile',
  'natsTlsCa',
  'natsTlsCert',
  'natsTlsKey',
] as const satisfies readonly (keyof NatsConnectSettings)[];

/**
 * The NATS settings of a larger object (the engine's config), with the URL actually used (the
 * embedded server's when BW_NATS_URL is unset): only the connection's keys, the ones set.
 */
export function natsSettingsOf(source: Partial<NatsConnectSettings>, natsUrl: string): NatsConnectSettings {
  const settings: NatsConnectSettings = { natsUrl };
  for (const key of OPTIONAL_KEYS) {
    const value = source[key];
    if (value !== undefined && value !== '') settings[key] = value;
  }
  return settings;
}

/** The settings that only make sense against an external server (set ones, by env name). */
export function externalOnlySettings(settings: Partial<NatsConnectSettings>): string[] {
  return OPTIONAL_KEYS.filter((key) => settings[key] !== undefined && settings[key] !== '').map(
    (key) => NATS_SETTING_ENV[key],
  );
}

export interface NatsServerEntry {
  /** `host:port` as nats.js dials it (IPv6 hosts in brackets). */
  hostPort: string;
  tls: boolean;
}

const URL_FORMS = 'nats://host[:port], tls://host[:port] or host:port';
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535;
}

/** An entry as it may appear in a message: user and password, if any, left out. */
function shown(entry: string): string {
  return entry.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^/@]*@/, '$1…@');
}

/** One entry of the server list, or the reason it is not allowed. */
function parseServer(raw: string): NatsServerEntry | string {
  const entry = shown(raw);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const m = HOST_PORT.exec(raw);
    if (!m || !validPort(Number(m[2]))) return `"${entry}" is not ${URL_FORMS}`;
    return { hostPort: `${m[1]}:${Number(m[2])}`, tls: false };
  }
  if (scheme !== 'nats' && scheme !== 'tls') {
    return `"${entry}": scheme ${scheme}:// is not allowed (${URL_FORMS})`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${entry}" is not ${URL_FORMS}`;
  }
  if (url.username || url.password) {
    return `"${scheme}://…@${url.host}": credentials in the URL are not used; set BW_NATS_USER and BW_NATS_PASSWORD, BW_NATS_CREDS or BW_NATS_NKEY_SEED_FILE`;
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
    return `"${entry}" has a path or query; allowed: ${URL_FORMS}`;
  }
  const port = url.port === '' ? 4222 : Number(url.port);
  if (url.hostname === '' || !validPort(port)) return `"${entry}" is not ${URL_FORMS}`;
  return { hostPort: `${url.hostname}:${port}`, tls: scheme === 'tls' };
}

/** The server list of BW_NATS_URL: comma-separated, whitespace trimmed; problems are appended. */
export function parseServerList(natsUrl: string, problems: string[] = []): NatsServerEntry[] {
  const servers: NatsServerEntry[] = [];
  const entries = natsUrl.split(',').map((s) => s.trim());
  for (const entry of entries) {
    if (entry === '') {
      problems.push(
        `BW_NATS_URL has an empty entry (two commas in a row, or one at an end); allowed: a comma-separated list of ${URL_FORMS}`,
      );
      continue;
    }
    const parsed = parseServer(entry);
    if (typeof parsed === 'string') problems.push(`BW_NATS_URL ${parsed}`);
    else servers.push(parsed);
  }
  const tlsCount = servers.filter((s) => s.tls).length;
  if (tlsCount > 0 && tlsCount < servers.length) {
    problems.push(
      'BW_NATS_URL mixes tls:// and plain entries: TLS applies to the whole connection, write every entry with tls:// (or set BW_NATS_TLS_CA)',
    );
  }
  return servers;
}

function readSettingFile(
  key: keyof NatsConnectSettings,
  file: string,
  problems: string[],
): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    problems.push(`${NATS_SETTING_ENV[key]} ${file}: cannot be read (${code})`);
    return undefined;
  }
}

const TE = new TextEncoder();

/** A user key pair from a seed string; the problem (never the seed) when it is none. */
function userSeed(seed: string, where: string, problems: string[]): Uint8Array | undefined {
  const bytes = TE.encode(seed);
  try {
    const kp = nkeys.fromSeed(bytes);
    if (kp.getPublicKey().startsWith('U')) return bytes;
    problems.push(`${where}: the seed is not a user seed (SU…)`);
  } catch {
    problems.push(`${where}: not a valid NKEY seed`);
  }
  return undefined;
}

/** Blocks of a creds file: `-----BEGIN …-----`, the value, `------END …------` (CRLF tolerated). */
const CREDS_BLOCK = /-{3,}[^\n]*-{3,}\r?\n\s*([\w\-.=]+)\s*\r?\n\s*-{3,}[^\n]*-{3,}/g;

function parseCreds(file: string, text: string, problems: string[]): Authenticator | undefined {
  const where = `BW_NATS_CREDS ${file}`;
  const blocks = [...text.matchAll(CREDS_BLOCK)].map((m) => m[1]!);
  const jwt = blocks[0];
  const seedText = blocks[1];
  if (jwt === undefined || seedText === undefined || jwt.split('.').length !== 3) {
    problems.push(`${where}: not a .creds file (a user JWT block, then a user NKEY seed block)`);
    return undefined;
  }
  const seed = userSeed(seedText, where, problems);
  if (!seed) return undefined;
  let claims: { sub?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    problems.push(`${where}: the JWT's claims cannot be read`);
    return undefined;
  }
  const publicKey = nkeys.fromSeed(seed).getPublicKey();
  if (claims.sub !== publicKey) {
    problems.push(`${where}: the seed does not belong to the JWT's user`);
    return undefined;
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) {
    problems.push(`${where}: the user JWT expired at ${new Date(claims.exp * 1000).toISOString()}`);
    return undefined;
  }
  return jwtAuthenticator(jwt, seed);
}

function authenticatorOf(s: NatsConnectSettings, problems: string[]): Authenticator | undefined {
  const given = [
    s.natsCreds ? 'BW_NATS_CREDS' : undefined,
    s.natsNkeySeedFile ? 'BW_NATS_NKEY_SEED_FILE' : undefined,
    s.natsUser || s.natsPassword ? 'BW_NATS_USER/BW_NATS_PASSWORD' : undefined,
  ].filter((g) => g !== undefined);
  if (given.length > 1) {
    problems.push(
      `${given.join(' and ')} are set: use one way to authenticate (a .creds file, an NKEY seed file, or a user and password)`,
    );
    return undefined;
  }
  if (s.natsCreds) {
    const text = readSettingFile('natsCreds', s.natsCreds, problems);
    return text === undefined ? undefined : parseCreds(s.natsCreds, text, problems);
  }
  if (s.natsNkeySeedFile) {
    const text = readSettingFile('natsNkeySeedFile', s.natsNkeySeedFile, problems);
    if (text === undefined) return undefined;
    const seed = userSeed(text.trim(), `BW_NATS_NKEY_SEED_FILE ${s.natsNkeySeedFile}`, problems);
    return seed ? nkeyAuthenticator(seed) : undefined;
  }
  if (s.natsUser || s.natsPassword) {
    if (!s.natsUser || !s.natsPassword) {
      problems.push('BW_NATS_USER and BW_NATS_PASSWORD go together: set both or neither');
      return undefined;
    }
    return usernamePasswordAuthenticator(s.natsUser, s.natsPassword);
  }
  return undefined;
}

interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

function tlsOf(s: NatsConnectSettings, problems: string[]): TlsFiles | undefined {
  if (!s.natsTlsCa && !s.natsTlsCert && !s.natsTlsKey) return undefined;
  const tls: TlsFiles = {};
  if (Boolean(s.natsTlsCert) !== Boolean(s.natsTlsKey)) {
    problems.push('BW_NATS_TLS_CERT and BW_NATS_TLS_KEY go together: the client certificate and its key');
  }
  if (s.natsTlsCa) {
    const ca = readSettingFile('natsTlsCa', s.natsTlsCa, problems);
    if (ca !== undefined) {
      try {
        new X509Certificate(ca);
        tls.ca = ca;
      } catch {
        problems.push(`BW_NATS_TLS_CA ${s.natsTlsCa}: not a PEM certificate`);
      }
    }
  }
  if (s.natsTlsCert && s.natsTlsKey) {
    const cert = readSettingFile('natsTlsCert', s.natsTlsCert, problems);
    const key = readSettingFile('natsTlsKey', s.natsTlsKey, problems);
    let x509: X509Certificate | undefined;
    if (cert !== undefined) {
      try {
        x509 = new X509Certificate(cert);
      } catch {
        problems.push(`BW_NATS_TLS_CERT ${s.natsTlsCert}: not a PEM certificate`);
      }
    }
    if (key !== undefined) {
      try {
        const keyObject = createPrivateKey(key);
        if (x509 && !x509.checkPrivateKey(keyObject)) {
          problems.push(`BW_NATS_TLS_KEY ${s.natsTlsKey}: not the key of BW_NATS_TLS_CERT ${s.natsTlsCert}`);
        }
      } catch {
        problems.push(
          `BW_NATS_TLS_KEY ${s.natsTlsKey}: not a PEM private key (an encrypted key is not supported)`,
        );
      }
    }
    if (cert !== undefined && key !== undefined) {
      tls.cert = cert;
      tls.key = key;
    }
  }
  return tls;
}

/**
 * nats.js connection options (servers, authenticator, tls) for these settings; the caller adds its
 * own (name, reconnect policy). Reads the credential and TLS files now; throws BW_ERR_NATS_SETTINGS
 * listing every problem. TLS is required when a tls:// entry or a TLS file is given.
 */
export function natsConnectOptions(settings: NatsConnectSettings): NodeConnectionOptions {
  const problems: string[] = [];
  const servers = parseServerList(settings.natsUrl, problems);
  const authenticator = authenticatorOf(settings, problems);
  const tlsFiles = tlsOf(settings, problems);
  if (problems.length > 0) {
    throw new BellwetherError('BW_ERR_NATS_SETTINGS', problems.join('; '), { data: { problems } });
  }
  const options: NodeConnectionOptions = { servers: servers.map((s) => s.hostPort) };
  if (authenticator) options.authenticator = authenticator;
  // An object (even empty) makes nats.js insist on TLS; the files add the CA and the client cert.
  if (tlsFiles || servers.some((s) => s.tls)) options.tls = { ...tlsFiles };
  return options;
}

/** What may be logged about the settings: the servers, how the client authenticates, the file paths. */
export function describeNatsSettings(settings: NatsConnectSettings): Record<string, unknown> {
  const auth = settings.natsCreds
    ? { auth: 'creds', creds: settings.natsCreds }
    : settings.natsNkeySeedFile
      ? { auth: 'nkey', nkey_seed_file: settings.natsNkeySeedFile }
      : settings.natsUser
        ? { auth: 'user', user: settings.natsUser }
        : { auth: 'none' };
  const tls =
    settings.natsTlsCa || settings.natsTlsCert
      ? {
          tls: {
            ...(settings.natsTlsCa ? { ca: settings.natsTlsCa } : {}),
            ...(settings.natsTlsCert ? { cert: settings.natsTlsCert } : {}),
          },
        }
      : {};
  return { url: settings.natsUrl, ...auth, ...tls };
}
