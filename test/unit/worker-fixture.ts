/**
 * A partition worker's pieces built in a test from one WorkerContext, as engine/worker/thread.ts
 * builds them, with real partition state, CRM and models, and fakes only for the NATS side: the
 * effect publisher sends through a fake connection that records what it is given, and JetStream
 * messages are plain objects with a reply subject as nats-server writes it.
 */
import { MessageChannel } from 'node:worker_threads';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '../../engine/log.js';
import { createAnswerVersions } from '../../engine/pool/answer-versions.js';
import type { WorkerSettings } from '../../engine/pool/worker-settings.js';
import { populationPartial } from '../../engine/worker/aggregate.js';
import { AnswerPush } from '../../engine/worker/answer-push.js';
import { BatchFlush } from '../../engine/worker/batch-flush.js';
import { type PartitionFeed, WorkerContext } from '../../engine/worker/context.js';
import { WorkerCrm } from '../../engine/worker/crm.js';
import { customerAnswer } from '../../engine/worker/customer-answers.js';
import { WorkerIdentity } from '../../engine/worker/identity.js';
import { Ingest } from '../../engine/worker/ingest.js';
import { newFeed } from '../../engine/worker/lifecycle.js';
import { createWorkerMetrics } from '../../engine/worker/metrics.js';
import { WorkerModels } from '../../engine/worker/models.js';
import { WorkerMonitor } from '../../engine/worker/monitor.js';
import { OpenBatch } from '../../engine/worker/open-batch.js';
import { WorkerQueries } from '../../engine/worker/queries.js';
import { loadTf } from '../../models/tf-backend.js';
import { DEFAULT_CRM_FILE } from '../../operators/crm/config.js';
import { PiiKeyring } from '../../security/pii-keyring.js';
import { PiiSealer } from '../../security/pii-sealer.js';
import { writeFixtureModels } from '../support/fixture-models.js';

/** 2026-10-01T00:00Z: the tests' event times count back from it. */
export const T = Date.UTC(2026, 9, 1);
export const DAY = 86_400_000;

export const keyring = PiiKeyring.parse(`k1:${'a1'.repeat(32)}`, 'aes-256-gcm', 'test');

export function testSettings(over: Partial<WorkerSettings> = {}): WorkerSettings {
  return {
    allowedLatenessSeconds: 3600,
    answerCacheMs: 5000,
    batchLingerMs: 20,
    checkpointSeconds: 0,
    churnAlertThreshold: 80,
    clock: 'event',
    dataDir: '/nonexistent/bellwether-test',
    dedupeIdsPerPartition: 1000,
    logFormat: 'json',
    // These fixtures move the clock by single events months apart: no jump bound (the bound has
    // its own tests, event-clock.test.ts and the engine's in event-integrity.test.ts).
    watermarkMaxJumpSeconds: 0,
    profilePlainFields: 'tier,plan,city,region,country,language,locale,timezone',
    intentAlertThreshold: 80,
    logLevel: 'silent',
    maxAckPending: 1000,
    modelsDir: '/nonexistent/bellwether-models',
    monitorEpoch: '2000-01-03',
    monitorSample: 50_000,
    monitorSnapshotDays: 7,
    partitions: 1,
    rescoreSeconds: 0,
    stateTtlDays: 400,
    workerNice: 0,
    ...over,
  };
}

interface Published {
  subject: string;
  data: string;
  msgID: string | undefined;
  headers: MsgHdrs | undefined;
}

/**
 * A NATS connection that records what is published. JetStream publishes (the last effect of each
 * stream group, effect-publisher.ts) settle as `jsOutcome` says: stored at once by default.
 */
class FakeNats {
  readonly published: Published[] = [];
  jsOutcome: () => Promise<unknown> = () => Promise.resolve({});

  readonly nc = {
    publish: (subject: string, data: Uint8Array | string, opts?: { headers?: MsgHdrs }) => {
      this.published.push({
        subject,
        data: String(data),
        msgID: opts?.headers?.get('Nats-Msg-Id'),
        headers: opts?.headers,
      });
    },
  } as unknown as NatsConnection;

  /** Messages the partitions' streams hold, by `<stream>:<seq>` (read back by getMessage). */
  readonly stored = new Map<string, Uint8Array>();

  readonly js = {
    publish: (subject: string, data: Uint8Array | string, opts?: { msgID?: string; headers?: MsgHdrs }) => {
      this.published.push({ subject, data: String(data), msgID: opts?.msgID, headers: opts?.headers });
      return this.jsOutcome();
    },
    jetstreamManager: async () => ({
      streams: {
        getMessage: async (stream: string, q: { seq: number }) => {
          const data = this.stored.get(`${stream}:${q.seq}`);
          return data === undefined ? null : { subject: `bw.part.0.page_view`, seq: q.seq, data };
        },
      },
    }),
  } as unknown as JetStreamClient;

  subjects(): string[] {
    return this.published.map((p) => p.subject);
  }
}

export type TestMsg = JsMsg & { reply: string; acks: number };

/**
 * A message of partition `p` at stream sequence `seq` as its consumer delivers it: subject
 * `bw.part.<p>.<type>`, the reply subject carrying the sequences, arrival time and lag.
 */
export function message(
  p: number,
  seq: number,
  body: Record<string, unknown> | string,
  opts: { type?: string; arrivalMs?: number; pending?: number; headers?: MsgHdrs } = {},
): TestMsg {
  const type = opts.type ?? (typeof body === 'string' ? 'purchase' : String(body['type']));
  const ns = BigInt(Math.round(opts.arrivalMs ?? T)) * 1_000_000n;
  const msg = {
    subject: `bw.part.${p}.${type}`,
    data: new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body)),
    reply: `$JS.ACK.BW_EVENTS_${p}.bw-p${p}.1.${seq}.${seq}.${ns}.${opts.pending ?? 0}`,
    headers: opts.headers,
    acks: 0,
    ack() {
      msg.acks++;
    },
  };
  return msg as unknown as TestMsg;
}

export function purchase(
  customer: string,
  eventId: string,
  at: number,
  amount = 10,
): Record<string, unknown> {
  return {
    event_id: eventId,
    customer_id: customer,
    type: 'purchase',
    ts: new Date(at).toISOString(),
    amount,
  };
}

/** The partition's view of one customer's features now (null when the customer is unknown). */
export function featuresOf(feed: PartitionFeed, customerId: string): Record<string, number | null> | null {
  const slot = feed.state.table.slotOf(customerId);
  if (slot === undefined) return null;
  return feed.state.table.featureRecord(slot, feed.state.now('event'));
}

export interface FixtureOptions {
  settings?: Partial<WorkerSettings>;
  partitions?: number[];
  poison?: string[];
  crashOnEventId?: string;
  /** Shared lease deadlines by partition (WorkerData.leaseUntil); omitted: always valid. */
  leaseUntil?: Float64Array;
}

/** A worker context on a fake NATS connection, with the CRM and a fresh feed per partition. */
function connectedContext(settings: WorkerSettings, opts: FixtureOptions) {
  const nats = new FakeNats();
  const versions = createAnswerVersions(settings.partitions);
  const ctx = new WorkerContext({
    config: settings,
    log: createLogger('silent'),
    metrics: createWorkerMetrics('test'),
    versions,
    sealer: new PiiSealer(keyring),
    ...(opts.leaseUntil ? { leaseUntil: opts.leaseUntil } : {}),
  });
  ctx.connected(nats.nc, nats.js);
  const crm = new WorkerCrm(ctx, DEFAULT_CRM_FILE, '<default>');
  for (const p of opts.partitions ?? [0]) ctx.feeds.set(p, newFeed(ctx, p, 0, 'partitioned', crm));
  return { nats, versions, ctx, crm };
}

/** The context and the per-message pieces, with counters in place of the flush and the query port. */
export function ingestFixture(opts: FixtureOptions = {}) {
  const settings = testSettings(opts.settings);
  const { nats, versions, ctx, crm } = connectedContext(settings, opts);
  const batch = new OpenBatch(ctx.metrics);
  const counts = { scheduled: 0, polled: 0 };
  const inflight = new Float64Array(settings.partitions);
  const ingest = new Ingest(ctx, {
    batch,
    crm,
    identity: new WorkerIdentity(ctx),
    // No models here: the monitor never comes due (batchFixture has the real one).
    monitor: { advance: (state) => void (state.monitor.nextDue = Number.POSITIVE_INFINITY) },
    flush: { schedule: () => counts.scheduled++ },
    queries: { betweenMessages: () => counts.polled++ },
    poison: new Set(opts.poison ?? []),
    inflight,
    crashOnEventId: opts.crashOnEventId,
  });
  const feed = (p = 0): PartitionFeed => ctx.feeds.get(p)!;
  return { settings, nats, versions, ctx, crm, batch, counts, inflight, ingest, feed };
}

/** Every piece of the hot path and the flush, with the fixture models (test/support/fixture-models.ts). */
export async function batchFixture(opts: FixtureOptions = {}) {
  const modelsDir = await writeFixtureModels();
  const settings = testSettings({ modelsDir, ...opts.settings });
  const { nats, versions, ctx, crm } = connectedContext(settings, opts);
  const models = new WorkerModels(ctx);
  await models.load(await loadTf('wasm'), ctx.feeds.values().next().value!.state.table);
  // The main thread's end of the query channel, and the worker's.
  const channel = new MessageChannel();
  channel.port1.unref();
  channel.port2.unref();
  const answerOf = (feed: PartitionFeed, slot: number) =>
    customerAnswer(feed, slot, models.versions(), settings.clock, models.explain, crm.tags);
  const push = new AnswerPush(versions, channel.port2, ctx.feeds, answerOf, {
    ttlMs: settings.answerCacheMs,
    max: 16,
    idleMs: 5000,
  });
  const queries = new WorkerQueries(channel.port2, ctx.feeds, {
    answer: answerOf,
    partial: (q) =>
      populationPartial(q, ctx.feeds.values(), crm.tags, settings.clock, ctx.metrics.aggregatePass),
    flushPending: () => ctx.flushPending(),
    waiting: () => flush.soon(),
  });
  const batch = new OpenBatch(ctx.metrics);
  const flush = new BatchFlush(ctx, batch, { scorer: models.scorer, crm, push, queries });
  ctx.onFlushPending(() => flush.flushIfScheduled());
  const inflight = new Float64Array(settings.partitions);
  const monitor = new WorkerMonitor(ctx, models.scorer);
  const ingest = new Ingest(ctx, {
    batch,
    crm,
    identity: new WorkerIdentity(ctx),
    monitor,
    flush,
    queries,
    poison: new Set(opts.poison ?? []),
    inflight,
  });
  const feed = (p = 0): PartitionFeed => ctx.feeds.get(p)!;
  return {
    settings,
    nats,
    versions,
    ctx,
    crm,
    models,
    monitor,
    batch,
    flush,
    ingest,
    queries,
    push,
    channel,
    feed,
  };
}
