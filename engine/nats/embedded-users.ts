/**
 * The users of the embedded nats-server. The server refuses every connection that is not one of
 * them (docs/nats-security.md, "The embedded server"):
 * - `engine`  the engine itself (main thread, partition workers, the simulated feed), and the
 *             operator tools that need the JetStream API (`bellwether dlq read`); no restriction.
 * - `tail`    local tools: `bellwether tail`, `bellwether replay`, an application publishing
 *             events. Subscribes to alerts, rule actions, segment changes and dead letters, and
 *             publishes events; no JetStream API, so it can neither read the events streams nor
 *             create, change or delete a stream, and it cannot publish into `bw.audit.>`.
 * Each user is an NKEY: its seed in `<nats dir>/<user>.nkey` (mode 0600), generated on the first
 * start and reused; the server's configuration holds only the public keys.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';

export type EmbeddedUser = 'engine' | 'tail';

/** The seed file of an embedded user, in the embedded server's directory (`<data dir>/nats`). */
export function embeddedSeedFile(natsDir: string, user: EmbeddedUser): string {
  return path.join(natsDir, `${user}.nkey`);
}

/**
 * The inbox prefix of the `tail` user's connections: it may subscribe to its own replies (the
 * acknowledgements of a JetStream publish) but not to `_INBOX.>`, where the engine's replies go
 * (JetStream API answers and the messages its workers pull from the events streams).
 */
export const TAIL_INBOX_PREFIX = '_INBOX_tail';

/** What the `tail` user may do. nats-server 2.9 checks a publish after the subject mapping, hence `bw.part.>`. */
export const TAIL_PERMISSIONS = {
  publish: ['bw.events.>', 'bw.part.>'],
  subscribe: ['bw.alerts.>', 'bw.actions.>', 'bw.segments.>', 'bw.dlq.>', `${TAIL_INBOX_PREFIX}.>`],
} as const;

const TE = new TextEncoder();

/** The public key of the user whose seed is in `file`; the seed is generated (0600) when absent. */
async function userPublicKey(file: string): Promise<string> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === undefined) {
    const kp = nkeys.createUser();
    await writeFile(file, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600, flag: 'wx' });
    return kp.getPublicKey();
  }
  // A copy restored with a wider mode is narrowed again: the seed is the user.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  try {
    const kp = nkeys.fromSeed(TE.encode(text.trim()));
    const key = kp.getPublicKey();
    if (key.startsWith('U')) return key;
  } catch {
    // reported below
  }
  throw new BellwetherError(
    'BW_ERR_NATS_SERVER_START',
    `${file} does not hold an NKEY user seed (SU…): remove it and a new one is generated at start`,
  );
}

/** Every embedded user's public key, seeds created on first use; `dir` is the embedded server's. */
export async function embeddedUserKeys(dir: string): Promise<Record<EmbeddedUser, string>> {
  return {
    engine: await userPublicKey(embeddedSeedFile(dir, 'engine')),
    tail: await userPublicKey(embeddedSeedFile(dir, 'tail')),
  };
}

const list = (subjects: readonly string[]): string =>
  `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;

/** The `authorization` block of the embedded server's configuration: these two users, nobody else. */
export function authorizationBlock(keys: Record<EmbeddedUser, string>): string[] {
  return [
    'authorization {',
    '  users = [',
    `    { nkey: ${JSON.stringify(keys.engine)} }`,
    `    { nkey: ${JSON.stringify(keys.tail)}, permissions: {`,
    `        publish: { allow: ${list(TAIL_PERMISSIONS.publish)} }`,
    `        subscribe: { allow: ${list(TAIL_PERMISSIONS.subscribe)} } } }`,
    '  ]',
    '}',
  ];
}
