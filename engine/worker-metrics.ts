/**
 * Metrics kept inside a partition worker. The main thread gathers each worker's registry as JSON
 * and aggregates them (counters and histograms summed), so /metrics shows one set of series.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const EVENT_TO_SCORE_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

export function createWorkerMetrics() {
  const registry = new Registry();
  return {
    registry,
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
    batches: new Histogram({
      name: 'bellwether_batch_size',
      help: 'Events per processing batch (one scoring pass)',
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
