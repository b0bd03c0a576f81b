/**
 * Configuration: one TypeBox schema; the TypeScript type comes from it. Read once at start from the
 * environment (BW_*) and `bellwether run` flags (flags win), every violation reported at once
 * (BW_ERR_CONFIG_INVALID), then frozen and passed down. Nothing else reads process.env.
 */
import os from 'node:os';
import path from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { BellwetherError } from '../contract/errors.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { MASKS_PATTERN } from '../security/masking.js';
import { PII_CIPHERS } from '../security/pii-keyring.js';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

export const ConfigSchema = Type.Object(
  {
    natsUrl: Type.Optional(
      Type.String({ minLength: 1, description: 'External NATS server; unset = embedded' }),
    ),
    natsPort: Type.Integer({ minimum: 1, maximum: 65535, default: 4222 }),
    httpPort: Port,
    httpHost: Type.String({ minLength: 1 }),
    dataDir: Type.String({ minLength: 1 }),
    modelsDir: Type.String({ minLength: 1 }),
    partitions: Type.Integer({ minimum: 1, maximum: 1024 }),
    workers: Type.Integer({ minimum: 1, maximum: 256 }),
    simulate: Type.Number({
      minimum: 0,
      maximum: 1_000_000,
      description: 'Events/s of the simulated feed; 0 = off',
    }),
    simulateCustomers: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    clock: Type.Union([Type.Literal('wall'), Type.Literal('event')]),
    churnAlertThreshold: Type.Number({ minimum: 0, maximum: 100 }),
    intentAlertThreshold: Type.Number({ minimum: 0, maximum: 100 }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    ),
    dedupeIdsPerPartition: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
    maxAckPending: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    eventsMaxAgeDays: Type.Number({ exclusiveMinimum: 0 }),
    rescoreSeconds: Type.Number({ minimum: 0, maximum: 86_400 }),
    checkpointSeconds: Type.Number({ minimum: 0, maximum: 86_400 }),
    stateTtlDays: Type.Number({ exclusiveMinimum: 0 }),
    allowedLatenessSeconds: Type.Number({ minimum: 0, maximum: 30 * 86_400 }),
    tagsFile: Type.Optional(Type.String({ minLength: 1 })),
    rulesFile: Type.Optional(Type.String({ minLength: 1 })),
    funnelsFile: Type.Optional(Type.String({ minLength: 1 })),
    piiCipher: Type.Union(PII_CIPHERS.map((c) => Type.Literal(c))),
    piiKey: Type.Optional(Type.String({ minLength: 1 })),
    piiKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    piiMasks: Type.Optional(Type.String({ pattern: MASKS_PATTERN })),
    apiKeys: Type.Optional(Type.String({ minLength: 1 })),
    apiKeysFile: Type.Optional(Type.String({ minLength: 1 })),
    metricsPublic: Type.Boolean(),
    exportLimit: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    rateLimit: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    auditFile: Type.Optional(Type.String({ minLength: 1 })),
    auditRetentionDays: Type.Number({ minimum: 1, maximum: 36_500 }),
    answerCacheMs: Type.Number({ minimum: 0, maximum: 60_000 }),
    auditMaxMb: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
    auditFlushMs: Type.Number({ minimum: 0, maximum: 1000 }),
    batchLingerMs: Type.Number({ minimum: 0, maximum: 1000 }),
    workerNice: Type.Integer({ minimum: 0, maximum: 19 }),
  },
  { additionalProperties: false },
);

export type Config = Readonly<Static<typeof ConfigSchema>>;

interface Setting {
  key: keyof Static<typeof ConfigSchema>;
  env: string;
  flag: string;
  kind: 'string' | 'number' | 'boolean';
  describe: string;
  /** Read from the environment only, never a flag (a flag shows in `ps`), never logged. */
  secret?: true;
}

/** Every setting: its environment variable and its `bellwether run` flag. */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'natsUrl',
    env: 'BW_NATS_URL',
    flag: 'nats-url',
    kind: 'string',
    describe: 'external NATS server URL (unset: start an embedded nats-server)',
  },
  {
    key: 'natsPort',
    env: 'BW_NATS_PORT',
    flag: 'nats-port',
    kind: 'number',
    describe: 'client port of the embedded nats-server (4222)',
  },
  { key: 'httpPort', env: 'BW_HTTP_PORT', flag: 'http-port', kind: 'number', describe: 'HTTP port (8080)' },
  {
    key: 'httpHost',
    env: 'BW_HTTP_HOST',
    flag: 'http-host',
    kind: 'string',
    describe: 'HTTP bind address (127.0.0.1)',
  },
  {
    key: 'dataDir',
    env: 'BW_DATA_DIR',
    flag: 'data-dir',
    kind: 'string',
    describe: 'data directory (./.bellwether)',
  },
  {
    key: 'modelsDir',
    env: 'BW_MODELS_DIR',
    flag: 'models-dir',
    kind: 'string',
    describe: 'model registry directory (models/)',
  },
  {
    key: 'partitions',
    env: 'BW_PARTITIONS',
    flag: 'partitions',
    kind: 'number',
    describe: 'number of partitions, fixed for the life of the stream (16)',
  },
  {
    key: 'workers',
    env: 'BW_WORKERS',
    flag: 'workers',
    kind: 'number',
    describe: 'worker threads (number of cores)',
  },
  {
    key: 'simulate',
    env: 'BW_SIMULATE',
    flag: 'simulate',
    kind: 'number',
    describe: 'events/s of the built-in simulated feed (0: off)',
  },
  {
    key: 'simulateCustomers',
    env: 'BW_SIMULATE_CUSTOMERS',
    flag: 'simulate-customers',
    kind: 'number',
    describe: 'customers in the simulated feed (5000)',
  },
  {
    key: 'clock',
    env: 'BW_CLOCK',
    flag: 'clock',
    kind: 'string',
    describe: "'wall' or 'event' (watermark time, for replays)",
  },
  {
    key: 'churnAlertThreshold',
    env: 'BW_CHURN_ALERT_THRESHOLD',
    flag: 'churn-alert-threshold',
    kind: 'number',
    describe: 'churn risk that raises an alert (80)',
  },
  {
    key: 'intentAlertThreshold',
    env: 'BW_INTENT_ALERT_THRESHOLD',
    flag: 'intent-alert-threshold',
    kind: 'number',
    describe: 'purchase-intent risk that raises an alert (80)',
  },
  {
    key: 'logLevel',
    env: 'BW_LOG_LEVEL',
    flag: 'log-level',
    kind: 'string',
    describe: 'pino log level (info)',
  },
  {
    key: 'dedupeIdsPerPartition',
    env: 'BW_DEDUPE_IDS',
    flag: 'dedupe-ids',
    kind: 'number',
    describe: 'event ids remembered per partition for dedupe (50000)',
  },
  {
    key: 'maxAckPending',
    env: 'BW_MAX_ACK_PENDING',
    flag: 'max-ack-pending',
    kind: 'number',
    describe: 'in-flight messages per partition consumer (10000)',
  },
  {
    key: 'eventsMaxAgeDays',
    env: 'BW_EVENTS_MAX_AGE_DAYS',
    flag: 'events-max-age-days',
    kind: 'number',
    describe: 'retention of the events stream in days; state is rebuilt from it at start (400)',
  },
  {
    key: 'rescoreSeconds',
    env: 'BW_RESCORE_SECONDS',
    flag: 'rescore-seconds',
    kind: 'number',
    describe: 'seconds between sweeps that rescore every customer as time passes; 0: off (60)',
  },
  {
    key: 'checkpointSeconds',
    env: 'BW_CHECKPOINT_SECONDS',
    flag: 'checkpoint-seconds',
    kind: 'number',
    describe: 'seconds between partition checkpoints; 0: only at shutdown (10)',
  },
  {
    key: 'stateTtlDays',
    env: 'BW_STATE_TTL_DAYS',
    flag: 'state-ttl-days',
    kind: 'number',
    describe: 'customers with no event for this many days are forgotten (400)',
  },
  {
    key: 'allowedLatenessSeconds',
    env: 'BW_ALLOWED_LATENESS_SECONDS',
    flag: 'allowed-lateness-seconds',
    kind: 'number',
    describe:
      'absence-rule timers fire this long after their due time on the clock, so late events still cancel them (3600)',
  },
  {
    key: 'tagsFile',
    env: 'BW_TAGS_FILE',
    flag: 'tags-file',
    kind: 'string',
    describe: 'tags (YAML or JSON, docs/crm.md); built-in tags when unset',
  },
  {
    key: 'rulesFile',
    env: 'BW_RULES_FILE',
    flag: 'rules-file',
    kind: 'string',
    describe: 'rules and segment settings (YAML or JSON); built-in rules when unset',
  },
  {
    key: 'funnelsFile',
    env: 'BW_FUNNELS_FILE',
    flag: 'funnels-file',
    kind: 'string',
    describe: 'funnels (YAML or JSON); the built-in checkout funnel when unset',
  },
  {
    key: 'piiCipher',
    env: 'BW_PII_CIPHER',
    flag: 'pii-cipher',
    kind: 'string',
    describe: 'cipher sealing personal fields at rest: aes-256-gcm or sm4 (SM4-CTR + HMAC-SM3) (aes-256-gcm)',
  },
  {
    key: 'piiKey',
    env: 'BW_PII_KEY',
    flag: 'pii-key',
    kind: 'string',
    secret: true,
    describe: 'PII keys, `id:key,...` (first seals), 32 bytes hex or base64 each; environment only',
  },
  {
    key: 'piiKeyFile',
    env: 'BW_PII_KEY_FILE',
    flag: 'pii-key-file',
    kind: 'string',
    describe:
      'file of PII keys, one `id:key` per line, reloaded on change (default: <data dir>/pii.key, generated)',
  },
  {
    key: 'piiMasks',
    env: 'BW_PII_MASKS',
    flag: 'pii-masks',
    kind: 'string',
    describe: 'masks per field, `field:first:last,...` (phone:3:4,email:1:0,name:1:0,id_number:0:4,...)',
  },
  {
    key: 'apiKeys',
    env: 'BW_API_KEYS',
    flag: 'api-keys',
    kind: 'string',
    secret: true,
    describe: 'API keys `key:role[:name],...` (roles viewer, analyst, admin, service); environment only',
  },
  {
    key: 'apiKeysFile',
    env: 'BW_API_KEYS_FILE',
    flag: 'api-keys-file',
    kind: 'string',
    describe: 'API key hashes, `name role sha256:<hex>` per line (`bellwether keys create`)',
  },
  {
    key: 'metricsPublic',
    env: 'BW_METRICS_PUBLIC',
    flag: 'metrics-public',
    kind: 'boolean',
    describe: '/metrics answers without an API key (false)',
  },
  {
    key: 'exportLimit',
    env: 'BW_EXPORT_LIMIT',
    flag: 'export-limit',
    kind: 'number',
    describe: 'customers one API key may take out of list and export routes per hour (10000)',
  },
  {
    key: 'rateLimit',
    env: 'BW_RATE_LIMIT',
    flag: 'rate-limit',
    kind: 'number',
    describe: 'requests per minute per API key on every route, 0 = off (60000)',
  },
  {
    key: 'auditFile',
    env: 'BW_AUDIT_FILE',
    flag: 'audit-file',
    kind: 'string',
    describe: 'hash-chained audit log (<data dir>/audit/audit.ndjson)',
  },
  {
    key: 'auditRetentionDays',
    env: 'BW_AUDIT_RETENTION_DAYS',
    flag: 'audit-retention-days',
    kind: 'number',
    describe: 'retention of the BW_AUDIT stream copy, days (1096 = 3 years)',
  },
  {
    key: 'auditMaxMb',
    env: 'BW_AUDIT_MAX_MB',
    flag: 'audit-max-mb',
    kind: 'number',
    describe:
      'the audit file is rotated (renamed <name>-<last seq>.ndjson, chain continued) past this size (256)',
  },
  {
    key: 'auditFlushMs',
    env: 'BW_AUDIT_FLUSH_MS',
    flag: 'audit-flush-ms',
    kind: 'number',
    describe:
      'longest an audit record waits in memory before the file write and the stream copy; 0 = end of the event-loop turn (10)',
  },
  {
    key: 'batchLingerMs',
    env: 'BW_BATCH_LINGER_MS',
    flag: 'batch-linger-ms',
    kind: 'number',
    describe:
      'a batch is scored and acked this long after its first event, or at 1,024 touched customers if sooner; 0 = every event-loop turn (20)',
  },
  {
    key: 'workerNice',
    env: 'BW_WORKER_NICE',
    flag: 'worker-nice',
    kind: 'number',
    describe:
      'added to the nice value of the partition worker threads (Linux, per thread), so the thread answering HTTP runs first on busy cores; 0 = off (0)',
  },
  {
    key: 'answerCacheMs',
    env: 'BW_ANSWER_CACHE_MS',
    flag: 'answer-cache-ms',
    kind: 'number',
    describe:
      'longest a customer answer is served from the main thread without asking its worker, if no event or rescore changed it; 0 = off (5000)',
  },
];

export function defaultConfig(cwd: string = process.cwd()): Static<typeof ConfigSchema> {
  return {
    natsPort: 4222,
    httpPort: 8080,
    httpHost: '127.0.0.1',
    dataDir: path.join(cwd, '.bellwether'),
    modelsDir: path.join(PACKAGE_ROOT, 'models'),
    partitions: 16,
    workers: Math.max(1, os.availableParallelism()),
    simulate: 0,
    simulateCustomers: 5000,
    clock: 'wall',
    churnAlertThreshold: 80,
    intentAlertThreshold: 80,
    logLevel: 'info',
    dedupeIdsPerPartition: 50_000,
    maxAckPending: 10_000,
    eventsMaxAgeDays: 400,
    rescoreSeconds: 60,
    checkpointSeconds: 10,
    stateTtlDays: 400,
    allowedLatenessSeconds: 3600,
    piiCipher: 'aes-256-gcm',
    metricsPublic: false,
    exportLimit: 10_000,
    rateLimit: 60_000,
    auditRetentionDays: 1096,
    answerCacheMs: 5000,
    auditMaxMb: 256,
    auditFlushMs: 10,
    batchLingerMs: 20,
    workerNice: 0,
  };
}

const validate = new Ajv({ allErrors: true, strict: false }).compile(ConfigSchema as TSchema);

function coerce(
  setting: Setting,
  raw: string,
  where: string,
  violations: string[],
): string | number | boolean | undefined {
  if (setting.kind === 'string') return raw;
  if (setting.kind === 'boolean') {
    const t = raw.trim().toLowerCase();
    if (['true', '1', 'yes'].includes(t)) return true;
    if (['false', '0', 'no'].includes(t)) return false;
    violations.push(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  const trimmed = raw.trim();
  const value = trimmed === '' ? Number.NaN : Number(trimmed);
  if (!Number.isFinite(value)) {
    violations.push(`${where}: expected a number, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return value;
}

/**
 * Builds the frozen configuration from defaults, the environment and flags (flags override env).
 * Throws BW_ERR_CONFIG_INVALID listing every violation.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, string | undefined>> = {},
  overrides: Partial<Static<typeof ConfigSchema>> = {},
): Config {
  const config: Record<string, unknown> = { ...defaultConfig(), ...overrides };
  const violations: string[] = [];
  for (const setting of SETTINGS) {
    const fromEnv = env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      const v = coerce(setting, fromEnv, setting.env, violations);
      if (v !== undefined) config[setting.key] = v;
    }
    const fromFlag = setting.secret ? undefined : flags[setting.flag];
    if (fromFlag !== undefined) {
      const v = coerce(setting, fromFlag, `--${setting.flag}`, violations);
      if (v !== undefined) config[setting.key] = v;
    }
  }
  if (!validate(config)) {
    for (const err of validate.errors ?? []) {
      const key = err.instancePath.replace(/^\//, '');
      const setting = SETTINGS.find((s) => s.key === key);
      const name = setting ? `${setting.env} (--${setting.flag})` : key || 'config';
      const allowed = err.keyword === 'const' ? '' : ` ${err.message ?? ''}`;
      if (err.keyword === 'const') continue; // reported once by the enclosing anyOf
      violations.push(`${name}:${allowed}`.trim());
    }
  }
  if (violations.length > 0) {
    throw new BellwetherError('BW_ERR_CONFIG_INVALID', violations.join('; '), { data: { violations } });
  }
  config['dataDir'] = path.resolve(String(config['dataDir']));
  config['modelsDir'] = path.resolve(String(config['modelsDir']));
  config['auditFile'] = path.resolve(
    String(config['auditFile'] ?? path.join(String(config['dataDir']), 'audit', 'audit.ndjson')),
  );
  return Object.freeze(config) as Config;
}
