/**
 * The cluster phase, the cost of clustering: a 3-node nats-server cluster on this machine (streams,
 * KV buckets and object store at 3 replicas, the bench's partition count), the ingest data set
 * pre-loaded the same way (`load.js preload`), then two engines (`BW_INSTANCE_ID` bench-a and
 * bench-b, `BW_REPLICAS=3`, one worker each: together the two threads of the single-engine ingest)
 * started together drain it, timed exactly as the single engine is (acks on `$JS.ACK.>`, first ack
 * → last ack). The two engines keep running for the failover phase (failover.ts).
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { EVENTS_STREAM_PREFIX, ensureStreams, eventsStreamOf } from '../../engine/nats/streams.js';
import { AckWatch } from './acks.js';
import { waitDrained } from './consumers.js';
import type { BenchContext, BenchOptions } from './context.js';
import { type EngineProc, getText, startEngine } from './engine-proc.js';
import {
  type DrainCpu,
  DrainCpuMeter,
  type DrainResult,
  drainResult,
  type PreloadResult,
  preload,
} from './ingest.js';
import { type BenchNatsCluster, startNatsCluster } from './nats-cluster-proc.js';
import { fmt, type Progress } from './progress.js';
import { sleep } from './report.js';
import { parsePrometheus, type Sample, sumOf } from './stats.js';

const CLUSTER_NODES = 3;
const CLUSTER_REPLICAS = 3;
const CLUSTER_ENGINES = 2;

/** One engine of the cluster: its instance id and its process. */
export interface ClusterEngine {
  id: string;
  proc: EngineProc;
}

/** The cluster, a context for the shared bench pieces over it, and the engines running on it. */
export interface ClusterBench {
  cluster: BenchNatsCluster;
  /** `nats` is the first node (the load generator publishes there; the mapping is on every node). */
  ctx: BenchContext;
  loaded: PreloadResult;
  engines: ClusterEngine[];
  /** Starts one more engine on the cluster (not added to `engines`). */
  startEngine(id: string, onSpawn?: (pid: number | undefined) => void): Promise<ClusterEngine>;
  stop(): Promise<void>;
}

export interface ClusterIngestResult extends DrainResult, DrainCpu {
  eps: number;
  /** The single engine's drain rate of the same run, and this rate over it. */
  single_engine_eps: number;
  ratio: number;
  events: number;
  nodes: number;
  replicas: number;
  engines: number;
  workers_per_engine: number;
  lease_seconds: number;
  /** Summed over the engines' /metrics at the end of the drain. */
  processed: number;
  duplicates: number;
  /** Mean events per processing batch, over both engines (the single engine's is in ingest.engine). */
  mean_batch: number;
  /** bellwether_partition_handoffs_total by reason, summed over the engines (start-up rebalancing). */
  handoffs: Record<string, number>;
}

/** Starts the cluster, creates the streams at 3 replicas and pre-loads the ingest data set. */
export async function startClusterBench(
  opts: BenchOptions,
  progress: Progress,
  tmp: string,
): Promise<ClusterBench> {
  progress.phase(
    `cluster: ${CLUSTER_NODES}-node nats-server cluster, streams at ${CLUSTER_REPLICAS} replicas, ${opts.partitions} partitions`,
  );
  const cluster = await startNatsCluster(opts.partitions);
  const engines: ClusterEngine[] = [];
  const nc = await connect({ servers: cluster.urls, name: 'bench-orchestrator-cluster' }).catch(
    async (err: unknown) => {
      await cluster.stop();
      throw err;
    },
  );
  const stop = async (): Promise<void> => {
    await Promise.all(engines.map((e) => e.proc.stop().catch(() => {})));
    if (!nc.isClosed()) await nc.close().catch(() => {});
    await cluster.stop();
  };
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, {
      partitions: opts.partitions,
      eventsMaxAgeDays: 400,
      auditRetentionDays: 1096,
      replicas: CLUSTER_REPLICAS,
    });
    await waitStreamLeaders(jsm, opts.partitions);
    progress.done(cluster.urls.join(', '));
    const ctx: BenchContext = {
      opts,
      progress,
      nats: { url: cluster.urls[0]!, pid: cluster.pids[0]!, stop },
      nc,
      jsm,
      tmp,
    };
    const loaded = await preload(ctx);
    // The instances of a cluster share their PII keys (one generated for this run).
    const piiKey = `bench:${randomBytes(32).toString('hex')}`;
    const start = async (
      id: string,
      onSpawn?: (pid: number | undefined) => void,
    ): Promise<ClusterEngine> => ({
      id,
      proc: await startEngine({
        natsUrl: cluster.urls.join(','),
        partitions: opts.partitions,
        workers: 1,
        env: {
          BW_INSTANCE_ID: id,
          BW_PII_KEY: piiKey,
          BW_REPLICAS: String(CLUSTER_REPLICAS),
          BW_LEASE_SECONDS: String(opts.clusterLeaseSeconds),
        },
        onWarning: (line) => progress.note(`engine ${id}: ${line.slice(0, 200)}`),
        onSpawn: (child) => onSpawn?.(child.pid),
      }),
    });
    return { cluster, ctx, loaded, engines, startEngine: start, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every partition's events stream has a leader (core publishes to a stream without one are lost). */
async function waitStreamLeaders(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  partitions: number,
): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const led = await Promise.all(
      Array.from({ length: partitions }, (_, p) =>
        jsm.streams.info(eventsStreamOf(p, 'partitioned')).then(
          (info) => Boolean(info.cluster?.leader),
          () => false,
        ),
      ),
    );
    if (led.every(Boolean)) return;
    if (performance.now() > deadline) throw new Error('the events streams have no leader after 60 s');
    await sleep(250);
  }
}

/** Handoffs by reason (acquired, handoff, taken, expired) from one engine's samples. */
function handoffsOf(samples: Sample[], into: Record<string, number>): void {
  for (const s of samples) {
    if (s.name !== 'bellwether_partition_handoffs_total') continue;
    const reason = s.labels['reason'] ?? '?';
    into[reason] = (into[reason] ?? 0) + s.value;
  }
}

/**
 * Two engines started together drain the pre-loaded set; rate = events / (first ack → last ack),
 * as the single engine's. The acks counted are every consumer's (a partition moved at start-up is
 * acked by two consumers, each counting its own); the end is confirmed on the consumers' state.
 */
export async function clusterIngest(
  bench: ClusterBench,
  singleEngineEps: number,
): Promise<ClusterIngestResult> {
  const { ctx, loaded, cluster } = bench;
  const { opts, progress } = ctx;
  const total = loaded.events;
  progress.phase(
    `cluster ingest: ${CLUSTER_ENGINES} engines × 1 worker on the ${CLUSTER_NODES}-node cluster, ${opts.partitions} partitions`,
  );
  const watch = await AckWatch.start(ctx.nc, EVENTS_STREAM_PREFIX, 'bw-p');
  const pids: (number | undefined)[] = [];
  const cpu = new DrainCpuMeter(
    () => pids,
    cluster.pids,
    total,
    () => watch.total,
  );
  const spawnedAt = performance.now();
  const ids = Array.from({ length: CLUSTER_ENGINES }, (_, i) => `bench-${String.fromCharCode(97 + i)}`);
  const started = await Promise.allSettled(
    ids.map((id, i) =>
      bench.startEngine(id, (pid) => {
        pids[i] = pid;
      }),
    ),
  );
  for (const s of started) if (s.status === 'fulfilled') bench.engines.push(s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  await watch.waitFor(total, {
    onProgress: (acked) => progress.count(acked, total, 'events acked'),
    check: () => {
      if (bench.engines.some((e) => e.proc.child.exitCode !== null))
        throw new Error('an engine exited during the cluster ingest');
    },
  });
  const drainCpu = cpu.result();
  // Every partition's newest consumer has nothing pending or unacked: the drain is over.
  await waitDrained(ctx.jsm, (p) => `bw-p${p}`, opts.partitions, {
    createdAfter: 0,
    total: 0,
    pollMs: 50,
    timeoutMs: 120_000,
  });
  watch.stop();
  const handoffs: Record<string, number> = {};
  let processed = 0;
  let duplicates = 0;
  let batchSum = 0;
  let batchCount = 0;
  for (const e of bench.engines) {
    const samples = parsePrometheus(await getText(`${e.proc.httpUrl}/metrics`));
    processed += sumOf(samples, 'bellwether_events_processed_total');
    duplicates += sumOf(samples, 'bellwether_events_duplicate_total');
    batchSum += sumOf(samples, 'bellwether_batch_size_sum');
    batchCount += sumOf(samples, 'bellwether_batch_size_count');
    handoffsOf(samples, handoffs);
  }
  const drained = drainResult(total, watch, spawnedAt);
  const result: ClusterIngestResult = {
    ...drained,
    ...drainCpu,
    single_engine_eps: singleEngineEps,
    ratio: drained.eps / singleEngineEps,
    events: total,
    nodes: CLUSTER_NODES,
    replicas: CLUSTER_REPLICAS,
    engines: CLUSTER_ENGINES,
    workers_per_engine: 1,
    lease_seconds: opts.clusterLeaseSeconds,
    processed,
    duplicates,
    mean_batch: batchSum / batchCount,
    handoffs,
  };
  if (processed !== total) progress.note(`warning: the engines processed ${processed} of ${total} events`);
  progress.done(
    `${fmt(result.eps)} ev/s (steady ${fmt(result.steady_eps)} ev/s; ${result.seconds.toFixed(2)} s first to last ack, ${result.spawn_to_first_ack_s.toFixed(2)} s start-up), ${result.ratio.toFixed(2)} × the single engine's ${fmt(singleEngineEps)}; processed ${fmt(processed)}, mean batch ${fmt(result.mean_batch)}; handoffs ${formatHandoffs(handoffs)}; CPU ${fmt(drainCpu.cpu_us_per_event, 1)} µs/event (both engines), nats-servers ${fmt(drainCpu.nats_cpu_us_per_event, 1)} (all three)`,
  );
  return result;
}

function formatHandoffs(handoffs: Record<string, number>): string {
  const parts = Object.entries(handoffs).map(([reason, n]) => `${reason} ${fmt(n)}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}
