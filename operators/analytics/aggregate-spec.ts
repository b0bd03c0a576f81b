/**
 * The query of `GET /v1/aggregate` (docs/analytics.md), parsed once by the API into a plain spec
 * that crosses threads and instances as is:
 *
 * - `group_by`: up to {@link MAX_DIMENSIONS} of `segment`, `lifecycle`, `rfm.r|f|m`, `tag:<id>`,
 *   `profile.<field>` (a non-personal field) and `bucket(<name>, e0, e1, …)` (a feature or score
 *   cut at increasing edges), comma-separated;
 * - `metrics`: `count` and up to {@link MAX_METRICS} of `sum|avg|min|max|p50|p90|p99:<name>`;
 * - `filter`: an expression of the CRM language (docs/crm.md) over the same names.
 *
 * A name is a feature of docs/features.md, `churn.risk`, `intent.risk`, `rfm.r|f|m`, or
 * `profile.<field>`. Anything else is refused with BW_ERR_AGGREGATE_QUERY listing what is allowed.
 * Whether a profile field is personal is the caller's `personal` predicate (security/ decides).
 */
import { BellwetherError } from '../../contract/errors.js';
import { compileExpression } from '../crm/expression.js';
import { FEATURE_NAMES } from '../features/registry.js';

const MAX_DIMENSIONS = 4;
const MAX_METRICS = 16;
const MAX_EDGES = 32;

/** Numeric names a metric, a bucket or a filter may read besides features and profile fields. */
const SCORE_NAMES = ['churn.risk', 'intent.risk', 'rfm.r', 'rfm.f', 'rfm.m'] as const;
const NUMERIC_NAMES: ReadonlySet<string> = new Set([...FEATURE_NAMES, ...SCORE_NAMES]);
/** Names a filter may read: the numeric ones and `segment`. */
const FILTER_NAMES: ReadonlySet<string> = new Set([...NUMERIC_NAMES, 'segment', 'lifecycle']);
const PROFILE = /^profile\.([A-Za-z0-9_]{1,64})$/;
const TAG = /^tag:([a-z0-9_-]{1,64})$/;

const METRIC_OPS = ['sum', 'avg', 'min', 'max', 'p50', 'p90', 'p99'] as const;
type MetricOp = (typeof METRIC_OPS)[number];

export type Dimension =
  | { readonly kind: 'segment' | 'lifecycle'; readonly name: string }
  | { readonly kind: 'rfm'; readonly name: string; readonly axis: 0 | 1 | 2 }
  | { readonly kind: 'tag'; readonly name: string; readonly tag: string }
  | { readonly kind: 'profile'; readonly name: string; readonly field: string }
  | { readonly kind: 'bucket'; readonly name: string; readonly source: string; readonly edges: number[] };

export interface Metric {
  /** As it appears in the answer: `sum:spend_90d`. */
  readonly name: string;
  readonly op: MetricOp;
  readonly source: string;
}

export interface AggregateSpec {
  readonly group_by: Dimension[];
  readonly metrics: Metric[];
  readonly filter: string | null;
}

export interface AggregateQueryText {
  group_by?: string | undefined;
  metrics?: string | undefined;
  filter?: string | undefined;
}

const DIMENSION_HELP =
  'segment, lifecycle, rfm.r, rfm.f, rfm.m, tag:<id>, profile.<field> (not a personal field), bucket(<feature or score>, e0, e1, ...)';
const METRIC_HELP = `count, or ${METRIC_OPS.join('|')}:<feature, churn.risk, intent.risk, rfm.r|f|m or profile.<field>>`;

function invalid(detail: string): BellwetherError {
  return new BellwetherError('BW_ERR_AGGREGATE_QUERY', detail);
}

/** Splits on commas outside parentheses; empty parts are dropped. */
function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (i === text.length || (c === ',' && depth === 0)) {
      const term = text.slice(start, i).trim();
      if (term !== '') out.push(term);
      start = i + 1;
    }
  }
  return out;
}

/** A numeric name a metric or a bucket may read; refused with the allowed names otherwise. */
function numericName(name: string, where: string, personal: (field: string) => boolean): string {
  if (NUMERIC_NAMES.has(name)) return name;
  const profile = PROFILE.exec(name);
  if (profile) {
    if (personal(profile[1]!)) throw invalid(`${where}: ${name} is a personal field`);
    return name;
  }
  throw invalid(
    `${where}: unknown name '${name}'; use a feature (docs/features.md), ${SCORE_NAMES.join(', ')} or profile.<field>`,
  );
}

function dimensionOf(term: string, personal: (field: string) => boolean): Dimension {
  const t = term.replace(/\s+/g, '');
  if (t === 'segment' || t === 'lifecycle') return { kind: t, name: t };
  if (t === 'rfm.r' || t === 'rfm.f' || t === 'rfm.m')
    return { kind: 'rfm', name: t, axis: t === 'rfm.r' ? 0 : t === 'rfm.f' ? 1 : 2 };
  const tag = TAG.exec(t);
  if (tag) return { kind: 'tag', name: t, tag: tag[1]! };
  const profile = PROFILE.exec(t);
  if (profile) {
    if (personal(profile[1]!)) throw invalid(`group_by: ${t} is a personal field and cannot be grouped`);
    return { kind: 'profile', name: t, field: profile[1]! };
  }
  const bucket = /^bucket\(([^,()]+)((?:,[^,()]+)+)\)$/.exec(t);
  if (bucket) {
    const source = numericName(bucket[1]!, `group_by ${t}`, personal);
    const edges = bucket[2]!.slice(1).split(',').map(Number);
    if (edges.length > MAX_EDGES || edges.some((e) => !Number.isFinite(e)))
      throw invalid(`group_by ${t}: 1 to ${MAX_EDGES} finite numbers as edges`);
    for (let i = 1; i < edges.length; i++)
      if (!(edges[i]! > edges[i - 1]!)) throw invalid(`group_by ${t}: edges must increase`);
    return { kind: 'bucket', name: `bucket(${source},${edges.join(',')})`, source, edges };
  }
  throw invalid(`group_by: unknown dimension '${term}'; allowed: ${DIMENSION_HELP}`);
}

function metricOf(term: string, personal: (field: string) => boolean): Metric | null {
  const t = term.replace(/\s+/g, '');
  if (t === 'count') return null;
  const colon = t.indexOf(':');
  const op = t.slice(0, colon) as MetricOp;
  if (colon < 0 || !METRIC_OPS.includes(op))
    throw invalid(`metrics: unknown metric '${term}'; allowed: ${METRIC_HELP}`);
  const source = numericName(t.slice(colon + 1), `metrics ${t}`, personal);
  return { name: `${op}:${source}`, op, source };
}

/** Checks that the filter compiles and reads only names it may; returns its source. */
function filterOf(text: string, personal: (field: string) => boolean): string {
  let names: readonly string[];
  try {
    names = compileExpression(text, 'filter').names;
  } catch (err) {
    if (err instanceof BellwetherError && err.code === 'BW_ERR_CRM_CONFIG')
      throw invalid(err.message.slice(err.message.indexOf('filter:')));
    throw err;
  }
  for (const name of names) {
    const profile = PROFILE.exec(name);
    if (profile && personal(profile[1]!)) throw invalid(`filter: ${name} is a personal field`);
    if (!profile && !FILTER_NAMES.has(name))
      throw invalid(
        `filter: unknown name '${name}'; use a feature (docs/features.md), segment, lifecycle, ${SCORE_NAMES.join(', ')} or profile.<field>`,
      );
  }
  return text;
}

/** Parses the query's text fields (docs/analytics.md); throws BW_ERR_AGGREGATE_QUERY. */
export function parseAggregateQuery(
  query: AggregateQueryText,
  personal: (field: string) => boolean,
): AggregateSpec {
  const group_by = splitTerms(query.group_by ?? '').map((t) => dimensionOf(t, personal));
  if (group_by.length > MAX_DIMENSIONS) throw invalid(`group_by: at most ${MAX_DIMENSIONS} dimensions`);
  const dims = new Set(group_by.map((d) => d.name));
  if (dims.size !== group_by.length) throw invalid('group_by: a dimension is named twice');
  const metrics: Metric[] = [];
  for (const term of splitTerms(query.metrics ?? 'count')) {
    const m = metricOf(term, personal);
    if (m && !metrics.some((x) => x.name === m.name)) metrics.push(m);
  }
  if (metrics.length > MAX_METRICS) throw invalid(`metrics: at most ${MAX_METRICS} besides count`);
  const filter = query.filter?.trim() ? filterOf(query.filter, personal) : null;
  return { group_by, metrics, filter };
}
