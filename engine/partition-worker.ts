/**
 * A partition worker thread. It owns some partitions; each partition is fed by its own durable
 * JetStream pull consumer (filter `bw.part.<p>.>`), so no thread routes another's events.
 *
 * Hot path, per message (synchronous consume callback): parse + validate the bytes, dedupe on
 * event_id, fold into the customer's typed state, mark the customer touched. Once per turn of the
 * event loop (setImmediate) the batch is flushed: every touched customer is scored by both models in
 * one predict each, threshold crossings become alerts, dead letters and alerts are published, and
 * the last message of each partition is acked (AckAll: one ack per partition per batch).
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { loadModelDir } from '../models/model-files.js';
import { liveModelDir } from '../models/registry.js';
import { ModelScorer } from '../models/scorer.js';
import { loadTf } from '../models/tf-backend.js';
import { lastEventAt } from '../operators/recency.js';
import { type AlertBody, type AlertKind, alertId, crossing, riskOf } from './alerts.js';
import { BellwetherError } from './errors.js';
import { parseEvent } from './event-parse.js';
import type { RejectReason } from './event-schema.js';
import { EVENT_TYPES } from './event-types.js';
import { createLogger } from './log.js';
import { PartitionState } from './partition-state.js';
import { EVENTS_STREAM } from './streams.js';
import { ALERTS_PREFIX, DLQ_PREFIX, partitionFilter } from './subjects.js';
import type {
  CustomerAnswer,
  CustomerSummary,
  FromWorker,
  PartitionStatus,
  ScoreView,
  WorkerData,
  WorkerRequest,
  WorkerStatus,
} from './thread-messages.js';
import { createWorkerMetrics } from './worker-metrics.js';

const data = workerData as WorkerData;
const config = data.config;
const log = createLogger(config.logLevel, { component: 'worker', worker: data.index });
const metrics = createWorkerMetrics();
const port = parentPort!;

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

interface PartitionFeed {
  state: PartitionState;
  messages: ConsumerMessages | undefined;
  attached: boolean;
  caughtUp: boolean;
  pending: number;
  ackPending: number;
  /** Last message of the current batch, acked (AckAll) when the batch is flushed. */
  lastMsg: JsMsg | undefined;
  /** Dead-letter publishes of the current batch, awaited before the ack. */
  publishes: Promise<unknown>[];
  /**
   * Stream sequence up to which a previous run already processed and acked this partition. State is
   * rebuilt by replaying the stream from its start; effects (alerts, dead letters) of messages at or
   * below this sequence were already published and are not published again.
   */
  replayUntil: number;
}

const feeds = new Map<number, PartitionFeed>();
let nc: NatsConnection;
let js: JetStreamClient;
let churnModel: ModelScorer;
let intentModel: ModelScorer;
let tfBackend = 'unknown';
let stopping = false;

// Batch buffers, reused across batches.
let touchedPart: Int32Array = new Int32Array(1024);
let touchedSlot: Int32Array = new Int32Array(1024);
let touchedCount = 0;
let arrivals: Float64Array = new Float64Array(4096);
let arrivalCount = 0;
let featureBuf = new Float64Array(0);
let churnOut = new Float32Array(1024);
let intentOut = new Float32Array(1024);
let flushScheduled = false;
let ackChain: Promise<void> = Promise.resolve();
const processedByType = EVENT_TYPES.map((t) => metrics.processed.labels(t));

function grow<T extends Int32Array | Float64Array | Float32Array>(arr: T, need: number): T {
  if (arr.length >= need) return arr;
  let size = arr.length;
  while (size < need) size *= 2;
  const next = new (arr.constructor as new (n: number) => T)(size);
  next.set(arr);
  return next;
}

function deadLetter(feed: PartitionFeed, msg: JsMsg, reason: RejectReason, detail: string): void {
  if (msg.seq <= feed.replayUntil) return;
  metrics.rejected.labels(reason).inc();
  const h = headers();
  h.set('Bw-Reason', reason);
  h.set('Bw-Error-Code', 'BW_ERR_EVENT_SCHEMA');
  h.set('Bw-Subject', msg.subject);
  h.set('Bw-Error', detail.replace(/[\r\n]/g, ' ').slice(0, 512));
  h.set('Bw-Stream-Seq', String(msg.seq));
  feed.publishes.push(
    js.publish(`${DLQ_PREFIX}.${reason}`, msg.data, { headers: h, msgID: `dlq-${EVENTS_STREAM}-${msg.seq}` }),
  );
}

function onMessage(feed: PartitionFeed, msg: JsMsg): void {
  feed.lastMsg = msg;
  const state = feed.state;
  state.lastSequence = msg.seq;
  // bw.part.<p>.<type>.<token>
  const subject = msg.subject;
  const a = subject.indexOf('.', 8);
  const b = subject.indexOf('.', a + 1);
  const result = parseEvent(msg.data, subject.slice(a + 1, b), subject.slice(b + 1), Date.now());
  if (!result.ok) {
    deadLetter(feed, msg, result.reason, result.detail);
  } else {
    const event = result.event;
    if (state.seen(event.body.event_id)) {
      metrics.duplicates.inc();
    } else {
      try {
        const slot = state.table.slotFor(event.body.customer_id);
        state.table.fold(slot, event);
        if (event.ts > state.watermark) state.watermark = event.ts;
        state.lastEventId[slot] = event.body.event_id;
        state.lastSeq.data[slot] = msg.seq;
        processedByType[event.typeIndex]!.inc();
        const touched = state.touched.data;
        if (touched[slot] === 0) {
          touched[slot] = 1;
          touchedPart = grow(touchedPart, touchedCount + 1);
          touchedSlot = grow(touchedSlot, touchedCount + 1);
          touchedPart[touchedCount] = state.partition;
          touchedSlot[touchedCount++] = slot;
        }
        arrivals = grow(arrivals, arrivalCount + 1);
        arrivals[arrivalCount++] = msg.info.timestampNanos / 1e6;
      } catch (err) {
        log.error({ partition: state.partition, err }, 'event processing failed');
        deadLetter(feed, msg, 'processing_error', err instanceof Error ? err.message : String(err));
      }
    }
  }
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function scoreView(prob: number, version: string, at: number): ScoreView | null {
  if (Number.isNaN(prob)) return null;
  return {
    probability: Math.round(prob * 1e6) / 1e6,
    risk: riskOf(prob),
    model_version: version,
    scored_at: new Date(at).toISOString(),
  };
}

function maybeAlert(
  kind: AlertKind,
  state: PartitionState,
  slot: number,
  probability: number,
  model: ModelScorer,
  features: Float64Array,
  offset: number,
  now: number,
): Promise<unknown> | undefined {
  const armedCol = kind === 'churn' ? state.churnArmed.data : state.intentArmed.data;
  const riskCol = kind === 'churn' ? state.churnRisk.data : state.intentRisk.data;
  const threshold = kind === 'churn' ? config.churnAlertThreshold : config.intentAlertThreshold;
  if (Number.isNaN(probability)) return undefined; // outside the model's population: no score
  const risk = riskOf(probability);
  const previous = riskCol[slot]!;
  riskCol[slot] = risk;
  const [fire, armedAfter] = crossing(armedCol[slot] === 1, risk, threshold);
  armedCol[slot] = armedAfter ? 1 : 0;
  if (!fire) return undefined;
  metrics.alerts.labels(kind).inc();
  if (state.lastSeq.data[slot]! <= replayUntil(state.partition)) return undefined;
  const customerId = state.table.idOf(slot);
  const id = alertId(kind, customerId, state.lastEventId[slot] ?? '', model.version);
  const body: AlertBody = {
    alert_id: id,
    kind,
    customer_id: customerId,
    risk,
    previous_risk: previous === 255 ? null : previous,
    threshold,
    model_version: `${model.name}/${model.version}`,
    event_time: new Date(lastEventAt(state.table.store, slot)).toISOString(),
    emitted_at: new Date(now).toISOString(),
    reasons: model.explain(features, offset),
  };
  return js.publish(`${ALERTS_PREFIX}.${kind}`, JSON.stringify(body), { msgID: id });
}

function flush(): void {
  flushScheduled = false;
  const n = touchedCount;
  const width = feeds.values().next().value?.state.table.names.length ?? 0;
  const alertPublishes: Promise<unknown>[] = [];
  if (n > 0) {
    if (featureBuf.length < n * width)
      featureBuf = new Float64Array(Math.max(n * width, featureBuf.length * 2));
    churnOut = grow(churnOut, n);
    intentOut = grow(intentOut, n);
    for (let i = 0; i < n; i++) {
      const state = feeds.get(touchedPart[i]!)!.state;
      state.table.features(touchedSlot[i]!, state.now(config.clock), featureBuf, i * width);
    }
    churnModel.score(featureBuf, width, n, churnOut);
    intentModel.score(featureBuf, width, n, intentOut);
    const scoredAt = Date.now();
    for (let i = 0; i < n; i++) {
      const state = feeds.get(touchedPart[i]!)!.state;
      const slot = touchedSlot[i]!;
      state.touched.data[slot] = 0;
      state.churn.data[slot] = churnOut[i]!;
      state.intent.data[slot] = intentOut[i]!;
      state.scoredAt.data[slot] = scoredAt;
      const c = maybeAlert('churn', state, slot, churnOut[i]!, churnModel, featureBuf, i * width, scoredAt);
      if (c) alertPublishes.push(c);
      const p = maybeAlert(
        'intent',
        state,
        slot,
        intentOut[i]!,
        intentModel,
        featureBuf,
        i * width,
        scoredAt,
      );
      if (p) alertPublishes.push(p);
    }
    metrics.predictions.labels('churn').inc(n);
    metrics.predictions.labels('intent').inc(n);
    const visible = Date.now();
    for (let i = 0; i < arrivalCount; i++)
      metrics.eventToScore.observe(Math.max(0, visible - arrivals[i]!) / 1000);
    metrics.batches.observe(arrivalCount);
  }
  touchedCount = 0;
  arrivalCount = 0;
  for (const feed of feeds.values()) {
    const msg = feed.lastMsg;
    if (!msg) continue;
    feed.lastMsg = undefined;
    const publishes = feed.publishes;
    feed.publishes = [];
    const waits =
      publishes.length + alertPublishes.length > 0 ? [...publishes, ...alertPublishes] : undefined;
    ackChain = ackChain.then(async () => {
      if (waits) {
        const results = await Promise.allSettled(waits);
        if (results.some((r) => r.status === 'rejected')) {
          log.warn({ partition: feed.state.partition }, 'publish failed; batch left unacked for redelivery');
          return;
        }
      }
      msg.ack();
    });
  }
}

function replayUntil(partition: number): number {
  return feeds.get(partition)?.replayUntil ?? 0;
}

/**
 * Attaches the partition's durable consumer. State lives in memory only (checkpoints come later),
 * so on start the consumer is recreated to deliver the whole stream and state is rebuilt; the ack
 * floor of the previous consumer tells which messages' effects were already published.
 */
async function attach(feed: PartitionFeed): Promise<void> {
  const p = feed.state.partition;
  const jsm = await jetstreamManager(nc);
  const durable = `bw-p${p}`;
  try {
    const previous = await jsm.consumers.info(EVENTS_STREAM, durable);
    feed.replayUntil = previous.ack_floor.stream_seq;
    await jsm.consumers.delete(EVENTS_STREAM, durable);
  } catch {
    feed.replayUntil = 0;
  }
  await jsm.consumers.add(EVENTS_STREAM, {
    durable_name: durable,
    filter_subject: partitionFilter(p),
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: config.maxAckPending,
    ack_wait: 30_000_000_000,
  });
  const consumer = await js.consumers.get(EVENTS_STREAM, durable);
  feed.messages = await consumer.consume({
    max_messages: Math.min(1000, config.maxAckPending),
    callback: (msg) => onMessage(feed, msg),
  });
  feed.attached = true;
  void (async () => {
    for await (const s of feed.messages!.status()) {
      if (
        s.type === 'heartbeats_missed' ||
        s.type === 'consumer_not_found' ||
        s.type === 'consumer_deleted'
      ) {
        feed.attached = false;
        log.warn({ partition: p, status: s.type }, 'consumer status');
      } else if (s.type === 'next') {
        feed.attached = true;
      }
    }
  })();
}

async function pollConsumers(): Promise<void> {
  if (stopping) return;
  const jsm = await jetstreamManager(nc);
  for (const feed of feeds.values()) {
    try {
      const info = await jsm.consumers.info(EVENTS_STREAM, `bw-p${feed.state.partition}`);
      feed.pending = info.num_pending;
      feed.ackPending = info.num_ack_pending;
      if (feed.attached && info.num_pending < 1000) feed.caughtUp = true;
      metrics.pending.labels(String(feed.state.partition)).set(info.num_pending);
    } catch {
      feed.attached = false;
    }
  }
  let customers = 0;
  for (const feed of feeds.values()) customers += feed.state.table.size;
  metrics.customers.set(customers);
}

function answer(feed: PartitionFeed, slot: number): CustomerAnswer {
  const state = feed.state;
  const last = lastEventAt(state.table.store, slot);
  const at = state.scoredAt.data[slot]!;
  return {
    customer_id: state.table.idOf(slot),
    partition: state.partition,
    features: state.table.featureRecord(slot, state.now(config.clock)),
    scores: {
      churn: scoreView(state.churn.data[slot]!, churnModel.version, at),
      purchase_intent: scoreView(state.intent.data[slot]!, intentModel.version, at),
    },
    last_event_at: Number.isNaN(last) ? null : new Date(last).toISOString(),
  };
}

function summary(feed: PartitionFeed, slot: number): CustomerSummary {
  const { features: _f, partition: _p, ...rest } = answer(feed, slot);
  return rest;
}

function top(minRisk: number, limit: number): CustomerSummary[] {
  const hits: { feed: PartitionFeed; slot: number; prob: number }[] = [];
  const min = minRisk / 100 - 0.005;
  for (const feed of feeds.values()) {
    const churn = feed.state.churn.data;
    for (let slot = 0; slot < feed.state.table.size; slot++) {
      const prob = churn[slot]!;
      if (prob >= min && riskOf(prob) >= minRisk) hits.push({ feed, slot, prob });
    }
  }
  hits.sort((x, y) => y.prob - x.prob);
  return hits.slice(0, limit).map((h) => summary(h.feed, h.slot));
}

function status(): WorkerStatus {
  const partitions: PartitionStatus[] = [...feeds.values()].map((feed) => ({
    partition: feed.state.partition,
    attached: feed.attached,
    caught_up: feed.caughtUp,
    pending: feed.pending,
    ack_pending: feed.ackPending,
    customers: feed.state.table.size,
    last_sequence: feed.state.lastSequence,
    watermark: Number.isFinite(feed.state.watermark) ? new Date(feed.state.watermark).toISOString() : null,
  }));
  return {
    index: data.index,
    tf_backend: tfBackend,
    models: { churn: churnModel.version, intent: intentModel.version },
    partitions,
  };
}

async function stop(): Promise<void> {
  stopping = true;
  for (const feed of feeds.values()) feed.messages?.stop();
  if (flushScheduled) flush();
  await ackChain;
  await nc.drain();
}

async function handle(req: WorkerRequest): Promise<unknown> {
  // Events folded since the last flush are scored first, so an answer never pairs fresh features
  // with stale scores.
  if (flushScheduled && (req.op === 'customer' || req.op === 'top')) flush();
  switch (req.op) {
    case 'customer': {
      for (const feed of feeds.values()) {
        const slot = feed.state.table.slotOf(req.customerId);
        if (slot !== undefined) return answer(feed, slot);
      }
      return null;
    }
    case 'top':
      return top(req.minChurnRisk, req.limit);
    case 'status':
      return status();
    case 'metrics':
      return metrics.registry.getMetricsAsJSON();
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
  const loaded = await loadTf(process.env['BW_TF_BACKEND'] === 'wasm' ? 'wasm' : 'auto');
  tfBackend = loaded.backend;
  for (const p of data.partitions) {
    feeds.set(p, {
      state: new PartitionState(p, config.dedupeIdsPerPartition),
      messages: undefined,
      attached: false,
      caughtUp: false,
      pending: 0,
      ackPending: 0,
      lastMsg: undefined,
      publishes: [],
      replayUntil: 0,
    });
  }
  const names = feeds.values().next().value!.state.table.names;
  churnModel = new ModelScorer(
    loaded.tf,
    await loadModelDir(loaded.tf, await liveModelDir(config.modelsDir, 'churn')),
    names,
  );
  intentModel = new ModelScorer(
    loaded.tf,
    await loadModelDir(loaded.tf, await liveModelDir(config.modelsDir, 'intent')),
    names,
  );
  nc = await connect({
    servers: data.natsUrl,
    name: `bellwether-worker-${data.index}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  js = jetstream(nc);
  for (const feed of feeds.values()) await attach(feed);
  await pollConsumers();
  setInterval(() => {
    pollConsumers().catch((err: unknown) => log.warn({ err }, 'consumer poll failed'));
  }, 1000).unref();
  log.info(
    {
      partitions: data.partitions,
      tf_backend: tfBackend,
      churn: churnModel.version,
      intent: intentModel.version,
    },
    'worker ready',
  );
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
