/** What the HTTP layer needs from the engine; the engine implements it, tests may too. */
import type { AggregateAnswer } from '../operators/analytics/aggregate.js';
import type { AggregateSpec } from '../operators/analytics/aggregate-spec.js';
import type { AssociationRules, RuleQuery } from '../operators/analytics/association-rules.js';
import type { BasketLevel } from '../operators/analytics/basket-stats.js';
import type { DailyGroup, DailySpec } from '../operators/analytics/daily-cube.js';
import type { ShadowComparison } from './pool/shadow-comparison.js';
import type { CustomerAnswer, CustomerSummary, WorkerStatus } from './pool/thread-messages.js';

export type {
  AggregateAnswer,
  AggregateSpec,
  CustomerAnswer,
  CustomerSummary,
  DailyGroup,
  DailySpec,
  WorkerStatus,
};

import type { AlertsView } from './alerts-feed.js';
import type { StoredCustomerEvents } from './customer-events.js';
import type { RuleDefinition, RulesListing } from './rules-file.js';

export type { StoredCustomerEvent } from './customer-events.js';
export type { RuleDefinition, RulesListing } from './rules-file.js';

import type { ClusterInfo } from './cluster/engine-member.js';
import type { ModelMonitorView } from './pool/monitor-merge.js';

export type { AlertRecord, AlertsView } from './alerts-feed.js';
export type { ModelMonitorView } from './pool/monitor-merge.js';

export interface EngineInfo {
  name: 'bellwether';
  version: string;
  partitions: number;
  workers: number;
  clock: 'wall' | 'event';
  nats: { url: string; embedded: boolean };
  tf_backend: string;
  models: Record<string, string>;
  thresholds: { churn: number; intent: number };
  /** The instances sharing the partitions, and who runs each (one instance on the embedded default). */
  cluster: ClusterInfo;
}

export interface ModelListing {
  models: {
    name: string;
    live: string | null;
    shadow: string | null;
    versions: { version: string; card: Record<string, unknown> | null }[];
  }[];
  loaded: Record<string, string>[];
  /** Each challenger against its live model on this instance's traffic (pool/shadow-comparison.ts). */
  shadow_comparison: ShadowComparison[];
}

export interface EngineView {
  segments(): Promise<unknown>;
  /** Undefined when no funnel has this id. */
  funnel(id: string): Promise<unknown | undefined>;
  paths(from: string | undefined, limit: number): Promise<unknown>;
  attribution(model: string): Promise<unknown>;
  /**
   * An aggregate over every customer's current state, gathered from every worker and instance
   * (docs/analytics.md); BW_ERR_AGGREGATE_DEADLINE past `deadline` (epoch ms).
   */
  aggregate(spec: AggregateSpec, deadline: number): Promise<AggregateAnswer>;
  /** The daily cube's groups (per-day counters by segment × event type × channel) over every partition. */
  daily(spec: DailySpec): Promise<{ groups: DailyGroup[]; dropped: number }>;
  /** Association rules mined from every partition's baskets (docs/analytics.md#association-rules). */
  associationRules(level: BasketLevel, query: RuleQuery): Promise<AssociationRules>;
  models(): Promise<ModelListing>;
  reloadModels(): Promise<Record<string, string>[]>;
  /** The model monitor's snapshots of `name` (docs/models.md, Monitoring); BW_ERR_MODEL_NOT_FOUND for another name. */
  modelMonitor(name: string): Promise<ModelMonitorView>;
  /** One customer's answer; `opts.bulk` for exports (the worker does not start pushing its answers). */
  customer(id: string, opts?: { bulk?: boolean }): Promise<CustomerAnswer | null>;
  top(
    minChurnRisk: number,
    limit: number,
    filter: { tag?: string | undefined; segment?: string | undefined },
  ): Promise<CustomerSummary[]>;
  status(): Promise<WorkerStatus[]>;
  info(): Promise<EngineInfo>;
  metricsText(): Promise<string>;
  metricsContentType: string;
  natsConnected(): boolean;
  /**
   * Partitions assigned to this instance that it does not run yet (a lease not acquired: another
   * instance's still valid, say after a kill -9); 0 on a single node.
   */
  partitionsAwaited(): number;
  /**
   * A customer's newest events from its partition's stream, newest first (engine/customer-events.ts),
   * with "now" as the partition's features see it (the wall clock, or the partition's event clock
   * when this instance runs it; null otherwise).
   */
  customerEvents(
    id: string,
    limit: number,
  ): Promise<StoredCustomerEvents & { partition: number; now: number | null }>;
  /** The rules and tags in force, each rule with its firings since the workers started. */
  crmRules(): Promise<RulesListing>;
  /** Adds or replaces a rule in the rules file (validated whole, written atomically, applied). */
  saveRule(rule: RuleDefinition): Promise<void>;
  /** Removes a rule from the rules file. */
  deleteRule(id: string): Promise<void>;
  /** Alerts and rule actions: the recent ones from the alerts stream, and live ones as they come. */
  alerts: AlertsView;
}
