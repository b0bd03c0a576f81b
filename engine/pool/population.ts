/**
 * Lists and analytics over the whole population: each request goes to every local worker and, in a
 * cluster, to every other instance (engine/cluster/engine-member.ts answers with its own workers'
 * answers); the answers are merged here.
 */

import { BellwetherError } from '../../contract/errors.js';
import {
  type AggregateAnswer,
  type AggregatePartialJSON,
  finishAggregate,
  mergeAggregates,
} from '../../operators/analytics/aggregate.js';
import type { AggregateSpec } from '../../operators/analytics/aggregate-spec.js';
import { type AttributionSnapshot, mergeAttribution } from '../../operators/analytics/attribution-report.js';
import {
  type BasketLevel,
  BasketStats,
  type LevelCounts,
  type LevelCountsJSON,
} from '../../operators/analytics/basket-stats.js';
import {
  DailyAccumulator,
  type DailyGroup,
  type DailyPartialJSON,
  type DailySpec,
} from '../../operators/analytics/daily-cube.js';
import { type FunnelCounts, mergeFunnelCounts } from '../../operators/analytics/funnels.js';
import { PathStats, type PathStatsJSON } from '../../operators/analytics/paths.js';
import { SegmentStats, type SegmentStatsJSON } from '../../operators/analytics/rfm.js';
import type { MonitorReport } from '../state/partition-monitor.js';
import type { CustomerSummary, WorkerRequest } from './thread-messages.js';

/** How long past its deadline an aggregate waits for the workers' own deadline errors. */
const DEADLINE_GRACE_MS = 250;

type Body<R> = R extends WorkerRequest ? Omit<R, 'id'> : never;
/** The requests whose answers are gathered over every worker and instance. */
export type GatherBody = Body<
  Extract<
    WorkerRequest,
    {
      op:
        | 'top'
        | 'segments'
        | 'funnels'
        | 'paths'
        | 'attribution'
        | 'aggregate'
        | 'daily'
        | 'baskets'
        | 'monitor';
    }
  >
>;

export class PopulationReads {
  readonly #local: (body: GatherBody) => Promise<unknown[]>;
  #remote: ((body: GatherBody) => Promise<unknown[]>) | undefined;

  constructor(local: (body: GatherBody) => Promise<unknown[]>) {
    this.#local = local;
  }

  /** How the other instances of a cluster are asked for their workers' answers. */
  setRemote(remote: (body: GatherBody) => Promise<unknown[]>): void {
    this.#remote = remote;
  }

  /** This instance's workers' answers, unmerged (what another instance gathers). */
  local(body: GatherBody): Promise<unknown[]> {
    return this.#local(body);
  }

  async #gather<T>(body: GatherBody): Promise<T[]> {
    const [local, remote] = await Promise.all([this.#local(body), this.#remote?.(body) ?? []]);
    return [...local, ...remote] as T[];
  }

  async top(
    minChurnRisk: number,
    limit: number,
    filter: { tag?: string | undefined; segment?: string | undefined } = {},
  ): Promise<CustomerSummary[]> {
    const lists = await this.#gather<CustomerSummary[]>({ op: 'top', minChurnRisk, limit, ...filter });
    return lists
      .flat()
      .sort((a, b) => (b.scores.churn?.probability ?? -1) - (a.scores.churn?.probability ?? -1))
      .slice(0, limit);
  }

  /** Segment counts and averages over every customer. */
  async segments(): Promise<ReturnType<SegmentStats['summary']>> {
    const stats = new SegmentStats();
    for (const s of await this.#gather<SegmentStatsJSON>({ op: 'segments' })) stats.merge(s);
    return stats.summary();
  }

  async funnels(): Promise<FunnelCounts[]> {
    return mergeFunnelCounts(await this.#gather<FunnelCounts[]>({ op: 'funnels' }));
  }

  async paths(): Promise<PathStats> {
    const paths = new PathStats();
    for (const p of await this.#gather<PathStatsJSON>({ op: 'paths' })) paths.merge(p);
    return paths;
  }

  /** Basket counts at `level` over every partition (counts add; Space-Saving bounds add too). */
  async baskets(level: BasketLevel): Promise<LevelCounts> {
    const counts = new BasketStats().level(level);
    for (const c of await this.#gather<LevelCountsJSON>({ op: 'baskets', level })) counts.merge(c);
    return counts;
  }

  async attribution(): Promise<AttributionSnapshot> {
    return mergeAttribution(await this.#gather<AttributionSnapshot>({ op: 'attribution' }));
  }

  /** An aggregate over every customer: each worker's partial, merged (docs/analytics.md). */
  async aggregate(spec: AggregateSpec, deadline: number): Promise<AggregateAnswer> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      // A worker busy with a long batch reads the request late: the answer is due at the deadline anyway.
      timer = setTimeout(
        () =>
          reject(new BellwetherError('BW_ERR_AGGREGATE_DEADLINE', 'the workers did not all answer in time')),
        Math.max(0, deadline - Date.now()) + DEADLINE_GRACE_MS,
      );
    });
    try {
      const gathered = this.#gather<AggregatePartialJSON>({ op: 'aggregate', spec, deadline });
      gathered.catch(() => {});
      const partials = await Promise.race([gathered, late]);
      return finishAggregate(spec, mergeAggregates(spec, partials));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every partition's model-monitor state (engine/worker/monitor.ts), unmerged: model-monitor.ts merges it. */
  monitor(): Promise<MonitorReport[]> {
    return this.#gather<MonitorReport>({ op: 'monitor' });
  }

  /** The daily cube's groups over every partition. */
  async daily(spec: DailySpec): Promise<{ groups: DailyGroup[]; dropped: number }> {
    const acc = new DailyAccumulator(spec);
    for (const p of await this.#gather<DailyPartialJSON>({ op: 'daily', spec })) acc.merge(p);
    return acc.finish();
  }
}
