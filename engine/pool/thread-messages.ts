/** Typed messages between the main thread and partition workers. */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from '../../contract/errors.js';
import type { NatsConnectSettings } from '../../lib/nats-connect-options.js';
import type { Reason } from '../../models/scorer.js';
import type { AggregateSpec } from '../../operators/analytics/aggregate-spec.js';
import type { BasketLevel } from '../../operators/analytics/basket-stats.js';
import type { DailySpec } from '../../operators/analytics/daily-cube.js';
import type { RfmCuts, RfmSketchesJSON } from '../../operators/analytics/rfm.js';
import type { CleansingDefinition } from '../../operators/cleansing/rules.js';
import type { CrmFile } from '../../operators/crm/config.js';
import type { PiiKeyringData } from '../../security/pii-keyring.js';
import type { SealedPii } from '../../security/pii-sealer.js';
import type { EventsLayout } from '../nats/streams.js';
import type { CustomerRecommendation } from '../state/partition-baskets.js';
import type { AnswerVersionsData } from './answer-versions.js';
import type { ShadowCounts } from './shadow-comparison.js';
import type { WorkerSettings } from './worker-settings.js';

/** A partition this instance owns, with the epoch of its lease (0 for the embedded single node). */
export interface OwnedPartition {
  partition: number;
  epoch: number;
}

export type CheckpointPlace =
  | { kind: 'file'; dir: string }
  /** `dir`: local checkpoint files of an earlier version, read once where the store has none. */
  | { kind: 'nats'; replicas: number; instanceId: string; dir: string };

/** Why a worker stops running a partition: handed off on purpose, or its lease lost (fenced). */
export type DisownMode = 'handoff' | 'lost';

export interface WorkerData {
  index: number;
  /** Customer queries (`op: 'customer'`) and their replies; polled at safe points (engine/worker/queries.ts). */
  queryPort: MessagePort;
  /** The partitions the worker runs from the start, with this instance's lease epoch on each. */
  partitions: OwnedPartition[];
  /** Where partition checkpoints live (checkpoint-backends.ts). */
  checkpoints: CheckpointPlace;
  /**
   * Shared with the main thread, indexed by partition: until when (epoch ms) this instance's lease
   * on each partition is valid (Infinity without leases). The worker fences a partition past it.
   */
  leaseUntil: Float64Array;
  /** How to reach NATS (server list, credentials, TLS files): the worker builds its options from it. */
  nats: NatsConnectSettings;
  /** Where the partitions' events are: a stream each, or the single stream of earlier versions. */
  eventsLayout: EventsLayout;
  /** The settings the worker reads (worker-settings.ts): no secrets. */
  config: WorkerSettings;
  /** 0 for the first thread of this index, +1 at each restart after a crash. */
  generation: number;
  /** Test hooks (crash recovery tests); never set in production. */
  hooks: TestHooks;
  /**
   * Shared with the main thread: the stream sequence each owned partition is processing right now
   * (0 between messages), indexed by partition. After a crash, the main thread reads it to find
   * the message that was being processed.
   */
  inflight: Float64Array;
  /**
   * Shared by the workers (SharedArrayBuffer), indexed by partition: the watermark of each
   * partition where it is owned, NaN elsewhere; their median bounds every partition's event clock.
   */
  watermarks: Float64Array;
  /** `partition:sequence` of messages that crashed the thread too often: dead-lettered unprocessed. */
  poison: string[];
  /** The CRM definition (tags, rules, funnels, segments), validated by the main thread. */
  crm: { definition: CrmFile; source: string };
  /** The cleansing rules (BW_CLEANSING_FILE merged over the built-in ones), validated by the main thread. */
  cleansing: { definition: CleansingDefinition; source: string };
  /** The PII keyring (the first key seals). */
  pii: PiiKeyringData;
  /** Version counters shared with the main thread's answer cache (answer-cache.ts). */
  versions: AnswerVersionsData;
}

/** A message that was being processed during this many thread crashes is dead-lettered unprocessed. */
export const POISON_CRASHES = 3;

export interface TestHooks {
  /** BW_TEST_CRASH_EVENT_ID: the thread exits abruptly when it folds the event with this id. */
  crashOnEventId?: string | undefined;
  /** BW_TEST_CRASH_ALWAYS=1: crash in every generation, not just the first (a poison message). */
  crashAlways?: boolean | undefined;
  /** BW_TEST_KILL_AFTER_FORWARDS: the process kills itself (SIGKILL) after forwarding this many anonymous events. */
  killAfterForwards?: number | undefined;
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
  segment: string | null;
  rfm: { r: number; f: number; m: number } | null;
  tags: string[];
  features: Record<string, number | null>;
  scores: {
    churn: ScoreView | null;
    purchase_intent: ScoreView | null;
    p_alive: number | null;
    expected_purchases_90d: number | null;
    clv_365d: number | null;
    clv_version: string | null;
    /**
     * `ok`; `no_fit` (no CLV parameters loaded); `no_purchase` (the customer has none yet);
     * `degenerate_fit: <reasons>` (the live fit is not served: models/clv/fit-status.ts).
     */
    clv_status: string;
  };
  last_event_at: string | null;
  /** Next-best categories and skus (docs/analytics.md#next-best-category). */
  recommendations: CustomerRecommendation;
  /** Anonymous ids linked to this customer (docs/events.md, Identity). */
  identities: string[];
  /** Present (true) when this is an anonymous profile: events with only this anonymous_id. */
  anonymous?: true;
  /** The customer this anonymous id is linked to: the API answers 308 to that customer. */
  linked_to?: string;
  /**
   * Personal fields sealed (one `bw2` record, or field → `bw1` ciphertext from older checkpoints),
   * opened by the main thread for the roles that may see them; never sent as is.
   */
  sealed_pii?: SealedPii;
}

export interface CustomerSummary {
  customer_id: string;
  segment: string | null;
  tags: string[];
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
  /**
   * The partition's event-clock "now" (`BW_CLOCK=event`): its watermark, held within the bound of
   * the partitions' median (docs/features.md, Watermark); null before the first event.
   */
  event_clock: string | null;
}

export interface WorkerStatus {
  index: number;
  tf_backend: string;
  models: Record<string, string>;
  /** Each challenger's comparison with its live model since the worker's models were loaded. */
  shadow: ShadowCounts[];
  /** TF.js tensors alive in the worker (flat across batches and reloads). */
  tensors: number;
  partitions: PartitionStatus[];
}

export type WorkerRequest =
  /** `watch`: a single-customer read (the worker then pushes its fresh answers); bulk reads leave it off. */
  | { id: number; op: 'customer'; customerId: string; watch?: boolean }
  | { id: number; op: 'top'; minChurnRisk: number; limit: number; tag?: string; segment?: string }
  | { id: number; op: 'cuts'; cuts: RfmCuts }
  | { id: number; op: 'crm'; definition: CrmFile; source: string }
  | { id: number; op: 'cleansing'; definition: CleansingDefinition; source: string }
  | { id: number; op: 'segments' }
  | { id: number; op: 'funnels' }
  | { id: number; op: 'paths' }
  /** The worker's basket counts at one level (LevelCountsJSON), merged over its partitions. */
  | { id: number; op: 'baskets'; level: BasketLevel }
  | { id: number; op: 'attribution' }
  /** A partial of an aggregate query over the worker's customers, due by `deadline` (epoch ms). */
  | { id: number; op: 'aggregate'; spec: AggregateSpec; deadline: number }
  /** A partial of a daily-cube query over the worker's partitions. */
  | { id: number; op: 'daily'; spec: DailySpec }
  | { id: number; op: 'monitor' }
  | { id: number; op: 'status' }
  | { id: number; op: 'metrics' }
  | { id: number; op: 'reload' }
  | { id: number; op: 'keyring'; keyring: PiiKeyringData }
  | { id: number; op: 'stop' }
  /** Start running a partition (its lease acquired with `epoch`): load its checkpoint, consume. */
  | { id: number; op: 'own'; partition: number; epoch: number }
  /**
   * Stop running a partition. `handoff`: stop consuming, flush and ack, checkpoint, forget it.
   * `lost`: stop consuming and forget it at once; no further ack, checkpoint or effect for it.
   */
  | { id: number; op: 'disown'; partition: number; mode: DisownMode };

/** A fresh answer a worker pushes to the main thread's cache (answer-push.ts). */
export interface PushedAnswer {
  customerId: string;
  answer: CustomerAnswer;
  bucket: number;
  epoch: number;
  /** clockMs when it was computed. */
  at: number;
}

/** Sent over a worker's query channel, beside the replies. */
export interface AnswersPush {
  kind: 'answers';
  answers: PushedAnswer[];
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

export type WorkerNotice =
  | { kind: 'ready'; index: number }
  | { kind: 'rfm'; index: number; sketches: RfmSketchesJSON }
  | { kind: 'fatal'; index: number; error: SerializedError };

export type FromWorker = WorkerReply | WorkerNotice;

export function isNotice(msg: FromWorker): msg is WorkerNotice {
  return 'kind' in msg;
}
