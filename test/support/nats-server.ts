/**
 * A real nats-server for one test file: free port, temporary store, the same partition mapping
 * the engine's embedded server uses. Nothing mocks NATS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { natsServerConfig } from '../../engine/nats-embedded.js';

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not open port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
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
