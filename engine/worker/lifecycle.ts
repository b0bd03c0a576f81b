/**
 * Start and stop of a partition worker. Start: the thread's priority lowered, TF.js loaded, a feed
 * made for each owned partition and restored from its checkpoint (personal fields re-sealed under
 * the current key), the models loaded, NATS connected, the partitions' consumers attached, and the
 * periodic work set (consumer poll, rescore sweep, answer push, checkpoints). Stop: consumers
 * stopped, the last batch flushed and acked, every partition checkpointed, the connection drained.
 */
import { jetstream } from '@nats-io/jetstream';
import { connectNats } from '../../lib/nats-connect.js';
import type { NatsConnectSettings } from '../../lib/nats-connect-options.js';
import { lowerThreadPriority } from '../../lib/thread-priority.js';
import { loadTf } from '../../models/tf-backend.js';
import { RuleEngine } from '../../operators/crm/rule-engine.js';
import { type EventsLayout, eventsStreamOf } from '../nats/streams.js';
import { PartitionCrm } from '../state/partition-crm.js';
import { PartitionState } from '../state/partition-state.js';
import type { AnswerPush } from './answer-push.js';
import type { BatchFlush } from './batch-flush.js';
import type { WorkerCheckpoints } from './checkpoints.js';
import type { PartitionConsumers } from './consumers.js';
import type { PartitionFeed, WorkerContext } from './context.js';
import type { WorkerCrm } from './crm.js';
import type { WorkerModels } from './models.js';
import type { WorkerQueries } from './queries.js';
import { resealAll } from './reseal.js';

/** A fresh, empty feed of partition `p` (its consumer not attached yet). */
export function newFeed(ctx: WorkerContext, p: number, layout: EventsLayout, crm: WorkerCrm): PartitionFeed {
  const state = new PartitionState(p, ctx.config.dedupeIdsPerPartition);
  return {
    state,
    stream: eventsStreamOf(p, layout),
    checkpointOrigin: undefined,
    messages: undefined,
    attached: false,
    caughtUp: false,
    pending: 0,
    route: { partition: p, partitions: ctx.config.partitions },
    consumerGeneration: 0,
    delivered: 0,
    acked: 0,
    lastDeliveryMs: 0,
    infoAt: 0,
    lastMsg: undefined,
    publishes: [],
    replayUntil: 0,
    checkpointed: 0,
    sweptSinceCheckpoint: false,
    // The CRM declares its columns before a checkpoint is restored into the store.
    crm: new PartitionCrm(state, crm.config, ctx.sealer),
    rules: new RuleEngine(crm.config.rules),
  };
}

/** The worker's pieces that start and stop with it. */
export interface LifecycleParts {
  index: number;
  partitions: readonly number[];
  eventsLayout: EventsLayout;
  nats: NatsConnectSettings;
  crm: WorkerCrm;
  models: WorkerModels;
  checkpoints: WorkerCheckpoints;
  consumers: PartitionConsumers;
  flush: BatchFlush;
  push: AnswerPush;
  queries: WorkerQueries;
  /** Starts a rescore sweep (sweep.ts). */
  sweep(): void;
}

/** Starts the worker; resolves once every partition's consumer is attached. */
export async function startWorker(
  ctx: WorkerContext,
  parts: LifecycleParts,
  tfBackend: 'auto' | 'wasm',
): Promise<void> {
  const { config, log, feeds } = ctx;
  const { crm, models, checkpoints, consumers, push } = parts;
  let nice: number | undefined;
  try {
    nice = lowerThreadPriority(config.workerNice);
  } catch (err) {
    log.warn({ err }, 'could not lower the worker thread priority (BW_WORKER_NICE)');
  }
  const loaded = await loadTf(tfBackend);
  for (const p of parts.partitions) feeds.set(p, newFeed(ctx, p, parts.eventsLayout, crm));
  for (const feed of feeds.values()) await checkpoints.load(feed, crm);
  // A checkpoint written before a key rotation holds fields under the old key: re-seal them now.
  resealAll(ctx);
  await models.load(loaded, feeds.values().next().value!.state.table.names);
  const nc = await connectNats(parts.nats, {
    name: `bellwether-worker-${parts.index}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Without this every publish and request builds an Error for its async stack trace: measured as
    // the single biggest self-time entry of a worker publishing alerts and actions.
    noAsyncTraces: true,
  });
  ctx.connected(nc, jetstream(nc));
  for (const feed of feeds.values()) await consumers.attach(feed);
  await consumers.poll();
  setInterval(() => {
    consumers.poll().catch((err: unknown) => log.warn({ err }, 'consumer poll failed'));
  }, 1000).unref();
  const scorer = models.scorer();
  log.info(
    {
      partitions: parts.partitions,
      tf_backend: models.backend,
      nice,
      churn: scorer.churn.version,
      intent: scorer.intent.version,
      inference: { churn: scorer.churn.inference, intent: scorer.intent.inference },
    },
    'worker ready',
  );
  if (config.rescoreSeconds > 0) setInterval(parts.sweep, config.rescoreSeconds * 1000).unref();
  if (push.enabled)
    setInterval(() => push.refresh(), Math.min(1000, Math.max(50, config.answerCacheMs / 2))).unref();
  if (config.checkpointSeconds > 0)
    setInterval(() => void checkpoints.writeAll(), config.checkpointSeconds * 1000).unref();
  parts.queries.listen();
}

/** Stops consuming, flushes and acks the last batch, checkpoints every partition, drains NATS. */
export async function stopWorker(ctx: WorkerContext, parts: LifecycleParts): Promise<void> {
  ctx.stopping();
  for (const feed of ctx.feeds.values()) feed.messages?.stop();
  parts.flush.flushIfScheduled();
  await parts.flush.acked();
  await parts.checkpoints.settled();
  await parts.checkpoints.writeAll();
  await ctx.nc().drain();
}
