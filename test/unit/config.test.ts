import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  SETTINGS_BEGIN,
  SETTINGS_END,
  settingsHelp,
  settingsMarkdown,
  withSettingsTable,
} from '../../cli/settings-docs.js';
import { BellwetherError } from '../../contract/errors.js';
import {
  ConfigSchema,
  defaultConfig,
  ENV_OUTSIDE_SETTINGS,
  loadConfig,
  SETTINGS,
  type Setting,
} from '../../engine/config.js';
import { allowedValues, schemaDefault } from '../../engine/settings-spec.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';

function violationsOf(run: () => unknown): string[] {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BellwetherError);
  const err = caught as BellwetherError;
  expect(err.code).toBe('BW_ERR_CONFIG_INVALID');
  return (err.data as { violations: string[] }).violations;
}

/** A valid value for the setting other than its default, as text and as the config then holds it. */
function sample(s: Setting): { text: string; value: unknown } {
  const schema = s.schema as TSchema & Record<string, number | undefined>;
  const fallback = schemaDefault(s);
  if (s.key === 'piiMasks') return { text: 'phone:7:0', value: 'phone:7:0' };
  if (s.key === 'monitorEpoch') return { text: '2011-09-01', value: '2011-09-01' };
  if (s.key === 'instanceId') return { text: 'engine-a.eu', value: 'engine-a.eu' };
  if (s.key === 'profilePlainFields') return { text: 'tier,shoe_size', value: 'tier,shoe_size' };
  const values = allowedValues(s);
  if (values) {
    const other = values.find((v) => v !== fallback) ?? '';
    return { text: other, value: other };
  }
  if (s.kind === 'boolean') return { text: String(!fallback), value: !fallback };
  if (s.kind === 'number') {
    const n = schema['maximum'] ?? (typeof fallback === 'number' ? fallback * 2 : 7);
    return { text: String(n), value: n };
  }
  const text = `/tmp/bw-sample-${s.key}`;
  return { text, value: text };
}

describe('configuration', () => {
  it('has the documented defaults and is frozen', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      natsPort: 4222,
      httpPort: 8080,
      clock: 'wall',
      simulate: 0,
      churnAlertThreshold: 80,
      intentAlertThreshold: 80,
    });
    expect(config.natsUrl).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes each constant default from its schema and computes the others', () => {
    const config = loadConfig({}) as Record<string, unknown>;
    for (const s of SETTINGS) {
      const fallback = schemaDefault(s);
      if (fallback !== undefined && !s.isPath) expect(config[s.key], s.env).toEqual(fallback);
    }
    expect(config['dataDir']).toBe(path.resolve('.bellwether'));
    expect(config['modelsDir']).toBe(path.join(PACKAGE_ROOT, 'models'));
    expect(config['workers']).toBe(Math.min(256, Math.max(1, os.availableParallelism())));
    expect(config['auditFile']).toBe(path.resolve('.bellwether', 'audit', 'audit.ndjson'));
    for (const key of ['natsUrl', 'tagsFile', 'piiKey', 'piiKeyFile', 'piiMasks', 'apiKeys', 'apiKeysFile']) {
      expect(key in config, key).toBe(false);
    }
    const validate = new Ajv({ strict: false }).compile(ConfigSchema as TSchema);
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    expect(defaultConfig('/srv/bw')).toMatchObject({
      dataDir: '/srv/bw/.bellwether',
      auditFile: '/srv/bw/.bellwether/audit/audit.ndjson',
    });
  });

  it('computes the audit file from the data directory it follows', () => {
    expect(loadConfig({ BW_DATA_DIR: '/var/lib/bw' }).auditFile).toBe('/var/lib/bw/audit/audit.ndjson');
    expect(loadConfig({ BW_DATA_DIR: '/var/lib/bw', BW_AUDIT_FILE: 'a.ndjson' }).auditFile).toBe(
      path.resolve('a.ndjson'),
    );
  });

  it('reads BW_* variables and lets flags override them', () => {
    const config = loadConfig(
      { BW_HTTP_PORT: '9000', BW_PARTITIONS: '8', BW_CLOCK: 'event', BW_NATS_URL: 'nats://h:1' },
      { 'http-port': '9100' },
    );
    expect(config).toMatchObject({ httpPort: 9100, partitions: 8, clock: 'event', natsUrl: 'nats://h:1' });
    expect(loadConfig({ BW_CLOCK: 'sundial' }, { clock: 'event' }).clock).toBe('event');
    expect(loadConfig({ BW_HTTP_PORT: '' }).httpPort).toBe(8080);
  });

  it('reports every violation at once with BW_ERR_CONFIG_INVALID', () => {
    const violations = violationsOf(() =>
      loadConfig({
        BW_HTTP_PORT: 'eighty',
        BW_PARTITIONS: '0',
        BW_CLOCK: 'sundial',
        BW_CHURN_ALERT_THRESHOLD: '120',
      }),
    );
    expect(violations).toHaveLength(4);
    expect(violations.join('\n')).toMatch(/BW_HTTP_PORT/);
    expect(violations.join('\n')).toMatch(/BW_PARTITIONS/);
    expect(violations.join('\n')).toMatch(/BW_CLOCK/);
    expect(violations.join('\n')).toMatch(/BW_CHURN_ALERT_THRESHOLD/);
  });

  it('says what is allowed and what was given, naming the variable or the flag', () => {
    expect(violationsOf(() => loadConfig({ BW_CLOCK: 'evnt' }))).toEqual([
      'BW_CLOCK must be one of: wall, event (got "evnt")',
    ]);
    expect(violationsOf(() => loadConfig({}, { 'log-level': 'loud' }))).toEqual([
      '--log-level (BW_LOG_LEVEL) must be one of: fatal, error, warn, info, debug, trace, silent (got "loud")',
    ]);
    expect(
      violationsOf(() =>
        loadConfig(
          { BW_PII_CIPHER: 'rot13', BW_METRICS_PUBLIC: 'maybe', BW_PII_MASKS: 'phone' },
          { partitions: '0', 'events-max-age-days': '0', 'http-port': 'x' },
        ),
      ),
    ).toEqual([
      '--http-port (BW_HTTP_PORT) must be an integer from 0 to 65535 (got "x")',
      '--partitions (BW_PARTITIONS) must be an integer from 1 to 1024 (got "0")',
      '--events-max-age-days (BW_EVENTS_MAX_AGE_DAYS) must be a number > 0 (got "0")',
      'BW_PII_CIPHER must be one of: aes-256-gcm, sm4 (got "rot13")',
      'BW_PII_MASKS must be masks like field:first:last,... (phone:3:4,email:1:0) (got "phone")',
      'BW_METRICS_PUBLIC must be true or false (also 1 or 0, yes or no) (got "maybe")',
    ]);
  });
});

describe('settings table', () => {
  it('has an environment variable (and a flag unless secret) for every key of the schema', () => {
    const keys = Object.keys(ConfigSchema.properties).sort();
    expect(SETTINGS.map((s) => s.key).sort()).toEqual(keys);
    for (const s of SETTINGS) {
      expect(s.env).toMatch(/^BW_[A-Z0-9_]+$/);
      if (!s.secret) expect(s.flag).toMatch(/^[a-z0-9-]+$/);
    }
    expect(new Set(SETTINGS.map((s) => s.env)).size).toBe(SETTINGS.length);
    expect(new Set(SETTINGS.map((s) => s.flag).filter(Boolean)).size).toBe(
      SETTINGS.filter((s) => !s.secret).length,
    );
    expect(loadConfig({ BW_BATCH_LINGER_MS: '200' }).batchLingerMs).toBe(200);
    expect(loadConfig({}, { 'batch-linger-ms': '5' }).batchLingerMs).toBe(5);
    expect(loadConfig({ BW_ANSWER_CACHE_MS: '0' }).answerCacheMs).toBe(0);
  });

  it('reads every setting from its variable and from its flag into its field', () => {
    for (const s of SETTINGS) {
      const { text, value } = sample(s);
      const expected = s.isPath ? path.resolve(String(value)) : value;
      expect((loadConfig({ [s.env]: text }) as Record<string, unknown>)[s.key], s.env).toEqual(expected);
      if (s.flag !== undefined) {
        const fromFlag = loadConfig({}, { [s.flag]: text }) as Record<string, unknown>;
        expect(fromFlag[s.key], s.flag).toEqual(expected);
      }
    }
  });

  it('documents one default for every setting: the schema constant or the entry’s words, never both', () => {
    for (const s of SETTINGS) {
      const fallback = schemaDefault(s);
      expect(fallback === undefined, s.env).toBe(s.defaultText !== undefined);
      expect(s.help.length, s.env).toBeGreaterThan(0);
      if (s.computeDefault) expect(fallback, s.env).toBeUndefined();
    }
  });

  it('never takes a secret from a flag, nor shows one as a flag', () => {
    const secrets = SETTINGS.filter((s) => s.secret);
    expect(secrets.map((s) => s.env).sort()).toEqual(['BW_API_KEYS', 'BW_NATS_PASSWORD', 'BW_PII_KEY']);
    for (const s of secrets) expect(s.flag).toBeUndefined();
    const config = loadConfig({}, { 'pii-key': 'x'.repeat(64), 'api-keys': 'k:admin' });
    expect(config.piiKey).toBeUndefined();
    expect(config.apiKeys).toBeUndefined();
    const help = settingsHelp();
    expect(help).not.toMatch(/--pii-key(?!-)/);
    expect(help).not.toMatch(/--api-keys(?!-)/);
    expect(help).toMatch(/\(environment only\) +BW_PII_KEY /);
    expect(settingsMarkdown()).toContain('| `BW_API_KEYS` | (environment only) |');
  });

  it('is what README.md shows between its settings markers', () => {
    const readme = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(SETTINGS_BEGIN);
    expect(readme).toContain(SETTINGS_END);
    expect(
      withSettingsTable(readme) === readme,
      "README.md's settings table differs from the settings table (engine/settings-*.ts): run `npm run readme:settings` (or `node dist/cli/main.js help --settings-markdown README.md` after a build)",
    ).toBe(true);
    for (const s of SETTINGS) expect(readme).toContain(`| \`${s.env}\` |`);
  });

  it('is the only reader of BW_* settings: other reads of process.env are listed with why', () => {
    const reads = new Map<string, string[]>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(path.join(PACKAGE_ROOT, dir), { withFileTypes: true })) {
        const rel = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(rel);
        else if (entry.name.endsWith('.ts')) {
          const text = readFileSync(path.join(PACKAGE_ROOT, rel), 'utf8');
          for (const m of text.matchAll(/process\.env(?:\[['"](BW_[A-Z0-9_]+)['"]\]|\.(BW_[A-Z0-9_]+))/g)) {
            const name = m[1] ?? m[2] ?? '';
            reads.set(name, [...(reads.get(name) ?? []), rel]);
          }
        }
      }
    };
    for (const dir of [
      'contract',
      'lib',
      'operators',
      'models',
      'security',
      'engine',
      'api',
      'feeds',
      'cli',
    ]) {
      walk(dir);
    }
    const unlisted = [...reads].filter(([name]) => !(name in ENV_OUTSIDE_SETTINGS));
    expect(unlisted, 'read these through loadConfig, or list them in ENV_OUTSIDE_SETTINGS').toEqual([]);
    const settingEnvs = new Set<string>(SETTINGS.map((s) => s.env));
    for (const name of Object.keys(ENV_OUTSIDE_SETTINGS)) expect(settingEnvs.has(name), name).toBe(false);
  });
});
