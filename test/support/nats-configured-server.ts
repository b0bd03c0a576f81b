/**
 * A real nats-server started from a configuration text the test writes (TLS, accounts, users,
 * operator mode): free port, temporary store, its log kept so a test can look for permission
 * violations. Nothing mocks NATS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stopChild } from '../../lib/child-process.js';
import { freePort, waitForPort } from '../../lib/ports.js';

export interface ConfiguredNats {
  port: number;
  dir: string;
  /** Everything the server logged so far (stderr). */
  log(): string;
  stop(): Promise<void>;
}

/** The parts of a configuration every test server has: loopback listen, JetStream store. */
export interface ServerBasics {
  port: number;
  storeDir: string;
}

/** Starts nats-server with the configuration `configOf` returns for a free port and a fresh store. */
export async function startConfiguredNats(
  configOf: (basics: ServerBasics) => string,
  opts: { debug?: boolean } = {},
): Promise<ConfiguredNats> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-nats-auth-'));
  const port = await freePort();
  const configFile = path.join(dir, 'nats.conf');
  await writeFile(configFile, configOf({ port, storeDir: path.join(dir, 'js') }), { mode: 0o600 });
  let logText = '';
  const child: ChildProcess = spawn('nats-server', ['-c', configFile, ...(opts.debug ? ['-D'] : [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    logText += chunk.toString();
  });
  try {
    await waitForPort(port, 10_000, () =>
      child.exitCode !== null ? `nats-server exited with ${child.exitCode}:\n${logText}` : undefined,
    );
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    dir,
    log: () => logText,
    stop: async () => {
      await stopChild(child, 'SIGTERM', 5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
