/**
 * Start and stop of a partition worker, and of one partition in it. Start: the thread's priority
 * lowered, TF.js and the models loaded, NATS connected, each partition it starts with owned, and the
 * periodic work set (consumer poll, rescore sweep, answer push, checkpoints). Owning a partition: a
 * feed made and restored from its checkpoint (personal fields re-sealed under the current key), its
 * consumer attached. Disowning one: its consumer stopped and, on a handoff, its last batch flushed,
 * acked and checkpointed. Stop: consumers stopped, the last batch flushed and acked, every partition
 * checkpointed, the connection drained.
 */
import { jetstream } from '@nats-io/jetstream';
import { connectNats } from '../../lib/nats-connect.js';
import type { NatsConnectSettings } from '../../lib/nats-connect-options.js';
import { lowerThreadPriority } from '../../lib/thread-priority.js';
import { registryEventTypeSets } from '../../models/semantics.js';
import { loadTf } from '../../models/tf-backend.js';
import { EventCleanser } from '../../operators/cleansing/cleanser.js';
import { RuleEngine } from '../../operators/crm/rule-engine.js';
import { type EventsLayout, eventsStreamOf } from '../nats/streams.js';
import type { DisownMode, OwnedPartition } from '../pool/thread-messages.js';
import { PartitionCrm } from '../state/partition-crm.js';
import { PartitionState } from '../state/partition-state.js';
import type { AnswerPush } from './answer-push.js';
import type { BatchFlush } from './batch-flush.js';
import type { WorkerCheckpoints } from './checkpoints.js';
import type { PartitionConsumers } from './consumers.js';
import type { PartitionFeed, WorkerContext } from './context.js';
import type { WorkerCrm } from './crm.js';
import type { WorkerIdentity } from './identity.js';
import type { WorkerModels } from './models.js';
import type { WorkerQueries } from './queries.js';

/** A fresh, empty feed of partition `p` (its consumer not attached yet). */
export function newFeed(
  ctx: WorkerContext,
  p: number,
  epoch: number,
  layout: EventsLayout,
  crm: WorkerCrm,
): PartitionFeed {
  const state = new PartitionState(
    p,
    ctx.config.dedupeIdsPerPartition,
    ctx.config.watermarkMaxJumpSeconds * 1000,
    ctx.featureViews,
  );
  return {
    state,
    stream: eventsStreamOf(p, layout),
    checkpointOrigin: undefined,
    streamCreated: undefined,
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
    checkpointedAt: Date.now(),
    sweptSinceCheckpoint: false,
    epoch,
    fenced: false,
    // The CRM declares its columns before a checkpoint is restored into the store.
    crm: new PartitionCrm(state, crm.config, ctx.sealer, ctx.profilePolicy),
    rules: new RuleEngine(crm.config.rules),
    cleanser: new EventCleanser(ctx.cleansing(), ctx.metrics.cleansed),
  };
}

/** The worker's pieces that start and stop with it. */
export interface LifecycleParts {
  index: number;
  partitions: readonly OwnedPartition[];
  eventsLayout: EventsLayout;
  nats: NatsConnectSettings;
  crm: WorkerCrm;
  models: WorkerModels;
  checkpoints: WorkerCheckpoints;
  consumers: PartitionConsumers;
  flush: BatchFlush;
  push: AnswerPush;
  queries: WorkerQueries;
  identity: WorkerIdentity;
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
  const { models, checkpoints, consumers, push } = parts;
  let nice: number | undefined;
  try {
    nice = lowerThreadPriority(config.workerNice);
  } catch (err) {
    log.warn({ err }, 'could not lower the worker thread priority (BW_WORKER_NICE)');
  }
  const loaded = await loadTf(tfBackend);
  ctx.featureViews = await registryEventTypeSets(config.modelsDir);
  await models.load(loaded, new PartitionState(0, 0, 0, ctx.featureViews).table);
  const nc = await connectNats(parts.nats, {
    name: `bellwether-worker-${parts.index}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Without this every publish and request builds an Error for its async stack trace: measured as
    // the single biggest self-time entry of a worker publishing alerts and actions.
    noAsyncTraces: true,
  });
  ctx.connected(nc, jetstream(nc));
  await parts.identity.open();
  for (const { partition, epoch } of parts.partitions) await ownPartition(ctx, parts, partition, epoch);
  await consumers.poll();
  // Without RFM cuts (a first start, a replay from the stream) every customer's RFM reads 0 until a
  // sweep brings them: the first sweep runs as soon as every partition here has caught up.
  let early = config.rescoreSeconds > 0 && parts.crm.cuts === undefined;
  setInterval(() => {
    consumers
      .poll()
      .then(() => {
        if (!early || feeds.size === 0 || ![...feeds.values()].every((f) => f.caughtUp)) return;
        early = false;
        if (parts.crm.cuts === undefined) parts.sweep();
      })
      .catch((err: unknown) => log.warn({ err }, 'consumer poll failed'));
  }, 1000).unref();
  const scorer = models.scorer();
  log.info(
    {
      partitions: [...feeds.keys()],
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

/**
 * Starts running a partition under its lease `epoch`: its checkpoint loaded (claimed for the epoch
 * where checkpoints live in NATS), personal fields re-sealed under the current key, its consumer
 * attached right after the checkpoint's sequence. A partition already run here keeps running.
 */
export async function ownPartition(
  ctx: WorkerContext,
  parts: LifecycleParts,
  partition: number,
  epoch: number,
): Promise<void> {
  const running = ctx.feeds.get(partition);
  if (running && !running.fenced && running.epoch === epoch) return;
  if (running) await disownPartition(ctx, parts, partition, 'lost');
  const feed = newFeed(ctx, partition, epoch, parts.eventsLayout, parts.crm);
  await parts.checkpoints.load(feed, parts.crm);
  const resealed = feed.crm.pii.reseal((slot) => feed.state.table.idOf(slot));
  if (resealed.failed > 0)
    ctx.log.error(
      { partition, fields: resealed.failed },
      'personal fields do not open with the current keyring',
    );
  ctx.feeds.set(partition, feed);
  try {
    await parts.identity.watch(feed);
    await parts.consumers.attach(feed);
  } catch (err) {
    parts.identity.unwatch(partition);
    ctx.feeds.delete(partition);
    throw err;
  }
  parts.push.voidAnswers(partition);
  // Lag and catch-up from the new consumer's pending count now, not at the next poll.
  if (ctx.isConnected()) await parts.consumers.poll();
  ctx.log.info({ partition, epoch, sequence: feed.state.lastSequence }, 'partition owned');
}

/**
 * Stops running a partition. `handoff`: its consumer stopped, the open batch flushed and acked,
 * its state checkpointed, then forgotten. `lost`: fenced and forgotten at once; nothing more of it
 * is acked, checkpointed or published here.
 */
export async function disownPartition(
  ctx: WorkerContext,
  parts: LifecycleParts,
  partition: number,
  mode: DisownMode,
): Promise<void> {
  const feed = ctx.feeds.get(partition);
  if (!feed) return;
  feed.messages?.stop();
  feed.attached = false;
  parts.identity.unwatch(partition);
  if (mode === 'lost') {
    feed.fenced = true;
    feed.replayUntil = Number.POSITIVE_INFINITY;
  }
  // The open batch may hold the partition's customers: flushed now, while its feed is still known.
  parts.flush.flushIfScheduled();
  if (mode === 'handoff') {
    await parts.flush.acked();
    await parts.checkpoints.writeOne(feed);
  }
  ctx.feeds.delete(partition);
  ctx.watermarks[partition] = Number.NaN; // no longer part of the common event clock here
  ctx.metrics.pending.remove(String(partition));
  parts.push.voidAnswers(partition);
  ctx.log.info(
    { partition, epoch: feed.epoch, mode, sequence: feed.state.lastSequence },
    'partition disowned',
  );
}
