/**
 * Freshness: while the load generator publishes at a fixed rate, probe events are published for
 * a few dedicated customers and each is timed from publish to visible over HTTP (the customer's
 * `events_lifetime` reaches the count the probe makes, with `scores.churn.scored_at` at or after
 * the publish). The engine's own `bellwether_event_to_score_seconds` histogram is scraped before
 * and after, and quantiles are estimated from the bucket difference.
 */
import http from 'node:http';
import { eventSubject } from '../../contract/subjects.js';
import { waitEngineIdle } from './consumers.js';
import type { BenchContext } from './context.js';
import { CoreMeter } from './cpu.js';
import { type EngineProc, getText } from './engine-proc.js';
import {
  type EngineTimes,
  formatShares,
  stagesPerEvent,
  type ThreadShares,
  threadShares,
  timesOf,
} from './engine-times.js';
import { spawnBench } from './proc.js';
import { fmt } from './progress.js';
import { sleep } from './report.js';
import { bucketDelta, histogramBuckets, histogramQuantile, parsePrometheus, percentile } from './stats.js';

const PROBE_CUSTOMERS = 16;
/**
 * Polling: every 2 ms at first, backing off to every 20 ms (a tenth of the time waited so far), so
 * a probe's resolution stays within ~10% of its latency while slow probes do not load the machine
 * they measure (16 customers polled every 2 ms took a third of a core of this 2-core machine).
 * All probes together poll at most POLL_BUDGET_PER_S times a second: each poll is also a read the
 * engine's HTTP thread serves and audits, and without a budget the polling grew with the lag it
 * measured (16 slow probes every 20 ms: ~800 reads/s, 0.3 of a core between the probes and the
 * engine on a saturated machine). Each probe records its resolution (the gap between its last
 * poll that did not see the event and the one that did).
 */
const POLL_MIN_MS = 2;
const POLL_MAX_MS = 20;
const POLL_BUDGET_PER_S = 250;
const PROBE_TIMEOUT_MS = 30_000;
const HISTOGRAM = 'bellwether_event_to_score_seconds';

export interface FreshnessResult {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  rate_eps: number;
  target_rate_eps: number;
  probes: number;
  timeouts: number;
  /** Probe slots skipped because every probe customer was still awaiting its previous probe. */
  skipped: number;
  /** HTTP polls per second of all probes, and the p99 of the probes' resolution. */
  polls_per_s: number;
  resolution_p99_ms: number;
  histogram_p50_ms: number;
  histogram_p99_ms: number;
  histogram_count: number;
  /** Cores each process used during the phase (the machine has `machine.cores`). */
  cores: Record<string, number>;
  /** The engine's threads during the phase: cores used, and cores' worth of waiting for a CPU. */
  threads: ThreadShares;
  /** Workers' busy µs per event during the phase, by stage (live batches, not a drain's). */
  stages_us_per_event: Record<string, number>;
}

interface CustomerView {
  features?: { events_lifetime?: number | null };
  scores?: { churn?: { scored_at?: string } | null };
}

/** node:http with keep-alive: the probes' polling costs the machine a fraction of what fetch() did. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function view(engine: EngineProc, id: string): Promise<CustomerView | undefined> {
  return new Promise((resolve, reject) => {
    http
      .get(`${engine.httpUrl}/v1/customers/${id}`, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) resolve(undefined);
          else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as CustomerView);
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function visible(v: CustomerView | undefined, expected: number, publishedWall: number): boolean {
  if (!v) return false;
  if ((v.features?.events_lifetime ?? 0) < expected) return false;
  const at = v.scores?.churn?.scored_at;
  // Probe events are purchases, so the churn model scores them; scored_at has ms precision.
  return at === undefined || Date.parse(at) >= Math.floor(publishedWall);
}

/** The freshness histogram and the engine's thread and stage times, from one scrape. */
async function scrape(engine: EngineProc): Promise<{ buckets: Map<number, number>; times: EngineTimes }> {
  const samples = parsePrometheus(await getText(`${engine.httpUrl}/metrics`));
  return { buckets: histogramBuckets(samples, HISTOGRAM), times: timesOf(samples) };
}

export async function freshness(
  ctx: BenchContext,
  engine: EngineProc,
  rate: number,
): Promise<FreshnessResult> {
  const { opts, progress } = ctx;
  progress.phase(`freshness: publish → visible over HTTP while loading at ${fmt(rate)} ev/s`);
  await waitEngineIdle(ctx.jsm, opts.partitions);
  const run = Date.now().toString(36);
  const ids = Array.from({ length: PROBE_CUSTOMERS }, (_, i) => `bench-probe-${run}-${i}`);
  const expected = ids.map(() => 0);
  let seq = 0;
  const publish = (i: number): number => {
    expected[i]!++;
    const id = ids[i]!;
    const wall = Date.now();
    const body = {
      event_id: `probe-${run}-${seq++}`,
      customer_id: id,
      type: 'purchase',
      ts: new Date(wall).toISOString(),
      amount: 19.9,
      currency: 'EUR',
      channel: 'web',
    };
    ctx.nc.publish(eventSubject('purchase', id), JSON.stringify(body));
    return wall;
  };
  // Make the probe customers known first (not timed).
  for (let i = 0; i < ids.length; i++) publish(i);
  for (let i = 0; i < ids.length; i++) {
    const deadline = Date.now() + PROBE_TIMEOUT_MS;
    while (!visible(await view(engine, ids[i]!), expected[i]!, 0)) {
      if (Date.now() > deadline) throw new Error(`probe customer ${ids[i]} never became visible`);
      await sleep(10);
    }
  }

  const before = await scrape(engine);
  const load = spawnBench('load', [
    'live',
    '--url',
    ctx.nats.url,
    '--rate',
    String(Math.round(rate)),
    '--seconds',
    String(opts.freshnessSeconds),
    '--customers',
    String(opts.customers),
    '--seed',
    '9',
  ]);
  await load.ready();
  const pid = engine.child.pid;
  const meter = new CoreMeter({
    engine: pid,
    engine_main_thread: pid === undefined ? undefined : [pid, pid],
    nats_server: ctx.nats.pid,
    load_generator: load.child.pid,
    bench_probes: process.pid,
  }).start();
  const latencies: number[] = [];
  const resolutions: number[] = [];
  let polls = 0;
  let waiting = 0;
  let timeouts = 0;
  const busy = ids.map(() => false);
  const inFlight: Promise<void>[] = [];
  const probe = async (i: number): Promise<void> => {
    busy[i] = true;
    waiting++;
    const t0 = performance.now();
    const wall = publish(i);
    const deadline = t0 + PROBE_TIMEOUT_MS;
    let unseenAt = t0;
    for (;;) {
      const polledAt = performance.now();
      polls++;
      const v = await view(engine, ids[i]!);
      if (visible(v, expected[i]!, wall)) {
        const now = performance.now();
        latencies.push(now - t0);
        resolutions.push(now - unseenAt);
        break;
      }
      unseenAt = polledAt;
      if (performance.now() > deadline) {
        timeouts++;
        break;
      }
      const backoff = Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, (performance.now() - t0) / 10));
      await sleep(Math.max(backoff, (waiting * 1000) / POLL_BUDGET_PER_S));
    }
    waiting--;
    busy[i] = false;
  };
  const started = performance.now();
  const durationMs = opts.freshnessSeconds * 1000;
  const interval = durationMs / opts.probes;
  let launched = 0;
  let next = 0;
  let skipped = 0;
  while (performance.now() - started < durationMs) {
    const due = Math.floor((performance.now() - started) / interval);
    while (launched < due) {
      launched++;
      let free = -1;
      for (let k = 0; k < ids.length && free < 0; k++)
        if (!busy[(next + k) % ids.length]) free = (next + k) % ids.length;
      if (free < 0) {
        skipped++;
        continue;
      }
      next = free + 1;
      inFlight.push(probe(free));
    }
    progress.update(`${latencies.length} probes seen`);
    await sleep(Math.max(1, interval / 4));
  }
  await Promise.all(inFlight);
  const pollSeconds = (performance.now() - started) / 1000;
  const cores = meter.cores();
  const loadResult = await load.result();
  const after = await scrape(engine);
  const delta = bucketDelta(after.buckets, before.buckets);
  const threads = threadShares(before.times, after.times);
  const stages = stagesPerEvent(before.times, after.times);
  latencies.sort((a, b) => a - b);
  resolutions.sort((a, b) => a - b);
  const result: FreshnessResult = {
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    max_ms: latencies.at(-1) ?? Number.NaN,
    rate_eps: Number(loadResult['rate']),
    target_rate_eps: rate,
    probes: latencies.length,
    timeouts,
    skipped,
    polls_per_s: polls / pollSeconds,
    resolution_p99_ms: percentile(resolutions, 0.99),
    histogram_p50_ms: histogramQuantile(delta, 0.5) * 1000,
    histogram_p99_ms: histogramQuantile(delta, 0.99) * 1000,
    histogram_count: delta.get(Number.POSITIVE_INFINITY) ?? 0,
    cores,
    threads,
    stages_us_per_event: stages,
  };
  progress.done(
    `p50 ${result.p50_ms.toFixed(1)} ms, p99 ${result.p99_ms.toFixed(1)} ms over ${latencies.length} probes at ${fmt(result.rate_eps)} ev/s (${fmt(result.polls_per_s)} polls/s, resolution p99 ${result.resolution_p99_ms.toFixed(1)} ms); histogram p50 ${result.histogram_p50_ms.toFixed(1)} ms p99 ${result.histogram_p99_ms.toFixed(1)} ms; cores ${JSON.stringify(cores)}; ${formatShares(threads)}`,
  );
  return result;
}
