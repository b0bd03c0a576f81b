/**
 * Cleansing rules: one file (YAML or JSON by extension, BW_CLEANSING_FILE) laid over the built-in
 * rules, validated as a whole (schema, event types, durations, currency codes), every violation
 * reported at once in one BW_ERR_CLEANSING_CONFIG error (`data.violations`). The compiled rules hold
 * lookup tables indexed by event type; `definition` is the plain merged form, which crosses thread
 * boundaries and compiles again with {@link compileCleansingRules}. File format: docs/cleansing.md.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { BellwetherError } from '../../contract/errors.js';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import { parseDuration } from '../crm/duration.js';
import { type CleansingFile, CleansingFileSchema, DEFAULT_CLEANSING_FILE } from './rules-schema.js';

/** The merged definition: every field filled. */
export type CleansingDefinition = typeof DEFAULT_CLEANSING_FILE;

interface OutlierRule {
  /** 1 at the index (EVENT_TYPES) of each type judged. */
  readonly types: Uint8Array;
  readonly threshold: number;
  readonly minCount: number;
  readonly minScale: number;
}

export interface CleansingRules {
  /** The file the rules came from, or `<default>`. */
  readonly source: string;
  readonly definition: CleansingDefinition;
  readonly missingCurrency: string | null;
  readonly missingChannel: string | null;
  readonly channelTypes: Uint8Array;
  readonly standardise: boolean;
  /** Lower-cased, trimmed written value → canonical value. */
  readonly currencyAliases: ReadonlyMap<string, string>;
  readonly channelAliases: ReadonlyMap<string, string>;
  readonly categoryAliases: ReadonlyMap<string, string>;
  readonly amount: OutlierRule | null;
  readonly quantity: OutlierRule | null;
  readonly refreshEvery: number;
  readonly maxKeys: number;
  readonly nearDuplicates: {
    readonly types: Uint8Array;
    readonly windowMs: number;
    readonly requireSku: boolean;
    readonly maxEntries: number;
  } | null;
}

const validateFile = new Ajv({ allErrors: true, strict: false }).compile(CleansingFileSchema as TSchema);
const CURRENCY = /^[A-Z]{3}$/;

function configError(violations: string[]): BellwetherError {
  return new BellwetherError('BW_ERR_CLEANSING_CONFIG', violations.join('; '), { data: { violations } });
}

/** Lays a file's sections over the defaults (one level deep, and the two outlier fields). */
function merged(file: CleansingFile): CleansingDefinition {
  const d = DEFAULT_CLEANSING_FILE;
  const o = file.outliers ?? {};
  const s = file.standardise ?? {};
  return {
    missing: { ...d.missing, ...file.missing },
    standardise: {
      enabled: s.enabled ?? d.standardise.enabled,
      currency_aliases: { ...d.standardise.currency_aliases, ...s.currency_aliases },
      channel_aliases: { ...d.standardise.channel_aliases, ...s.channel_aliases },
      category_aliases: { ...d.standardise.category_aliases, ...s.category_aliases },
    },
    outliers: {
      amount: { ...d.outliers.amount, ...o.amount },
      quantity: { ...d.outliers.quantity, ...o.quantity },
      refresh_every: o.refresh_every ?? d.outliers.refresh_every,
      max_keys: o.max_keys ?? d.outliers.max_keys,
    },
    near_duplicates: { ...d.near_duplicates, ...file.near_duplicates },
  } as CleansingDefinition;
}

function typeMask(types: readonly string[], where: string, violations: string[]): Uint8Array {
  const mask = new Uint8Array(EVENT_TYPES.length);
  for (const t of types) {
    const i = eventTypeIndex(t);
    if (i < 0) violations.push(`${where}: unknown event type '${t}'`);
    else mask[i] = 1;
  }
  return mask;
}

function aliases(table: Readonly<Record<string, string>>, canon: (v: string) => string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [from, to] of Object.entries(table)) out.set(from.trim().toLowerCase(), canon(to));
  return out;
}

/** Collapses runs of whitespace to one space, trims and lower-cases: `'  Home  Garden '` → `'home garden'`. */
export function foldText(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Validates a parsed file (or a merged definition) and compiles it. Throws BW_ERR_CLEANSING_CONFIG
 * listing every violation, each as `<source>: <section>.<field>: …`.
 */
export function compileCleansingRules(file: unknown, source: string): CleansingRules {
  const raw = file ?? {};
  if (!validateFile(raw)) {
    throw configError(
      (validateFile.errors ?? []).map((e) => {
        const where = e.instancePath.slice(1).replace(/\//g, '.') || '(top level)';
        const params = e.params as Record<string, unknown>;
        const what =
          e.keyword === 'additionalProperties'
            ? `unknown field '${String(params['additionalProperty'])}'`
            : (e.message ?? 'is invalid');
        return `${source}: ${where}: ${what}`;
      }),
    );
  }
  const def = merged(raw as CleansingFile);
  const violations: string[] = [];
  const at = (where: string) => `${source}: ${where}`;
  if (def.missing.currency !== null && !CURRENCY.test(def.missing.currency))
    violations.push(
      `${at('missing.currency')}: must be a 3-letter upper-case code, got '${def.missing.currency}'`,
    );
  for (const [from, to] of Object.entries(def.standardise.currency_aliases))
    if (!CURRENCY.test(to))
      violations.push(
        `${at(`standardise.currency_aliases.${from}`)}: must be a 3-letter upper-case code, got '${to}'`,
      );
  const channelTypes = typeMask(def.missing.channel_types, at('missing.channel_types'), violations);
  const amountTypes = typeMask(def.outliers.amount.types, at('outliers.amount.types'), violations);
  const quantityTypes = typeMask(def.outliers.quantity.types, at('outliers.quantity.types'), violations);
  const nearTypes = typeMask(def.near_duplicates.types, at('near_duplicates.types'), violations);
  const windowMs = parseDuration(def.near_duplicates.window);
  if (windowMs === null)
    violations.push(
      `${at('near_duplicates.window')}: '${def.near_duplicates.window}' is not a duration (e.g. 10m, 90s, 1h)`,
    );
  if (violations.length > 0) throw configError(violations);
  const outlier = (o: CleansingDefinition['outliers']['amount'], types: Uint8Array): OutlierRule | null =>
    o.enabled ? { types, threshold: o.threshold, minCount: o.min_count, minScale: o.min_scale } : null;
  const std = def.standardise;
  return Object.freeze({
    source,
    definition: def,
    missingCurrency: def.missing.currency,
    missingChannel: def.missing.channel === null ? null : foldText(def.missing.channel),
    channelTypes,
    standardise: std.enabled,
    currencyAliases: aliases(std.currency_aliases, (v) => v),
    channelAliases: aliases(std.channel_aliases, foldText),
    categoryAliases: aliases(std.category_aliases, foldText),
    amount: outlier(def.outliers.amount, amountTypes),
    quantity: outlier(def.outliers.quantity, quantityTypes),
    refreshEvery: def.outliers.refresh_every,
    maxKeys: def.outliers.max_keys,
    nearDuplicates: def.near_duplicates.enabled
      ? {
          types: nearTypes,
          windowMs: windowMs!,
          requireSku: def.near_duplicates.require_sku,
          maxEntries: def.near_duplicates.max_entries,
        }
      : null,
  });
}

/** The built-in rules. */
export function defaultCleansingRules(): CleansingRules {
  return compileCleansingRules({}, '<default>');
}

function parseText(file: string, text: string): unknown {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw configError([`${file}: not valid JSON: ${(err as Error).message}`]);
    }
  }
  if (ext !== '.yaml' && ext !== '.yml')
    throw configError([`${file}: unknown extension '${ext}'; use .yaml, .yml or .json`]);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    throw configError(
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `${file}:${line}:${col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  return doc.toJS() as unknown;
}

/** Reads, validates and compiles a rules file; without one, the built-in rules. */
export async function loadCleansingRules(file: string | undefined): Promise<CleansingRules> {
  if (file === undefined) return defaultCleansingRules();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw configError([`${file}: cannot be read: ${(err as Error).message}`]);
  }
  return compileCleansingRules(parseText(file, text), file);
}
