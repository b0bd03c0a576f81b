/**
 * Configuration, derived from one table of settings (engine/settings-engine.ts,
 * engine/settings-security.ts): each entry holds its environment variable, its `bellwether run` flag,
 * its TypeBox schema with the default inside, and its help. From the table come the config schema, the
 * `Config` type, the defaults and the validation here, and `bellwether help` and the README's table in
 * cli/settings-docs.ts. Read once at start from the environment (BW_*) and `bellwether run` flags
 * (flags win), every violation reported at once with what is allowed (BW_ERR_CONFIG_INVALID), then
 * frozen and passed down. Nothing else reads BW_* settings from process.env: the few variables that
 * are not settings are listed in ENV_OUTSIDE_SETTINGS with why.
 */
import path from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { BellwetherError } from '../contract/errors.js';
import { CLUSTER_SETTINGS } from './settings-cluster.js';
import { ENGINE_SETTINGS } from './settings-engine.js';
import { SECURITY_SETTINGS } from './settings-security.js';
import {
  allowedText,
  type SettingKind,
  type SettingSpec,
  schemaDefault,
  settingKind,
} from './settings-spec.js';

/** Every setting, keyed by its field of `Config`, in the order of `bellwether help` and the README. */
const SETTING_TABLE = { ...ENGINE_SETTINGS, ...CLUSTER_SETTINGS, ...SECURITY_SETTINGS };
type SettingTable = typeof SETTING_TABLE;
type ConfigKey = keyof SettingTable;

const properties = Object.fromEntries(
  Object.entries(SETTING_TABLE).map(([key, spec]) => [key, spec.schema]),
) as { [K in ConfigKey]: SettingTable[K]['schema'] };

export const ConfigSchema = Type.Object(properties, { additionalProperties: false });

export type Config = Readonly<Static<typeof ConfigSchema>>;

/** One setting of the table with its `Config` field and how its text is read. */
export type Setting = SettingSpec & { readonly key: ConfigKey; readonly kind: SettingKind };

/** Every setting, in table order. */
export const SETTINGS: readonly Setting[] = Object.entries(SETTING_TABLE).map(
  ([key, spec]) => ({ ...(spec as SettingSpec), key: key as ConfigKey, kind: settingKind(spec) }) as Setting,
);

/**
 * Environment variables read outside loadConfig, and why they are not settings. A unit test fails
 * when source code reads any other BW_* variable from process.env.
 */
export const ENV_OUTSIDE_SETTINGS: Readonly<Record<string, string>> = {
  BW_TF_BACKEND:
    '`wasm` forces the TF.js wasm fallback even where @tensorflow/tfjs-node is installed (tests). Read where ' +
    'TF.js loads: in each worker thread and in the offline train and eval commands, none of which gets a Config.',
  BW_TEST_CRASH_EVENT_ID:
    'test hook of crash-recovery tests: a partition worker exits abruptly when it folds the event with this id.',
  BW_TEST_CRASH_ALWAYS:
    'test hook: with 1, the crash above happens in every worker generation (a poison message).',
  BW_TEST_KILL_AFTER_FORWARDS:
    'test hook of the identity test: the engine process kills itself (SIGKILL) after a worker forwarded this many anonymous events.',
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<ConfigKey, ValidateFunction>(
  SETTINGS.map((s) => [s.key, ajv.compile(s.schema as TSchema)]),
);

const INVALID = Symbol('invalid');

function coerce(kind: SettingKind, raw: string): string | number | boolean | typeof INVALID {
  if (kind === 'string') return raw;
  const trimmed = raw.trim();
  if (kind === 'boolean') {
    const t = trimmed.toLowerCase();
    if (t === 'true' || t === '1' || t === 'yes') return true;
    if (t === 'false' || t === '0' || t === 'no') return false;
    return INVALID;
  }
  const value = trimmed === '' ? Number.NaN : Number(trimmed);
  return Number.isFinite(value) ? value : INVALID;
}

interface Given {
  /** Where the value came from, as the user wrote it: `BW_CLOCK`, or `--clock (BW_CLOCK)`. */
  readonly where: string;
  readonly raw: string;
}

/** The text given for a setting: its flag if given (flags win), else its variable if set and not empty. */
function given(
  setting: Setting,
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, string | undefined>>,
): Given | undefined {
  const fromFlag = setting.flag === undefined ? undefined : flags[setting.flag];
  if (fromFlag !== undefined) return { where: `--${setting.flag} (${setting.env})`, raw: fromFlag };
  const fromEnv = env[setting.env];
  if (fromEnv !== undefined && fromEnv !== '') return { where: setting.env, raw: fromEnv };
  return undefined;
}

function violation(setting: Setting, where: string, got: unknown): string {
  return `${where} must be ${allowedText(setting)} (got ${JSON.stringify(got)})`;
}

/**
 * Reads every setting in table order (a computed default sees the settings above it), validates each
 * against its schema and makes paths absolute against `cwd`. Returns the values and the violations.
 */
function readSettings(
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, string | undefined>>,
  cwd: string,
): { values: Record<string, unknown>; violations: string[] } {
  const values: Record<string, unknown> = {};
  const violations: string[] = [];
  for (const setting of SETTINGS) {
    const input = given(setting, env, flags);
    let value: unknown;
    if (input) {
      value = coerce(setting.kind, input.raw);
      if (value === INVALID) {
        violations.push(violation(setting, input.where, input.raw));
        continue;
      }
    } else {
      value = schemaDefault(setting) ?? setting.computeDefault?.(values);
      if (value === undefined) continue;
    }
    if (!validators.get(setting.key)?.(value)) {
      violations.push(violation(setting, input?.where ?? `${setting.env} (default)`, input?.raw ?? value));
      continue;
    }
    values[setting.key] = setting.isPath ? path.resolve(cwd, String(value)) : value;
  }
  return { values, violations };
}

/** The configuration with nothing set: every schema default and computed default, paths against `cwd`. */
export function defaultConfig(cwd: string = process.cwd()): Static<typeof ConfigSchema> {
  return readSettings({}, {}, cwd).values as Static<typeof ConfigSchema>;
}

/**
 * Builds the frozen configuration from defaults, the environment and `bellwether run` flags (keyed by
 * flag name without `--`; a flag overrides its variable). Throws BW_ERR_CONFIG_INVALID listing every
 * violation, each naming its variable or flag, what is allowed and what was given.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, string | undefined>> = {},
): Config {
  const { values, violations } = readSettings(env, flags, process.cwd());
  if (violations.length > 0) {
    throw new BellwetherError('BW_ERR_CONFIG_INVALID', violations.join('; '), { data: { violations } });
  }
  return Object.freeze(values) as Config;
}
