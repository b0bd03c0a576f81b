/**
 * A real nats-server for one test file: free port, temporary store, the same partition mapping
 * the engine's embedded server uses. Nothing mocks NATS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { natsServerConfig } from '../../engine/nats/embedded-server.js';
import { stopChild } from '../../lib/child-process.js';
import { freePort, waitForPort } from '../../lib/ports.js';

export interface TestNats {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Stops the server process (store kept) and starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops the server process, keeping its store. */
  stopOnly(): Promise<void>;
  /** Starts the server again after stopOnly. */
  startAgain(): Promise<void>;
}

export async function startNats(partitions: number): Promise<TestNats> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-nats-'));
  const port = await freePort();
  const configFile = path.join(dir, 'nats.conf');
  await writeFile(configFile, natsServerConfig({ port, storeDir: path.join(dir, 'js'), partitions }));
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn('nats-server', ['-c', configFile], { stdio: 'ignore' });
    await waitForPort(port);
  };
  const kill = async (): Promise<void> => {
    await stopChild(child);
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    restart: async () => {
      await kill();
      await launch();
    },
    stopOnly: kill,
    startAgain: launch,
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
