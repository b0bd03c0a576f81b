/**
 * A real 3-node nats-server cluster with JetStream for one test file: each node on loopback with
 * its own client port, cluster port and store, routes to the other two, and (when asked) the same
 * partition mapping the engine's embedded server uses. Resolves once JetStream has a meta leader
 * and every node answers JetStream requests. Nodes can be killed (SIGKILL), stopped and started
 * again on the same ports and store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { partitionMapping } from '../../contract/subjects.js';
import { stopChild } from '../../lib/child-process.js';
import { freePort, waitForPort } from '../../lib/ports.js';

interface ClusterNode {
  name: string;
  port: number;
  clusterPort: number;
  url: string;
  storeDir: string;
  configFile: string;
  /** True while the node's process runs. */
  running(): boolean;
}

export interface TestNatsCluster {
  nodes: ClusterNode[];
  /** Client URLs of all nodes, for `connect({ servers })`. */
  urls: string[];
  dir: string;
  /** SIGKILL one node (store kept). */
  kill(index: number): Promise<void>;
  /** SIGTERM one node and wait for it to exit (store kept). */
  stopNode(index: number): Promise<void>;
  /** Starts a stopped or killed node again on the same ports and store, waits for JetStream. */
  restart(index: number): Promise<void>;
  /** Resolves once JetStream answers on every running node (a meta leader is elected). */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  /**
   * Resolves once each stream has a leader and every replica on a running node is current: after
   * a restart, the node has caught up and the cluster can lose another node.
   */
  waitForStreams(names: string[], timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the stores. */
  stop(): Promise<void>;
}

const NODES = 3;

function nodeConfig(
  node: { name: string; port: number; clusterPort: number; storeDir: string },
  routes: number[],
  partitions: number | undefined,
): string {
  const lines = [
    `server_name: ${node.name}`,
    `listen: "127.0.0.1:${node.port}"`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(node.storeDir)}`,
    '}',
    'max_payload: 1MB',
    'cluster {',
    '  name: bw-test',
    `  listen: "127.0.0.1:${node.clusterPort}"`,
    '  routes: [',
    ...routes.map((port) => `    "nats-route://127.0.0.1:${port}"`),
    '  ]',
    '}',
  ];
  if (partitions !== undefined) {
    const mapping = partitionMapping(partitions);
    lines.push('mappings = {', `  ${JSON.stringify(mapping.from)}: ${JSON.stringify(mapping.to)}`, '}');
  }
  return `${lines.join('\n')}\n`;
}

/** JetStream answers an account-info request on this URL (it has a meta leader). */
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

/** Starts 3 nodes; `partitions` adds the engine's subject mapping to each node's configuration. */
export async function startNatsCluster(opts: { partitions?: number } = {}): Promise<TestNatsCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-nats-cluster-'));
  const ports: { port: number; clusterPort: number }[] = [];
  for (let i = 0; i < NODES; i += 1) ports.push({ port: await freePort(), clusterPort: await freePort() });
  const nodes: (ClusterNode & { child?: ChildProcess; stderr: string })[] = [];
  for (let i = 0; i < NODES; i += 1) {
    const { port, clusterPort } = ports[i] as { port: number; clusterPort: number };
    const name = `n${i + 1}`;
    const storeDir = path.join(dir, name, 'js');
    await mkdir(storeDir, { recursive: true });
    const configFile = path.join(dir, name, 'nats.conf');
    const routes = ports.filter((_, j) => j !== i).map((p) => p.clusterPort);
    await writeFile(configFile, nodeConfig({ name, port, clusterPort, storeDir }, routes, opts.partitions));
    const node: ClusterNode & { child?: ChildProcess; stderr: string } = {
      name,
      port,
      clusterPort,
      url: `nats://127.0.0.1:${port}`,
      storeDir,
      configFile,
      stderr: '',
      running: () =>
        node.child !== undefined && node.child.exitCode === null && node.child.signalCode === null,
    };
    nodes.push(node);
  }

  const nodeAt = (index: number): (typeof nodes)[number] => {
    const node = nodes[index];
    if (!node) throw new Error(`no cluster node ${index}`);
    return node;
  };

  const launch = async (index: number): Promise<void> => {
    const node = nodeAt(index);
    const child = spawn('nats-server', ['-c', node.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    node.stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      node.stderr = (node.stderr + chunk.toString()).slice(-4000);
    });
    node.child = child;
    await waitForPort(node.port, 15_000, () =>
      child.exitCode !== null
        ? `${node.name} exited with ${child.exitCode}: ${node.stderr.trim()}`
        : undefined,
    );
  };

  const waitForJetStream = async (timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = nodes.filter((n) => n.running());
      const answers = await Promise.all(running.map((n) => jetStreamAnswers(n.url)));
      if (answers.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`JetStream has no meta leader after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const waitForStreams = async (names: string[], timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const running = () => nodes.filter((n) => n.running()).map((n) => n.url);
    const nc = await connect({ servers: running(), maxReconnectAttempts: -1 });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      for (;;) {
        const healthy = await Promise.all(
          names.map(async (name) => {
            try {
              const { cluster } = await jsm.streams.info(name);
              const up = new Set(nodes.filter((n) => n.running()).map((n) => n.name));
              const replicas = (cluster?.replicas ?? []).filter((r) => up.has(r.name));
              return Boolean(cluster?.leader) && replicas.every((r) => r.current && !r.offline);
            } catch {
              return false;
            }
          }),
        );
        if (healthy.every(Boolean)) return;
        if (Date.now() > deadline)
          throw new Error(`streams ${names.join(', ')} not healthy after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await nc.close();
    }
  };

  const kill = async (index: number, signal: NodeJS.Signals): Promise<void> => {
    const child = nodeAt(index).child;
    if (child) await stopChild(child, signal, 10_000);
  };

  await Promise.all(nodes.map((_, i) => launch(i)));
  await waitForJetStream();

  return {
    nodes,
    urls: nodes.map((n) => n.url),
    dir,
    kill: (index) => kill(index, 'SIGKILL'),
    stopNode: (index) => kill(index, 'SIGTERM'),
    restart: async (index) => {
      await kill(index, 'SIGTERM');
      await launch(index);
      await waitForJetStream();
    },
    waitForJetStream,
    waitForStreams,
    stop: async () => {
      await Promise.all(nodes.map((_, i) => kill(i, 'SIGTERM')));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
