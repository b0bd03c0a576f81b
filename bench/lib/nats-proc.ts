/**
 * The bench's own nats-server: a free port, a temporary JetStream store, and the engine's own
 * configuration text (`natsServerConfig`, with the partition mapping). Removed when stopped.
 */
import { spawn } from 'node:child_process';
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

export async function startNats(partitions: number): Promise<BenchNats> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-bench-nats-'));
  const port = await freePort();
  const configFile = path.join(dir, 'nats.conf');
  await writeFile(configFile, natsServerConfig({ port, storeDir: path.join(dir, 'js'), partitions }));
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
    await rm(dir, { recursive: true, force: true });
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
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${String(err)}\n${stderr}`);
  }
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      process.removeListener('exit', onExit);
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
