/**
 * HTTP: autocannon (in this process) on `GET /v1/customers/:id` over a set of known customers
 * while the load generator ingests, then on a bare node:http server (its own process) answering
 * the same bytes for the same paths from a Map, under the same ingest load.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import autocannon from 'autocannon';
import { waitEngineIdle } from './consumers.js';
import type { BenchContext } from './context.js';
import { TICKS_PER_SECOND, threadTicks } from './cpu.js';
import { type EngineProc, getText } from './engine-proc.js';
import { type EngineTimes, formatShares, type ThreadShares, threadShares, timesOf } from './engine-times.js';
import { spawnBench } from './proc.js';
import { fmt } from './progress.js';
import { sleep } from './report.js';
import { parsePrometheus, sumOf } from './stats.js';

const MAX_IDS = 500;

export interface HttpResult {
  engine_rps: number;
  bare_rps: number;
  ratio: number;
  p99_ms: number;
  p50_ms: number;
  bare_p99_ms: number;
  bare_p50_ms: number;
  idle_engine_rps: number;
  idle_p99_ms: number;
  errors: number;
  non_2xx: number;
  customers: number;
  avg_body_bytes: number;
  connections: number;
  seconds: number;
  load_rate_eps: number;
  /** Share of the engine's answers under ingest served from the main thread's cache. */
  cache_hit_ratio: number;
  /** Cores used by the engine's main thread (HTTP) during the run under ingest, and by the bare server in its run. */
  engine_main_thread_cores: number;
  bare_server_cores: number;
  /** The engine's threads during the run under ingest: cores used and cores' worth of waiting for a CPU. */
  threads: ThreadShares;
}

/** Runs `fn` and returns its result with the cores (CPU seconds per second) thread `pid` used meanwhile. */
async function withCores<T>(pid: number | undefined, fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const before = pid === undefined ? Number.NaN : threadTicks(pid);
  const out = await fn();
  const after = pid === undefined ? Number.NaN : threadTicks(pid);
  return [out, (after - before) / TICKS_PER_SECOND / ((performance.now() - t0) / 1000)];
}

async function cacheCounts(
  engine: EngineProc,
): Promise<{ hits: number; misses: number; times: EngineTimes }> {
  const metrics = parsePrometheus(await getText(`${engine.httpUrl}/metrics`));
  return {
    hits: sumOf(metrics, 'bellwether_answer_cache_hits'),
    misses: sumOf(metrics, 'bellwether_answer_cache_misses'),
    times: timesOf(metrics),
  };
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function cannon(ctx: BenchContext, url: string, paths: string[], label: string): Promise<Measured> {
  let i = 0;
  let done = 0;
  const instance = autocannon({
    url,
    connections: ctx.opts.httpConnections,
    duration: ctx.opts.httpSeconds,
    requests: [
      {
        setupRequest: (req) => {
          req.path = paths[i++ % paths.length]!;
          return req;
        },
      },
    ],
  });
  instance.on('response', () => {
    done++;
  });
  const timer = setInterval(() => ctx.progress.update(`${label}: ${fmt(done)} requests`), 250);
  const result = await instance;
  clearInterval(timer);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export async function httpBench(
  ctx: BenchContext,
  engine: EngineProc,
  rate: number,
  ids: readonly string[],
): Promise<HttpResult> {
  const { opts, progress } = ctx;
  progress.phase(
    `HTTP: GET /v1/customers/:id, ${opts.httpConnections} connections, ingesting ${fmt(rate)} ev/s`,
  );
  await waitEngineIdle(ctx.jsm, opts.partitions);
  // The same bytes for the bare server: what the engine answers now for each known customer.
  const bodies: Record<string, string> = {};
  let bytes = 0;
  for (const id of ids) {
    if (Object.keys(bodies).length >= MAX_IDS) break;
    const p = `/v1/customers/${encodeURIComponent(id)}`;
    const res = await fetch(`${engine.httpUrl}${p}`);
    const text = await res.text();
    if (res.status !== 200) continue;
    bodies[p] = text;
    bytes += Buffer.byteLength(text);
  }
  const paths = Object.keys(bodies);
  if (paths.length === 0) throw new Error('no known customer answered 200');
  const bodiesFile = path.join(ctx.tmp, 'bodies.json');
  await writeFile(bodiesFile, JSON.stringify(bodies));

  // Idle first (no ingest), for reference; then the measured runs while ingesting.
  const idle = await cannon(ctx, engine.httpUrl, paths, 'engine, idle');
  const load = spawnBench('load', [
    'live',
    '--url',
    ctx.nats.url,
    '--rate',
    String(Math.round(rate)),
    '--seconds',
    '0',
    '--customers',
    String(opts.customers),
    '--seed',
    '8',
  ]);
  await load.ready();
  await sleep(500);
  const before = await cacheCounts(engine);
  const [eng, engineCores] = await withCores(engine.child.pid, () =>
    cannon(ctx, engine.httpUrl, paths, 'engine'),
  );
  const after = await cacheCounts(engine);
  const hits = after.hits - before.hits;
  const threads = threadShares(before.times, after.times);
  const cacheHitRatio = hits / (hits + after.misses - before.misses);
  const bare = spawnBench('bare-http', ['--bodies', bodiesFile]);
  const port = Number((await bare.ready())['port']);
  const [raw, bareCores] = await withCores(bare.child.pid, () =>
    cannon(ctx, `http://127.0.0.1:${port}`, paths, 'bare node:http'),
  );
  await bare.stop();
  await load.stop('SIGTERM');
  const loadResult = await load.result();
  const result: HttpResult = {
    engine_rps: eng.rps,
    bare_rps: raw.rps,
    ratio: eng.rps / raw.rps,
    p99_ms: eng.p99,
    p50_ms: eng.p50,
    bare_p99_ms: raw.p99,
    bare_p50_ms: raw.p50,
    idle_engine_rps: idle.rps,
    idle_p99_ms: idle.p99,
    errors: eng.errors,
    non_2xx: eng.non2xx,
    customers: paths.length,
    avg_body_bytes: bytes / paths.length,
    connections: opts.httpConnections,
    seconds: opts.httpSeconds,
    load_rate_eps: Number(loadResult['rate']),
    cache_hit_ratio: cacheHitRatio,
    engine_main_thread_cores: engineCores,
    bare_server_cores: bareCores,
    threads,
  };
  progress.done(
    `engine ${fmt(eng.rps)} req/s p99 ${eng.p99} ms (idle ${fmt(idle.rps)} req/s p99 ${idle.p99} ms); bare ${fmt(raw.rps)} req/s p99 ${raw.p99} ms; ingest ${fmt(result.load_rate_eps)} ev/s; ${(cacheHitRatio * 100).toFixed(0)}% cache hits; main thread ${engineCores.toFixed(2)} cores, bare ${bareCores.toFixed(2)}; ${formatShares(threads)}`,
  );
  return result;
}
