/** Answers of a worker about all its partitions: CRM analytics and partition status. */
import { mergeAttribution } from '../../operators/analytics/attribution-report.js';
import {
  type BasketLevel,
  BasketStats,
  type LevelCountsJSON,
} from '../../operators/analytics/basket-stats.js';
import { mergeFunnelCounts } from '../../operators/analytics/funnels.js';
import { PathStats } from '../../operators/analytics/paths.js';
import { SegmentStats } from '../../operators/analytics/rfm.js';
import type { PartitionStatus } from '../pool/thread-messages.js';
import type { PartitionFeed } from './context.js';

export type AnalyticsOp = 'segments' | 'funnels' | 'paths' | 'attribution';

export function analyticsAnswer(
  op: AnalyticsOp,
  feeds: Iterable<PartitionFeed>,
  clock: 'wall' | 'event',
): unknown {
  const all = [...feeds];
  switch (op) {
    case 'segments': {
      const stats = new SegmentStats();
      for (const feed of all) feed.crm.segmentStats(feed.state.now(clock), stats);
      return stats.toJSON();
    }
    case 'funnels':
      return mergeFunnelCounts(all.map((f) => f.crm.funnels.counts()));
    case 'paths': {
      const paths = new PathStats();
      for (const feed of all) paths.merge(feed.crm.paths.stats);
      return paths.toJSON();
    }
    case 'attribution':
      return mergeAttribution(all.map((f) => f.crm.attribution.snapshot()));
  }
}

/** The worker's basket counts at `level`, merged over its partitions. */
export function basketCounts(level: BasketLevel, feeds: Iterable<PartitionFeed>): LevelCountsJSON {
  const merged = new BasketStats();
  for (const feed of feeds) merged.level(level).merge(feed.crm.baskets.baskets.stats.level(level).toJSON());
  return merged.level(level).toJSON();
}

export function partitionStatuses(feeds: Iterable<PartitionFeed>): PartitionStatus[] {
  return [...feeds].map((feed) => ({
    partition: feed.state.partition,
    attached: feed.attached,
    caught_up: feed.caughtUp,
    pending: feed.pending,
    ack_pending: Math.max(0, feed.delivered - feed.acked),
    customers: feed.state.table.size,
    last_sequence: feed.state.lastSequence,
    watermark: Number.isFinite(feed.state.watermark) ? new Date(feed.state.watermark).toISOString() : null,
    event_clock: Number.isFinite(feed.state.watermark)
      ? new Date(feed.state.now('event')).toISOString()
      : null,
  }));
}
