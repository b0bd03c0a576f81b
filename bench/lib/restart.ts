/**
 * Restart: stop the engine and start it again on the same stream. State lives in memory, so the
 * new process replays the whole stream (README "Guarantees"). Timed from spawn to `/readyz` 200,
 * and, because readiness allows up to 1,000 undelivered messages per partition (and does not count
 * delivered-but-unacked ones), also to every consumer fully drained.
 */
import { waitDrained } from './consumers.js';
import type { BenchContext } from './context.js';
import { type EngineProc, getJson, startEngine } from './engine-proc.js';
import { engineCounters, streamMessages } from './ingest.js';
import { fmt } from './progress.js';
import { sleep } from './report.js';

export interface RestartResult {
  customers: number;
  events: number;
  seconds: number;
  spawn_to_started_s: number;
  seconds_all_acked: number;
  processed_at_ready: number;
  replay_eps: number;
}

interface PartitionStatus {
  customers: number;
}

export async function customersTracked(engine: EngineProc): Promise<number> {
  const info = await getJson<{ partition_status: PartitionStatus[] }>(`${engine.httpUrl}/v1/info`);
  return info.body.partition_status.reduce((sum, p) => sum + p.customers, 0);
}

export async function restart(
  ctx: BenchContext,
  previous: EngineProc,
): Promise<{ engine: EngineProc; result: RestartResult }> {
  const { opts, progress } = ctx;
  progress.phase('restart: stop the engine, start it on the same stream, time to /readyz 200');
  await previous.stop();
  const events = await streamMessages(ctx);
  const spawnedWall = Date.now();
  const engine = await startEngine({
    natsUrl: ctx.nats.url,
    partitions: opts.partitions,
    workers: opts.workers,
    onWarning: (line) => progress.note(`engine: ${line.slice(0, 200)}`),
  });
  let seconds = Number.NaN;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const res = await fetch(`${engine.httpUrl}/readyz`);
    const body = (await res.json()) as { pending?: number };
    if (res.status === 200) {
      seconds = (Date.now() - spawnedWall) / 1000;
      break;
    }
    progress.update(`not ready, ${fmt(body.pending ?? 0)} pending`);
    if (Date.now() > deadline) throw new Error('the engine did not become ready');
    await sleep(50);
  }
  const atReady = await engineCounters(engine);
  const timing = await waitDrained(ctx.jsm, (p) => `bw-p${p}`, opts.partitions, {
    createdAfter: spawnedWall,
    total: events,
    onPoll: (remaining) => progress.update(`ready; ${fmt(remaining)} still unacked`),
  });
  const allAcked = (timing.drainedAt - spawnedWall) / 1000;
  const customers = await customersTracked(engine);
  const result: RestartResult = {
    customers,
    events,
    seconds,
    spawn_to_started_s: engine.startMs / 1000,
    seconds_all_acked: allAcked,
    processed_at_ready: atReady.processed,
    replay_eps: events / timing.seconds,
  };
  progress.done(
    `ready after ${seconds.toFixed(2)} s, all acked after ${allAcked.toFixed(2)} s (${fmt(customers)} customers, ${fmt(events)} events)`,
  );
  return { engine, result };
}
