/**
 * Aggregates over customers (`GET /v1/aggregate`): each worker adds its customers to an
 * {@link AggregateAccumulator} (one per query) and hands back its plain partial; the main thread
 * (and the cluster's asking instance) merges the partials with {@link mergeAggregates} and
 * finishes them with {@link finishAggregate}.
 *
 * Per group and metric source the partial keeps the customers with a value, the exact sum, min and
 * max, and for quantiles a signed DDSketch (quantile-sketch.ts; negatives in a second sketch of
 * their magnitudes), so sums and averages are exact and p50/p90/p99 are within relative error
 * {@link QUANTILE_ALPHA} of the value of rank ⌊q·(n − 1)⌋ (clamped to the exact min and max).
 * Merging is order-free: the merge of partials of parts equals the partial of the whole.
 */
import { BellwetherError } from '../../contract/errors.js';
import type { ExpressionValue } from '../crm/expression.js';
import type { AggregateSpec, Dimension, Metric } from './aggregate-spec.js';
import { QuantileSketch, type QuantileSketchJSON } from './quantile-sketch.js';

/** Relative accuracy of the quantile metrics. */
export const QUANTILE_ALPHA = 0.01;
/** Groups an answer may hold. */
export const MAX_GROUPS = 1000;
/** Time an aggregate query may take over every worker and instance, in ms. */
export const AGGREGATE_DEADLINE_MS = 5000;

export type KeyValue = string | number | boolean | null;

interface SourceJSON {
  /** Customers of the group with a value. */
  n: number;
  sum: number;
  min: number | null;
  max: number | null;
  pos?: QuantileSketchJSON;
  neg?: QuantileSketchJSON;
}

export interface AggregatePartialJSON {
  /** Customers that passed the filter. */
  customers: number;
  groups: { key: KeyValue[]; count: number; sources: Record<string, SourceJSON> }[];
}

interface AggregateGroup {
  key: Record<string, KeyValue>;
  count: number;
  [metric: string]: number | null | Record<string, KeyValue>;
}

export interface AggregateAnswer {
  groups: AggregateGroup[];
  customers: number;
}

class SourceAcc {
  n = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  pos: QuantileSketch | undefined;
  neg: QuantileSketch | undefined;

  constructor(quantiles: boolean) {
    if (quantiles) this.pos = new QuantileSketch({ alpha: QUANTILE_ALPHA });
  }

  add(v: number): void {
    this.n++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (!this.pos) return;
    if (v >= 0) this.pos.add(v);
    else (this.neg ??= new QuantileSketch({ alpha: QUANTILE_ALPHA })).add(-v);
  }

  merge(o: SourceJSON): void {
    if (o.n === 0) return;
    this.n += o.n;
    this.sum += o.sum;
    if (o.min !== null && o.min < this.min) this.min = o.min;
    if (o.max !== null && o.max > this.max) this.max = o.max;
    if (o.pos) (this.pos ??= new QuantileSketch({ alpha: QUANTILE_ALPHA })).merge(o.pos);
    if (o.neg) (this.neg ??= new QuantileSketch({ alpha: QUANTILE_ALPHA })).merge(o.neg);
  }

  /** The value of rank ⌊q·(n − 1)⌋ within the sketch's relative error. */
  quantile(q: number): number | null {
    if (this.n === 0 || !this.pos) return null;
    const negatives = this.neg?.count ?? 0;
    const rank = Math.floor(q * (this.n - 1));
    if (rank < negatives) {
      const r = negatives - 1 - rank;
      return -this.neg!.quantile(negatives === 1 ? 0 : r / (negatives - 1));
    }
    const positives = this.pos.count;
    const r = rank - negatives;
    return this.pos.quantile(positives === 1 ? 0 : r / (positives - 1));
  }

  toJSON(): SourceJSON {
    return {
      n: this.n,
      sum: this.sum,
      min: this.n > 0 ? this.min : null,
      max: this.n > 0 ? this.max : null,
      ...(this.pos ? { pos: this.pos.toJSON() } : {}),
      ...(this.neg ? { neg: this.neg.toJSON() } : {}),
    };
  }
}

interface Group {
  key: KeyValue[];
  count: number;
  /** In the order of the accumulator's source names. */
  accs: SourceAcc[];
}

/** Metric sources of a spec: each read once per customer, with a sketch when a quantile asks. */
function sourcesOf(metrics: readonly Metric[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const m of metrics) out.set(m.source, (out.get(m.source) ?? false) || m.op.startsWith('p'));
  return out;
}

function tooMany(): BellwetherError {
  return new BellwetherError(
    'BW_ERR_AGGREGATE_GROUPS',
    `more than ${MAX_GROUPS} groups; group by fewer or coarser dimensions (bucket(<feature>, …) instead of a raw value)`,
  );
}

/** The labels of the buckets of increasing `edges`: `(-inf,e0)`, `[e_i,e_i+1)`, …, `[e_k,inf)`. */
function bucketLabels(edges: readonly number[]): string[] {
  const labels = [`(-inf,${edges[0]})`];
  for (let i = 1; i < edges.length; i++) labels.push(`[${edges[i - 1]},${edges[i]})`);
  labels.push(`[${edges[edges.length - 1]},inf)`);
  return labels;
}

/** The index of `v`'s bucket among increasing `edges` (0: below the first edge). */
function bucketIndex(edges: readonly number[], v: number): number {
  let i = 0;
  while (i < edges.length && v >= edges[i]!) i++;
  return i;
}

/** The label of `v`'s bucket among increasing `edges`. */
export function bucketLabel(edges: readonly number[], v: number): string {
  return bucketLabels(edges)[bucketIndex(edges, v)]!;
}

/** What the accumulator reads of one customer. */
export interface AggregateRow {
  /** Expression names (features, scores, segment, lifecycle, profile.<field>); null when missing. */
  lookup(name: string): ExpressionValue | undefined;
  /** Whether the customer has tag `id`. */
  hasTag(id: string): boolean;
  /**
   * A reader of `name` for the customer the row is at when it is called, resolved once: a row that
   * moves over many customers (a worker's pass) saves the name's lookup on every read.
   */
  reader?(name: string): () => ExpressionValue | undefined;
}

type Read = () => ExpressionValue | undefined;

/** The reader of a dimension's key value on `row`. */
function keyReaderOf(
  dim: Dimension,
  row: AggregateRow,
  read: (name: string) => Read,
  labels: readonly string[] | null,
): () => KeyValue {
  switch (dim.kind) {
    case 'tag':
      return () => row.hasTag(dim.tag);
    case 'rfm': {
      const r = read(dim.name);
      return () => {
        const v = r();
        return typeof v === 'number' && v > 0 ? v : null;
      };
    }
    case 'bucket': {
      const r = read(dim.source);
      return () => {
        const v = r();
        return typeof v === 'number' && !Number.isNaN(v) ? labels![bucketIndex(dim.edges, v)]! : null;
      };
    }
    default: {
      const r = read(dim.name);
      return () => r() ?? null;
    }
  }
}

/** Radix of a group's numeric code: each dimension's value ids stay below it (MAX_GROUPS ≤ it). */
const KEY_RADIX = 1024;

export class AggregateAccumulator {
  readonly #spec: AggregateSpec;
  readonly #sources: Map<string, boolean>;
  readonly #names: string[];
  /**
   * Groups by code: each dimension's value gets an id (in the order first seen) and the code is
   * the ids in base {@link KEY_RADIX}, so adding a customer builds no string. Map keys compare by
   * SameValueZero: the string '1', the number 1, true and null are four values.
   */
  readonly #groups = new Map<number, Group>();
  readonly #ids: Map<KeyValue, number>[];
  readonly #key: KeyValue[];
  readonly #labels: (string[] | null)[];
  /** The row the readers below read (rebound when another row is added). */
  #row: AggregateRow | undefined;
  #keyReaders: (() => KeyValue)[] = [];
  #metricReaders: Read[] = [];
  #customers = 0;

  constructor(spec: AggregateSpec) {
    this.#spec = spec;
    this.#labels = spec.group_by.map((d) => (d.kind === 'bucket' ? bucketLabels(d.edges) : null));
    this.#sources = sourcesOf(spec.metrics);
    this.#names = [...this.#sources.keys()];
    this.#ids = spec.group_by.map(() => new Map<KeyValue, number>());
    this.#key = new Array<KeyValue>(spec.group_by.length);
  }

  get groups(): number {
    return this.#groups.size;
  }

  #bind(row: AggregateRow): void {
    const read = (name: string): Read => (row.reader ? row.reader(name) : () => row.lookup(name));
    this.#row = row;
    this.#keyReaders = this.#spec.group_by.map((d, i) => keyReaderOf(d, row, read, this.#labels[i]!));
    this.#metricReaders = this.#names.map(read);
  }

  /** Adds one customer (that passed the filter). Throws BW_ERR_AGGREGATE_GROUPS past the limit. */
  add(row: AggregateRow): void {
    if (row !== this.#row) this.#bind(row);
    this.#customers++;
    const keyReaders = this.#keyReaders;
    let code = 0;
    for (let i = 0; i < keyReaders.length; i++) {
      const v = keyReaders[i]!();
      this.#key[i] = v;
      const ids = this.#ids[i]!;
      let id = ids.get(v);
      if (id === undefined) {
        // A dimension's new value is a new group: past the limit either way.
        if (ids.size >= MAX_GROUPS) throw tooMany();
        id = ids.size;
        ids.set(v, id);
      }
      code = code * KEY_RADIX + id;
    }
    let group = this.#groups.get(code);
    if (!group) {
      if (this.#groups.size >= MAX_GROUPS) throw tooMany();
      group = {
        key: [...this.#key],
        count: 0,
        accs: [...this.#sources.values()].map((q) => new SourceAcc(q)),
      };
      this.#groups.set(code, group);
    }
    group.count++;
    const metricReaders = this.#metricReaders;
    for (let i = 0; i < metricReaders.length; i++) {
      const v = metricReaders[i]!();
      if (typeof v === 'number' && Number.isFinite(v)) group.accs[i]!.add(v);
    }
  }

  toJSON(): AggregatePartialJSON {
    return {
      customers: this.#customers,
      groups: [...this.#groups.values()].map((g) => ({
        key: g.key,
        count: g.count,
        sources: Object.fromEntries(this.#names.map((name, i) => [name, g.accs[i]!.toJSON()])),
      })),
    };
  }
}

/** Merged partials: groups keyed by their key values. */
export interface MergedAggregate {
  customers: number;
  groups: Map<string, { key: KeyValue[]; count: number; sources: Map<string, SourceAcc> }>;
}

/** Merges workers' (and instances') partials; throws BW_ERR_AGGREGATE_GROUPS past the limit. */
export function mergeAggregates(
  spec: AggregateSpec,
  partials: readonly AggregatePartialJSON[],
): MergedAggregate {
  const sources = sourcesOf(spec.metrics);
  const merged: MergedAggregate = { customers: 0, groups: new Map() };
  for (const p of partials) {
    merged.customers += p.customers;
    for (const g of p.groups) {
      const text = JSON.stringify(g.key);
      let group = merged.groups.get(text);
      if (!group) {
        if (merged.groups.size >= MAX_GROUPS) throw tooMany();
        group = { key: g.key, count: 0, sources: new Map() };
        for (const [name, quantiles] of sources) group.sources.set(name, new SourceAcc(quantiles));
        merged.groups.set(text, group);
      }
      group.count += g.count;
      for (const [name, acc] of group.sources) {
        const o = g.sources[name];
        if (o) acc.merge(o);
      }
    }
  }
  return merged;
}

const QUANTILES = { p50: 0.5, p90: 0.9, p99: 0.99 } as const;

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function metricValue(metric: Metric, acc: SourceAcc): number | null {
  if (acc.n === 0) return null;
  switch (metric.op) {
    case 'sum':
      return round(acc.sum);
    case 'avg':
      return round(acc.sum / acc.n);
    case 'min':
      return acc.min;
    case 'max':
      return acc.max;
    default: {
      const q = acc.quantile(QUANTILES[metric.op]);
      return q === null ? null : round(q);
    }
  }
}

/** The answer: groups with their keys by name, the most customers first (then by key). */
export function finishAggregate(spec: AggregateSpec, merged: MergedAggregate): AggregateAnswer {
  const groups = [...merged.groups.values()].map((g) => {
    const out: AggregateGroup = {
      key: Object.fromEntries(spec.group_by.map((d, i) => [d.name, g.key[i] ?? null])),
      count: g.count,
    };
    for (const m of spec.metrics) out[m.name] = metricValue(m, g.sources.get(m.source)!);
    return { out, text: JSON.stringify(g.key) };
  });
  groups.sort((a, b) => b.out.count - a.out.count || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  return { groups: groups.map((g) => g.out), customers: merged.customers };
}
