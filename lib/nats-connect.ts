/**
 * Connecting to NATS with {@link NatsConnectSettings}: the options are built in the calling thread
 * (nats-connect-options.ts) and every failure becomes a coded error: BW_ERR_NATS_SETTINGS before
 * any connection, BW_ERR_NATS_AUTH when the server refuses the client (credentials, TLS),
 * BW_ERR_NATS_CONNECT when no server answers. The message says what to check; the error's `data`
 * is {@link describeNatsSettings}, never a password or a seed.
 */
import net from 'node:net';
import { connect, errors, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { BellwetherError } from '../contract/errors.js';
import {
  describeNatsSettings,
  type NatsConnectSettings,
  natsConnectOptions,
} from './nats-connect-options.js';

/** Node TLS and certificate errors: the handshake or the peer's certificate failed. */
function isTlsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : '';
  return (
    (typeof code === 'string' &&
      /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL|HOSTNAME_MISMATCH)/.test(code)) ||
    /\b(tls|ssl|certificate)\b/i.test(message)
  );
}

/** The root cause of a nats.js error (it wraps transport errors in `cause`). */
function rootCause(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 5 && e instanceof Error && e.cause !== undefined; i++) e = e.cause;
  return e;
}

/** What a server says in the INFO line it sends before any TLS or authentication. */
interface ServerInfo {
  tls_required?: boolean;
  tls_verify?: boolean;
}

const PROBE_MS = 2_000;

/** The first INFO of a server (host:port), or undefined when it sends none within PROBE_MS. */
function probeInfo(hostPort: string): Promise<ServerInfo | undefined> {
  const colon = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(colon + 1));
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect({ host, port });
    const done = (info: ServerInfo | undefined): void => {
      socket.destroy();
      resolve(info);
    };
    socket.setTimeout(PROBE_MS, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end < 0) return;
      try {
        done(text.startsWith('INFO ') ? (JSON.parse(text.slice(5, end)) as ServerInfo) : undefined);
      } catch {
        done(undefined);
      }
    });
  });
}

/**
 * A server that verifies client certificates closes the connection after the TLS handshake when it
 * refuses the client's certificate (or gets none); nats.js does not see the close and reports a
 * timeout. The server's INFO says whether it verifies clients: then the timeout was that refusal.
 */
async function clientCertRefusal(
  options: NodeConnectionOptions,
  settings: NatsConnectSettings,
): Promise<string | undefined> {
  const servers = Array.isArray(options.servers) ? options.servers : [];
  for (const server of servers) {
    const info = await probeInfo(server);
    if (info === undefined) continue;
    if (info.tls_verify !== true) return undefined;
    return settings.natsTlsCert
      ? `the server verifies client certificates and did not accept BW_NATS_TLS_CERT ${settings.natsTlsCert} (is it signed by a CA in the server's ca_file?)`
      : 'the server verifies client certificates (tls verify): set BW_NATS_TLS_CERT and BW_NATS_TLS_KEY';
  }
  return undefined;
}

/** A coded error for a failed connect: refused (credentials, TLS) or unreachable. */
function natsConnectError(err: unknown, settings: NatsConnectSettings): BellwetherError {
  if (err instanceof BellwetherError) return err;
  const root = rootCause(err);
  const said = [err, root]
    .filter((e, i, all) => e instanceof Error && all.indexOf(e) === i)
    .map((e) => (e as Error).message)
    .join(': ');
  const data = describeNatsSettings(settings);
  if (err instanceof errors.AuthorizationError || err instanceof errors.UserAuthenticationExpiredError) {
    return new BellwetherError(
      'BW_ERR_NATS_AUTH',
      `${settings.natsUrl}: ${said} (check BW_NATS_CREDS, BW_NATS_NKEY_SEED_FILE or BW_NATS_USER/BW_NATS_PASSWORD)`,
      { cause: err, data },
    );
  }
  if (isTlsError(err) || isTlsError(root)) {
    return new BellwetherError(
      'BW_ERR_NATS_AUTH',
      `${settings.natsUrl}: TLS failed: ${said} (check BW_NATS_TLS_CA, BW_NATS_TLS_CERT, BW_NATS_TLS_KEY and the tls:// scheme)`,
      { cause: err, data },
    );
  }
  return new BellwetherError('BW_ERR_NATS_CONNECT', `${settings.natsUrl}: ${said}`, { cause: err, data });
}

/** Options a caller adds to the settings' own: its name, reconnect policy and so on. */
export type NatsClientOptions = Omit<
  NodeConnectionOptions,
  'servers' | 'authenticator' | 'tls' | 'user' | 'pass' | 'token'
>;

/** Builds the options and connects; every failure is a coded error (see {@link natsConnectError}). */
export async function connectNats(
  settings: NatsConnectSettings,
  client: NatsClientOptions = {},
): Promise<NatsConnection> {
  const options = natsConnectOptions(settings);
  try {
    return await connect({ ...client, ...options });
  } catch (err) {
    if (err instanceof errors.TimeoutError && options.tls) {
      const refusal = await clientCertRefusal(options, settings);
      if (refusal) {
        throw new BellwetherError('BW_ERR_NATS_AUTH', `${settings.natsUrl}: ${refusal}`, {
          cause: err,
          data: describeNatsSettings(settings),
        });
      }
    }
    throw natsConnectError(err, settings);
  }
}
