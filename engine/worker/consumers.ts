/**
 * The JetStream consumer of each partition: created to deliver right after the state's last
 * sequence, watched for loss and silence, recreated when needed.
 *
 * Lag comes from the deliveries themselves (each reply subject carries the consumer's pending
 * count, ack-reply.ts), not from consumer-info requests: on nats-server 2.9 every info request
 * (and every consumer creation) counts the pending messages by matching the filter against every
 * subject in the stream (stored subjects used to carry customer tokens, one subject per customer).
 * Polling all 16 partitions every second took ~38% of nats-server's CPU during a drain (pprof), on
 * the two cores the engine shares with it. Info is now asked only of a partition that has had no
 * delivery for QUIET_MS (its last delivery's count is stale if it is stalled), at most that often.
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  jetstreamManager,
} from '@nats-io/jetstream';
import { BellwetherError } from '../../contract/errors.js';
import { partitionFilter } from '../../contract/subjects.js';
import { EVENTS_STREAM } from '../nats/streams.js';
import type { PartitionFeed, WorkerContext } from './context.js';

export interface PartitionConsumers {
  attach(feed: PartitionFeed): Promise<void>;
  /** Resolves once the feed's consumer is replaced, or the feed is no longer this worker's to consume. */
  reattach(feed: PartitionFeed): Promise<void>;
  poll(): Promise<void>;
}

/**
 * The durable consumer of a partition: `bw-p<p>` on a single node; `bw-p<p>-e<epoch>` under a lease,
 * so the acks of an owner fenced off (say paused past its lease) reach a consumer that no longer
 * exists instead of the new owner's.
 */
function durableName(partition: number, epoch: number): string {
  return epoch > 0 ? `bw-p${partition}-e${epoch}` : `bw-p${partition}`;
}

/** Whether `name` is a durable consumer of the partition under any epoch. */
export function isDurableOf(name: string, partition: number): boolean {
  return name === `bw-p${partition}` || name.startsWith(`bw-p${partition}-e`);
}

/** A partition with no delivery for this long is asked for its info (at most that often). */
const QUIET_MS = 10_000;
/** Pending below this counts as caught up (the readiness check). */
const CAUGHT_UP = 1000;

export function partitionConsumers(
  ctx: WorkerContext,
  onMessage: (feed: PartitionFeed, msg: JsMsg) => void,
  /** The partition's state counts sequences of another stream: forget it (rebuilt from the stream). */
  onStale: (feed: PartitionFeed) => void,
): PartitionConsumers {
  const { config, log, metrics, feeds } = ctx;
  // Keyed by feed, not partition: a feed fenced or handed off while its reattach is under way must
  // not hold up the reattach of the partition's next feed (which then never had a consumer again).
  const reattaching = new Map<PartitionFeed, Promise<void>>();
  /**
   * Whether `feed` may still touch the partition's consumers: the partition's current feed here,
   * not fenced, and its lease valid now. A process resumed past its lease (SIGSTOP, a long pause)
   * may see its consumer's deletion by the new owner before any batch fenced the feed: recreating it
   * then would delete the new owner's consumer (every consumer of the partition goes at an attach).
   */
  const owned = (feed: PartitionFeed): boolean =>
    !feed.fenced && feeds.get(feed.state.partition) === feed && ctx.leaseValid(feed);
  const notOwned = (feed: PartitionFeed, step: string): BellwetherError =>
    new BellwetherError('BW_ERR_LEASE_LOST', `partition ${feed.state.partition}: ${step}`, {
      data: { partition: feed.state.partition, epoch: feed.epoch, step },
    });
  // One manager for the worker's connection: each `jetstreamManager()` asks the server for the
  // account info first.
  let manager: JetStreamManager | undefined;
  const jsManager = async (): Promise<JetStreamManager> => {
    manager ??= await jetstreamManager(ctx.nc());
    return manager;
  };

  async function attach(feed: PartitionFeed): Promise<void> {
    const p = feed.state.partition;
    if (!owned(feed)) throw notOwned(feed, 'not attached');
    const jsm = await jsManager();
    const durable = durableName(p, feed.epoch);
    // A state's sequences count in one stream: resuming a checkpoint of another stream (the single
    // stream of an earlier layout), or one past the stream's end (the stream deleted and created
    // again), would skip events. Such a state is set aside (the file kept as .stale) and the
    // partition rebuilt from its stream. (The stream's `created` time is not compared: it is not
    // reliably kept across server restarts and stream updates.)
    const stream = await jsm.streams.info(feed.stream);
    const origin = feed.checkpointOrigin;
    const last = feed.state.lastSequence;
    // A stream created anew (deleted, then recreated by the engine's stream watch) shows a new
    // `created` on the same server; compared only while the server is the one seen at the last
    // attach (its id changes when it restarts, and `created` may change with it). Unless the new
    // stream continued the sequence (first_seq, nats-server 2.10 on), it restarted at 1, and
    // events published into it before this attach may sit at or below the state's sequence.
    const seen = `${ctx.nc().info?.server_id ?? ''} ${stream.created}`;
    const recreated =
      feed.streamCreated !== undefined &&
      feed.streamCreated.split(' ')[0] === seen.split(' ')[0] &&
      feed.streamCreated !== seen &&
      stream.state.first_seq <= last;
    feed.streamCreated = seen;
    if (
      last > 0 &&
      (recreated || (origin !== undefined && origin.stream !== feed.stream) || last > stream.state.last_seq)
    ) {
      log.error(
        {
          partition: p,
          stream: feed.stream,
          checkpoint: origin,
          sequence: last,
          stream_last: stream.state.last_seq,
        },
        'state is of another stream: rebuilding the partition from its stream',
      );
      onStale(feed);
    }
    feed.checkpointOrigin = { stream: feed.stream };
    // The partition's earlier consumers (this instance's, or a previous owner's under another
    // epoch): what they acked was published, so it is not published again; then they go.
    for await (const previous of await jsm.consumers.list(feed.stream)) {
      const name = previous.config.durable_name ?? previous.name;
      if (!isDurableOf(name, p)) continue;
      // Checked before each deletion (each await may have let a fence or a new owner in): a feed
      // that lost the partition meanwhile must not delete what may be the new owner's consumer.
      if (!owned(feed)) throw notOwned(feed, 'previous consumers left alone');
      feed.replayUntil = Math.max(feed.replayUntil, previous.ack_floor.stream_seq);
      try {
        await jsm.consumers.delete(feed.stream, name);
      } catch {
        // deleted meanwhile
      }
    }
    // Delivery resumes right after the state's last sequence (0 without a checkpoint: the whole stream).
    const from = feed.state.lastSequence;
    if (!owned(feed)) throw notOwned(feed, 'no consumer created');
    const info = await jsm.consumers.add(feed.stream, {
      durable_name: durable,
      // A partition's own stream needs no filter; the single stream of earlier versions does.
      ...(feed.stream === EVENTS_STREAM ? { filter_subject: partitionFilter(p) } : {}),
      ack_policy: AckPolicy.All,
      ...(from > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 }
        : { deliver_policy: DeliverPolicy.All }),
      max_ack_pending: config.maxAckPending,
      ack_wait: 30_000_000_000,
    });
    if (!owned(feed)) {
      // Fenced or replaced while the consumer was created: it is not this feed's to keep.
      await jsm.consumers.delete(feed.stream, durable).catch(() => undefined);
      throw notOwned(feed, 'consumer created after the partition left: deleted');
    }
    // The new consumer's pending count comes with its creation; `consumers.get` would ask again.
    const now = Date.now();
    feed.pending = info.num_pending;
    feed.infoAt = now;
    feed.lastDeliveryMs = now;
    feed.consumerGeneration++;
    feed.delivered = 0;
    feed.acked = 0;
    const consumer = ctx.js().consumers.getConsumerFromInfo(info);
    const messages = await consumer.consume({
      max_messages: Math.min(1000, config.maxAckPending),
      callback: (msg) => onMessage(feed, msg),
    });
    feed.messages = messages;
    feed.attached = true;
    void (async () => {
      for await (const s of messages.status()) {
        if (s.type === 'consumer_not_found' || s.type === 'consumer_deleted') {
          log.warn({ partition: p, status: s.type }, 'consumer lost, recreating it');
          void reattach(feed);
        } else if (s.type === 'heartbeats_missed') {
          feed.attached = false;
          log.warn({ partition: p, missed: s.count }, 'consumer heartbeats missed');
          if (s.count >= 3) void reattach(feed);
        } else if (s.type === 'next') {
          feed.attached = true;
        }
      }
    })();
  }

  /**
   * Replaces a partition's consumer (deleted, not found, or silent): delivery restarts right after
   * the state's last sequence, so nothing is skipped or folded twice. Retries until it succeeds, or
   * until the feed is no longer this worker's (fenced, handed off, its lease run out).
   */
  function reattach(feed: PartitionFeed): Promise<void> {
    const p = feed.state.partition;
    const running = reattaching.get(feed);
    if (running) return running;
    if (ctx.isStopping() || !owned(feed)) return Promise.resolve();
    feed.attached = false;
    feed.messages?.stop();
    ctx.flushPending();
    const done = new Promise<void>((resolve) => {
      const attempt = (): void => {
        attach(feed).then(
          () => {
            log.info(
              { partition: p, epoch: feed.epoch, from: feed.state.lastSequence + 1 },
              'consumer recreated',
            );
            resolve();
          },
          (err: unknown) => {
            if (!ctx.isStopping() && owned(feed)) {
              log.warn({ partition: p, err }, 'consumer recreation failed, retrying');
              setTimeout(attempt, 1000);
            } else {
              log.info(
                { partition: p, epoch: feed.epoch },
                "consumer not recreated: the partition is not this feed's any more",
              );
              resolve();
            }
          },
        );
      };
      attempt();
    }).finally(() => reattaching.delete(feed));
    reattaching.set(feed, done);
    return done;
  }

  /**
   * Lag (`bellwether_consumer_pending`) and catch-up of every partition, from its deliveries; a
   * partition quiet for QUIET_MS is asked for its consumer info instead.
   */
  async function poll(): Promise<void> {
    if (ctx.isStopping()) return;
    const now = Date.now();
    for (const feed of feeds.values()) {
      // Quiet: caught up, or stalled (say at max_ack_pending while effects fail) with a stale count
      // from its last delivery; the info tells which.
      const quiet = feed.attached && now - feed.lastDeliveryMs > QUIET_MS && now - feed.infoAt > QUIET_MS;
      if (quiet) {
        feed.infoAt = now;
        try {
          const jsm = await jsManager();
          feed.pending = (
            await jsm.consumers.info(feed.stream, durableName(feed.state.partition, feed.epoch))
          ).num_pending;
        } catch {
          feed.attached = false;
        }
      }
      if (feed.attached && feed.pending < CAUGHT_UP) feed.caughtUp = true;
      metrics.pending.labels(String(feed.state.partition)).set(feed.pending);
    }
    let customers = 0;
    for (const feed of feeds.values()) customers += feed.state.table.size;
    metrics.customers.set(customers);
  }

  return { attach, reattach, poll };
}
