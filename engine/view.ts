/** What the HTTP layer needs from the engine; the engine implements it, tests may too. */
import type { CustomerAnswer, CustomerSummary, WorkerStatus } from './pool/thread-messages.js';

export type { CustomerAnswer, CustomerSummary, WorkerStatus };

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
}

export interface ModelListing {
  models: {
    name: string;
    live: string | null;
    shadow: string | null;
    versions: { version: string; card: Record<string, unknown> | null }[];
  }[];
  loaded: Record<string, string>[];
}

export interface EngineView {
  segments(): Promise<unknown>;
  /** Undefined when no funnel has this id. */
  funnel(id: string): Promise<unknown | undefined>;
  paths(from: string | undefined, limit: number): Promise<unknown>;
  attribution(model: string): Promise<unknown>;
  models(): Promise<ModelListing>;
  reloadModels(): Promise<Record<string, string>[]>;
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
}
