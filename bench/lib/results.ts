/** The result record written to bench/results/<timestamp>.json, and the table printed at the end. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import type { AggregatesResult } from './aggregates.js';
import type { ClusterIngestResult } from './cluster.js';
import { formatShares, formatStages, type ThreadShares } from './engine-times.js';
import type { FailoverResult } from './failover.js';
import { fmt } from './progress.js';

export interface BenchResult {
  machine: {
    cores: number;
    node: string;
    tf_backend: string;
    cpu: string;
    memory_gb: number;
    loadavg_1m_at_start: number;
    /** Per phase: share of the machine's CPU used by processes outside the bench. */
    foreign_cpu_share: Record<string, number>;
  };
  commit: string;
  mode: 'quick' | 'full';
  started_at: string;
  seconds: number;
  ingest: { engine_eps: number; raw_eps: number; ratio: number; [k: string]: unknown };
  freshness: { p50_ms: number; p99_ms: number; rate_eps: number; [k: string]: unknown };
  http: { engine_rps: number; bare_rps: number; ratio: number; p99_ms: number; [k: string]: unknown };
  memory: { customers: number; bytes_per_customer: number; [k: string]: unknown };
  scoring: { engine_rows_per_s: number; standalone_rows_per_s: number; [k: string]: unknown };
  restart: { customers: number; seconds: number; [k: string]: unknown };
  /** Aggregate queries at the restart's customer base while ingesting (aggregates.ts). */
  aggregates?: AggregatesResult;
  /** Two engines on a 3-node NATS cluster: their drain beside the single engine's, and failover. */
  cluster?: { ingest: ClusterIngestResult; failover: FailoverResult; [k: string]: unknown };
  [k: string]: unknown;
}

/** Short commit of the checkout, read from .git without running git; 'unknown' outside a checkout. */
export async function commitOf(root: string = PACKAGE_ROOT): Promise<string> {
  try {
    const head = (await readFile(path.join(root, '.git', 'HEAD'), 'utf8')).trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 7);
    const ref = head.slice(5);
    try {
      return (await readFile(path.join(root, '.git', ref), 'utf8')).trim().slice(0, 7);
    } catch {
      const packed = await readFile(path.join(root, '.git', 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
      return line ? line.slice(0, 7) : 'unknown';
    }
  } catch {
    return 'unknown';
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd();
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

const ms = (v: number): string => (v >= 100 ? fmt(v) : v.toFixed(1));
const ratio = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

interface ColdRestart {
  cold_seconds: number;
  events: number;
  customers: number;
}

function coldCell(c: ColdRestart | undefined): string {
  return c
    ? `cold: ${c.cold_seconds.toFixed(2)} s replaying ${fmt(c.events)} events (${fmt(c.customers)} customers)`
    : '';
}

interface ActivePass {
  customers: number;
  bytes_per_customer: number;
  typed_bytes_per_customer: number;
  events_per_customer: number;
}

function activeRow(a: ActivePass): string[] {
  return [
    'memory (90d)',
    `${fmt(a.bytes_per_customer)} B/customer @ ${fmt(a.customers)}, ${a.events_per_customer.toFixed(1)} events each`,
    `typed arrays ${fmt(a.typed_bytes_per_customer)} B/customer`,
    '',
    '≤ 512 B/customer',
  ];
}

interface FreshnessPoint {
  p50_ms: number;
  p99_ms: number;
  rate_eps: number;
  histogram_p50_ms: number;
  histogram_p99_ms: number;
}

function freshnessRow(label: string, t: FreshnessPoint, target: string): string[] {
  return [
    label,
    `p50 ${ms(t.p50_ms)} ms, p99 ${ms(t.p99_ms)} ms @ ${fmt(t.rate_eps)} ev/s`,
    `histogram p50 ${ms(t.histogram_p50_ms)} ms, p99 ${ms(t.histogram_p99_ms)} ms`,
    '',
    target,
  ];
}

function clusterRows(c: BenchResult['cluster']): string[][] {
  if (!c) return [];
  const { ingest: i, failover: f } = c;
  const s = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
  return [
    [
      'cluster ingest',
      `${fmt(i.eps)} ev/s, ${i.engines} engines × ${i.workers_per_engine} worker, ${i.nodes}-node NATS (R${i.replicas})`,
      `${fmt(i.single_engine_eps)} ev/s one engine, ${i.engines * i.workers_per_engine} workers, one server`,
      ratio(i.ratio),
      '(cost of clustering)',
    ],
    [
      'failover',
      `owned again: median ${s(f.owned_median_s)} s, max ${s(f.owned_max_s)} s; caught up: median ${s(f.caught_up_median_s)} s, max ${s(f.caught_up_max_s)} s`,
      `${f.kills.length} × kill -9 of 1 of 2 engines, lease ${f.lease_seconds} s, ${fmt(f.load_eps)} ev/s live`,
      '',
      '(≈ the lease + catch-up)',
    ],
  ];
}

export function formatTable(r: BenchResult): string {
  const f = r.freshness;
  const s = r.scoring;
  const perBatch = (s['per_batch'] ?? {}) as Record<
    string,
    { engine_rows_per_s: number; standalone_rows_per_s: number }
  >;
  const rows = [
    ['figure', 'engine', 'raw limit (same machine)', 'ratio', 'issue target'],
    [
      'ingest',
      `${fmt(r.ingest.engine_eps)} ev/s`,
      `${fmt(r.ingest.raw_eps)} ev/s bare JetStream consumer`,
      ratio(r.ingest.ratio),
      '≥ 0.7 × raw',
    ],
    freshnessRow('freshness', f as unknown as FreshnessPoint, 'p99 ≤ 1 s'),
    ...(f['at_third_rate']
      ? [freshnessRow('freshness ⅓', f['at_third_rate'] as FreshnessPoint, '(a third of the drain rate)')]
      : []),
    [
      'http',
      `${fmt(r.http.engine_rps)} req/s, p99 ${ms(r.http.p99_ms)} ms (idle: ${fmt(Number(r.http['idle_engine_rps']))})`,
      `${fmt(r.http.bare_rps)} req/s, p99 ${ms(Number(r.http['bare_p99_ms']))} ms bare node:http`,
      ratio(r.http.ratio),
      '≥ 0.5 × bare, p99 ≤ 5 ms',
    ],
    [
      'memory',
      `${fmt(r.memory.bytes_per_customer)} B/customer @ ${fmt(r.memory.customers)}`,
      `typed arrays ${fmt(Number(r.memory['typed_bytes_per_customer']))} B/customer`,
      '',
      '≤ 512 B/customer',
    ],
    ...(r.memory['active_histories'] ? [activeRow(r.memory['active_histories'] as ActivePass)] : []),
    ...Object.entries(perBatch).map(([batch, b]) => [
      `scoring ${batch}`,
      `${fmt(b.engine_rows_per_s)} rows/s`,
      `${fmt(b.standalone_rows_per_s)} rows/s standalone predict`,
      ratio(b.engine_rows_per_s / b.standalone_rows_per_s),
      '≥ 0.8 × standalone',
    ]),
    [
      'restart',
      `${r.restart.seconds.toFixed(2)} s to ready, checkpoints (${fmt(r.restart.customers)} customers)`,
      coldCell(r.restart['at_ingest_scale'] as ColdRestart | undefined),
      '',
      '≤ 10 s @ 1M customers',
    ],
    ...(r.aggregates
      ? [
          [
            'aggregate',
            `p99 ${fmt(r.aggregates.p99_ms)} ms, p50 ${fmt(r.aggregates.p50_ms)} ms @ ${fmt(r.aggregates.customers)} customers`,
            `${r.aggregates.queries} queries while loading at ${fmt(r.aggregates.rate_eps)} ev/s; worker pass ${fmt(r.aggregates.pass_mean_ms)} ms mean; folded ${fmt(r.aggregates.processed_eps_with_queries)} ev/s (${fmt(r.aggregates.processed_eps_without_queries)} without queries)`,
            '',
            'p99 ≤ 1 s @ 1M customers',
          ],
        ]
      : []),
    ...clusterRows(r.cluster),
  ];
  const head =
    `Bellwether bench (${r.mode}) — ${r.machine.cores} cores, Node ${r.machine.node}, TF ${r.machine.tf_backend}, ` +
    `commit ${r.commit}, load average ${r.machine.loadavg_1m_at_start.toFixed(2)} at start`;
  const foreign = Object.entries(r.machine.foreign_cpu_share)
    .map(([phase, share]) => `${phase} ${Number.isFinite(share) ? (share * 100).toFixed(0) : '?'}%`)
    .join(', ');
  return `${head}\n\n${table(rows)}\n\n${whereTimeWent(r)}\nCPU used by other processes during each phase: ${foreign}\n`;
}

interface DrainFigures {
  cpu_us_per_event?: number;
  nats_cpu_us_per_event?: number;
  stages_us_per_event?: Record<string, number>;
  threads?: ThreadShares;
  stages_from?: string;
}

/**
 * The engine's own account of its time (bellwether_thread_*_seconds_total,
 * bellwether_worker_busy_seconds_total): what bounds the figures above.
 */
function whereTimeWent(r: BenchResult): string {
  const engine = (r.ingest['engine'] ?? {}) as DrainFigures;
  const raw = (r.ingest['raw'] ?? {}) as DrainFigures;
  const us = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(1) : '?');
  const third = r.freshness['at_third_rate'] as { threads?: ThreadShares } | undefined;
  const lines = [
    `ingest: engine ${us(engine.cpu_us_per_event)} µs CPU/event, bare consumer ${us(raw.cpu_us_per_event)}; nats-server ${us(engine.nats_cpu_us_per_event)} / ${us(raw.nats_cpu_us_per_event)}`,
    `ingest, workers' busy µs/event (from ${engine.stages_from ?? '?'}): ${formatStages(engine.stages_us_per_event)}`,
    `ingest threads: ${formatShares(engine.threads)}`,
    `freshness, workers' busy µs/event: ${formatStages(r.freshness['stages_us_per_event'] as Record<string, number> | undefined)}`,
    `freshness threads: ${formatShares(r.freshness['threads'] as ThreadShares | undefined)}`,
    ...(third ? [`freshness ⅓ threads: ${formatShares(third.threads)}`] : []),
    `http threads (under ingest): ${formatShares(r.http['threads'] as ThreadShares | undefined)}`,
    ...(r.cluster
      ? [
          `cluster ingest: both engines ${us(r.cluster.ingest.cpu_us_per_event)} µs CPU/event, the three nats-servers ${us(r.cluster.ingest.nats_cpu_us_per_event)}`,
        ]
      : []),
  ];
  return `Where the engine's time went (cores used + cores' worth of waiting for a CPU):\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
