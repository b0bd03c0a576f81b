/**
 * A partition's consumer under leases, on a real nats-server. An instance resumed past its lease
 * (SIGSTOP, a long pause) sees its consumer deleted by the new owner before any batch fenced the
 * partition: recreating it then deleted the partition's other consumers, the new owner's
 * `bw-p<p>-e<epoch>` among them (every consumer of the partition goes at an attach; seen in every
 * run of cluster-engines.test.ts "fences an instance paused past its lease"). And a reattach of
 * such a stale feed still under way held up the reattach of the partition's next feed here, which
 * would be left without a consumer.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/log.js';
import { eventsStreamOf } from '../../engine/nats/streams.js';
import { createAnswerVersions } from '../../engine/pool/answer-versions.js';
import { partitionConsumers } from '../../engine/worker/consumers.js';
import { type PartitionFeed, WorkerContext } from '../../engine/worker/context.js';
import { WorkerCrm } from '../../engine/worker/crm.js';
import { newFeed } from '../../engine/worker/lifecycle.js';
import { createWorkerMetrics } from '../../engine/worker/metrics.js';
import { DEFAULT_CRM_FILE } from '../../operators/crm/config.js';
import { PiiSealer } from '../../security/pii-sealer.js';
import { waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { keyring, testSettings } from '../unit/worker-fixture.js';

const STREAM = eventsStreamOf(0, 'partitioned');
let nats: TestNats;
let nc: NatsConnection;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  nats = await startNats(1);
  nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: ['bw.part.0.>'] });
}, 60_000);

afterAll(async () => {
  for (const c of connections) await c.close();
  await nc?.close();
  await nats?.stop();
});

/** The stream sequences each feed was handed, by feed. */
type Seen = Map<PartitionFeed, number[]>;

/**
 * One instance's worker on its own connection, as thread.ts builds it, with `leaseUntil` as the
 * main thread shares it (wall-clock ms per partition). Each message is recorded and taken as folded.
 */
async function instance(leaseUntil: Float64Array) {
  const config = testSettings();
  const ctx = new WorkerContext({
    config,
    log: createLogger('silent'),
    metrics: createWorkerMetrics('test'),
    versions: createAnswerVersions(config.partitions),
    sealer: new PiiSealer(keyring),
    leaseUntil,
  });
  const conn = await connect({ servers: nats.url });
  connections.push(conn);
  ctx.connected(conn, jetstream(conn));
  const crm = new WorkerCrm(ctx, DEFAULT_CRM_FILE, '<default>');
  const seen: Seen = new Map();
  const stale: PartitionFeed[] = [];
  const consumers = partitionConsumers(
    ctx,
    (feed, msg) => {
      seen.set(feed, [...(seen.get(feed) ?? []), msg.seq]);
      feed.state.lastSequence = msg.seq;
    },
    (feed) => stale.push(feed),
  );
  /** Runs partition 0 under lease `epoch` from stream sequence `from` (as if its checkpoint said so). */
  const own = async (epoch: number, from = 0): Promise<PartitionFeed> => {
    const feed = newFeed(ctx, 0, epoch, 'partitioned', crm);
    feed.state.lastSequence = from;
    ctx.feeds.set(0, feed);
    await consumers.attach(feed);
    return feed;
  };
  /** Stops consuming (and reattaching) here: the next test starts from a partition with no consumer. */
  const stop = (): void => {
    ctx.stopping();
    for (const feed of ctx.feeds.values()) feed.messages?.stop();
  };
  return { ctx, crm, consumers, seen, stale, own, stop };
}

let published = 0;
async function publish(n: number): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < n; i++) {
    published++;
    await js.publish('bw.part.0.purchase', JSON.stringify({ event_id: `e${published}` }));
  }
}

/** The partition's durable consumers on the server, with their creation times. */
async function consumersOnServer(): Promise<Map<string, string>> {
  const jsm = await jetstreamManager(nc);
  const out = new Map<string, string>();
  for await (const c of await jsm.consumers.list(STREAM)) out.set(c.config.durable_name ?? c.name, c.created);
  return out;
}

async function deleteConsumers(): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of (await consumersOnServer()).keys()) await jsm.consumers.delete(STREAM, name);
}

function sequencesUpTo(n: number, from = 1): number[] {
  return Array.from({ length: n - from + 1 }, (_, i) => from + i);
}

describe('partition consumers under leases', () => {
  it('a feed resumed past its lease does not recreate its consumer over the new owner’s', async () => {
    const pausedLease = new Float64Array([Number.POSITIVE_INFINITY]);
    const paused = await instance(pausedLease);
    const pausedFeed = await paused.own(1);
    await publish(3);
    await waitFor(async () => (paused.seen.get(pausedFeed)?.length === 3 ? true : undefined));
    // The process is paused past its lease: the deadline the main thread shared is behind it, and
    // no batch has been flushed since to fence the partition.
    pausedLease[0] = Date.now() - 1;
    const owner = await instance(new Float64Array([Number.POSITIVE_INFINITY]));
    const ownerFeed = await owner.own(2, 3);
    const created = (await consumersOnServer()).get('bw-p0-e2');
    expect(created).toBeDefined();
    // Resumed, it reads that its consumer was deleted and tries to recreate it; settled once the
    // feed is fenced or attached again.
    await paused.consumers.reattach(pausedFeed);
    await waitFor(async () => (pausedFeed.fenced || pausedFeed.attached ? true : undefined));
    expect([...(await consumersOnServer())]).toEqual([['bw-p0-e2', created]]);
    expect(pausedFeed.fenced).toBe(true);
    await publish(2);
    await waitFor(async () => (owner.seen.get(ownerFeed)?.length === 2 ? true : undefined));
    expect(owner.seen.get(ownerFeed)).toEqual([4, 5]);
    expect(ownerFeed.consumerGeneration).toBe(1);
    expect(paused.seen.get(pausedFeed)).toEqual(sequencesUpTo(3));
    expect([...paused.stale, ...owner.stale]).toEqual([]);
    paused.stop();
    owner.stop();
    await deleteConsumers();
  }, 60_000);

  it('a partition owned again while its previous feed’s reattach is under way gets its own consumer', async () => {
    const start = published;
    const worker = await instance(new Float64Array([Number.POSITIVE_INFINITY]));
    const first = await worker.own(3, start);
    await publish(1);
    await waitFor(async () => (worker.seen.get(first)?.length === 1 ? true : undefined));
    // The consumer goes silent and its reattach starts; meanwhile the lease is lost and the
    // partition owned again here under a newer epoch (lifecycle.ts disownPartition 'lost', then
    // ownPartition), whose consumer is then lost too and must be recreated.
    const firstReattach = worker.consumers.reattach(first);
    first.fenced = true;
    first.replayUntil = Number.POSITIVE_INFINITY;
    const second = newFeed(worker.ctx, 0, 4, 'partitioned', worker.crm);
    second.state.lastSequence = start + 1;
    worker.ctx.feeds.set(0, second);
    await worker.consumers.reattach(second);
    await firstReattach;
    expect(second.attached).toBe(true);
    expect([...(await consumersOnServer()).keys()]).toEqual(['bw-p0-e4']);
    await publish(1);
    await waitFor(async () => (worker.seen.get(second)?.length === 1 ? true : undefined));
    expect(worker.seen.get(second)).toEqual([start + 2]);
    expect(worker.seen.get(first)).toEqual([start + 1]);
    expect(worker.stale).toEqual([]);
  }, 60_000);
});
