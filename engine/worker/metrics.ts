/**
 * Metrics kept inside a partition worker. The main thread gathers each worker's registry as JSON
 * and aggregates them (counters and histograms summed), so /metrics shows one set of series.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerThreadTime } from '../../lib/thread-time.js';
import {
  CLEANSING_ACTIONS,
  CLEANSING_RULES,
  newCleansingCounts,
} from '../../operators/cleansing/cleanser.js';

const EVENT_TO_SCORE_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/**
 * Stages of a worker's event-loop time, for `bellwether_worker_busy_seconds_total{stage}`:
 * - `parse`: bytes → validated event (JSON, schema, time and routing checks);
 * - `fold`: cleansing (operators/cleansing/), dedupe and the feature operators;
 * - `crm`: the CRM's per-event work (personal fields sealed, rules, tags, funnels, paths,
 *   attribution) and, after scoring, segments, alerts and timers;
 * - `score`: feature vectors and the models, per batch;
 * - `effects`: the rest of a batch (answers voided and pushed, effects published, acks);
 * - `other`: the rest of the busy time: the NATS client reading and dispatching messages, queries
 *   from the main thread, checkpoints, the rescore sweep, garbage collection between stages.
 * Per-event stages are timed on one message in {@link STAGE_SAMPLE} and scaled; batch stages on
 * every batch. Wall time: under a saturated machine it includes waiting for a core.
 */
const STAGES = ['parse', 'fold', 'crm', 'score', 'effects'] as const;
export const STAGE_PARSE = 0;
export const STAGE_FOLD = 1;
export const STAGE_CRM = 2;
export const STAGE_SCORE = 3;
export const STAGE_EFFECTS = 4;
/** One message in this many has its per-event stages timed (a power of two). */
export const STAGE_SAMPLE = 8;

/**
 * The children of a one-label counter, memoised: prom-client's `labels()` builds and hashes a
 * label key on every call, which on the hot path (a segment change every few events) showed. The
 * counter must never be `reset()` (that detaches the children).
 */
export function counterChildren(counter: Counter<string>): (value: string) => { inc(n?: number): void } {
  const children = new Map<string, { inc(n?: number): void }>();
  return (value) => {
    let child = children.get(value);
    if (child === undefined) children.set(value, (child = counter.labels(value)));
    return child;
  };
}

export function createWorkerMetrics(thread: string) {
  const registry = new Registry();
  registerThreadTime(registry, thread);
  /** Seconds per stage (index as in {@link STAGES}), sampled stages already scaled. */
  const stageSeconds = new Float64Array(STAGES.length);
  const startedElu = performance.eventLoopUtilization();
  /** Cleansing counts by rule and action (operators/cleansing/cleanser.ts), filled on the hot path. */
  const cleansed = newCleansingCounts();
  new Counter({
    name: 'bellwether_events_cleansed_total',
    help: 'Events cleansed on the way in, by rule and action: repaired, standardised, quarantined, reviewed (docs/cleansing.md)',
    labelNames: ['rule', 'action'],
    registers: [registry],
    collect() {
      this.reset();
      const actions = CLEANSING_ACTIONS.length;
      for (let i = 0; i < cleansed.length; i++) {
        if (cleansed[i]! > 0)
          this.inc(
            { rule: CLEANSING_RULES[Math.floor(i / actions)]!, action: CLEANSING_ACTIONS[i % actions]! },
            cleansed[i]!,
          );
      }
    },
  });
  new Counter({
    name: 'bellwether_worker_busy_seconds_total',
    help: "Seconds of the partition workers' event loops spent per stage: parse, fold, crm, score, effects, other (README, Metrics)",
    labelNames: ['stage'],
    registers: [registry],
    collect() {
      this.reset();
      let staged = 0;
      for (let s = 0; s < STAGES.length; s++) {
        this.inc({ stage: STAGES[s]! }, stageSeconds[s]!);
        staged += stageSeconds[s]!;
      }
      const busy = performance.eventLoopUtilization(startedElu).active / 1000;
      this.inc({ stage: 'other' }, Math.max(0, busy - staged));
    },
  });
  return {
    registry,
    stageSeconds,
    cleansed,
    processed: new Counter({
      name: 'bellwether_events_processed_total',
      help: 'Valid events folded into customer state, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'bellwether_events_rejected_total',
      help: 'Events sent to the dead-letter queue, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    watermarkHeld: new Counter({
      name: 'bellwether_watermark_held_total',
      help: "Events folded without moving their partition's watermark: too far ahead of it on their own (docs/features.md, Watermark)",
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'bellwether_events_duplicate_total',
      help: 'Events skipped because their event_id was already counted',
      registers: [registry],
    }),
    eventToScore: new Histogram({
      name: 'bellwether_event_to_score_seconds',
      help: 'Time from an event arriving in the stream to its customer score being visible',
      buckets: EVENT_TO_SCORE_BUCKETS,
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'bellwether_consumer_pending',
      help: 'Messages of a partition not yet delivered to the engine',
      labelNames: ['partition'],
      registers: [registry],
    }),
    piiFields: new Gauge({
      name: 'bellwether_pii_fields',
      help: 'Personal fields held sealed, by the id of the key that sealed them (old ids drain after a rotation)',
      labelNames: ['key_id'],
      registers: [registry],
    }),
    piiDropped: new Counter({
      name: 'bellwether_pii_fields_dropped_total',
      help: "Personal fields dropped at a customer's profile update because their record no longer opens (its key was removed from the keyring)",
      registers: [registry],
    }),
    piiRefused: new Counter({
      name: 'bellwether_pii_fields_refused_total',
      help: 'Personal values of profile events not kept: longer than 4096 characters, or new fields past 64 per customer',
      registers: [registry],
    }),
    piiMigrated: new Counter({
      name: 'bellwether_pii_fields_migrated_total',
      help: 'Profile fields found in the clear in a checkpoint of an earlier version and sealed on load',
      registers: [registry],
    }),
    customers: new Gauge({
      name: 'bellwether_customers_tracked',
      help: 'Customers with state in the engine',
      registers: [registry],
    }),
    answersPushed: new Counter({
      name: 'bellwether_answers_pushed_total',
      help: "Customer answers a worker pushed to the main thread's cache (customers being read, after their batch or as time passes)",
      registers: [registry],
    }),
    predictions: new Counter({
      name: 'bellwether_predictions_total',
      help: 'Customer scores computed, by model',
      labelNames: ['model'],
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'bellwether_alerts_total',
      help: 'Risk alerts published, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    redelivered: new Counter({
      name: 'bellwether_events_redelivered_total',
      help: 'Messages skipped because their stream sequence was already folded into the state',
      registers: [registry],
    }),
    checkpointSeconds: new Histogram({
      name: 'bellwether_checkpoint_seconds',
      help: 'Time to write one partition checkpoint',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    fenced: new Counter({
      name: 'bellwether_partitions_fenced_total',
      help: 'Partitions whose lease ran out before they were handed off: stopped at once, nothing more acked, checkpointed or published for them here',
      registers: [registry],
    }),
    checkpointBytes: new Gauge({
      name: 'bellwether_checkpoint_bytes',
      help: 'Size of the latest checkpoint of a partition',
      labelNames: ['partition'],
      registers: [registry],
    }),
    shadowPredictions: new Counter({
      name: 'bellwether_shadow_predictions_total',
      help: 'Scores computed by a shadow candidate model (never alerting)',
      labelNames: ['model', 'version'],
      registers: [registry],
    }),
    shadowAboveThreshold: new Counter({
      name: 'bellwether_shadow_above_threshold_total',
      help: 'Shadow scores at or above the alert threshold (alerts the candidate would raise if live)',
      labelNames: ['model', 'version'],
      registers: [registry],
    }),
    shadowDiff: new Histogram({
      name: 'bellwether_shadow_risk_difference',
      help: 'Absolute difference in risk points between the shadow candidate and the live model',
      labelNames: ['model', 'version'],
      buckets: [0, 1, 2, 5, 10, 20, 40, 100],
      registers: [registry],
    }),
    actions: new Counter({
      name: 'bellwether_actions_total',
      help: 'Rule actions published, by rule',
      labelNames: ['rule'],
      registers: [registry],
    }),
    segmentChanges: new Counter({
      name: 'bellwether_segment_changes_total',
      help: 'Customers entering a segment',
      labelNames: ['segment'],
      registers: [registry],
    }),
    evicted: new Counter({
      name: 'bellwether_customers_evicted_total',
      help: 'Customers forgotten after BW_STATE_TTL_DAYS without an event',
      registers: [registry],
    }),
    rescored: new Counter({
      name: 'bellwether_rescored_customers_total',
      help: 'Customers rescored by the periodic sweep (time passing moves churn risk without events)',
      registers: [registry],
    }),
    identityLinks: new Counter({
      name: 'bellwether_identity_links_total',
      help: 'Anonymous ids linked to a customer (links written to the BW_IDENTITY bucket by an identifying event)',
      registers: [registry],
    }),
    identityMerges: new Counter({
      name: 'bellwether_identity_merges_total',
      help: "Anonymous profiles whose history was forwarded whole to their customer's partition",
      registers: [registry],
    }),
    identityMergeSeconds: new Histogram({
      name: 'bellwether_identity_merge_seconds',
      help: "Time from a link being written to the anonymous history stored on the customer's partition",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    aggregatePass: new Histogram({
      name: 'bellwether_aggregate_pass_seconds',
      help: "A worker's work on one aggregate query: its passes over its partitions' customers, summed over the safe points it was served at (waits between them excluded)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    batches: new Histogram({
      name: 'bellwether_batch_size',
      help: 'Events per processing batch (one scoring pass)',
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
