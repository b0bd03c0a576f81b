/**
 * A partition worker thread. It owns some partitions; each partition is fed by its own durable
 * JetStream pull consumer on the partition's own stream (BW_EVENTS_<p>), so no thread routes
 * another's events.
 *
 * Hot path, per message (synchronous consume callback): parse + validate the bytes, dedupe on
 * event_id, fold into the customer's typed state and the CRM analytics, run event rules, mark the
 * customer touched. Once per turn of the event loop (setImmediate) the batch is flushed: every
 * touched customer is scored by both models in one predict each, then its segment, tags and
 * condition rules are updated; crossings become alerts, firings actions; dead letters, alerts and
 * actions are published, and the last message of each partition is acked (AckAll: one ack per
 * partition per batch). Checkpoints (worker-checkpoints.ts), the rescore sweep (rescore-sweep.ts)
 * and the consumers' lifecycle (partition-consumers.ts) live in their own modules.
 */
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { type JetStreamClient, type JsMsg, jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';
import { parseEvent } from '../../contract/event-parse.js';
import type { RejectReason } from '../../contract/event-schema.js';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { ALERTS_PREFIX } from '../../contract/subjects.js';
import { lowerThreadPriority } from '../../lib/thread-priority.js';
import { disposeModelSet, loadModelSet, modelVersions } from '../../models/model-set.js';
import type { Reason } from '../../models/scorer.js';
import { loadTf, type Tf } from '../../models/tf-backend.js';
import { RuleEngine } from '../../operators/crm/rule-engine.js';
import { PiiKeyring, type PiiKeyringData } from '../../security/pii-keyring.js';
import { PiiSealer } from '../../security/pii-sealer.js';
import { createLogger } from '../log.js';
import { type Delivery, readDelivery } from '../nats/ack-reply.js';
import { partitionConsumers } from '../nats/consumers.js';
import { deadLetter } from '../nats/dead-letters.js';
import { distinctPromises, EffectPublisher } from '../nats/effect-publisher.js';
import { eventsStreamOf } from '../nats/streams.js';
import { bumpCustomer, bumpPartition, clockMs } from '../pool/answer-cache.js';
import {
  type FromWorker,
  POISON_CRASHES,
  type WorkerData,
  type WorkerRequest,
  type WorkerStatus,
} from '../pool/thread-messages.js';
import { PartitionCrm } from '../state/partition-crm.js';
import { PartitionState } from '../state/partition-state.js';
import type { AlertBody } from './alerts.js';
import { analyticsAnswer, partitionStatuses } from './analytics.js';
import { AnswerPush } from './answer-push.js';
import { BatchScorer } from './batch-scorer.js';
import { WorkerCheckpoints } from './checkpoints.js';
import type { PartitionFeed, WorkerContext } from './context.js';
import { WorkerCrm } from './crm.js';
import { customerAnswer, type ModelVersions, riskiest } from './customer-answers.js';
import {
  createWorkerMetrics,
  STAGE_CRM,
  STAGE_EFFECTS,
  STAGE_FOLD,
  STAGE_PARSE,
  STAGE_SAMPLE,
  STAGE_SCORE,
} from './metrics.js';
import { WorkerQueries } from './queries.js';
import { rescoreSweep } from './sweep.js';

const data = workerData as WorkerData;
const config = data.config;
const poison = new Set(data.poison);
const eventClock = config.clock === 'event';
const log = createLogger(config.logLevel, { component: 'worker', worker: data.index });
const metrics = createWorkerMetrics(`worker-${data.index}`);
const stageSeconds = metrics.stageSeconds;
/** Messages seen: one in STAGE_SAMPLE has its per-event stages timed. */
let messageCount = 0;
const port = parentPort!;

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

const feeds = new Map<number, PartitionFeed>();
let sealer = new PiiSealer(PiiKeyring.fromData(data.pii));
const effects = new EffectPublisher(
  () => nc,
  () => js,
);
let nc: NatsConnection;
let js: JetStreamClient;
const ctx: WorkerContext = {
  config,
  log,
  metrics,
  feeds,
  sealer: () => sealer,
  effects,
  nc: () => nc,
  js: () => js,
  isStopping: () => stopping,
  flushPending: () => {
    if (flushScheduled) flush();
  },
};
const crm = new WorkerCrm(ctx, data.crm.definition, data.crm.source);
const answerOf = (feed: PartitionFeed, slot: number) =>
  customerAnswer(feed, slot, versions(), config.clock, explain, crm.tags);
const push = new AnswerPush(data.versions, data.queryPort, feeds, answerOf, {
  ttlMs: config.answerCacheMs,
  max: 4096,
  idleMs: Math.max(5000, 5 * config.answerCacheMs),
  onPushed: (n) => metrics.answersPushed.inc(n),
});
const queries = new WorkerQueries(
  data.queryPort,
  feeds,
  answerOf,
  () => flushSoon(),
  (customerId, partition) => push.watch(customerId, partition, clockMs()),
);
/** Messages folded since the last safe point for customer queries. */
let sinceQueries = 0;
const QUERY_SAFE_POINT = 256;
const consumers = partitionConsumers(ctx, onMessage, (feed) => {
  checkpoints.discard(feed, crm, true);
  // Effects already published were counted in the other stream's sequences.
  feed.replayUntil = 0;
  partitionAnswersChanged(feed.state.partition);
});
const checkpoints = new WorkerCheckpoints(ctx, path.join(config.dataDir, 'checkpoints'));
let scorer: BatchScorer;
let tf: Tf;
let reloading: Promise<Record<string, string>> | undefined;

/**
 * Loads the registry's current live (and shadow) versions and swaps them in between two batches:
 * JavaScript runs one batch at a time, so the assignment is atomic for every partition of this
 * worker. The previous models are disposed.
 */
function reloadModels(): Promise<Record<string, string>> {
  reloading ??= (async () => {
    try {
      const names = [...feeds.values()][0]!.state.table.names;
      const next = await loadModelSet(tf, config.modelsDir, names);
      const current = modelVersions(scorer.models);
      const incoming = modelVersions(next);
      if (JSON.stringify(current) === JSON.stringify(incoming)) {
        disposeModelSet(next);
        return current;
      }
      if (flushScheduled) flush();
      const previous = scorer.models;
      scorer = new BatchScorer(next, names.length, config, metrics);
      disposeModelSet(previous);
      log.info(
        {
          models: incoming,
          inference: { churn: scorer.churn.inference, intent: scorer.intent.inference },
          tensors: tf.memory().numTensors,
        },
        'models reloaded',
      );
      return incoming;
    } finally {
      reloading = undefined;
    }
  })();
  return reloading;
}
/** Swaps in a new PII keyring and re-seals what is not under its current key. */
function rekey(keyring: PiiKeyringData): number {
  sealer = new PiiSealer(PiiKeyring.fromData(keyring));
  const resealed = resealAll();
  log.info({ key_id: keyring.keys[0]?.id, resealed }, 'pii keyring changed');
  answersChanged(); // cached answers hold the old ciphertexts
  return resealed;
}

/** Re-seals every personal field not under the current key; returns how many were. */
function resealAll(): number {
  let resealed = 0;
  for (const feed of feeds.values()) {
    const result = feed.crm.pii.reseal((slot) => feed.state.table.idOf(slot));
    resealed += result.resealed;
    if (result.failed > 0) {
      log.error(
        { partition: feed.state.partition, fields: result.failed },
        'personal fields do not open with the current keyring',
      );
    }
  }
  return resealed;
}
let tfBackend = 'unknown';
let stopping = false;

// Batch buffers, reused across batches.
const touchedStates: PartitionState[] = [];
let touchedSlot: Int32Array = new Int32Array(1024);
let touchedCount = 0;
let arrivals: Float64Array = new Float64Array(4096);
let arrivalCount = 0;
let flushScheduled = false;
let ackChain: Promise<void> = Promise.resolve();
const processedByType = EVENT_TYPES.map((t) => metrics.processed.labels(t));
/** Events processed per type since the last flush: prom-client's `inc` builds a label hash per call. */
const processedCounts = new Float64Array(EVENT_TYPES.length);

function countProcessed(): void {
  for (let t = 0; t < processedCounts.length; t++) {
    if (processedCounts[t]! > 0) {
      processedByType[t]!.inc(processedCounts[t]);
      processedCounts[t] = 0;
    }
  }
}

function grow<T extends Int32Array | Float64Array | Float32Array>(arr: T, need: number): T {
  if (arr.length >= need) return arr;
  let size = arr.length;
  while (size < need) size *= 2;
  const next = new (arr.constructor as new (n: number) => T)(size);
  next.set(arr);
  return next;
}

/** The current message's sequence and arrival (read from its reply subject, ack-reply.ts). */
const delivery: Delivery = { seq: 0, arrivalMs: 0, consumerSeq: 0, pending: 0 };

/** Dead-letters the current message (its sequence already read into `delivery`). */
function deadLetterOf(feed: PartitionFeed, msg: JsMsg, reason: RejectReason, detail: string): void {
  if (delivery.seq <= feed.replayUntil) return;
  metrics.rejected.labels(reason).inc();
  const letter = deadLetter(
    { subject: msg.subject, seq: delivery.seq, data: msg.data },
    reason,
    detail,
    sealer.keyring,
    feed.stream,
  );
  feed.publishes.push(effects.publish(letter.subject, letter.body, letter.msgID, letter.headers));
}

function onMessage(feed: PartitionFeed, msg: JsMsg): void {
  feed.lastMsg = msg;
  const state = feed.state;
  // `reply` is on the client's message class though not on the JsMsg type; without it, the client parses.
  if (!readDelivery((msg as JsMsg & { reply?: string }).reply ?? '', delivery)) {
    const info = msg.info;
    delivery.seq = info.streamSequence;
    delivery.arrivalMs = info.timestampNanos / 1e6;
    delivery.consumerSeq = info.deliverySequence;
    delivery.pending = info.pending;
  }
  const now = Date.now();
  feed.pending = delivery.pending;
  feed.delivered = delivery.consumerSeq;
  feed.lastDeliveryMs = now;
  const seq = delivery.seq;
  if (seq <= state.lastSequence) {
    // Already folded into this state (a redelivery, or a message at or below the checkpoint).
    metrics.redelivered.inc();
    scheduleFlush();
    return;
  }
  state.lastSequence = seq;
  if (poison.has(`${state.partition}:${seq}`)) {
    deadLetterOf(feed, msg, 'poison', `crashed the worker thread ${POISON_CRASHES} times`);
    scheduleFlush();
    return;
  }
  data.inflight[state.partition] = seq;
  // Stage timing (worker-metrics.ts), in ms; 0 = this message is not timed.
  let t0 = (++messageCount & (STAGE_SAMPLE - 1)) === 0 ? performance.now() : 0;
  // bw.part.<p>.<type>, or bw.part.<p>.<type>.<token> when stored before 2026-11-23
  const subject = msg.subject;
  const a = subject.indexOf('.', 8);
  const b = subject.indexOf('.', a + 1);
  const result =
    b < 0
      ? parseEvent(msg.data, subject.slice(a + 1), feed.route, now)
      : parseEvent(msg.data, subject.slice(a + 1, b), subject.slice(b + 1), now);
  if (t0 > 0) {
    const t = performance.now();
    stageSeconds[STAGE_PARSE]! += ((t - t0) * STAGE_SAMPLE) / 1000;
    t0 = t;
  }
  if (!result.ok) {
    deadLetterOf(feed, msg, result.reason, result.detail);
  } else {
    const event = result.event;
    if (
      event.body.event_id === data.hooks.crashOnEventId &&
      (data.generation === 0 || data.hooks.crashAlways)
    ) {
      log.error({ partition: state.partition }, 'test hook: crashing the worker thread');
      process.exit(70);
    }
    if (state.seen(event.body.event_id)) {
      metrics.duplicates.inc();
    } else {
      try {
        const slot = state.table.slotFor(event.body.customer_id);
        state.table.fold(slot, event);
        // Touched as soon as its state moved, so it is scored and its cached answer voided at the
        // flush even if the CRM below throws.
        const touched = state.touched.data;
        if (touched[slot] === 0) {
          touched[slot] = 1;
          touchedSlot = grow(touchedSlot, touchedCount + 1);
          touchedStates[touchedCount] = state;
          touchedSlot[touchedCount++] = slot;
        }
        if (event.ts > state.watermark) {
          state.watermark = event.ts;
          // On the event-time clock the watermark is every customer's "now": all answers move.
          if (eventClock) bumpPartition(data.versions, state.partition);
        }
        state.lastEventId[slot] = event.body.event_id;
        state.lastSeq.data[slot] = seq;
        processedCounts[event.typeIndex]!++;
        if (t0 > 0) {
          const t = performance.now();
          stageSeconds[STAGE_FOLD]! += ((t - t0) * STAGE_SAMPLE) / 1000;
          t0 = t;
        }
        const piiDropped = feed.crm.onEvent(slot, event);
        if (piiDropped > 0) metrics.piiDropped.inc(piiDropped);
        crm.onEvent(
          feed,
          slot,
          event.body.customer_id,
          event.typeIndex,
          event.ts,
          event.body.event_id,
          seq <= feed.replayUntil,
        );
        arrivals = grow(arrivals, arrivalCount + 1);
        arrivals[arrivalCount++] = delivery.arrivalMs;
        if (t0 > 0) stageSeconds[STAGE_CRM]! += ((performance.now() - t0) * STAGE_SAMPLE) / 1000;
      } catch (err) {
        log.error({ partition: state.partition, err }, 'event processing failed');
        deadLetterOf(feed, msg, 'processing_error', err instanceof Error ? err.message : String(err));
      }
    }
  }
  data.inflight[state.partition] = 0;
  scheduleFlush();
  if (++sinceQueries >= QUERY_SAFE_POINT) {
    sinceQueries = 0;
    queries.poll();
  }
}

/**
 * Micro-batching with a linger: a batch is flushed (scored, published, acked) once it holds
 * FLUSH_CUSTOMERS touched customers, or BW_BATCH_LINGER_MS after its first event, whichever comes
 * first. Each flush has a fixed cost (two TF.js predict calls walk the whole layer graph, one ack
 * per partition, one JetStream round trip per effect stream), which at live rates, with a flush
 * every event-loop turn, dominated a worker's CPU.
 */
const FLUSH_CUSTOMERS = 1024;
let lingerTimer: NodeJS.Timeout | undefined;

/** A query waits for the batch in progress: flush it at the next turn instead of after the linger. */
function flushSoon(): void {
  if (lingerTimer === undefined) return;
  clearTimeout(lingerTimer);
  lingerTimer = undefined;
  setImmediate(flush);
}

function scheduleFlush(): void {
  if (flushScheduled && (lingerTimer === undefined || touchedCount < FLUSH_CUSTOMERS)) return;
  if (lingerTimer !== undefined) {
    clearTimeout(lingerTimer);
    lingerTimer = undefined;
  }
  flushScheduled = true;
  if (config.batchLingerMs > 0 && touchedCount < FLUSH_CUSTOMERS) {
    lingerTimer = setTimeout(flush, config.batchLingerMs);
  } else {
    setImmediate(flush);
  }
}

function publishAlert(body: AlertBody): Promise<unknown> {
  return effects.publish(`${ALERTS_PREFIX}.${body.kind}`, JSON.stringify(body), body.alert_id);
}

function flush(): void {
  if (!flushScheduled) return; // already flushed by an earlier trigger
  flushScheduled = false;
  if (lingerTimer !== undefined) {
    clearTimeout(lingerTimer);
    lingerTimer = undefined;
  }
  const n = touchedCount;
  const alertPublishes: Promise<unknown>[] = [];
  let t0 = performance.now();
  if (n > 0) {
    queries.poll();
    scorer.score(touchedStates, touchedSlot, n, 'event', publishAlert, alertPublishes, replayUntil);
    let t = performance.now();
    stageSeconds[STAGE_SCORE]! += (t - t0) / 1000;
    t0 = t;
    queries.poll();
    // The CRM reads the feature vectors the scorer just computed.
    const features = { buffer: scorer.features, offset: 0 };
    const width = touchedStates[0]!.table.names.length;
    for (let i = 0; i < n; i++) {
      const state = touchedStates[i]!;
      const slot = touchedSlot[i]!;
      const feed = feeds.get(state.partition)!;
      features.offset = i * width;
      crm.afterScore(
        feed,
        slot,
        state.lastEventId[slot] ?? '',
        state.lastSeq.data[slot]! <= feed.replayUntil,
        alertPublishes,
        features,
      );
      if ((i & 255) === 255) queries.poll();
    }
    t = performance.now();
    stageSeconds[STAGE_CRM]! += (t - t0) / 1000;
    t0 = t;
    // The batch's events are visible now: cached answers of its customers are void, and the
    // customers the main thread is reading get their fresh answers pushed (answer-push.ts).
    for (let i = 0; i < n; i++) {
      const state = touchedStates[i]!;
      const slot = touchedSlot[i]!;
      state.touched.data[slot] = 0;
      bumpCustomer(data.versions, state.table.idOf(slot));
    }
    push.afterBatch(touchedStates, touchedSlot, n);
    touchedStates.fill(undefined as unknown as PartitionState, 0, n);
    queries.afterBatch();
    const visible = Date.now();
    for (let i = 0; i < arrivalCount; i++)
      metrics.eventToScore.observe(Math.max(0, visible - arrivals[i]!) / 1000);
    metrics.batches.observe(arrivalCount);
  }
  touchedCount = 0;
  arrivalCount = 0;
  countProcessed();
  let t = performance.now();
  stageSeconds[STAGE_EFFECTS]! += (t - t0) / 1000;
  t0 = t;
  for (const feed of feeds.values()) crm.advanceTimers(feed, alertPublishes);
  t = performance.now();
  stageSeconds[STAGE_CRM]! += (t - t0) / 1000;
  t0 = t;
  // One JetStream round trip per stream for the whole batch's effects (effect-publisher.ts).
  effects.commit();
  const batchWaits = distinctPromises(alertPublishes);
  for (const feed of feeds.values()) {
    const msg = feed.lastMsg;
    if (!msg) continue;
    feed.lastMsg = undefined;
    const delivered = feed.delivered;
    const generation = feed.consumerGeneration;
    const publishes = feed.publishes;
    feed.publishes = [];
    const waits =
      publishes.length + batchWaits.length > 0 ? distinctPromises(publishes, batchWaits) : undefined;
    ackChain = ackChain.then(async () => {
      if (waits) {
        const results = await Promise.allSettled(waits);
        if (results.some((r) => r.status === 'rejected')) {
          log.warn({ partition: feed.state.partition }, 'publish failed; batch left unacked for redelivery');
          return;
        }
      }
      msg.ack();
      // A consumer recreated meanwhile counts from 0: this ack belongs to the old one.
      if (feed.consumerGeneration === generation) feed.acked = Math.max(feed.acked, delivered);
    });
  }
  stageSeconds[STAGE_EFFECTS]! += (performance.now() - t0) / 1000;
}

/** Every answer of this worker's partitions may have changed: the main thread's cached ones are void. */
function answersChanged(): void {
  for (const p of feeds.keys()) bumpPartition(data.versions, p);
  push.afterChange();
}

/** Every answer of one partition may have changed (rescored, or rebuilt from its stream). */
function partitionAnswersChanged(partition: number): void {
  bumpPartition(data.versions, partition);
  push.afterChange(partition);
}

function replayUntil(partition: number): number {
  return feeds.get(partition)?.replayUntil ?? 0;
}

// The main thread merges every worker's RFM sketches into population quintiles and sends them back.
const sweep = rescoreSweep(ctx, {
  scorer: () => scorer,
  crm,
  publishAlert,
  replayUntil,
  sketches: (json) => post({ kind: 'rfm', index: data.index, sketches: json }),
  rescored: partitionAnswersChanged,
});

function versions(): ModelVersions {
  return { churn: scorer.churn.version, intent: scorer.intent.version, clv: scorer.models.clv };
}

function explain(
  features: Float64Array,
  churnProb: number,
  intentProb: number,
): { churn: Reason[] | null; intent: Reason[] | null } {
  const { churn, intent } = scorer;
  return {
    churn: churn.inPopulation(features, 0) ? churn.explain(features, 0, churnProb) : null,
    intent: intent.inPopulation(features, 0) ? intent.explain(features, 0, intentProb) : null,
  };
}

function tensorCount(): number {
  return tf.memory().numTensors;
}

function status(): WorkerStatus {
  return {
    index: data.index,
    tf_backend: tfBackend,
    models: modelVersions(scorer.models),
    tensors: tensorCount(),
    partitions: partitionStatuses(feeds.values()),
  };
}

async function stop(): Promise<void> {
  stopping = true;
  for (const feed of feeds.values()) feed.messages?.stop();
  if (flushScheduled) flush();
  await ackChain;
  await checkpoints.settled();
  await checkpoints.writeAll();
  await nc.drain();
}

async function handle(req: WorkerRequest): Promise<unknown> {
  // Events folded since the last flush are scored first, so a list never pairs fresh features with
  // stale scores. (One customer's answer comes over the query port: worker-queries.ts.)
  if (flushScheduled && req.op === 'top') flush();
  switch (req.op) {
    case 'customer':
      throw new BellwetherError('BW_ERR_WORKER_FAILED', 'customer queries go over the query port');
    case 'top':
      return riskiest(
        feeds.values(),
        { minChurnRisk: req.minChurnRisk, tag: req.tag, segment: req.segment },
        req.limit,
        versions(),
        crm.tags,
      );
    case 'cuts':
      crm.cuts = req.cuts;
      answersChanged();
      return true;
    case 'crm':
      crm.reconfigure(req.definition, req.source);
      answersChanged();
      return true;
    case 'segments':
    case 'funnels':
    case 'paths':
    case 'attribution':
      return analyticsAnswer(req.op, feeds.values(), config.clock);
    case 'status':
      return status();
    case 'metrics': {
      countProcessed();
      const byKey = new Map<string, number>();
      for (const feed of feeds.values()) feed.crm.pii.countByKey(byKey);
      metrics.piiFields.reset();
      for (const [keyId, n] of byKey) metrics.piiFields.labels(keyId).set(n);
      return metrics.registry.getMetricsAsJSON();
    }
    case 'reload':
      return reloadModels().finally(answersChanged);
    case 'keyring':
      return rekey(req.keyring);
    case 'stop':
      await stop();
      return true;
  }
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (value) => post({ id: req.id, ok: true, value }),
    (err: unknown) => {
      const e =
        err instanceof BellwetherError ? err : new BellwetherError('BW_ERR_WORKER_FAILED', String(err));
      post({ id: req.id, ok: false, error: e.toJSON() });
    },
  );
});

async function main(): Promise<void> {
  let nice: number | undefined;
  try {
    nice = lowerThreadPriority(config.workerNice);
  } catch (err) {
    log.warn({ err }, 'could not lower the worker thread priority (BW_WORKER_NICE)');
  }
  const loaded = await loadTf(process.env['BW_TF_BACKEND'] === 'wasm' ? 'wasm' : 'auto');
  tfBackend = loaded.backend;
  for (const p of data.partitions) {
    const state = new PartitionState(p, config.dedupeIdsPerPartition);
    feeds.set(p, {
      state,
      stream: eventsStreamOf(p, data.eventsLayout),
      checkpointOrigin: undefined,
      messages: undefined,
      attached: false,
      caughtUp: false,
      pending: 0,
      route: { partition: p, partitions: config.partitions },
      consumerGeneration: 0,
      delivered: 0,
      acked: 0,
      lastDeliveryMs: 0,
      infoAt: 0,
      lastMsg: undefined,
      publishes: [],
      replayUntil: 0,
      checkpointed: 0,
      // The CRM declares its columns before a checkpoint is restored into the store.
      crm: new PartitionCrm(state, crm.config, ctx.sealer),
      rules: new RuleEngine(crm.config.rules),
    });
  }
  for (const feed of feeds.values()) await checkpoints.load(feed, crm);
  // A checkpoint written before a key rotation holds fields under the old key: re-seal them now.
  resealAll();
  const names = feeds.values().next().value!.state.table.names;
  tf = loaded.tf;
  scorer = new BatchScorer(await loadModelSet(tf, config.modelsDir, names), names.length, config, metrics);
  nc = await connect({
    servers: data.natsUrl,
    name: `bellwether-worker-${data.index}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Without this every publish and request builds an Error for its async stack trace: measured as
    // the single biggest self-time entry of a worker publishing alerts and actions.
    noAsyncTraces: true,
  });
  js = jetstream(nc);
  for (const feed of feeds.values()) await consumers.attach(feed);
  await consumers.poll();
  setInterval(() => {
    consumers.poll().catch((err: unknown) => log.warn({ err }, 'consumer poll failed'));
  }, 1000).unref();
  log.info(
    {
      partitions: data.partitions,
      tf_backend: tfBackend,
      nice,
      churn: scorer.churn.version,
      intent: scorer.intent.version,
      inference: { churn: scorer.churn.inference, intent: scorer.intent.inference },
    },
    'worker ready',
  );
  if (config.rescoreSeconds > 0) setInterval(sweep, config.rescoreSeconds * 1000).unref();
  if (push.enabled)
    setInterval(() => push.refresh(), Math.min(1000, Math.max(50, config.answerCacheMs / 2))).unref();
  if (config.checkpointSeconds > 0)
    setInterval(() => void checkpoints.writeAll(), config.checkpointSeconds * 1000).unref();
  queries.listen();
  post({ kind: 'ready', index: data.index });
}

main().catch((err: unknown) => {
  const e =
    err instanceof BellwetherError
      ? err
      : new BellwetherError('BW_ERR_WORKER_FAILED', String(err), { cause: err });
  log.error({ err }, 'worker failed to start');
  post({ kind: 'fatal', index: data.index, error: e.toJSON() });
});
