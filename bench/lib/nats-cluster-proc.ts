/**
 * A 3-node nats-server cluster on loopback for the bench's cluster phase: each node the engine's
 * own configuration text (`natsServerConfig`: JetStream, its own store, the partition mapping) with
 * a server name and a `cluster` block routing to the other two, on free ports. Resolves once every
 * node answers JetStream requests (a meta leader is elected). Stopped and removed together.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsServerConfig } from '../../engine/nats/embedded-server.js';
import { stopChild } from '../../lib/child-process.js';
import { freePort } from '../../lib/ports.js';
import { launchNatsServer, type NatsServerProc } from './nats-proc.js';
import { sleep } from './report.js';

const NODES = 3;

export interface BenchNatsCluster {
  /** Client URL of each node. */
  urls: string[];
  /** Process id of each node. */
  pids: number[];
  stop(): Promise<void>;
}

/** The cluster part of a node's configuration (appended to `natsServerConfig`'s text). */
function clusterBlock(name: string, clusterPort: number, routes: number[]): string {
  return [
    `server_name: ${name}`,
    'cluster {',
    '  name: bw-bench',
    `  listen: "127.0.0.1:${clusterPort}"`,
    '  routes: [',
    ...routes.map((port) => `    "nats-route://127.0.0.1:${port}"`),
    '  ]',
    '}',
    '',
  ].join('\n');
}

/** JetStream answers an account-info request on this URL (the cluster has a meta leader). */
async function jetStreamAnswers(url: string): Promise<boolean> {
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: url, reconnect: false, timeout: 2_000 });
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    await jsm.getAccountInfo();
    return true;
  } catch {
    return false;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

export async function startNatsCluster(partitions: number, timeoutMs = 60_000): Promise<BenchNatsCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-bench-nats-cluster-'));
  const ports: { port: number; clusterPort: number }[] = [];
  for (let i = 0; i < NODES; i++) ports.push({ port: await freePort(), clusterPort: await freePort() });
  const servers: NatsServerProc[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => stopChild(s.child, 'SIGTERM', 10_000)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const configs = await Promise.all(
      ports.map(async ({ port, clusterPort }, i) => {
        const name = `n${i + 1}`;
        const storeDir = path.join(dir, name, 'js');
        await mkdir(storeDir, { recursive: true });
        const configFile = path.join(dir, name, 'nats.conf');
        const routes = ports.filter((_, j) => j !== i).map((p) => p.clusterPort);
        await writeFile(
          configFile,
          natsServerConfig({ port, storeDir, partitions }) + clusterBlock(name, clusterPort, routes),
        );
        return { configFile, port };
      }),
    );
    // Started together: each node waits for its routes before JetStream elects a meta leader.
    const launched = await Promise.allSettled(configs.map((c) => launchNatsServer(c.configFile, c.port)));
    for (const l of launched) if (l.status === 'fulfilled') servers.push(l.value);
    const failed = launched.find((l) => l.status === 'rejected');
    if (failed) throw failed.reason;
    const urls = ports.map((p) => `nats://127.0.0.1:${p.port}`);
    const deadline = performance.now() + timeoutMs;
    while (!(await Promise.all(urls.map(jetStreamAnswers))).every(Boolean)) {
      if (performance.now() > deadline)
        throw new Error(
          `the NATS cluster has no JetStream meta leader after ${timeoutMs} ms:\n${servers.map((s) => s.stderr()).join('\n')}`,
        );
      await sleep(250);
    }
    return { urls, pids: servers.map((s) => s.child.pid!), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
