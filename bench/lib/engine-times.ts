/**
 * Where the engine's time went during a phase, from two scrapes of its /metrics: each thread's
 * cores on a CPU and cores' worth of waiting for one (`bellwether_thread_*_seconds_total`), and the
 * workers' busy time per stage per event (`bellwether_worker_busy_seconds_total`).
 */
import { getText } from './engine-proc.js';
import { parsePrometheus, type Sample, sumOf } from './stats.js';

export interface EngineTimes {
  /** performance.now() of the scrape. */
  at: number;
  processed: number;
  /** Seconds since the thread started, by thread (`main`, `worker-<i>`). */
  cpu: Record<string, number>;
  runqueue: Record<string, number>;
  /** Busy seconds by stage, summed over workers. */
  stages: Record<string, number>;
}

function byLabel(samples: readonly Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    const key = s.labels[label];
    if (s.name === name && key !== undefined) out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/** @param httpUrl the engine's HTTP address */
export async function engineTimes(httpUrl: string): Promise<EngineTimes> {
  return timesOf(parsePrometheus(await getText(`${httpUrl}/metrics`)));
}

/** The times in a scrape just taken. */
export function timesOf(samples: readonly Sample[]): EngineTimes {
  return {
    at: performance.now(),
    processed: sumOf(samples, 'bellwether_events_processed_total'),
    cpu: byLabel(samples, 'bellwether_thread_cpu_seconds_total', 'thread'),
    runqueue: byLabel(samples, 'bellwether_thread_runqueue_seconds_total', 'thread'),
    stages: byLabel(samples, 'bellwether_worker_busy_seconds_total', 'stage'),
  };
}

/** Cores on a CPU and cores' worth of waiting for one, of the main thread and of all workers. */
export interface ThreadShares {
  main: { cores: number; waiting: number };
  workers: { cores: number; waiting: number };
}

/** Per second of the span between two scrapes (a restarted engine's counters: NaN). */
export function threadShares(before: EngineTimes, after: EngineTimes): ThreadShares {
  const seconds = (after.at - before.at) / 1000;
  const share = (field: 'cpu' | 'runqueue', workers: boolean): number => {
    // No series: the engine's kernel does not report thread times.
    let total = Object.keys(after[field]).length > 0 ? 0 : Number.NaN;
    for (const [thread, value] of Object.entries(after[field])) {
      if ((thread === 'main') === workers) continue;
      // A thread missing before: NaN (a restarted engine), or 0 when `before` has no threads at all
      // (a span counted from the engine's start).
      const from = before[field][thread] ?? (Object.keys(before[field]).length === 0 ? 0 : Number.NaN);
      total += value - from;
    }
    return total / seconds;
  };
  return {
    main: { cores: share('cpu', false), waiting: share('runqueue', false) },
    workers: { cores: share('cpu', true), waiting: share('runqueue', true) },
  };
}

/** Workers' busy µs per event processed between two scrapes, by stage, and their total. */
export function stagesPerEvent(before: EngineTimes, after: EngineTimes): Record<string, number> {
  const events = after.processed - before.processed;
  const out: Record<string, number> = {};
  let total = 0;
  for (const [stage, value] of Object.entries(after.stages)) {
    const us = ((value - (before.stages[stage] ?? 0)) / events) * 1e6;
    out[stage] = us;
    total += us;
  }
  out['total'] = total;
  return out;
}

/** `parse 2.9, fold 1.8, … µs/event`. */
export function formatStages(stages: Record<string, number> | undefined): string {
  if (!stages) return 'n/a';
  return Object.entries(stages)
    .map(([stage, us]) => `${stage} ${Number.isFinite(us) ? us.toFixed(1) : '?'}`)
    .join(', ');
}

/** `main 0.27 cores + 0.31 waiting; workers …`. */
export function formatShares(s: ThreadShares | undefined): string {
  if (!s) return 'n/a';
  const two = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '?');
  const one = (label: string, t: { cores: number; waiting: number }) =>
    `${label} ${two(t.cores)} cores + ${two(t.waiting)} waiting`;
  return `${one('main thread', s.main)}; ${one('workers', s.workers)}`;
}
