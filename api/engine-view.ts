/** What the HTTP layer needs from the engine; the engine implements it, tests may too. */
import type { CustomerAnswer, CustomerSummary, WorkerStatus } from '../engine/thread-messages.js';

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

export interface EngineView {
  customer(id: string): Promise<CustomerAnswer | null>;
  top(minChurnRisk: number, limit: number): Promise<CustomerSummary[]>;
  status(): Promise<WorkerStatus[]>;
  info(): Promise<EngineInfo>;
  metricsText(): Promise<string>;
  metricsContentType: string;
  natsConnected(): boolean;
}
