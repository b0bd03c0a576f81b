/** What the pieces of a partition worker share: its partitions' feeds, NATS, config, log, metrics. */
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventRoute } from '../../contract/event-parse.js';
import type { RuleEngine } from '../../operators/crm/rule-engine.js';
import type { PiiSealer } from '../../security/pii-sealer.js';
import type { Logger } from '../log.js';
import type { EffectPublisher } from '../nats/effect-publisher.js';
import type { WorkerSettings } from '../pool/worker-settings.js';
import type { StreamOrigin } from '../state/checkpoint.js';
import type { PartitionCrm } from '../state/partition-crm.js';
import type { PartitionState } from '../state/partition-state.js';
import type { WorkerMetrics } from './metrics.js';

/** One partition owned by the worker: its state and its consumer. */
export interface PartitionFeed {
  state: PartitionState;
  /** The JetStream stream holding the partition's events (streams.ts `eventsStreamOf`). */
  stream: string;
  /** The stream the loaded checkpoint's sequence counts in; checked against `stream` at attach. */
  checkpointOrigin: StreamOrigin | undefined;
  messages: ConsumerMessages | undefined;
  attached: boolean;
  caughtUp: boolean;
  /** The routing check of events stored without a customer token (event-parse.ts). */
  route: EventRoute;
  /** The consumer's lag: read from each delivery's reply subject (ack-reply.ts). */
  pending: number;
  /** Bumped each time the partition's consumer is (re)created. */
  consumerGeneration: number;
  /** Consumer sequence of the last delivery, and of the last ack (their difference: ack pending). */
  delivered: number;
  acked: number;
  /** Date.now() of the last delivery, and of the last consumer-info request. */
  lastDeliveryMs: number;
  infoAt: number;
  /** Last message of the current batch, acked (AckAll) when the batch is flushed. */
  lastMsg: JsMsg | undefined;
  /** Dead-letter and action publishes of the current batch, awaited before the ack. */
  publishes: Promise<unknown>[];
  /**
   * Stream sequence up to which a previous run already processed and acked this partition:
   * effects (alerts, actions, dead letters) of messages at or below it were already published and
   * are not published again when those messages are processed again.
   */
  replayUntil: number;
  /** Stream sequence of the partition's last written checkpoint. */
  checkpointed: number;
  /** CRM analytics, segments and tags of the partition's customers. */
  crm: PartitionCrm;
  /** The partition's rules with their keyed absence timers. */
  rules: RuleEngine;
}

export interface WorkerContext {
  readonly config: WorkerSettings;
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  readonly feeds: Map<number, PartitionFeed>;
  /** Queues effects (alerts, actions, segment changes, dead letters), sent per batch by `commit()`. */
  readonly effects: EffectPublisher;
  /** Seals personal fields and dead-letter bodies with the current PII keyring. */
  sealer(): PiiSealer;
  nc(): NatsConnection;
  js(): JetStreamClient;
  isStopping(): boolean;
  /** Folds, scores and publishes the batch in progress now, if there is one. */
  flushPending(): void;
}
