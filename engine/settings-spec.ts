/**
 * The shape of one entry of the settings table (engine/settings-engine.ts, engine/settings-security.ts):
 * its environment variable, its `bellwether run` flag (none for a secret), its TypeBox schema with the
 * default inside, and its help. engine/config.ts derives the schema, the `Config` type, the defaults
 * and the validation from the table; cli/settings-docs.ts derives `bellwether help` and the README's
 * settings table.
 */
import type { TSchema } from '@sinclair/typebox';

interface SettingEntry<S extends TSchema> {
  /** The environment variable. */
  readonly env: `BW_${string}`;
  /** The value's schema; a constant default is its `default`. */
  readonly schema: S;
  /** What the setting does: the README's "meaning" column (markdown; `bellwether help` prints it plain). */
  readonly help: string;
  /** The default as the README shows it when it is not the schema's constant: computed, built in, unset. */
  readonly defaultText?: string;
  /** Computes the default at start from the settings above it in the table (or from the machine). */
  readonly computeDefault?: (above: Readonly<Record<string, unknown>>) => unknown;
  /** A path: made absolute (against the working directory) once read. */
  readonly isPath?: true;
  /** What a valid value looks like, where the schema says it badly (a pattern). */
  readonly expects?: string;
}

/** A setting with a flag, or a secret read from the environment only (a flag would show in `ps`). */
export type SettingSpec<S extends TSchema = TSchema> = SettingEntry<S> &
  (
    | { readonly flag: string; readonly secret?: undefined }
    | { readonly secret: true; readonly flag?: undefined }
  );

export type SettingKind = 'string' | 'number' | 'boolean';

interface SchemaFacts {
  type?: unknown;
  anyOf?: { const?: unknown }[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  pattern?: string;
}

function facts(spec: SettingSpec): SchemaFacts {
  return spec.schema as unknown as SchemaFacts;
}

/** How text from the environment or a flag is read for this setting. */
export function settingKind(spec: SettingSpec): SettingKind {
  const type = facts(spec).type;
  if (type === 'integer' || type === 'number') return 'number';
  if (type === 'boolean') return 'boolean';
  return 'string';
}

/** The schema's constant default, if it has one. */
export function schemaDefault(spec: SettingSpec): unknown {
  return facts(spec).default;
}

/** The values a union of literals allows (`wall`, `event`), or undefined for other schemas. */
export function allowedValues(spec: SettingSpec): readonly string[] | undefined {
  const anyOf = facts(spec).anyOf;
  return anyOf?.every((s) => s.const !== undefined) ? anyOf.map((s) => String(s.const)) : undefined;
}

/** What the setting allows, to finish "BW_X must be …": `one of: wall, event`, `an integer from 1 to 1024`. */
export function allowedText(spec: SettingSpec): string {
  if (spec.expects) return spec.expects;
  const values = allowedValues(spec);
  if (values) return `one of: ${values.join(', ')}`;
  const s = facts(spec);
  if (s.type === 'boolean') return 'true or false (also 1 or 0, yes or no)';
  if (s.type === 'integer' || s.type === 'number') {
    const what = s.type === 'integer' ? 'an integer' : 'a number';
    if (s.minimum !== undefined && s.maximum !== undefined)
      return `${what} from ${s.minimum} to ${s.maximum}`;
    const bounds: string[] = [];
    if (s.minimum !== undefined) bounds.push(`>= ${s.minimum}`);
    if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
    if (s.maximum !== undefined) bounds.push(`<= ${s.maximum}`);
    if (s.exclusiveMaximum !== undefined) bounds.push(`< ${s.exclusiveMaximum}`);
    return bounds.length > 0 ? `${what} ${bounds.join(' and ')}` : what;
  }
  if (s.pattern !== undefined) return `text matching ${s.pattern}`;
  return (s.minLength ?? 0) > 0 ? 'a non-empty text' : 'a text';
}
