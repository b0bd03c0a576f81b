/** Typed messages between the main thread and partition workers. */
import type { Reason } from '../models/scorer.js';
import type { Config } from './config.js';
import type { SerializedError } from './errors.js';

export interface WorkerData {
  index: number;
  partitions: number[];
  natsUrl: string;
  config: Config;
  /** 0 for the first thread of this index, +1 at each restart after a crash. */
  generation: number;
  /**
   * Test hook (BW_TEST_CRASH_EVENT_ID): the first-generation thread exits abruptly when it folds
   * the event with this id, to test crash recovery. Never set in production.
   */
  crashOnEventId?: string | undefined;
}

export interface ScoreView {
  probability: number;
  risk: number;
  model_version: string;
  scored_at: string;
  /** Top 3 contributing inputs (customer answers and alerts). */
  reasons?: Reason[];
}

export interface CustomerAnswer {
  customer_id: string;
  partition: number;
  features: Record<string, number | null>;
  scores: {
    churn: ScoreView | null;
    purchase_intent: ScoreView | null;
    p_alive: number | null;
    expected_purchases_90d: number | null;
    clv_365d: number | null;
    clv_version: string | null;
  };
  last_event_at: string | null;
}

export interface CustomerSummary {
  customer_id: string;
  scores: { churn: ScoreView | null; purchase_intent: ScoreView | null };
  last_event_at: string | null;
}

export interface PartitionStatus {
  partition: number;
  attached: boolean;
  caught_up: boolean;
  pending: number;
  ack_pending: number;
  customers: number;
  last_sequence: number;
  watermark: string | null;
}

export interface WorkerStatus {
  index: number;
  tf_backend: string;
  models: Record<string, string>;
  /** TF.js tensors alive in the worker (flat across batches and reloads). */
  tensors: number;
  partitions: PartitionStatus[];
}

export type WorkerRequest =
  | { id: number; op: 'customer'; customerId: string }
  | { id: number; op: 'top'; minChurnRisk: number; limit: number }
  | { id: number; op: 'status' }
  | { id: number; op: 'metrics' }
  | { id: number; op: 'reload' }
  | { id: number; op: 'stop' };

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

export type WorkerNotice =
  | { kind: 'ready'; index: number }
  | { kind: 'fatal'; index: number; error: SerializedError };

export type FromWorker = WorkerReply | WorkerNotice;

export function isNotice(msg: FromWorker): msg is WorkerNotice {
  return 'kind' in msg;
}
