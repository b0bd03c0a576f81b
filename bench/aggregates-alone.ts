/**
 * `node dist/bench/aggregates-alone.js [--customers N] [--rates R1,R2] [--seconds S] [--wait-quiet W]`: the bench's
 * aggregate phase alone, through the full bench's own pieces: a nats-server with the partition
 * mapping, an engine, `restartAtScale` with N customers (one event each; 1M by default) and, on
 * the restarted engine, the `aggregates` phase once per load rate (default 36,000 ev/s, about the
 * full bench's half drain rate, then 5,000), each after waiting up to W seconds (default 0) for the
 * machine to be quiet. Writes bench/results/aggregates-<timestamp>.json and
 * prints one line per rate on stdout. See bench/README.md.
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
import { type BenchContext, benchOptions } from './lib/context.js';
import { waitQuiet } from './lib/cpu.js';
import { startEngine } from './lib/engine-proc.js';
import { startNats } from './lib/nats-proc.js';
import { fmt, Progress } from './lib/progress.js';
import { numberArg, runMain } from './lib/report.js';
import { restartAtScale } from './lib/restart.js';
import { commitOf } from './lib/results.js';

runMain(async () => {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string' },
      rates: { type: 'string', default: '36000,5000' },
      seconds: { type: 'string' },
      'wait-quiet': { type: 'string' },
    },
  });
  const opts = benchOptions(false, false);
  const customers = numberArg(values.customers, 'customers', opts.restartCustomers);
  const seconds = numberArg(values.seconds, 'seconds', opts.aggregateSeconds);
  const rates = (values.rates ?? '').split(',').map((r) => numberArg(r, 'rates'));
  const quietSeconds = numberArg(values['wait-quiet'], 'wait-quiet', 0);
  const progress = new Progress();
  const startedAt = new Date();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-bench-agg-'));
  const nats = await startNats(opts.partitions);
  const nc = await connect({ servers: nats.url, name: 'bench-aggregates' });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, { partitions: opts.partitions, eventsMaxAgeDays: 400, auditRetentionDays: 1096 });
  const ctx: BenchContext = { opts, progress, nats, nc, jsm, tmp };
  const runs: AggregatesResult[] = [];
  try {
    const first = await startEngine({
      natsUrl: nats.url,
      partitions: opts.partitions,
      workers: opts.workers,
      dataDir: path.join(tmp, 'engine-data'),
      onWarning: (line) => progress.note(`engine: ${line.slice(0, 200)}`),
    });
    const restart = await restartAtScale(ctx, first, customers, async (engine) => {
      for (const rate of rates) {
        if (quietSeconds > 0) await waitQuiet(progress, quietSeconds);
        runs.push(await aggregates(ctx, engine, rate, seconds, seconds / 2));
      }
    });
    const resultsDir = path.join(PACKAGE_ROOT, 'bench', 'results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `aggregates-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    const out = { commit: await commitOf(), started_at: startedAt.toISOString(), restart, aggregates: runs };
    await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
    progress.note(`results: ${path.relative(process.cwd(), file)}`);
    for (const r of runs)
      process.stdout.write(
        `${fmt(r.rate_eps)} ev/s, ${fmt(r.customers)} customers: p50 ${fmt(r.p50_ms)} ms, p99 ${fmt(r.p99_ms)} ms, ` +
          `${r.queries} queries, ${r.errors} errors; ${Object.entries(r.per_query)
            .map(([k, q]) => `${k} p50/p99 ${fmt(q.p50_ms)}/${fmt(q.p99_ms)}`)
            .join(', ')}; pass mean ${fmt(r.pass_mean_ms)} ms p99 ${fmt(r.pass_p99_ms)} ms; ` +
          `folded ${fmt(r.processed_eps_without_queries)} → ${fmt(r.processed_eps_with_queries)} ev/s; ` +
          `other processes ${(r.foreign_cpu_share * 100).toFixed(0)}%; load ${r.loadavg_1m.map((l) => l.toFixed(1)).join(' → ')}\n`,
      );
  } finally {
    await nc.close().catch(() => {});
    await nats.stop().catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  }
});
