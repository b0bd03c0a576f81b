/**
 * Settings of personal-data protection, API access and the audit log (docs/security.md). The secrets
 * (`BW_PII_KEY`, `BW_API_KEYS`) are read from the environment only: a flag would show in `ps`.
 * One entry per setting (engine/settings-spec.ts); `auditFile` follows `dataDir` of the engine settings.
 */
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { ROLES } from '../security/api-keys.js';
import { MASKS_PATTERN, parseMasks } from '../security/masking.js';
import { PII_CIPHERS } from '../security/pii-keyring.js';
import { DEFAULT_PLAIN_PROFILE_FIELDS, PLAIN_FIELDS_PATTERN } from '../security/pii-policy.js';
import type { SettingSpec } from './settings-spec.js';

const DEFAULT_MASKS_TEXT = Object.entries(parseMasks(undefined))
  .map(([field, rule]) => `${field}:${rule.first}:${rule.last}`)
  .join(', ');

export const SECURITY_SETTINGS = {
  piiCipher: {
    env: 'BW_PII_CIPHER',
    flag: 'pii-cipher',
    schema: Type.Union(
      PII_CIPHERS.map((c) => Type.Literal(c)),
      { default: 'aes-256-gcm' },
    ),
    help: 'cipher sealing personal fields: `aes-256-gcm` or `sm4` (SM4-CTR + HMAC-SM3)',
  },
  piiKey: {
    env: 'BW_PII_KEY',
    secret: true,
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'unset',
    help: 'PII keys `id:secret,...`, 32 bytes in hex or base64 each, the first seals ([docs/security.md](docs/security.md))',
  },
  piiKeyFile: {
    env: 'BW_PII_KEY_FILE',
    flag: 'pii-key-file',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: '`<data dir>/pii.key`, generated',
    help: 'PII key file, one `id:secret` per line, reloaded on change (rotation)',
  },
  profilePlainFields: {
    env: 'BW_PROFILE_PLAIN_FIELDS',
    flag: 'profile-plain-fields',
    schema: Type.String({ pattern: PLAIN_FIELDS_PATTERN, default: DEFAULT_PLAIN_PROFILE_FIELDS.join(',') }),
    expects: 'profile property names `name,name,...` (exact, case-sensitive), or `-` for none',
    help: 'profile properties that are not personal: kept in the clear and readable by rules as `profile.<name>`; every other property is sealed ([docs/security.md](docs/security.md#personal-data-policy))',
  },
  piiMasks: {
    env: 'BW_PII_MASKS',
    flag: 'pii-masks',
    schema: Type.Optional(Type.String({ pattern: MASKS_PATTERN })),
    expects: 'masks like field:first:last,... (phone:3:4,email:1:0)',
    defaultText: DEFAULT_MASKS_TEXT,
    help: 'masks per field, `field:first:last,...` (characters kept at the start and the end)',
  },
  apiKeys: {
    env: 'BW_API_KEYS',
    secret: true,
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'unset',
    help: `API keys \`key:role[:name],...\` (roles ${ROLES.join(', ')})`,
  },
  apiKeysFile: {
    env: 'BW_API_KEYS_FILE',
    flag: 'api-keys-file',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'unset',
    help: 'API key hashes, `name role sha256:<hex>` per line (`bellwether keys create`)',
  },
  metricsPublic: {
    env: 'BW_METRICS_PUBLIC',
    flag: 'metrics-public',
    schema: Type.Boolean({ default: false }),
    help: '`/metrics` without an API key',
  },
  exportLimit: {
    env: 'BW_EXPORT_LIMIT',
    flag: 'export-limit',
    schema: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 10_000 }),
    help: 'distinct customers per API key and sliding hour, over every route that returns customer data (single reads, lists, export)',
  },
  rateLimit: {
    env: 'BW_RATE_LIMIT',
    flag: 'rate-limit',
    schema: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 60_000 }),
    help: 'requests per API key and minute (0: off)',
  },
  auditFile: {
    env: 'BW_AUDIT_FILE',
    flag: 'audit-file',
    schema: Type.String({ minLength: 1 }),
    isPath: true,
    computeDefault: (above) => path.join(String(above['dataDir']), 'audit', 'audit.ndjson'),
    defaultText: '`<data dir>/audit/audit.ndjson`',
    help: 'hash-chained audit log',
  },
  auditRetentionDays: {
    env: 'BW_AUDIT_RETENTION_DAYS',
    flag: 'audit-retention-days',
    schema: Type.Number({ minimum: 1, maximum: 36_500, default: 1096 }),
    help: 'retention of the `BW_AUDIT` stream copy, in days (3 years)',
  },
  auditMaxMb: {
    env: 'BW_AUDIT_MAX_MB',
    flag: 'audit-max-mb',
    schema: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, default: 256 }),
    help: 'audit file size in MB at which it is rotated (renamed `<name>-<last seq>.ndjson`), chain continued',
  },
  auditFlushMs: {
    env: 'BW_AUDIT_FLUSH_MS',
    flag: 'audit-flush-ms',
    schema: Type.Number({ minimum: 0, maximum: 1000, default: 10 }),
    help: "longest an audit record waits in memory before its file write and stream copy (0 = end of the event-loop turn); an export's first record and the records at exit are written at once",
  },
} satisfies Record<string, SettingSpec>;
