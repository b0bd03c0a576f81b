/**
 * Settings of the engine itself: where it connects and listens, where its files live, partitions and
 * threads, the simulated feed, the clock, scoring and alerts, retention, CRM files and tuning.
 * One entry per setting (engine/settings-spec.ts); the order is the order of `bellwether help` and of
 * the README's table.
 */
import os from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { PACKAGE_ROOT } from '../lib/paths.js';
import type { SettingSpec } from './settings-spec.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MAX_WORKERS = 256;

export const ENGINE_SETTINGS = {
  natsUrl: {
    env: 'BW_NATS_URL',
    flag: 'nats-url',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'unset',
    help: 'external NATS server; unset = start an embedded nats-server',
  },
  natsPort: {
    env: 'BW_NATS_PORT',
    flag: 'nats-port',
    schema: Type.Integer({ minimum: 1, maximum: 65535, default: 4222 }),
    help: 'client port of the embedded nats-server',
  },
  httpPort: {
    env: 'BW_HTTP_PORT',
    flag: 'http-port',
    schema: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    help: 'HTTP port (0 = any free port)',
  },
  httpHost: {
    env: 'BW_HTTP_HOST',
    flag: 'http-host',
    schema: Type.String({ minLength: 1, default: '127.0.0.1' }),
    help: 'HTTP bind address',
  },
  dataDir: {
    env: 'BW_DATA_DIR',
    flag: 'data-dir',
    schema: Type.String({ minLength: 1, default: './.bellwether' }),
    isPath: true,
    help: 'data directory (embedded NATS store, checkpoints)',
  },
  modelsDir: {
    env: 'BW_MODELS_DIR',
    flag: 'models-dir',
    schema: Type.String({ minLength: 1 }),
    isPath: true,
    computeDefault: () => path.join(PACKAGE_ROOT, 'models'),
    defaultText: '`models/` of the package',
    help: 'model registry',
  },
  clvFitHours: {
    env: 'BW_CLV_FIT_HOURS',
    flag: 'clv-fit-hours',
    schema: Type.Number({ minimum: 0, maximum: 8760, default: 0 }),
    help: 'refit CLV (BG/NBD + Gamma-Gamma) on the events streams every N hours into the next clv-params version; in a cluster the owner of partition 0 fits (0: off)',
  },
  partitions: {
    env: 'BW_PARTITIONS',
    flag: 'partitions',
    schema: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
    help: 'partitions; fixed for the life of the events stream',
  },
  workers: {
    env: 'BW_WORKERS',
    flag: 'workers',
    schema: Type.Integer({ minimum: 1, maximum: MAX_WORKERS }),
    computeDefault: () => Math.min(MAX_WORKERS, Math.max(1, os.availableParallelism())),
    defaultText: 'cores',
    help: 'worker threads (at most one per partition)',
  },
  simulate: {
    env: 'BW_SIMULATE',
    flag: 'simulate',
    schema: Type.Number({ minimum: 0, maximum: 1_000_000, default: 0 }),
    help: 'events/s of the built-in simulated feed (0: off)',
  },
  simulateCustomers: {
    env: 'BW_SIMULATE_CUSTOMERS',
    flag: 'simulate-customers',
    schema: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 5000 }),
    help: 'customers in the simulated feed',
  },
  simulateLive: {
    env: 'BW_SIMULATE_LIVE',
    flag: 'simulate-live',
    schema: Type.Number({ minimum: 0, maximum: 1_000_000, default: 50 }),
    help: "events/s of the simulated feed once it has reached the present (at most `BW_SIMULATE`): the customers' plans play on at this pace, same behaviour mix, each event stamped with the wall clock (0: real time, the customers' own pace of a few events a minute)",
  },
  simulateDrift: {
    env: 'BW_SIMULATE_DRIFT',
    flag: 'simulate-drift',
    schema: Type.Number({ minimum: 1, maximum: 1000, default: 1 }),
    help: "injected drift in the simulated feed: amounts from the start of its simulated period on are multiplied by this (the customers' backfilled past keeps them), for the model monitor's drift alert (1: none)",
  },
  simulateDays: {
    env: 'BW_SIMULATE_DAYS',
    flag: 'simulate-days',
    schema: Type.Number({ minimum: 0.001, maximum: 3650, default: 180 }),
    help: "days of behaviour the simulated feed plays before it reaches the present (the customers' past before that comes first); a small value reaches the live phase in seconds",
  },
  clock: {
    env: 'BW_CLOCK',
    flag: 'clock',
    schema: Type.Union([Type.Literal('wall'), Type.Literal('event')], { default: 'wall' }),
    help: "`wall`, or `event`: windows end at the partition's watermark (replays, simulation)",
  },
  churnAlertThreshold: {
    env: 'BW_CHURN_ALERT_THRESHOLD',
    flag: 'churn-alert-threshold',
    schema: Type.Number({ minimum: 0, maximum: 100, default: 80 }),
    help: 'churn risk that raises an alert',
  },
  intentAlertThreshold: {
    env: 'BW_INTENT_ALERT_THRESHOLD',
    flag: 'intent-alert-threshold',
    schema: Type.Number({ minimum: 0, maximum: 100, default: 80 }),
    help: 'purchase-intent risk that raises an alert',
  },
  logLevel: {
    env: 'BW_LOG_LEVEL',
    flag: 'log-level',
    schema: Type.Union(
      LOG_LEVELS.map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    help: `pino level: ${LOG_LEVELS.join(', ')}`,
  },
  logFormat: {
    env: 'BW_LOG_FORMAT',
    flag: 'log-format',
    schema: Type.Union([Type.Literal('json'), Type.Literal('pretty')]),
    computeDefault: () => (process.stdout.isTTY ? 'pretty' : 'json'),
    defaultText: '`pretty` on a terminal, `json` otherwise',
    help: 'log lines: `json` (one pino object per line, for collectors) or `pretty` (coloured, one readable line per entry)',
  },
  dedupeIdsPerPartition: {
    env: 'BW_DEDUPE_IDS',
    flag: 'dedupe-ids',
    schema: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 50_000 }),
    help: 'event ids remembered per partition for dedupe',
  },
  maxAckPending: {
    env: 'BW_MAX_ACK_PENDING',
    flag: 'max-ack-pending',
    schema: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
    help: 'in-flight messages per partition consumer',
  },
  eventsMaxAgeDays: {
    env: 'BW_EVENTS_MAX_AGE_DAYS',
    flag: 'events-max-age-days',
    schema: Type.Number({ exclusiveMinimum: 0, default: 400 }),
    help: 'retention of the events stream, in days; state is rebuilt from it at start',
  },
  streamsMaxMb: {
    env: 'BW_STREAMS_MAX_MB',
    flag: 'streams-max-mb',
    schema: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 0 }),
    help: 'disk bound of the streams the engine fills, in MiB (0: none, only the retention times): 3/4 for the events (split evenly over the partitions), 1/12 each for rule actions and segment changes, alerts and dead letters; the oldest messages go first (the audit stream is not bounded). `npm start` sets 128',
  },
  streamCheckSeconds: {
    env: 'BW_STREAM_CHECK_SECONDS',
    flag: 'stream-check-seconds',
    schema: Type.Number({ minimum: 0, maximum: 3600, default: 5 }),
    help: "interval of the check of the engine's streams: one deleted or altered is recreated or set back, logged, counted and alerted on `bw.alerts.security` (0: off)",
  },
  rescoreSeconds: {
    env: 'BW_RESCORE_SECONDS',
    flag: 'rescore-seconds',
    schema: Type.Number({ minimum: 0, maximum: 86_400, default: 60 }),
    help: 'interval of the sweep that rescores every customer as time passes (0: off)',
  },
  checkpointSeconds: {
    env: 'BW_CHECKPOINT_SECONDS',
    flag: 'checkpoint-seconds',
    schema: Type.Number({ minimum: 0, maximum: 86_400, default: 10 }),
    help: 'interval of partition checkpoints (0: only at shutdown)',
  },
  stateTtlDays: {
    env: 'BW_STATE_TTL_DAYS',
    flag: 'state-ttl-days',
    schema: Type.Number({ exclusiveMinimum: 0, default: 400 }),
    help: 'customers with no event for this long are forgotten by the sweep',
  },
  monitorSnapshotDays: {
    env: 'BW_MONITOR_SNAPSHOT_DAYS',
    flag: 'monitor-snapshot-days',
    schema: Type.Number({ exclusiveMinimum: 0, maximum: 365, default: 7 }),
    help: "model monitor: days of event time between two snapshots of the live models' scores, cutoffs at BW_MONITOR_EPOCH + k × this ([docs/models.md](docs/models.md#monitoring))",
  },
  monitorEpoch: {
    env: 'BW_MONITOR_EPOCH',
    flag: 'monitor-epoch',
    schema: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', default: '2000-01-03' }),
    help: 'model monitor: a UTC date (YYYY-MM-DD) the snapshot cutoffs are anchored on',
  },
  monitorSample: {
    env: 'BW_MONITOR_SAMPLE',
    flag: 'monitor-sample',
    schema: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 50_000 }),
    help: 'model monitor: most customers of a partition kept per snapshot (beyond it, the ones with the lowest id hash: a uniform sample)',
  },
  monitorPsiThreshold: {
    env: 'BW_MONITOR_PSI_THRESHOLD',
    flag: 'monitor-psi-threshold',
    schema: Type.Number({ exclusiveMinimum: 0, default: 0.2 }),
    help: 'model monitor: population stability index of a model input above which a drift alert goes to `bw.alerts.model`',
  },
  monitorEceThreshold: {
    env: 'BW_MONITOR_ECE_THRESHOLD',
    flag: 'monitor-ece-threshold',
    schema: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.1 }),
    help: 'model monitor: expected calibration error of a labelled snapshot above which a calibration alert goes to `bw.alerts.model`',
  },
  monitorCheckSeconds: {
    env: 'BW_MONITOR_CHECK_SECONDS',
    flag: 'monitor-check-seconds',
    schema: Type.Number({ minimum: 0, maximum: 86_400, default: 60 }),
    help: 'model monitor: interval at which the snapshots are gathered for the metrics and alerts (0: off; the route always answers)',
  },
  tagsFile: {
    env: 'BW_TAGS_FILE',
    flag: 'tags-file',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'built-in',
    help: 'tags, YAML or JSON ([docs/crm.md](docs/crm.md))',
  },
  rulesFile: {
    env: 'BW_RULES_FILE',
    flag: 'rules-file',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'built-in',
    help: 'rules and segment settings, YAML or JSON',
  },
  cleansingFile: {
    env: 'BW_CLEANSING_FILE',
    flag: 'cleansing-file',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'built-in',
    help: 'cleansing rules (missing values, standardisation, outliers, near-duplicates), YAML or JSON; reloaded on change ([docs/cleansing.md](docs/cleansing.md))',
  },
  funnelsFile: {
    env: 'BW_FUNNELS_FILE',
    flag: 'funnels-file',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'built-in',
    help: 'funnels, YAML or JSON (built in: the checkout funnel)',
  },
  watermarkMaxJumpSeconds: {
    env: 'BW_WATERMARK_MAX_JUMP_SECONDS',
    flag: 'watermark-max-jump-seconds',
    schema: Type.Number({ minimum: 0, maximum: 365 * 86_400, default: 86_400 }),
    help: "how far one event may move its partition's watermark ahead, and a partition's event clock run ahead of the partitions' median; further ahead takes 3 of the partition's last 8 events (docs/features.md, Watermark; 0: no bound)",
  },
  allowedLatenessSeconds: {
    env: 'BW_ALLOWED_LATENESS_SECONDS',
    flag: 'allowed-lateness-seconds',
    schema: Type.Number({ minimum: 0, maximum: 30 * 86_400, default: 3600 }),
    help: 'absence timers fire this long after their due time on the clock, so late events can still cancel them',
  },
  batchLingerMs: {
    env: 'BW_BATCH_LINGER_MS',
    flag: 'batch-linger-ms',
    schema: Type.Number({ minimum: 0, maximum: 1000, default: 20 }),
    help: 'a batch is scored, published and acked this long after its first event, or at 1,024 touched customers if sooner (0: every event-loop turn)',
  },
  answerCacheMs: {
    env: 'BW_ANSWER_CACHE_MS',
    flag: 'answer-cache-ms',
    schema: Type.Number({ minimum: 0, maximum: 60_000, default: 5000 }),
    help: "longest a customer answer is served from the main thread's cache when no event or rescore changed it (0: off, and no answers are pushed); within it only the time-derived features (days since…) of an answer age, never its scores or event counts. Default 1000 until 2026-12-06",
  },
  workerNice: {
    env: 'BW_WORKER_NICE',
    flag: 'worker-nice',
    schema: Type.Integer({ minimum: 0, maximum: 19, default: 0 }),
    help: 'added to the nice value of the partition worker threads (Linux, per thread), so the HTTP thread runs first on saturated cores; trades ingest and freshness for HTTP under load (bench/README.md)',
  },
} satisfies Record<string, SettingSpec>;
