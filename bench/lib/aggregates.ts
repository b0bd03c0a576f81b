/**
 * Aggregates at scale: while the load generator publishes at a fixed rate, the bench asks the
 * engine (with the restart phase's customer base, 1M customers in the full run) a fixed round of
 * aggregate queries over and over, one at a time, and times each from request to answer. The p99
 * over every query is the headline (the target: ≤ 1 s at 1M customers while ingesting).
 */
import http from 'node:http';
import os from 'node:os';
import type { BenchContext } from './context.js';
import { cpuSnapshot, foreignShare } from './cpu.js';
import { type EngineProc, getText } from './engine-proc.js';
import { spawnBench } from './proc.js';
import { fmt } from './progress.js';
import { sleep } from './report.js';
import {
  bucketDelta,
  histogramBuckets,
  histogramQuantile,
  parsePrometheus,
  percentile,
  sumOf,
} from './stats.js';

/** Seconds of load before the counts start (the engine catches up with the load's first burst). */
const WARMUP_SECONDS = 2;

/** The round: a cheap grouping, one reading features and quantiles behind a filter, the daily cube. */
const QUERIES: Record<string, string> = {
  segments: '/v1/aggregate?group_by=segment&metrics=count,avg:spend_90d,p90:churn.risk',
  lifecycle_buckets: `/v1/aggregate?${new URLSearchParams({
    group_by: 'lifecycle,bucket(days_since_last_purchase,0,7,30,90)',
    metrics: 'sum:spend_lifetime,p99:spend_lifetime,avg:purchases_lifetime',
    filter: 'purchases_lifetime >= 1',
  })}`,
  daily: '/v1/aggregate/daily?group_by=segment,type&metrics=events,customers,amount',
};

export interface AggregatesResult {
  /** Customers the aggregates covered (the segments query's `customers`). */
  customers: number;
  queries: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  rate_eps: number;
  seconds: number;
  per_query: Record<string, { p50_ms: number; p99_ms: number; max_ms: number; count: number }>;
  /**
   * A worker's work on one aggregate query (`bellwether_aggregate_pass_seconds`, every worker's
   * observations): mean and p99 from the histogram's buckets.
   */
  pass_mean_ms: number;
  pass_p99_ms: number;
  /** Events the engine folded per second with the same load and no queries, then with the queries. */
  processed_eps_without_queries: number;
  processed_eps_with_queries: number;
  /** Share of the CPU other processes used meanwhile. */
  foreign_cpu_share: number;
  /** 1-minute load average at the start and at the end of the queries. */
  loadavg_1m: [number, number];
}

interface Scrape {
  at: number;
  processed: number;
  passSum: number;
  passBuckets: Map<number, number>;
}

async function scrape(engine: EngineProc): Promise<Scrape> {
  const samples = parsePrometheus(await getText(`${engine.httpUrl}/metrics`));
  return {
    at: performance.now(),
    processed: sumOf(samples, 'bellwether_events_processed_total'),
    passSum: sumOf(samples, 'bellwether_aggregate_pass_seconds_sum'),
    passBuckets: histogramBuckets(samples, 'bellwether_aggregate_pass_seconds'),
  };
}

const eps = (a: Scrape, b: Scrape): number => (b.processed - a.processed) / ((b.at - a.at) / 1000);

const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

function ask(engine: EngineProc, pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${engine.httpUrl}${pathname}`, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export async function aggregates(
  ctx: BenchContext,
  engine: EngineProc,
  rate: number,
  seconds: number,
  /** Seconds of the same load without queries first (ingest with and without them). */
  baselineSeconds: number,
): Promise<AggregatesResult> {
  const { opts, progress } = ctx;
  progress.phase(`aggregates: GET /v1/aggregate and /daily one at a time while loading at ${fmt(rate)} ev/s`);
  const cpu = cpuSnapshot();
  const load = spawnBench('load', [
    'live',
    '--url',
    ctx.nats.url,
    '--rate',
    String(Math.round(rate)),
    '--seconds',
    String(WARMUP_SECONDS + baselineSeconds + seconds + 5),
    '--customers',
    String(opts.customers),
    '--seed',
    '11',
  ]);
  await load.ready();
  await sleep(WARMUP_SECONDS * 1000);
  const quietFrom = await scrape(engine);
  await sleep(baselineSeconds * 1000);
  const queriesFrom = await scrape(engine);
  const loadStart = os.loadavg()[0] ?? 0;
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(QUERIES).map((k) => [k, []]));
  const all: number[] = [];
  let errors = 0;
  let customers = 0;
  const started = performance.now();
  // Ingest with the queries is counted over exactly `seconds` (the last query may end later, and
  // the load stops 5 s after that).
  const ingestTo = sleep(seconds * 1000).then(() => scrape(engine));
  ingestTo.catch(() => {});
  while (performance.now() - started < seconds * 1000) {
    for (const [name, pathname] of Object.entries(QUERIES)) {
      const t0 = performance.now();
      const res = await ask(engine, pathname);
      const ms = performance.now() - t0;
      if (res.status !== 200) {
        errors++;
        progress.note(`aggregate ${name}: ${res.status} ${res.body.slice(0, 200)}`);
        continue;
      }
      if (name === 'segments') customers = (JSON.parse(res.body) as { customers: number }).customers;
      times[name]!.push(ms);
      all.push(ms);
    }
    progress.update(`${all.length} queries, last ${fmt(all.at(-1) ?? 0)} ms`);
  }
  const queriesTo = await scrape(engine);
  const ingested = await ingestTo;
  const loadEnd = os.loadavg()[0] ?? 0;
  const passes = bucketDelta(queriesTo.passBuckets, queriesFrom.passBuckets);
  const passCount = passes.get(Number.POSITIVE_INFINITY) ?? 0;
  const loaded = await load.result();
  all.sort((a, b) => a - b);
  for (const t of Object.values(times)) t.sort((a, b) => a - b);
  const per_query = Object.fromEntries(
    Object.entries(times).map(([name, t]) => [
      name,
      { p50_ms: percentile(t, 0.5), p99_ms: percentile(t, 0.99), max_ms: Math.max(0, ...t), count: t.length },
    ]),
  );
  const result: AggregatesResult = {
    customers,
    queries: all.length,
    errors,
    p50_ms: percentile(all, 0.5),
    p99_ms: percentile(all, 0.99),
    max_ms: Math.max(0, ...all),
    rate_eps: Number(loaded['rate']),
    seconds,
    per_query,
    pass_mean_ms: passCount > 0 ? ((queriesTo.passSum - queriesFrom.passSum) / passCount) * 1000 : Number.NaN,
    pass_p99_ms: histogramQuantile(passes, 0.99) * 1000,
    processed_eps_without_queries: eps(quietFrom, queriesFrom),
    processed_eps_with_queries: eps(queriesFrom, ingested),
    foreign_cpu_share: foreignShare(cpu, cpuSnapshot()),
    loadavg_1m: [loadStart, loadEnd],
  };
  progress.done(
    `p50 ${fmt(result.p50_ms)} ms, p99 ${fmt(result.p99_ms)} ms over ${result.queries} queries at ${fmt(customers)} customers (${errors} errors); ` +
      `worker pass mean ${fmt(result.pass_mean_ms)} ms; folded ${fmt(result.processed_eps_without_queries)} ev/s without queries, ${fmt(result.processed_eps_with_queries)} with; load ${result.loadavg_1m.map((l) => l.toFixed(1)).join(' → ')}`,
  );
  return result;
}
