/**
 * A decentralised-auth (operator mode) setup for tests, made without the `nsc` tool: operator,
 * account and user NKEYs from the nkeys library nats.js ships (`nkeys` of @nats-io/transport-node),
 * and the three JWTs signed by hand the way nats-io/jwt v2 encodes them (header
 * `{"typ":"JWT","alg":"ed25519-nkey"}`, base64url header, claims and Ed25519 signature; `jti` the
 * base32 SHA-512/256 of the claims). The server trusts the operator JWT and gets the account JWT
 * from its memory resolver; the client gets a `.creds` file with the user JWT and seed.
 */
import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

const HEADER = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' })).toString('base64url');
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

type KeyPair = ReturnType<typeof nkeys.createUser>;

/** A JWT with these claims, issued (signed) by `issuer` about `subject`. */
function signJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = {
    jti: '',
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  claims['jti'] = base32(createHash('sha512-256').update(JSON.stringify(claims)).digest());
  const body = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = Buffer.from(issuer.sign(new TextEncoder().encode(body))).toString('base64url');
  return `${body}.${signature}`;
}

interface SubjectPermissions {
  publish: string[];
  subscribe: string[];
  /** `allow_responses: true` of a server configuration: one reply to each request, within 2 min. */
  allowResponses?: boolean;
}

/** A user JWT's `resp` as `allow_responses: true` means: one message, 2 minutes (in nanoseconds). */
const ALLOW_RESPONSES = { max: 1, ttl: 120_000_000_000 };

/** A JWT's pub or sub rule allowing exactly `subjects`: none at all is a deny of `>` (an empty allow list allows all). */
function subjectRule(subjects: string[]): { allow: string[] } | { deny: string[] } {
  return subjects.length > 0 ? { allow: subjects } : { deny: ['>'] };
}

export interface OperatorSetup {
  operatorJwt: string;
  accountPublicKey: string;
  accountJwt: string;
  /** The system account the server needs for JetStream in operator mode. */
  systemAccountPublicKey: string;
  systemAccountJwt: string;
  /** Server configuration lines: trusted operator (from this file), memory resolver, both accounts. */
  serverConfig(operatorJwtFile: string): string;
  /** A `.creds` file's text for a new user of the account (permissions unrestricted when absent). */
  userCreds(name: string, permissions?: SubjectPermissions): string;
}

const UNLIMITED = -1;

/**
 * An operator with a system account and one JetStream-enabled account; `mappings` are the account's
 * subject mappings (from → to), as `mappings = {…}` in a server configuration.
 */
export function makeOperator(opts: { mappings?: Record<string, string> } = {}): OperatorSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const system = nkeys.createAccount();
  const operatorJwt = signJwt(operator, operator.getPublicKey(), 'bw-test-operator', {
    type: 'operator',
    system_account: system.getPublicKey(),
  });
  const systemAccountJwt = signJwt(operator, system.getPublicKey(), 'SYS', {
    type: 'account',
    limits: { subs: UNLIMITED, data: UNLIMITED, payload: UNLIMITED, conn: UNLIMITED, wildcards: true },
  });
  const accountJwt = signJwt(operator, account.getPublicKey(), 'BW', {
    type: 'account',
    limits: {
      subs: UNLIMITED,
      data: UNLIMITED,
      payload: UNLIMITED,
      imports: UNLIMITED,
      exports: UNLIMITED,
      wildcards: true,
      conn: UNLIMITED,
      leaf: UNLIMITED,
      mem_storage: UNLIMITED,
      disk_storage: UNLIMITED,
      streams: UNLIMITED,
      consumer: UNLIMITED,
    },
    default_permissions: { pub: {}, sub: {} },
    ...(opts.mappings
      ? {
          mappings: Object.fromEntries(
            Object.entries(opts.mappings).map(([from, to]) => [from, [{ subject: to, weight: 100 }]]),
          ),
        }
      : {}),
  });
  return {
    operatorJwt,
    accountPublicKey: account.getPublicKey(),
    accountJwt,
    systemAccountPublicKey: system.getPublicKey(),
    systemAccountJwt,
    serverConfig(operatorJwtFile) {
      return [
        `operator: ${JSON.stringify(operatorJwtFile)}`,
        `system_account: ${system.getPublicKey()}`,
        'resolver: MEMORY',
        'resolver_preload: {',
        `  ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}`,
        `  ${system.getPublicKey()}: ${JSON.stringify(systemAccountJwt)}`,
        '}',
        '',
      ].join('\n');
    },
    userCreds(name, permissions) {
      const user = nkeys.createUser();
      const jwt = signJwt(account, user.getPublicKey(), name, {
        type: 'user',
        pub: permissions ? subjectRule(permissions.publish) : {},
        sub: permissions ? subjectRule(permissions.subscribe) : {},
        ...(permissions?.allowResponses ? { resp: ALLOW_RESPONSES } : {}),
        subs: UNLIMITED,
        data: UNLIMITED,
        payload: UNLIMITED,
      });
      const seed = new TextDecoder().decode(user.getSeed());
      return credsFile(jwt, seed);
    },
  };
}

/** The `.creds` layout `nsc generate creds` writes. */
export function credsFile(jwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}
