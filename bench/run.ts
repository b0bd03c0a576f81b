/**
 * `npm run bench [-- --quick] [-- --profile]`: starts its own nats-server, the engine and a load
 * generator as separate processes, measures ingest, freshness, HTTP, memory, scoring and restart,
 * each beside its raw limit on this machine, then two engines on a 3-node NATS cluster (ingest
 * against the single engine's, and failover after a kill -9), writes
 * bench/results/<timestamp>.json and prints a table. Progress goes to stderr, the table to stdout. See bench/README.md.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ensureStreams } from '../engine/nats/streams.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { type AggregatesResult, aggregates } from './lib/aggregates.js';
import { type ClusterBench, clusterIngest, startClusterBench } from './lib/cluster.js';
import { type BenchContext, benchOptions } from './lib/context.js';
import { cpuSnapshot, foreignShare, waitQuiet } from './lib/cpu.js';
import { type EngineProc, getJson } from './lib/engine-proc.js';
import { failover } from './lib/failover.js';
import { freshness } from './lib/freshness.js';
import { httpBench } from './lib/http-bench.js';
import { engineIngest, preload, rawIngest } from './lib/ingest.js';
import { startNats } from './lib/nats-proc.js';
import { spawnBench } from './lib/proc.js';
import { formatProfiles, summariseDir, type ThreadProfile } from './lib/profile.js';
import { fmt, Progress } from './lib/progress.js';
import { runMain } from './lib/report.js';
import { restart, restartAtScale } from './lib/restart.js';
import { type BenchResult, commitOf, formatTable } from './lib/results.js';

async function memory(ctx: BenchContext): Promise<BenchResult['memory']> {
  const { opts, progress } = ctx;
  progress.phase(`memory: engine state of ${fmt(opts.memoryCustomers)} customers (separate process)`);
  const child = spawnBench(
    'memory',
    [
      '--customers',
      String(opts.memoryCustomers),
      '--partitions',
      String(opts.partitions),
      '--active',
      String(opts.memoryCustomers / 5),
    ],
    {
      nodeArgs: ['--expose-gc', '--max-old-space-size=8192'],
      onProgress: (r) => progress.count(Number(r['customers']), opts.memoryCustomers, 'customers'),
    },
  );
  const { bench: _bench, ...result } = await child.result();
  const out = result as BenchResult['memory'];
  const active = out['active_histories'] as { bytes_per_customer: number } | undefined;
  progress.done(
    `${fmt(out.bytes_per_customer)} B/customer (typed arrays ${fmt(Number(out['typed_bytes_per_customer']))} B)` +
      (active ? `; with 90-day histories ${fmt(active.bytes_per_customer)} B/customer` : ''),
  );
  return out;
}

async function scoring(ctx: BenchContext): Promise<BenchResult['scoring']> {
  const { opts, progress } = ctx;
  progress.phase('scoring: ModelScorer.score vs standalone model.predict, wasm backend (separate process)');
  const child = spawnBench(
    'scoring',
    ['--seconds', String(opts.scoringSeconds), '--rounds', String(opts.scoringRounds), '--backend', 'wasm'],
    { onProgress: (r) => progress.update(`batch ${r['batch']} round ${Number(r['round']) + 1}`) },
  );
  const { bench: _bench, ...result } = await child.result();
  const perBatch = result['per_batch'] as Record<
    string,
    { engine_rows_per_s: number; standalone_rows_per_s: number }
  >;
  // Headline: batch 512, the order of the engine's batches under load.
  const headline = perBatch['512'] ?? Object.values(perBatch)[0]!;
  const out = {
    engine_rows_per_s: headline.engine_rows_per_s,
    standalone_rows_per_s: headline.standalone_rows_per_s,
    ratio: headline.engine_rows_per_s / headline.standalone_rows_per_s,
    headline_batch: perBatch['512'] ? 512 : Number(Object.keys(perBatch)[0]),
    ...result,
  };
  progress.done(
    Object.entries(perBatch)
      .map(([b, r]) => `batch ${b}: ${fmt(r.engine_rows_per_s)} vs ${fmt(r.standalone_rows_per_s)} rows/s`)
      .join('; '),
  );
  return out;
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      events: { type: 'string' },
      customers: { type: 'string' },
      'wait-quiet': { type: 'string' },
    },
  });
  const opts = benchOptions(values.quick === true, values.profile === true);
  if (values.events) opts.events = Number(values.events);
  if (values.customers) opts.customers = Number(values.customers);
  const progress = new Progress();
  if (values['wait-quiet']) await waitQuiet(progress, Number(values['wait-quiet']));
  const startedAt = new Date();
  // Other work on the machine skews every figure: recorded with the results.
  const loadAtStart = os.loadavg()[0] ?? 0;
  const t0 = performance.now();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-bench-'));
  // Profiles are kept beside the results (*.cpuprofile is gitignored): node dist/bench/profile-summary.js DIR
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = path.join(PACKAGE_ROOT, 'bench', 'results');
  const profileDir = opts.profile ? path.join(resultsDir, `profile-${stamp}`) : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  progress.phase(`bench (${opts.quick ? 'quick' : 'full'}): nats-server with the partition mapping`);
  const nats = await startNats(opts.partitions);
  const nc = await connect({ servers: nats.url, name: 'bench-orchestrator' });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, { partitions: opts.partitions, eventsMaxAgeDays: 400, auditRetentionDays: 1096 });
  progress.done(nats.url);
  const ctx: BenchContext = { opts, progress, nats, nc, jsm, tmp };
  let engine: EngineProc | undefined;
  let cluster: ClusterBench | undefined;
  let profiles: ThreadProfile[] | undefined;
  // Share of the CPU used by other processes during each phase.
  const foreign: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const before = cpuSnapshot();
    const out = await fn();
    foreign[name] = foreignShare(before, cpuSnapshot());
    if (foreign[name]! > 0.1)
      progress.note(
        `note: other processes used ${(foreign[name]! * 100).toFixed(0)}% of the CPU during ${name}`,
      );
    return out;
  };
  try {
    const loaded = await phase('preload', () => preload(ctx));
    const raw = await phase('raw_ingest', () => rawIngest(ctx, loaded.events));
    const ingested = await phase('ingest', () => engineIngest(ctx, loaded.events, profileDir));
    engine = ingested.engine;
    const info = await getJson<{ tf_backend: string }>(`${engine.httpUrl}/v1/info`);
    const restarted = await phase('restart', () => restart(ctx, ingested.engine));
    engine = restarted.engine;
    const running = engine;
    if (profileDir) profiles = await summariseDir(profileDir);
    const rate = ingested.result.eps / 2;
    const fresh = await phase('freshness', () => freshness(ctx, running, rate));
    // A second point at a third of the drain rate, for reference: where the p99 target holds.
    const freshThird = await phase('freshness_third', () => freshness(ctx, running, ingested.result.eps / 3));
    const http = await phase('http', () => httpBench(ctx, running, rate, loaded.ids));
    // Stops the engine (after restarting it on the checkpoints of the larger customer base).
    engine = undefined;
    // The aggregates are timed on the restarted engine with the whole customer base (1M in the full run).
    let agg: AggregatesResult | undefined;
    const atScale = await phase('restart_at_scale', () =>
      restartAtScale(ctx, running, opts.restartCustomers, async (e) => {
        agg = await aggregates(ctx, e, rate, opts.aggregateSeconds, opts.aggregateSeconds / 2);
      }),
    );
    await nc.close();
    await nats.stop();
    const mem = await phase('memory', () => memory(ctx));
    const score = await phase('scoring', () => scoring(ctx));
    // Last: two engines on a 3-node NATS cluster, the cost of clustering and failover time.
    cluster = await phase('cluster_preload', () => startClusterBench(opts, progress, tmp));
    const clustered = cluster;
    const clusterIngested = await phase('cluster_ingest', () =>
      clusterIngest(clustered, ingested.result.eps),
    );
    const failedOver = await phase('failover', () => failover(clustered));
    await cluster.stop();
    cluster = undefined;
    const cpus = os.cpus();
    const result: BenchResult = {
      machine: {
        cores: os.availableParallelism(),
        node: process.version,
        tf_backend: info.body.tf_backend,
        cpu: cpus[0]?.model ?? 'unknown',
        memory_gb: Math.round(os.totalmem() / 2 ** 30),
        loadavg_1m_at_start: loadAtStart,
        foreign_cpu_share: foreign,
      },
      commit: await commitOf(),
      mode: opts.quick ? 'quick' : 'full',
      started_at: startedAt.toISOString(),
      seconds: 0,
      ingest: {
        engine_eps: ingested.result.eps,
        raw_eps: raw.eps,
        ratio: ingested.result.eps / raw.eps,
        events: loaded.events,
        customers: loaded.customers,
        engine: ingested.result,
        raw,
        preload: { ...loaded, ids: undefined },
      },
      freshness: { ...fresh, at_third_rate: freshThird },
      http: { ...http },
      memory: mem,
      scoring: score,
      // Headline: the restart with the customer base; `at_ingest_scale` the warm/cold pair before it.
      restart: { ...atScale, at_ingest_scale: restarted.result },
      ...(agg ? { aggregates: agg } : {}),
      cluster: {
        ingest: clusterIngested,
        failover: failedOver,
        preload: { ...clustered.loaded, ids: undefined },
      },
      ...(profiles ? { profile: profiles } : {}),
    };
    result.seconds = (performance.now() - t0) / 1000;
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `${stamp}.json`);
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    progress.note(`results: ${path.relative(process.cwd(), file)} (${result.seconds.toFixed(1)} s)`);
    process.stdout.write(`\n${formatTable(result)}`);
    if (profiles)
      process.stdout.write(
        `\nCPU profile of the engine during ingest (self time; ${path.relative(process.cwd(), profileDir!)}):\n${formatProfiles(profiles)}\n`,
      );
  } finally {
    await engine?.stop().catch(() => {});
    await cluster?.stop().catch(() => {});
    if (!nc.isClosed()) await nc.close().catch(() => {});
    await nats.stop().catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  }
});
