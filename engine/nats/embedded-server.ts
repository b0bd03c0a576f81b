/**
 * The embedded nats-server: started as a child process on loopback with JetStream, its store under
 * the data directory and encrypted at rest (AES-GCM, key in `<dir>/store.key`, mode 0600, created
 * on first start, handed to the server through its environment), and the subject mapping that
 * partitions events. Closed: only its two users (embedded-users.ts: `engine`, `tail`, NKEY seeds
 * 0600 in the same directory) may connect. Stopped with the engine.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BellwetherError } from '../../contract/errors.js';
import { partitionMapping } from '../../contract/subjects.js';
import { stopChild } from '../../lib/child-process.js';
import { waitForPort } from '../../lib/ports.js';
import type { Logger } from '../log.js';
import {
  authorizationBlock,
  type EmbeddedUser,
  embeddedSeedFile,
  embeddedUserKeys,
} from './embedded-users.js';

export interface EmbeddedNatsOptions {
  dir: string;
  port: number;
  partitions: number;
  /** Path of the executable; default `nats-server` on PATH. */
  executable?: string;
}

export interface EmbeddedNats {
  url: string;
  port: number;
  configFile: string;
  /** Seed file of each user (mode 0600). */
  seedFiles: Record<EmbeddedUser, string>;
  stop(): Promise<void>;
}

const NATS_MISSING_HINT =
  'install it with `apt-get install -y nats-server` (Debian/Ubuntu), or point Bellwether at a running server with BW_NATS_URL=nats://host:4222';

/** nats-server configuration text for the embedded server (also documented for external servers). */
export function natsServerConfig(opts: {
  port: number;
  storeDir: string;
  partitions: number;
  /** Encrypt the store with the key in this environment variable of the server. */
  keyEnv?: string;
  /** Public keys of the users allowed in (embedded-users.ts); without them the server is open (tests). */
  users?: Record<EmbeddedUser, string>;
}): string {
  const mapping = partitionMapping(opts.partitions);
  return [
    `listen: "127.0.0.1:${opts.port}"`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(opts.storeDir)}`,
    ...(opts.keyEnv ? [`  key: $${opts.keyEnv}`, '  cipher: aes'] : []),
    '}',
    'max_payload: 1MB',
    'mappings = {',
    `  ${JSON.stringify(mapping.from)}: ${JSON.stringify(mapping.to)}`,
    '}',
    ...(opts.users ? authorizationBlock(opts.users) : []),
    '',
  ].join('\n');
}

const STORE_KEY_ENV = 'BW_NATS_STORE_KEY';

/** The store's encryption key, created on first start. */
async function storeKeyOf(dir: string): Promise<string> {
  const file = path.join(dir, 'store.key');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32).toString('hex');
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

export async function startEmbeddedNats(opts: EmbeddedNatsOptions, log: Logger): Promise<EmbeddedNats> {
  const storeDir = path.join(opts.dir, 'jetstream');
  await mkdir(storeDir, { recursive: true, mode: 0o700 });
  const configFile = path.join(opts.dir, 'nats-server.conf');
  const users = await embeddedUserKeys(opts.dir);
  await writeFile(
    configFile,
    natsServerConfig({
      port: opts.port,
      storeDir,
      partitions: opts.partitions,
      keyEnv: STORE_KEY_ENV,
      users,
    }),
    { mode: 0o600 },
  );
  const storeKey = await storeKeyOf(opts.dir);
  const executable = opts.executable ?? 'nats-server';
  const child = spawn(executable, ['-c', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Quoted: the server parses a variable's value as configuration, where hex can read as a number.
    env: { PATH: process.env['PATH'] ?? '', [STORE_KEY_ENV]: JSON.stringify(storeKey) },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawned = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err: NodeJS.ErrnoException) => resolve(err));
  });
  if (spawned) {
    if (spawned.code === 'ENOENT') throw new BellwetherError('BW_ERR_NATS_SERVER_MISSING', NATS_MISSING_HINT);
    throw new BellwetherError('BW_ERR_NATS_SERVER_START', spawned.message, { cause: spawned });
  }
  try {
    await waitForPort(opts.port, 10_000, () =>
      child.exitCode !== null ? `nats-server exited with code ${child.exitCode}` : undefined,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new BellwetherError('BW_ERR_NATS_SERVER_START', stderr.trim().split('\n').slice(-3).join(' | '), {
      cause: err,
    });
  }
  const onExit = (): void => {
    child.kill('SIGTERM');
  };
  process.once('exit', onExit);
  log.info({ component: 'nats', port: opts.port, storeDir }, 'embedded nats-server started');
  return {
    url: `nats://127.0.0.1:${opts.port}`,
    port: opts.port,
    configFile,
    seedFiles: { engine: embeddedSeedFile(opts.dir, 'engine'), tail: embeddedSeedFile(opts.dir, 'tail') },
    stop: async () => {
      process.removeListener('exit', onExit);
      await stopChild(child, 'SIGTERM', 5000);
    },
  };
}
