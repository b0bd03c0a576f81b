/**
 * Point-in-time training rows. For each cutoff, every event with ts < cutoff is folded into ONE
 * FeatureTable (the live engine's operators: no second implementation of any feature), and each
 * customer with at least one purchase before the cutoff gives a row whose features are read at
 * now = cutoff. Labels look only at purchases in [cutoff, cutoff + horizon):
 *
 * - churn = 1 when the customer makes no purchase in the `churnDays` after the cutoff;
 * - intent = 1 when the customer makes at least one purchase in the `intentDays` after the cutoff.
 *
 * Events must be sorted by ts and cutoffs ascending: one table is advanced through the cutoffs.
 * `chooseInputs` / `toMatrix` turn rows into model inputs (the feature spec of train.ts).
 */
import { BellwetherError } from '../../contract/errors.js';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS } from '../../contract/time.js';
import { FeatureTable } from '../../operators/features/feature-table.js';
import { FEATURE_NAMES } from '../../operators/features/registry.js';
import type { RetailEvent } from '../datasets/online-retail.js';
import { type FeatureInput, transformValue } from '../feature-spec.js';

/** The part of an event the dataset builder reads. */
export type DatasetEvent = Pick<RetailEvent, 'customer_id' | 'ts' | 'amount'> & { type: string };

export interface DatasetRow {
  customer_id: string;
  cutoff: number;
  /** Full feature vector (FeatureTable order) at now = cutoff. */
  features: Float64Array;
  churn: 0 | 1;
  intent: 0 | 1;
}

export interface DatasetOptions {
  /** Churn horizon in days (default 90). */
  churnDays?: number;
  /** Intent horizon in days (default 14). */
  intentDays?: number;
  /**
   * The event types folded into the features (default every type); events of other types are
   * skipped. A model records them as its semantics (models/semantics.ts `datasetSemantics`), and the
   * live engine computes its features over the same types.
   */
  eventTypes?: readonly string[];
}

export const CHURN_DAYS = 90;
export const INTENT_DAYS = 14;

const PURCHASE = eventTypeIndex('purchase');

/** EVENT_TYPES index of an event's type; throws on an unknown type. */
export function eventTypeOf(event: { type: string }): number {
  const index = eventTypeIndex(event.type);
  if (index < 0)
    throw new BellwetherError(
      'BW_ERR_INPUT_FORMAT',
      `unknown event type ${event.type}: types must be among the ${EVENT_TYPES.length} of docs/events.md`,
    );
  return index;
}

/** Index of the first element of sorted `times` that is ≥ `t`. */
export function lowerBound(times: Float64Array | readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Purchases of a customer in [from, to). */
function purchasesIn(times: Float64Array, from: number, to: number): number {
  return lowerBound(times, to) - lowerBound(times, from);
}

function purchaseTimes(events: readonly DatasetEvent[]): Map<string, Float64Array> {
  const lists = new Map<string, number[]>();
  for (const e of events) {
    if (e.type !== 'purchase') continue;
    let list = lists.get(e.customer_id);
    if (!list) lists.set(e.customer_id, (list = []));
    list.push(e.ts);
  }
  const out = new Map<string, Float64Array>();
  for (const [id, list] of lists) out.set(id, Float64Array.from(list).sort());
  return out;
}

export function buildDataset(
  events: readonly DatasetEvent[],
  cutoffs: readonly number[],
  options: DatasetOptions = {},
): DatasetRow[] {
  const churnMs = (options.churnDays ?? CHURN_DAYS) * DAY_MS;
  const intentMs = (options.intentDays ?? INTENT_DAYS) * DAY_MS;
  for (let i = 1; i < cutoffs.length; i++) {
    if (!(cutoffs[i]! > cutoffs[i - 1]!))
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `cutoffs must be strictly ascending, got ${cutoffs[i - 1]} then ${cutoffs[i]}`,
      );
  }
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.ts < events[i - 1]!.ts)
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `events must be sorted by ts, event ${i} is earlier than event ${i - 1}`,
      );
  }
  const times = purchaseTimes(events);
  const folds = EVENT_TYPES.map(() => options.eventTypes === undefined);
  for (const t of options.eventTypes ?? []) folds[eventTypeOf({ type: t })] = true;
  const table = new FeatureTable();
  const width = table.names.length;
  /** Slots with at least one purchase folded, in order of their first purchase. */
  const buyers: number[] = [];
  const isBuyer: boolean[] = [];
  const rows: DatasetRow[] = [];
  const input = { typeIndex: 0, ts: 0, amount: 0 };
  let next = 0;
  for (const cutoff of cutoffs) {
    while (next < events.length && events[next]!.ts < cutoff) {
      const e = events[next++]!;
      const typeIndex = eventTypeOf(e);
      if (!folds[typeIndex]) continue;
      const slot = table.slotFor(e.customer_id);
      input.typeIndex = typeIndex;
      input.ts = e.ts;
      input.amount = e.amount;
      table.fold(slot, input);
      if (input.typeIndex === PURCHASE && !isBuyer[slot]) {
        isBuyer[slot] = true;
        buyers.push(slot);
      }
    }
    for (const slot of buyers) {
      const id = table.idOf(slot);
      const features = new Float64Array(width);
      table.features(slot, cutoff, features);
      const bought = times.get(id) ?? new Float64Array(0);
      rows.push({
        customer_id: id,
        cutoff,
        features,
        churn: purchasesIn(bought, cutoff, cutoff + churnMs) === 0 ? 1 : 0,
        intent: purchasesIn(bought, cutoff, cutoff + intentMs) > 0 ? 1 : 0,
      });
    }
  }
  return rows;
}

/** Feature names of the vectors `buildDataset` writes. */
export function datasetFeatureNames(): readonly string[] {
  return FEATURE_NAMES;
}

/** Model inputs of rows, row-major (`x`: n × d), with their 0/1 labels. */
export interface Matrix {
  x: Float32Array;
  y: Float32Array;
  n: number;
  d: number;
}

/** Feature names whose values are ratios/trends: used as they are; everything else gets log1p. */
const IDENTITY = /(_trend_|_rate_|^ratio_)/;

function quantile(sorted: Float64Array, q: number): number {
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[at]!;
}

/** Inputs that vary in `rows` once clipped, with their transform, clip range, fill and scaling. */
export function chooseInputs(rows: readonly DatasetRow[], names: readonly string[]): FeatureInput[] {
  const inputs: FeatureInput[] = [];
  names.forEach((name, j) => {
    const present = Float64Array.from(rows.map((r) => r.features[j]!).filter((v) => !Number.isNaN(v))).sort();
    if (present.length === 0) return;
    const min = present[0]!;
    const max = quantile(present, 0.995);
    if (!(max > min)) return;
    const input: FeatureInput = {
      name,
      transform: IDENTITY.test(name) || min < 0 ? 'identity' : 'log1p',
      fill: max,
      min,
      max,
      mean: 0,
      std: 1,
    };
    let sum = 0;
    let sq = 0;
    for (const r of rows) {
      const v = transformValue(input, r.features[j]!);
      sum += v;
      sq += v * v;
    }
    input.mean = sum / rows.length;
    input.std = Math.max(1e-6, Math.sqrt(Math.max(0, sq / rows.length - input.mean ** 2)));
    inputs.push(input);
  });
  return inputs;
}

export function toMatrix(
  rows: readonly DatasetRow[],
  inputs: readonly FeatureInput[],
  at: Int32Array,
  label: 'churn' | 'intent',
): Matrix {
  const d = inputs.length;
  const x = new Float32Array(rows.length * d);
  const y = new Float32Array(rows.length);
  rows.forEach((r, i) => {
    for (let k = 0; k < d; k++) x[i * d + k] = transformValue(inputs[k]!, r.features[at[k]!]!);
    y[i] = r[label];
  });
  return { x, y, n: rows.length, d };
}
