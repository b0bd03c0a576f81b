/**
 * The bench's own nats-server: a free port, a temporary JetStream store, and the engine's own
 * configuration text (`natsServerConfig`, with the partition mapping). Removed when stopped.
 * `launchNatsServer` (spawn a configuration, wait for its port) is shared with the cluster's nodes
 * (nats-cluster-proc.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { natsServerConfig } from '../../engine/nats/embedded-server.js';
import { stopChild } from '../../lib/child-process.js';
import { freePort, waitForPort } from '../../lib/ports.js';

export interface BenchNats {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface NatsServerProc {
  child: ChildProcess;
  /** The last 2,000 characters the server wrote on stderr. */
  stderr(): string;
}

/**
 * Spawns `nats-server -c configFile` and resolves once it listens on `port`; SIGKILLed with the
 * bench process if still running then. Rejects (the server killed) when it cannot be started.
 */
export async function launchNatsServer(configFile: string, port: number): Promise<NatsServerProc> {
  const child = spawn('nats-server', ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const failed = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err: NodeJS.ErrnoException) => resolve(err));
  });
  if (failed) {
    throw new Error(
      failed.code === 'ENOENT'
        ? 'nats-server is not on PATH (apt-get install -y nats-server)'
        : `nats-server: ${failed.message}`,
    );
  }
  try {
    await waitForPort(port, 10_000, () =>
      child.exitCode !== null ? `nats-server exited with ${child.exitCode}` : undefined,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${String(err)}\n${stderr}`);
  }
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  child.once('exit', () => process.removeListener('exit', onExit));
  return { child, stderr: () => stderr };
}

export async function startNats(partitions: number): Promise<BenchNats> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-bench-nats-'));
  const port = await freePort();
  const configFile = path.join(dir, 'nats.conf');
  await writeFile(configFile, natsServerConfig({ port, storeDir: path.join(dir, 'js'), partitions }));
  let server: NatsServerProc;
  try {
    server = await launchNatsServer(configFile, port);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: server.child.pid!,
    async stop() {
      await stopChild(server.child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
