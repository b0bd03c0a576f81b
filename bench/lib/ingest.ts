/**
 * Ingest: pre-load the stream, then time the bare consumer and the engine draining the same
 * messages, both watched from outside the same way (lib/consumers.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EVENTS_STREAM_PREFIX, eventsStreamOf } from '../../engine/nats/streams.js';
import { AckWatch, steadyRate } from './acks.js';
import type { BenchContext } from './context.js';
import { processTicks, TICKS_PER_SECOND } from './cpu.js';
import { type EngineProc, getText, startEngine } from './engine-proc.js';
import {
  type EngineTimes,
  engineTimes,
  formatShares,
  formatStages,
  stagesPerEvent,
  type ThreadShares,
  threadShares,
} from './engine-times.js';
import { spawnBench } from './proc.js';
import { fmt } from './progress.js';
import { sleep } from './report.js';
import { parsePrometheus, sumOf } from './stats.js';

export interface PreloadResult {
  events: number;
  customers: number;
  publish_seconds: number;
  publish_rate: number;
  avg_bytes: number;
  event_time_span_days: number;
  ids: string[];
}

/** Events stored, over every partition's stream (the bench's server is new: one stream each). */
export async function streamMessages(ctx: BenchContext): Promise<number> {
  let total = 0;
  for (let p = 0; p < ctx.opts.partitions; p++)
    total += (await ctx.jsm.streams.info(eventsStreamOf(p, 'partitioned'))).state.messages;
  return total;
}

/** Core publish: waits until the stream holds `expected` messages (and notices if some were dropped). */
export async function waitStored(ctx: BenchContext, expected: number): Promise<number> {
  const { progress } = ctx;
  let stored = 0;
  let last = -1;
  let stalledSince = performance.now();
  for (;;) {
    stored = await streamMessages(ctx);
    progress.count(stored, expected, 'events stored');
    if (stored >= expected) return stored;
    if (stored !== last) {
      last = stored;
      stalledSince = performance.now();
    } else if (performance.now() - stalledSince > 5000) {
      throw new Error(
        `the stream holds ${stored} of ${expected} published events (core publish dropped some)`,
      );
    }
    await sleep(100);
  }
}

export async function preload(ctx: BenchContext): Promise<PreloadResult> {
  const { opts, progress } = ctx;
  progress.phase(`pre-load ${fmt(opts.events)} events, ${fmt(opts.customers)} simulated customers`);
  const idsFile = path.join(ctx.tmp, 'ids.json');
  const load = spawnBench(
    'load',
    [
      'preload',
      '--url',
      ctx.nats.url,
      '--events',
      String(opts.events),
      '--customers',
      String(opts.customers),
      '--seed',
      '7',
      '--ids-out',
      idsFile,
    ],
    { onProgress: (r) => progress.update(`published ${fmt(Number(r['sent']))}`) },
  );
  const result = await load.result();
  const stored = await waitStored(ctx, opts.events);
  const ids = JSON.parse(await readFile(idsFile, 'utf8')) as string[];
  const out: PreloadResult = {
    events: stored,
    customers: Number(result['customers']),
    publish_seconds: Number(result['seconds']),
    publish_rate: Number(result['rate']),
    avg_bytes: Number(result['avg_bytes']),
    event_time_span_days: Number(result['event_time_span_days']),
    ids,
  };
  progress.done(
    `${fmt(stored)} events stored (${fmt(out.customers)} customers, ${fmt(out.avg_bytes)} B avg, published at ${fmt(out.publish_rate)} ev/s)`,
  );
  return out;
}

/**
 * CPU per event while draining: the consumer process's and nats-server's CPU time from the poll
 * that saw 10% of the messages acked to the last ack, over the events acked meanwhile (start-up and
 * the first batch left out).
 */
export interface DrainCpu {
  cpu_us_per_event: number;
  nats_cpu_us_per_event: number;
}

export class DrainCpuMeter {
  readonly #pids: () => (number | undefined)[];
  readonly #natsPids: number[];
  readonly #total: number;
  readonly #acked: () => number;
  readonly #timer: NodeJS.Timeout;
  #from: { acked: number; ticks: number; nats: number } | undefined;

  /**
   * Polls every 20 ms on its own timer, from construction on: the engine's "started" line can come
   * seconds into its drain (its main thread shares the saturated cores), so polling from the wait
   * loop that follows `startEngine` saw only the tail of the drain and under-counted. `pids` are the
   * consumer processes (summed: one engine, or the engines of a cluster), `natsPids` the servers.
   */
  constructor(pids: () => (number | undefined)[], natsPids: number[], total: number, acked: () => number) {
    this.#pids = pids;
    this.#natsPids = natsPids;
    this.#total = total;
    this.#acked = acked;
    this.#timer = setInterval(() => this.#poll(), 20);
  }

  #ticks(): number {
    return this.#pids().reduce<number>((sum, pid) => sum + processTicks(pid), 0);
  }

  #natsTicks(): number {
    return this.#natsPids.reduce((sum, pid) => sum + processTicks(pid), 0);
  }

  #poll(): void {
    const acked = this.#acked();
    if (this.#from || acked < 0.1 * this.#total) return;
    const ticks = this.#ticks();
    if (!Number.isNaN(ticks)) this.#from = { acked, ticks, nats: this.#natsTicks() };
  }

  /** Call once every message is acked. */
  result(): DrainCpu {
    clearInterval(this.#timer);
    const from = this.#from;
    if (!from || from.acked >= this.#total)
      return { cpu_us_per_event: Number.NaN, nats_cpu_us_per_event: Number.NaN };
    const per = (ticks: number) => (ticks / TICKS_PER_SECOND / (this.#total - from.acked)) * 1e6;
    return {
      cpu_us_per_event: per(this.#ticks() - from.ticks),
      nats_cpu_us_per_event: per(this.#natsTicks() - from.nats),
    };
  }
}

export interface DrainResult {
  /** Messages / seconds from the first ack to the last (consumption, start-up excluded). */
  eps: number;
  /** Between 10% and 90% of the messages acked. */
  steady_eps: number;
  seconds: number;
  /** From spawning the process to its first ack, and to its last. */
  spawn_to_first_ack_s: number;
  spawn_to_all_acked_s: number;
}

export function drainResult(total: number, watch: AckWatch, spawnedAt: number): DrainResult {
  const seconds = (watch.lastAt - watch.firstAt) / 1000;
  return {
    eps: total / seconds,
    steady_eps: steadyRate(watch, total),
    seconds,
    spawn_to_first_ack_s: (watch.firstAt - spawnedAt) / 1000,
    spawn_to_all_acked_s: (watch.lastAt - spawnedAt) / 1000,
  };
}

export async function rawIngest(
  ctx: BenchContext,
  total: number,
): Promise<DrainResult & DrainCpu & { threads: number; internal_eps: number }> {
  const { opts, progress } = ctx;
  progress.phase(
    `raw limit: bare JetStream consumer, ${opts.workers} threads, ${opts.partitions} partitions`,
  );
  const prefix = 'bench-raw-p';
  const watch = await AckWatch.start(ctx.nc, EVENTS_STREAM_PREFIX, prefix);
  const spawnedAt = performance.now();
  const raw = spawnBench('raw-consume', [
    '--url',
    ctx.nats.url,
    '--partitions',
    String(opts.partitions),
    '--threads',
    String(opts.workers),
    '--expect',
    String(total),
    '--prefix',
    prefix,
  ]);
  let failure: Error | undefined;
  raw.result().catch((err: Error) => {
    failure = err;
  });
  const cpu = new DrainCpuMeter(
    () => [raw.child.pid],
    [ctx.nats.pid],
    total,
    () => watch.total,
  );
  await watch.waitFor(total, {
    onProgress: (acked) => {
      progress.count(acked, total, 'events acked');
    },
    check: () => {
      if (failure) throw failure;
    },
  });
  watch.stop();
  const rawCpu = cpu.result();
  const internal = await raw.result();
  for (let p = 0; p < opts.partitions; p++)
    await ctx.jsm.consumers.delete(eventsStreamOf(p, 'partitioned'), `${prefix}${p}`).catch(() => false);
  const out = {
    ...drainResult(total, watch, spawnedAt),
    threads: opts.workers,
    internal_eps: Number(internal['rate']),
    ...rawCpu,
  };
  progress.done(
    `${fmt(out.eps)} ev/s (steady ${fmt(out.steady_eps)} ev/s; ${out.seconds.toFixed(2)} s first to last ack, ${out.spawn_to_first_ack_s.toFixed(2)} s start-up; CPU ${fmt(rawCpu.cpu_us_per_event, 1)} µs/event, nats-server ${fmt(rawCpu.nats_cpu_us_per_event, 1)})`,
  );
  return out;
}

export interface EngineIngestResult extends DrainResult, DrainCpu, EngineCounters {
  spawn_to_started_s: number;
  /**
   * Workers' busy µs per event by stage (and `total`), and the engine's threads (cores used, cores'
   * worth of waiting for a CPU), from the first scrape after 10% of the messages were acked that
   * has the workers' series, to the end of the drain: start-up left out.
   */
  stages_us_per_event: Record<string, number>;
  threads: ThreadShares;
  /** Where the span of those figures starts (the engine's start when no scrape came early enough). */
  stages_from: '10% acked' | 'engine start';
}

interface EngineCounters {
  processed: number;
  rejected: number;
  duplicates: number;
  alerts: number;
  /** Rule actions and segment changes published (effects, like alerts). */
  actions: number;
  segment_changes: number;
  predictions: number;
  /** Mean events per processing batch (one scoring pass). */
  mean_batch: number;
}

/** Totals from the engine's /metrics. */
async function engineCounters(engine: EngineProc): Promise<EngineCounters> {
  const samples = parsePrometheus(await getText(`${engine.httpUrl}/metrics`));
  return {
    processed: sumOf(samples, 'bellwether_events_processed_total'),
    rejected: sumOf(samples, 'bellwether_events_rejected_total'),
    duplicates: sumOf(samples, 'bellwether_events_duplicate_total'),
    alerts: sumOf(samples, 'bellwether_alerts_total'),
    actions: sumOf(samples, 'bellwether_actions_total'),
    segment_changes: sumOf(samples, 'bellwether_segment_changes_total'),
    predictions: sumOf(samples, 'bellwether_predictions_total'),
    mean_batch: sumOf(samples, 'bellwether_batch_size_sum') / sumOf(samples, 'bellwether_batch_size_count'),
  };
}

export async function engineIngest(
  ctx: BenchContext,
  total: number,
  profileDir: string | undefined,
): Promise<{ engine: EngineProc; result: EngineIngestResult }> {
  const { opts, progress } = ctx;
  progress.phase(
    `engine ingest: ${opts.workers} workers, ${opts.partitions} partitions${profileDir ? ' (under --cpu-prof)' : ''}`,
  );
  const watch = await AckWatch.start(ctx.nc, EVENTS_STREAM_PREFIX, 'bw-p');
  let pid: number | undefined;
  const cpu = new DrainCpuMeter(
    () => [pid],
    [ctx.nats.pid],
    total,
    () => watch.total,
  );
  // The engine's own times from the first scrape after 10% acked that has the workers' series
  // (the main thread reports them once the worker pool has started, which can be late in the
  // drain; its HTTP address comes before that).
  let listening: string | undefined;
  let baseline: EngineTimes | undefined;
  let scraping = false;
  const baselineTimer = setInterval(() => {
    if (baseline || scraping || !listening || watch.total < 0.1 * total) return;
    scraping = true;
    engineTimes(listening)
      .then((times) => {
        if (times.processed > 0) baseline = times;
      })
      .catch(() => {})
      .finally(() => {
        scraping = false;
      });
  }, 20).unref();
  const engine = await startEngine({
    natsUrl: ctx.nats.url,
    partitions: opts.partitions,
    workers: opts.workers,
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    onWarning: (line) => progress.note(`engine: ${line.slice(0, 200)}`),
    onSpawn: (child) => {
      pid = child.pid;
    },
    onListening: (url) => {
      listening = url;
    },
  });
  await watch.waitFor(total, {
    onProgress: (acked) => {
      progress.count(acked, total, 'events acked');
    },
    check: () => {
      if (engine.child.exitCode !== null) throw new Error('the engine exited during ingest');
    },
  });
  watch.stop();
  const engineCpu = cpu.result();
  const counters = await engineCounters(engine);
  clearInterval(baselineTimer);
  const end = await engineTimes(engine.httpUrl);
  let from = baseline ?? end;
  // No baseline early enough to span a fifth of the drain: counted from the engine's start.
  const fromStart = end.processed - from.processed < 0.2 * total;
  if (fromStart) from = { at: engine.spawnedAt, processed: 0, cpu: {}, runqueue: {}, stages: {} };
  const result: EngineIngestResult = {
    ...drainResult(total, watch, engine.spawnedAt),
    ...counters,
    ...engineCpu,
    spawn_to_started_s: engine.startMs / 1000,
    stages_us_per_event: stagesPerEvent(from, end),
    threads: threadShares(from, end),
    stages_from: fromStart ? 'engine start' : '10% acked',
  };
  if (counters.processed !== total)
    progress.note(`warning: the engine processed ${counters.processed} of ${total} events`);
  progress.done(
    `${fmt(result.eps)} ev/s (steady ${fmt(result.steady_eps)} ev/s; ${result.seconds.toFixed(2)} s first to last ack, ${result.spawn_to_first_ack_s.toFixed(2)} s start-up; processed ${fmt(counters.processed)}, ${fmt(counters.alerts)} alerts, ${fmt(counters.actions)} actions, ${fmt(counters.segment_changes)} segment changes, mean batch ${fmt(counters.mean_batch)}; CPU ${fmt(engineCpu.cpu_us_per_event, 1)} µs/event, nats-server ${fmt(engineCpu.nats_cpu_us_per_event, 1)}; workers' busy µs/event: ${formatStages(result.stages_us_per_event)}; ${formatShares(result.threads)})`,
  );
  return { engine, result };
}
