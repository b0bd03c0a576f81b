/**
 * CRM configuration: one file (YAML or JSON by extension) with tags, rules, funnels and segment
 * settings, validated as a whole — schema, expressions, event types, feature names, durations,
 * unique ids — with every violation reported at once in one BW_ERR_CRM_CONFIG error
 * (`data.violations`). The compiled config holds compiled expressions; its `definition` is the
 * plain JSON form, which crosses thread boundaries and compiles again with {@link compileCrmConfig}.
 * File format: docs/crm.md.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { BellwetherError } from '../../contract/errors.js';
import { type EventType, eventTypeIndex, isEventType } from '../../contract/event-types.js';
import { FEATURE_NAMES } from '../features/registry.js';
import {
  type CrmFile,
  CrmFileSchema,
  type CrmFunnelRestart,
  type CrmSegments,
  type CrmTagKind,
  DEFAULT_CRM_FILE,
  DEFAULT_SEGMENTS,
} from './config-schema.js';
import { parseDuration } from './duration.js';
import { compileExpression, type Expression } from './expression.js';

export * from './config-schema.js';

export interface CrmTag {
  readonly id: string;
  /** Bit of this tag in a tag set (its position in the file). */
  readonly index: number;
  readonly kind: CrmTagKind;
  readonly when: Expression;
  readonly description: string;
}

export type CrmRuleKind = 'event' | 'absence' | 'condition';

export interface CompiledRule {
  readonly id: string;
  readonly kind: CrmRuleKind;
  /** Trigger event type (event and absence rules), else null. */
  readonly on: EventType | null;
  /** Index of `on` in EVENT_TYPES, -1 for condition rules. */
  readonly onIndex: number;
  /** Filter of event and absence rules (evaluated at the trigger event); the condition of condition rules. */
  readonly when: Expression | null;
  readonly unless: {
    readonly type: EventType;
    readonly typeIndex: number;
    readonly within: string;
    readonly withinMs: number;
  } | null;
  /**
   * Event and absence rules: a trigger event older than this on the partition's clock (a backfill,
   * a replay of history) does not fire the rule or arm its timer; null = any age.
   */
  readonly maxAgeMs: number | null;
  /** Passed through untouched to whoever acts on a firing. */
  readonly action: Readonly<Record<string, unknown>>;
  readonly description: string;
}

interface CrmFunnel {
  readonly id: string;
  readonly steps: readonly EventType[];
  readonly stepIndexes: readonly number[];
  readonly max_gap: string;
  readonly maxGapMs: number;
  readonly restart: CrmFunnelRestart;
  readonly description: string;
}

export interface CrmConfig {
  /** The file the config came from, or `<default>`. */
  readonly source: string;
  /** Plain JSON form (segments filled with defaults): post it to a worker, compile it there. */
  readonly definition: CrmFile;
  readonly tags: readonly CrmTag[];
  readonly rules: readonly CompiledRule[];
  readonly funnels: readonly CrmFunnel[];
  readonly segments: CrmSegments;
  /** Every name the expressions read. */
  readonly names: readonly string[];
}

/** Names expressions may read besides the features: scores, the segment and the RFM scores. */
export const CRM_SCORE_NAMES: readonly string[] = [
  'churn.risk',
  'intent.risk',
  'segment',
  'rfm.r',
  'rfm.f',
  'rfm.m',
];

/** Names accepted by default: the features, {@link CRM_SCORE_NAMES}, and `likely_to_buy` (docs/analytics.md). */
const DEFAULT_CRM_NAMES: readonly string[] = [...FEATURE_NAMES, ...CRM_SCORE_NAMES, 'likely_to_buy'];

/** `profile.<field>`: an allow-listed (BW_PROFILE_PLAIN_FIELDS) field of the customer's latest `profile` events (basic tags). */
const PROFILE_NAME = /^profile\.[A-Za-z0-9_]{1,64}$/;

export interface CrmConfigOptions {
  /** Names expressions may read; null accepts any name (unknown names are null at run time). */
  readonly knownNames?: readonly string[] | null;
}

const validateFile = new Ajv({ allErrors: true, strict: false }).compile(CrmFileSchema as TSchema);

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);
const SECTIONS = ['tags', 'rules', 'funnels'] as const;
const ID_RE = /^[a-z0-9_-]{1,64}$/;

/** `/rules/3/unless/type` → `rules.first_purchase_nudge.unless.type` (the id when the item has a valid one). */
function pathOf(instancePath: string, data: unknown): string {
  const parts = instancePath.split('/').slice(1);
  let node: unknown = data;
  let out = '';
  for (const part of parts) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const item: unknown = node[Number(key)];
      const id =
        isPlain(item) && typeof item['id'] === 'string' && ID_RE.test(item['id']) ? item['id'] : null;
      out += id === null ? `[${key}]` : `.${id}`;
      node = item;
    } else {
      out += out === '' ? key : `.${key}`;
      node = isPlain(node) ? node[key] : undefined;
    }
  }
  return out;
}

function schemaViolation(err: ErrorObject, data: unknown): string {
  const where = pathOf(err.instancePath, data) || '(top level)';
  const params = err.params as Record<string, unknown>;
  if (err.keyword === 'additionalProperties')
    return `${where}: unknown field '${String(params['additionalProperty'])}'`;
  if (err.keyword === 'required') return `${where}: missing field '${String(params['missingProperty'])}'`;
  if (err.keyword === 'enum') {
    return `${where}: must be one of ${(params['allowedValues'] as unknown[]).map((v) => `'${String(v)}'`).join(', ')}`;
  }
  return `${where}: ${err.message ?? 'is invalid'}`;
}

/** Compiles `text` as an expression of `where`; a syntax error or an unknown name becomes a violation. */
function expressionAt(
  text: unknown,
  where: string,
  known: ReadonlySet<string> | null,
  violations: string[],
): Expression | null {
  if (typeof text !== 'string' || text.length === 0) return null;
  try {
    const expr = compileExpression(text, where);
    if (known !== null) {
      for (const name of expr.names)
        if (!known.has(name) && !PROFILE_NAME.test(name)) violations.push(`${where}: unknown name '${name}'`);
    }
    return expr;
  } catch (err) {
    const data = (err as BellwetherError).data as { violations?: string[] } | undefined;
    if (!(err instanceof BellwetherError) || !data?.violations) throw err;
    violations.push(...data.violations);
    return null;
  }
}

function eventTypeAt(value: unknown, where: string, violations: string[]): EventType | null {
  if (typeof value !== 'string') return null;
  if (isEventType(value)) return value;
  violations.push(`${where}: unknown event type '${value}' (docs/events.md)`);
  return null;
}

function durationAt(value: unknown, where: string, violations: string[]): number | null {
  if (typeof value !== 'string') return null;
  const ms = parseDuration(value);
  if (ms === null) violations.push(`${where}: '${value}' is not a duration such as 30m, 24h or 7d`);
  return ms;
}

function fillSegments(raw: unknown): CrmSegments {
  const s = isPlain(raw) ? raw : {};
  const core = isPlain(s['core']) ? s['core'] : {};
  const potential = isPlain(s['potential']) ? s['potential'] : {};
  const atRisk = s['at_risk_rfm'];
  const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);
  return Object.freeze({
    new_days: num(s['new_days'], DEFAULT_SEGMENTS.new_days),
    dormant_days: num(s['dormant_days'], DEFAULT_SEGMENTS.dormant_days),
    at_risk_churn_risk: num(s['at_risk_churn_risk'], DEFAULT_SEGMENTS.at_risk_churn_risk),
    core: Object.freeze({
      r_min: num(core['r_min'], DEFAULT_SEGMENTS.core.r_min),
      f_min: num(core['f_min'], DEFAULT_SEGMENTS.core.f_min),
      m_min: num(core['m_min'], DEFAULT_SEGMENTS.core.m_min),
    }),
    potential: Object.freeze({
      r_min: num(potential['r_min'], DEFAULT_SEGMENTS.potential.r_min),
      m_max: num(potential['m_max'], DEFAULT_SEGMENTS.potential.m_max),
    }),
    // Absent: the built-in test; `null`: off.
    at_risk_rfm:
      atRisk === undefined
        ? DEFAULT_SEGMENTS.at_risk_rfm
        : isPlain(atRisk)
          ? Object.freeze({ r_max: num(atRisk['r_max'], 1), fm_min: num(atRisk['fm_min'], 5) })
          : null,
  });
}

/** The items of a section, with the name each is reported under (`rules.welcome` or `rules[2]`). */
function itemsOf(root: Plain, section: (typeof SECTIONS)[number], violations: string[]): [Plain, string][] {
  const list = root[section];
  if (!Array.isArray(list)) return [];
  const seen = new Map<string, number>();
  const out: [Plain, string][] = [];
  list.forEach((item: unknown, i) => {
    if (!isPlain(item)) return;
    const id = typeof item['id'] === 'string' && ID_RE.test(item['id']) ? item['id'] : null;
    if (id !== null) {
      const first = seen.get(id);
      if (first !== undefined) violations.push(`${section}.${id}: duplicate id (items ${first} and ${i})`);
      else seen.set(id, i);
    }
    out.push([item, id === null ? `${section}[${i}]` : `${section}.${id}`]);
  });
  return out;
}

/**
 * Validates and compiles a parsed CRM file. `source` prefixes every violation. Throws one
 * BW_ERR_CRM_CONFIG listing every violation (`data.violations`).
 */
export function compileCrmConfig(
  raw: unknown,
  source = '<inline>',
  options: CrmConfigOptions = {},
): CrmConfig {
  const violations: string[] = [];
  if (!isPlain(raw)) {
    violations.push('(top level): expected a mapping with tags, rules, funnels and/or segments');
  } else if (!validateFile(raw)) {
    for (const err of validateFile.errors ?? []) violations.push(schemaViolation(err, raw));
  }
  const root = isPlain(raw) ? raw : {};
  const known = options.knownNames === null ? null : new Set(options.knownNames ?? DEFAULT_CRM_NAMES);

  const tags: CrmTag[] = [];
  for (const [item, where] of itemsOf(root, 'tags', violations)) {
    const when = expressionAt(item['when'], `${where}.when`, known, violations);
    if (when === null) continue;
    tags.push({
      id: String(item['id']),
      index: tags.length,
      kind: item['kind'] as CrmTagKind,
      when,
      description: typeof item['description'] === 'string' ? item['description'] : '',
    });
  }

  const rules: CompiledRule[] = [];
  for (const [item, where] of itemsOf(root, 'rules', violations)) {
    const hasOn = item['on'] !== undefined;
    const on = eventTypeAt(item['on'], `${where}.on`, violations);
    const when = expressionAt(item['when'], `${where}.when`, known, violations);
    const unlessRaw = item['unless'];
    let unless: CompiledRule['unless'] = null;
    if (isPlain(unlessRaw)) {
      const type = eventTypeAt(unlessRaw['type'], `${where}.unless.type`, violations);
      const withinMs = durationAt(unlessRaw['within'], `${where}.unless.within`, violations);
      if (!hasOn) violations.push(`${where}: 'unless' needs 'on' (an absence rule starts at an 'on' event)`);
      if (type !== null && withinMs !== null) {
        unless = { type, typeIndex: eventTypeIndex(type), within: String(unlessRaw['within']), withinMs };
      }
    }
    if (!hasOn && item['when'] === undefined) {
      violations.push(`${where}: needs 'on' (event or absence rule) or 'when' (condition rule)`);
    }
    let maxAgeMs: number | null = null;
    if (item['max_age'] !== undefined) {
      maxAgeMs = durationAt(item['max_age'], `${where}.max_age`, violations);
      if (!hasOn)
        violations.push(`${where}: 'max_age' applies to rules with 'on' (the age of the trigger event)`);
    }
    const kind: CrmRuleKind = !hasOn ? 'condition' : unlessRaw === undefined ? 'event' : 'absence';
    if ((hasOn && on === null) || (item['when'] !== undefined && when === null)) continue;
    if (kind === 'absence' && unless === null) continue;
    if (kind === 'condition' && when === null) continue;
    rules.push({
      id: String(item['id']),
      kind,
      on,
      onIndex: on === null ? -1 : eventTypeIndex(on),
      when,
      unless,
      maxAgeMs,
      action: Object.freeze(isPlain(item['action']) ? { ...item['action'] } : {}),
      description: typeof item['description'] === 'string' ? item['description'] : '',
    });
  }

  const funnels: CrmFunnel[] = [];
  for (const [item, where] of itemsOf(root, 'funnels', violations)) {
    const stepsRaw: unknown[] = Array.isArray(item['steps']) ? item['steps'] : [];
    const steps = stepsRaw.map((s, i) => eventTypeAt(s, `${where}.steps[${i}]`, violations));
    const maxGapMs = durationAt(item['max_gap'], `${where}.max_gap`, violations);
    if (maxGapMs === null || steps.length < 2 || steps.some((s) => s === null)) continue;
    const ok = steps as EventType[];
    funnels.push({
      id: String(item['id']),
      steps: Object.freeze(ok),
      stepIndexes: Object.freeze(ok.map(eventTypeIndex)),
      max_gap: String(item['max_gap']),
      maxGapMs,
      restart: item['restart'] === 'always' ? 'always' : 'when_idle',
      description: typeof item['description'] === 'string' ? item['description'] : '',
    });
  }

  if (violations.length > 0) {
    const listed = violations.map((v) => `${source}:${v}`);
    throw new BellwetherError('BW_ERR_CRM_CONFIG', listed.join('; '), { data: { violations: listed } });
  }
  const segments = fillSegments(root['segments']);
  const definition = structuredClone({
    ...(root as CrmFile),
    segments: {
      ...segments,
      core: { ...segments.core },
      potential: { ...segments.potential },
      at_risk_rfm: segments.at_risk_rfm === null ? null : { ...segments.at_risk_rfm },
    },
  });
  const names = [...new Set([...tags, ...rules].flatMap((x) => x.when?.names ?? []))];
  return Object.freeze({
    source,
    definition,
    tags: Object.freeze(tags),
    rules: Object.freeze(rules),
    funnels: Object.freeze(funnels),
    segments,
    names: Object.freeze(names),
  });
}

/** Parses `text` as YAML (`.yaml`, `.yml`) or JSON (`.json`); syntax errors are violations. */
function parseText(file: string, text: string): unknown {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      const violation = `${file}: not valid JSON: ${(err as Error).message}`;
      throw new BellwetherError('BW_ERR_CRM_CONFIG', violation, { data: { violations: [violation] } });
    }
  }
  if (ext !== '.yaml' && ext !== '.yml') {
    const violation = `${file}: unknown extension '${ext}'; use .yaml, .yml or .json`;
    throw new BellwetherError('BW_ERR_CRM_CONFIG', violation, { data: { violations: [violation] } });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    const violations = doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return `${file}:${line}:${col}: ${e.message.split('\n')[0]}`;
    });
    throw new BellwetherError('BW_ERR_CRM_CONFIG', violations.join('; '), { data: { violations } });
  }
  return doc.toJS() as unknown;
}

/** Reads, validates and compiles one CRM file. Throws BW_ERR_CRM_CONFIG listing every violation. */
export async function loadCrmConfig(file: string, options: CrmConfigOptions = {}): Promise<CrmConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const violation = `${file}: cannot be read: ${(err as Error).message}`;
    throw new BellwetherError('BW_ERR_CRM_CONFIG', violation, {
      cause: err,
      data: { violations: [violation] },
    });
  }
  return compileCrmConfig(parseText(file, text), file, options);
}

/** The built-in tags, rules, funnel and segment settings, used when no CRM file is given. */
export function defaultCrmConfig(options: CrmConfigOptions = {}): CrmConfig {
  return compileCrmConfig(DEFAULT_CRM_FILE, '<default>', options);
}
