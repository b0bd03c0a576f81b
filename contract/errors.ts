/**
 * One table of coded errors. Every error Bellwether raises on purpose carries a code from this
 * table; docs/errors.md lists the same codes (a unit test keeps the two in step).
 */
export interface ErrorSpec {
  readonly message: string;
  readonly retryable: boolean;
  readonly status?: number;
}

export const ERRORS = {
  BW_ERR_CONFIG_INVALID: { message: 'configuration is invalid', retryable: false },
  BW_ERR_NATS_SERVER_MISSING: { message: 'nats-server executable not found', retryable: false },
  BW_ERR_NATS_SERVER_START: { message: 'embedded nats-server did not start', retryable: true },
  BW_ERR_NATS_CONNECT: { message: 'cannot connect to NATS', retryable: true },
  BW_ERR_PARTITIONS_CHANGED: {
    message: 'partition count differs from the existing stream',
    retryable: false,
  },
  BW_ERR_EVENT_SCHEMA: { message: 'event does not match the event schema', retryable: false },
  BW_ERR_CHECKPOINT_CORRUPT: { message: 'checkpoint file is corrupt', retryable: false },
  BW_ERR_IDENTITY_CONFLICT: {
    message: 'anonymous id is already linked to another customer',
    retryable: false,
  },
  BW_ERR_MODEL_LOAD: { message: 'model cannot be loaded', retryable: false },
  BW_ERR_MODEL_SHAPE: { message: 'model input does not match its feature spec', retryable: false },
  BW_ERR_MODEL_SEMANTICS: {
    message: 'the engine cannot reproduce the features a model was trained on',
    retryable: false,
  },
  BW_ERR_WORKER_FAILED: { message: 'partition worker failed', retryable: true, status: 503 },
  BW_ERR_WORKER_TIMEOUT: { message: 'partition worker did not answer in time', retryable: true, status: 503 },
  BW_ERR_CUSTOMER_NOT_FOUND: { message: 'customer not found', retryable: false, status: 404 },
  BW_ERR_MODEL_NOT_FOUND: { message: 'no such model', retryable: false, status: 404 },
  BW_ERR_BAD_REQUEST: { message: 'request is invalid', retryable: false, status: 400 },
  BW_ERR_NOT_FOUND: { message: 'route not found', retryable: false, status: 404 },
  BW_ERR_INTERNAL: { message: 'internal error', retryable: false, status: 500 },
  BW_ERR_INPUT_FORMAT: { message: 'input file cannot be read in the given format', retryable: false },
  BW_ERR_CLI_USAGE: { message: 'command line is invalid', retryable: false },
  BW_ERR_REPLAY_PUBLISH: { message: 'the events stream refused a replayed event', retryable: true },
  BW_ERR_CRM_CONFIG: {
    message: 'tag, rule, funnel or segment configuration is invalid',
    retryable: false,
    status: 422,
  },
  BW_ERR_RULES_NOT_WRITABLE: {
    message: 'no rules file to write: the built-in rules are in force',
    retryable: false,
    status: 409,
  },
  BW_ERR_RULE_NOT_FOUND: { message: 'no rule with this id in the rules file', retryable: false, status: 404 },
  BW_ERR_STREAM_HISTORY: { message: 'the events streams have no history to learn from', retryable: false },
  BW_ERR_CLEANSING_CONFIG: { message: 'cleansing rules file is invalid', retryable: false },
  BW_ERR_EVENT_QUARANTINED: {
    message: 'a valid event was quarantined by a cleansing rule (outlier, near-duplicate)',
    retryable: false,
  },
  BW_ERR_UNAUTHORIZED: { message: 'missing or unknown API key', retryable: false, status: 401 },
  BW_ERR_FORBIDDEN: { message: 'the API key’s role does not allow this', retryable: false, status: 403 },
  BW_ERR_RATE_LIMITED: { message: 'too many requests for this API key', retryable: true, status: 429 },
  BW_ERR_EXPORT_LIMIT: {
    message: 'hourly export limit of this API key reached',
    retryable: true,
    status: 429,
  },
  BW_ERR_PII_KEY: { message: 'PII encryption keys are invalid', retryable: false },
  BW_ERR_PII_DECRYPT: { message: 'a PII ciphertext cannot be opened', retryable: false, status: 500 },
  BW_ERR_API_KEYS: { message: 'API keys are invalid', retryable: false },
  BW_ERR_KEY_WEAK: { message: 'an inline API or PII key is below the entropy bar', retryable: false },
  BW_ERR_AUDIT_CHAIN: { message: 'the audit log’s hash chain is broken', retryable: false },
  BW_ERR_CLUSTER_STORE: {
    message: 'a cluster bucket in NATS cannot be opened or did not answer',
    retryable: true,
  },
  BW_ERR_PARTITION_MOVING: {
    message: 'the partition has no live owner right now (it is moving between instances)',
    retryable: true,
    status: 503,
  },
  BW_ERR_INSTANCE_UNREACHABLE: {
    message: 'the instance that owns the partition did not answer',
    retryable: true,
    status: 503,
  },
  BW_ERR_LEASE_LOST: { message: 'this instance no longer holds the partition’s lease', retryable: false },
  BW_ERR_CHECKPOINT_FENCED: {
    message: 'checkpoint write refused: a newer owner has claimed the partition',
    retryable: false,
  },
  BW_ERR_CHECKPOINT_MISSING: {
    message: 'the checkpoint object the index names cannot be read',
    retryable: true,
  },
  BW_ERR_NATS_SETTINGS: { message: 'NATS connection settings are invalid', retryable: false },
  BW_ERR_NATS_AUTH: { message: 'the NATS server refused this client (credentials or TLS)', retryable: false },
  BW_ERR_INVALID_ARGUMENT: { message: 'an argument is outside what the function allows', retryable: false },
  BW_ERR_FEATURE_DEFINITION: {
    message: 'a feature, window or state column is defined inconsistently',
    retryable: false,
  },
  BW_ERR_STATE_MISMATCH: {
    message: 'states built under different settings cannot be merged or restored',
    retryable: false,
  },
  BW_ERR_AGGREGATE_QUERY: {
    message: 'aggregate query is invalid',
    retryable: false,
    status: 400,
  },
  BW_ERR_AGGREGATE_GROUPS: {
    message: 'aggregate query has too many groups',
    retryable: false,
    status: 422,
  },
  BW_ERR_AGGREGATE_DEADLINE: {
    message: 'aggregate query did not finish within its time limit',
    retryable: true,
    status: 503,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Plain shape an error takes when it crosses a thread boundary (structured clone drops class and code). */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  data?: unknown;
}

export class BellwetherError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly data: unknown;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; data?: unknown }) {
    const spec: ErrorSpec = ERRORS[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, { cause: options?.cause });
    this.name = 'BellwetherError';
    this.code = code;
    this.retryable = spec.retryable;
    this.status = spec.status;
    this.data = options?.data;
  }

  toJSON(): SerializedError {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }

  static from(serialized: SerializedError): BellwetherError {
    const err = new BellwetherError(serialized.code, undefined, { data: serialized.data });
    err.message = serialized.message;
    return err;
  }
}

export function isBellwetherError(err: unknown): err is BellwetherError {
  return err instanceof BellwetherError;
}
