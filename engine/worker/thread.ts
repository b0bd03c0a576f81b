/**
 * One partition worker thread's pieces, built from its WorkerData around one WorkerContext and
 * wired together: the hot path (ingest.ts) folds each message into the open batch (open-batch.ts),
 * which is flushed (batch-flush.ts) once per linger; customer queries (queries.ts) and pushed
 * answers (answer-push.ts) read the partitions' state; the rescore sweep (sweep.ts), checkpoints
 * (checkpoints.ts) and the consumers (consumers.ts) run beside; requests from the main thread
 * are answered by control.ts; lifecycle.ts starts and stops it all.
 */
import type { RfmSketchesJSON } from '../../operators/analytics/rfm.js';
import { compileCleansingRules } from '../../operators/cleansing/rules.js';
import { PiiKeyring } from '../../security/pii-keyring.js';
import { PiiSealer } from '../../security/pii-sealer.js';
import { createLogger } from '../log.js';
import { clockMs } from '../pool/answer-versions.js';
import type { WorkerData } from '../pool/thread-messages.js';
import { populationPartial } from './aggregate.js';
import { AnswerPush } from './answer-push.js';
import { BatchFlush } from './batch-flush.js';
import { fileCheckpoints, natsCheckpoints } from './checkpoint-backends.js';
import { WorkerCheckpoints } from './checkpoints.js';
import { partitionConsumers } from './consumers.js';
import { type PartitionFeed, WorkerContext } from './context.js';
import { type ControlHandler, workerControl } from './control.js';
import { crashEventId } from './crash-hook.js';
import { WorkerCrm } from './crm.js';
import { customerAnswer } from './customer-answers.js';
import { WorkerIdentity } from './identity.js';
import { Ingest } from './ingest.js';
import { disownPartition, type LifecycleParts, ownPartition, startWorker, stopWorker } from './lifecycle.js';
import { createWorkerMetrics } from './metrics.js';
import { WorkerModels } from './models.js';
import { WorkerMonitor } from './monitor.js';
import { OpenBatch } from './open-batch.js';
import { WorkerQueries } from './queries.js';
import { registerStateMetrics } from './state-metrics.js';
import { rescoreSweep } from './sweep.js';

export interface WorkerThread {
  readonly ctx: WorkerContext;
  /** Answers a request of the main thread. */
  readonly handle: ControlHandler;
  /** Starts the worker; resolves once its consumers are attached (then it is ready). */
  start(tfBackend: 'auto' | 'wasm'): Promise<void>;
}

export function createWorkerThread(
  data: WorkerData,
  /** Hands the worker's RFM sketches to the main thread (merged into population quintiles). */
  sketches: (json: RfmSketchesJSON) => void,
): WorkerThread {
  const config = data.config;
  const ctx = new WorkerContext({
    config,
    log: createLogger(config.logLevel, { component: 'worker', worker: data.index }, config.logFormat),
    metrics: createWorkerMetrics(`worker-${data.index}`),
    versions: data.versions,
    sealer: new PiiSealer(PiiKeyring.fromData(data.pii)),
    leaseUntil: data.leaseUntil,
    cleansing: compileCleansingRules(data.cleansing.definition, data.cleansing.source),
    watermarks: data.watermarks,
  });
  const crm = new WorkerCrm(ctx, data.crm.definition, data.crm.source);
  const models = new WorkerModels(ctx);
  registerStateMetrics(ctx, () => models.inUse());
  const answerOf = (feed: PartitionFeed, slot: number) =>
    customerAnswer(feed, slot, models.versions(), config.clock, models.explain, crm.tags);
  const push = new AnswerPush(data.versions, data.queryPort, ctx.feeds, answerOf, {
    ttlMs: config.answerCacheMs,
    max: 4096,
    idleMs: Math.max(5000, 5 * config.answerCacheMs),
    onPushed: (n) => ctx.metrics.answersPushed.inc(n),
  });
  const queries = new WorkerQueries(data.queryPort, ctx.feeds, {
    answer: answerOf,
    partial: (q) =>
      populationPartial(q, ctx.feeds.values(), crm.tags, config.clock, ctx.metrics.aggregatePass),
    flushPending: () => ctx.flushPending(),
    waiting: () => flush.soon(),
    answered: (customerId, partition) => push.watch(customerId, partition, clockMs()),
  });
  const batch = new OpenBatch(ctx.metrics);
  const flush = new BatchFlush(ctx, batch, { scorer: models.scorer, crm, push, queries });
  ctx.onFlushPending(() => flush.flushIfScheduled());
  const identity = new WorkerIdentity(ctx, data.hooks.killAfterForwards);
  const monitor = new WorkerMonitor(ctx, models.scorer);
  const ingest = new Ingest(ctx, {
    batch,
    crm,
    identity,
    monitor,
    flush,
    queries,
    poison: new Set(data.poison),
    inflight: data.inflight,
    crashOnEventId: crashEventId(data.hooks, data.generation),
  });
  const place = data.checkpoints;
  const backend =
    place.kind === 'file'
      ? fileCheckpoints(place.dir)
      : natsCheckpoints(ctx, {
          replicas: place.replicas,
          instanceId: place.instanceId,
          log: ctx.log,
          migrateFrom: place.dir,
        });
  const checkpoints = new WorkerCheckpoints(ctx, backend, crm);
  const consumers = partitionConsumers(ctx, ingest.onMessage, (feed) => {
    checkpoints.discard(feed, crm, true);
    // Effects already published were counted in the other stream's sequences.
    feed.replayUntil = 0;
    push.voidAnswers(feed.state.partition);
    // The fresh state learns the partition's links again.
    identity.watch(feed).catch((err: unknown) => ctx.log.warn({ err }, 'identity link watch not restarted'));
  });
  const sweep = rescoreSweep(ctx, {
    scorer: models.scorer,
    crm,
    sketches,
    rescored: (partition) => push.voidAnswers(partition),
  });
  const parts: LifecycleParts = {
    index: data.index,
    partitions: data.partitions,
    eventsLayout: data.eventsLayout,
    nats: data.nats,
    crm,
    models,
    checkpoints,
    consumers,
    flush,
    push,
    queries,
    identity,
    sweep,
  };
  const handle = workerControl(ctx, {
    index: data.index,
    models,
    crm,
    push,
    batch,
    monitor,
    stop: () => stopWorker(ctx, parts),
    sweep,
    own: (partition, epoch) => ownPartition(ctx, parts, partition, epoch),
    disown: (partition, mode) => disownPartition(ctx, parts, partition, mode),
  });
  return { ctx, handle, start: (tfBackend) => startWorker(ctx, parts, tfBackend) };
}
