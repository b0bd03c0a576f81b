/**
 * Restart, on the ingest data set. The engine checkpoints each partition (every
 * BW_CHECKPOINT_SECONDS and at shutdown) and on start loads its checkpoints and replays the stream
 * after them; without checkpoints it rebuilds everything from the stream (README "Guarantees").
 * Both are timed from spawn to `/readyz` 200 and to fully caught up (readiness allows up to 1,000
 * undelivered messages per partition and is re-evaluated once a second):
 * - cold: a new data directory and no checkpoint in NATS (the engine runs against the bench's own
 *   nats-server, so its checkpoints live in the BW_CHECKPOINTS object store: deleted first), the
 *   whole stream replayed;
 * - warm: stopped (SIGTERM, which writes checkpoints and releases the partitions' leases) and
 *   started again.
 * The warm engine keeps running for the next phases.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EVENTS_STREAM_PREFIX } from '../../engine/nats/streams.js';
import { AckWatch } from './acks.js';
import { checkpointStoreBytes, deleteClusterBuckets } from './checkpoint-store.js';
import { waitDrained, waitEngineIdle } from './consumers.js';
import type { BenchContext } from './context.js';
import { type EngineProc, getJson, startEngine } from './engine-proc.js';
import { streamMessages, waitStored } from './ingest.js';
import { spawnBench } from './proc.js';
import { fmt } from './progress.js';
import { sleep } from './report.js';

export interface RestartResult {
  customers: number;
  events: number;
  /** Warm restart (checkpoints): spawn → /readyz 200. */
  seconds: number;
  warm_seconds_caught_up: number;
  checkpoint_bytes: number;
  /** Cold restart (no checkpoint, whole stream replayed): spawn → /readyz 200, → every message acked. */
  cold_seconds: number;
  cold_seconds_all_acked: number;
  cold_replay_eps: number;
  spawn_to_started_s: number;
}

interface PartitionStatus {
  customers: number;
}

async function customersTracked(engine: EngineProc): Promise<number> {
  const info = await getJson<{ partition_status: PartitionStatus[] }>(`${engine.httpUrl}/v1/info`);
  return info.body.partition_status.reduce((sum, p) => sum + p.customers, 0);
}

async function untilReady(ctx: BenchContext, engine: EngineProc, label: string): Promise<number> {
  const deadline = performance.now() + 600_000;
  for (;;) {
    const res = await fetch(`${engine.httpUrl}/readyz`);
    const body = (await res.json()) as { pending?: number };
    if (res.status === 200) return (performance.now() - engine.spawnedAt) / 1000;
    ctx.progress.update(`${label}: not ready, ${fmt(body.pending ?? 0)} pending`);
    if (performance.now() > deadline) throw new Error('the engine did not become ready');
    await sleep(50);
  }
}

/** When (Date.now()) every partition consumer created after `spawnedWall` had nothing left; NaN after 2 min. */
async function caughtUpAt(ctx: BenchContext, spawnedWall: number): Promise<number> {
  return waitDrained(ctx.jsm, (p) => `bw-p${p}`, ctx.opts.partitions, {
    createdAfter: spawnedWall,
    total: 0,
    pollMs: 20,
    timeoutMs: 120_000,
  }).then(
    (t) => t.drainedAt,
    () => Number.NaN,
  );
}

export async function restart(
  ctx: BenchContext,
  previous: EngineProc,
): Promise<{ engine: EngineProc; result: RestartResult }> {
  const { opts, progress } = ctx;
  progress.phase('restart: cold (no checkpoint, whole stream) then warm (checkpoints), to /readyz 200');
  await previous.stop();
  const events = await streamMessages(ctx);
  const dataDir = path.join(ctx.tmp, 'engine-data');
  const engineOpts = {
    natsUrl: ctx.nats.url,
    partitions: opts.partitions,
    workers: opts.workers,
    dataDir,
    onWarning: (line: string) => progress.note(`engine: ${line.slice(0, 200)}`),
  };

  await deleteClusterBuckets(ctx.jsm);
  const watch = await AckWatch.start(ctx.nc, EVENTS_STREAM_PREFIX, 'bw-p');
  const cold = await startEngine(engineOpts);
  const coldSeconds = await untilReady(ctx, cold, 'cold');
  await watch.waitFor(events, {
    onProgress: (acked) => progress.update(`cold: ready; ${fmt(events - acked)} still unacked`),
  });
  watch.stop();
  const coldAllAcked = (watch.lastAt - cold.spawnedAt) / 1000;
  await cold.stop();
  const checkpointBytes = await checkpointStoreBytes(ctx.nc);

  const spawnedWall = Date.now();
  const warm = await startEngine(engineOpts);
  const warmSeconds = await untilReady(ctx, warm, 'warm');
  const caughtUp = { drainedAt: await caughtUpAt(ctx, spawnedWall) };
  const customers = await customersTracked(warm);
  const result: RestartResult = {
    customers,
    events,
    seconds: warmSeconds,
    warm_seconds_caught_up: (caughtUp.drainedAt - spawnedWall) / 1000,
    checkpoint_bytes: checkpointBytes,
    cold_seconds: coldSeconds,
    cold_seconds_all_acked: coldAllAcked,
    cold_replay_eps: events / ((watch.lastAt - watch.firstAt) / 1000),
    spawn_to_started_s: warm.startMs / 1000,
  };
  progress.done(
    `warm ${warmSeconds.toFixed(2)} s, cold ${coldSeconds.toFixed(2)} s to ready (${coldAllAcked.toFixed(2)} s all acked); ${fmt(customers)} customers, ${fmt(events)} events, checkpoints ${fmt(checkpointBytes / 1e6, 1)} MB`,
  );
  return { engine: warm, result };
}

export interface ScaleRestartResult {
  /** Customers in the engine's state when it restarted (the customer base plus the ingest set's). */
  customers: number;
  events: number;
  /** Spawn → /readyz 200, checkpoints of every customer loaded. */
  seconds: number;
  seconds_caught_up: number;
  checkpoint_bytes: number;
  /** Publishing the base, and from its first publish to the running engine having folded it all. */
  base_publish_seconds: number;
  base_seconds_to_folded: number;
  /** Engine process resident memory with every customer loaded (bytes, from /proc). */
  engine_rss_bytes: number;
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Restart at scale: `customers` more customers (one event each, `load.js customers`) are published
 * while `previous` runs; once it has acked them all it is stopped (SIGTERM: checkpoints) and
 * started again on the same data directory, timed from spawn to /readyz 200 and to caught up. The
 * restarted engine is stopped at the end.
 */
export async function restartAtScale(
  ctx: BenchContext,
  previous: EngineProc,
  customers: number,
  /** Run on the restarted engine (with the whole customer base) before it stops. */
  atScale?: (engine: EngineProc) => Promise<void>,
): Promise<ScaleRestartResult> {
  const { opts, progress } = ctx;
  progress.phase(`restart at scale: ${fmt(customers)} more customers, then a restart on their checkpoints`);
  const before = await streamMessages(ctx);
  const events = before + customers;
  const started = performance.now();
  const load = spawnBench('load', ['customers', '--url', ctx.nats.url, '--customers', String(customers)], {
    onProgress: (r) => progress.update(`base: published ${fmt(Number(r['sent']))}`),
  });
  const published = await load.result();
  await waitStored(ctx, events);
  progress.update('base: waiting for the engine to fold it');
  await waitEngineIdle(ctx.jsm, opts.partitions);
  const baseSeconds = (performance.now() - started) / 1000;
  await previous.stop();
  const dataDir = path.join(ctx.tmp, 'engine-data');
  const checkpointBytes = await checkpointStoreBytes(ctx.nc);
  const spawnedWall = Date.now();
  const engine = await startEngine({
    natsUrl: ctx.nats.url,
    partitions: opts.partitions,
    workers: opts.workers,
    dataDir,
    onWarning: (line: string) => progress.note(`engine: ${line.slice(0, 200)}`),
  });
  try {
    const seconds = await untilReady(ctx, engine, 'restart');
    const caughtUp = { drainedAt: await caughtUpAt(ctx, spawnedWall) };
    const tracked = await customersTracked(engine);
    const result: ScaleRestartResult = {
      customers: tracked,
      events,
      seconds,
      seconds_caught_up: (caughtUp.drainedAt - spawnedWall) / 1000,
      checkpoint_bytes: checkpointBytes,
      base_publish_seconds: Number(published['seconds']),
      base_seconds_to_folded: baseSeconds,
      engine_rss_bytes: rssOf(engine.child.pid),
    };
    progress.done(
      `${seconds.toFixed(2)} s to ready with ${fmt(tracked)} customers (checkpoints ${fmt(checkpointBytes / 1e6, 1)} MB, engine RSS ${fmt(result.engine_rss_bytes / 1e6)} MB)`,
    );
    await atScale?.(engine);
    return result;
  } finally {
    await engine.stop();
  }
}
