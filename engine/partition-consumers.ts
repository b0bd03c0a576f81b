/**
 * The JetStream consumer of each partition: created to deliver right after the state's last
 * sequence, watched for loss and silence, recreated when needed, and polled for lag.
 */
import { AckPolicy, DeliverPolicy, type JsMsg, jetstreamManager } from '@nats-io/jetstream';
import { EVENTS_STREAM } from './streams.js';
import { partitionFilter } from './subjects.js';
import type { PartitionFeed, WorkerContext } from './worker-context.js';

export interface PartitionConsumers {
  attach(feed: PartitionFeed): Promise<void>;
  reattach(feed: PartitionFeed): void;
  poll(): Promise<void>;
}

export function partitionConsumers(
  ctx: WorkerContext,
  onMessage: (feed: PartitionFeed, msg: JsMsg) => void,
): PartitionConsumers {
  const { config, log, metrics, feeds } = ctx;
  const reattaching = new Set<number>();

  async function attach(feed: PartitionFeed): Promise<void> {
    const p = feed.state.partition;
    const jsm = await jetstreamManager(ctx.nc());
    const durable = `bw-p${p}`;
    try {
      const previous = await jsm.consumers.info(EVENTS_STREAM, durable);
      feed.replayUntil = Math.max(feed.replayUntil, previous.ack_floor.stream_seq);
      await jsm.consumers.delete(EVENTS_STREAM, durable);
    } catch {
      // no previous consumer
    }
    // Delivery resumes right after the state's last sequence (0 without a checkpoint: the whole stream).
    const from = feed.state.lastSequence;
    await jsm.consumers.add(EVENTS_STREAM, {
      durable_name: durable,
      filter_subject: partitionFilter(p),
      ack_policy: AckPolicy.All,
      ...(from > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 }
        : { deliver_policy: DeliverPolicy.All }),
      max_ack_pending: config.maxAckPending,
      ack_wait: 30_000_000_000,
    });
    const consumer = await ctx.js().consumers.get(EVENTS_STREAM, durable);
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
          reattach(feed);
        } else if (s.type === 'heartbeats_missed') {
          feed.attached = false;
          log.warn({ partition: p, missed: s.count }, 'consumer heartbeats missed');
          if (s.count >= 3) reattach(feed);
        } else if (s.type === 'next') {
          feed.attached = true;
        }
      }
    })();
  }

  /**
   * Replaces a partition's consumer (deleted, not found, or silent): delivery restarts right after
   * the state's last sequence, so nothing is skipped or folded twice. Retries until it succeeds.
   */
  function reattach(feed: PartitionFeed): void {
    const p = feed.state.partition;
    if (ctx.isStopping() || reattaching.has(p)) return;
    reattaching.add(p);
    feed.attached = false;
    feed.messages?.stop();
    ctx.flushPending();
    const attempt = (): void => {
      attach(feed).then(
        () => {
          reattaching.delete(p);
          log.info({ partition: p, from: feed.state.lastSequence + 1 }, 'consumer recreated');
        },
        (err: unknown) => {
          log.warn({ partition: p, err }, 'consumer recreation failed, retrying');
          if (!ctx.isStopping()) setTimeout(attempt, 1000);
          else reattaching.delete(p);
        },
      );
    };
    attempt();
  }

  /** Lag (`bellwether_consumer_pending`), catch-up and attachment of every partition. */
  async function poll(): Promise<void> {
    if (ctx.isStopping()) return;
    const jsm = await jetstreamManager(ctx.nc());
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

  return { attach, reattach, poll };
}
