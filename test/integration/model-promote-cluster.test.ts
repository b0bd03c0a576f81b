/**
 * `bellwether models promote` in a cluster: two engines on a 3-node NATS cluster share one
 * BW_MODELS_DIR (one read-only volume, docs/cluster.md); one promote switches every instance
 * without a restart, and each audits the switch.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distPath, PACKAGE_ROOT } from '../../lib/paths.js';
import { startClusterEngine } from '../support/cluster-engines.js';
import { type EngineProcess, waitFor } from '../support/engine-process.js';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';

let cluster: TestNatsCluster | undefined;
let modelsDir: string;
const engines: EngineProcess[] = [];

beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(tmpdir(), 'bw-promote-models-'));
  for (const [name, version] of [
    ['churn', '2'],
    ['intent', '3'],
  ] as const)
    await cp(path.join(PACKAGE_ROOT, 'models', name, version), path.join(modelsDir, name, version), {
      recursive: true,
    });
  await writeFile(path.join(modelsDir, 'churn', 'LIVE'), '2\n');
  await cp(path.join(modelsDir, 'churn', '2'), path.join(modelsDir, 'churn', '5'), { recursive: true });
  cluster = await startNatsCluster({ partitions: 8 });
  for (const id of ['pa', 'pb'])
    engines.push(await startClusterEngine(cluster, id, { BW_MODELS_DIR: modelsDir }));
}, 240_000);

afterAll(async () => {
  for (const e of engines)
    if (e.child.exitCode === null && e.child.signalCode === null) await e.stop('SIGKILL');
  await cluster?.stop();
  if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
}, 120_000);

async function churnOf(engine: EngineProcess): Promise<string[]> {
  const info = (await engine.get('/v1/info')).body as { worker_status: { models: Record<string, string> }[] };
  return info.worker_status.map((w) => w.models['churn']!);
}

describe('promote in a cluster', () => {
  it('switches every instance sharing the registry, each audited', async () => {
    for (const e of engines) expect(await churnOf(e)).toEqual(['2']);
    const res = spawnSync(
      process.execPath,
      [distPath('cli', 'main.js'), 'models', 'promote', 'churn', '5', '--models-dir', modelsDir],
      { env: { PATH: process.env['PATH'] ?? '' }, encoding: 'utf8', timeout: 30_000 },
    );
    expect(res.stdout).toBe('churn: live 5 (was 2)\n');
    expect(res.status).toBe(0);
    for (const e of engines) {
      await waitFor(
        async () => ((await churnOf(e)).every((v) => v === '5') ? true : undefined),
        30_000,
        'switch',
      );
      const audit = await waitFor(async () => {
        const text = await readFile(path.join(e.dataDir, 'audit', 'audit.ndjson'), 'utf8').catch(() => '');
        return text.includes('churn=5') ? text : undefined;
      }, 20_000);
      expect(audit).toContain('"actor":"registry"');
      expect(audit).toContain(
        'models reloaded from the registry: churn=5, intent=3 (were churn=2, intent=3)',
      );
    }
  }, 120_000);
});
