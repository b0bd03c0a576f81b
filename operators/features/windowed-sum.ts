/**
 * Trailing-window counts and sums over time buckets per customer slot.
 *
 * Each operator is one stream of the store's sparse bucket log (bucket-log.ts): a ring of `buckets`
 * buckets of `bucketMs` each whose head is the newest bucket seen, holding only the buckets that
 * received an event. An event lands in bucket floor(ts / bucketMs) whatever order it arrives in, as
 * long as that bucket is still inside the ring; an event older than the ring counts in lifetime
 * totals only (see lifetime.ts). A window of N buckets at `now` sums the buckets
 * floor(now/bucketMs)-N+1 .. floor(now/bucketMs): window edges are aligned to bucket boundaries
 * (docs/features.md).
 *
 * Counts saturate at 65535 per bucket (32-bit values of the store's shared log); amounts are kept
 * in integer cents in float64 (the store's `amounts` log), so sums are exact to the cent up to
 * 2^53 cents and never saturate: with |amount| ≤ 1e9 per event (contract/event-schema.ts) a
 * bucket would need 900,000 maximal events to leave exactness.
 */
import { BellwetherError } from '../../contract/errors.js';
import { eventTypeIndex } from '../../contract/event-types.js';
import type { BucketLog } from '../state/bucket-log.js';
import type { ColumnStore } from '../state/column-store.js';
import type { BoundOperator, FoldInput, Operator } from './types.js';

const COUNT_MAX = 65535;
/** The log of amount streams: float64 values. */
const AMOUNTS_LOG = 'amounts';

interface WindowSpec {
  readonly feature: string;
  /** Window length in buckets (≤ the ring length). */
  readonly buckets: number;
}

export interface WindowedSumSpec {
  readonly name: string;
  readonly types: readonly string[];
  readonly value: 'count' | 'amount';
  readonly bucketMs: number;
  readonly buckets: number;
  readonly windows: readonly WindowSpec[];
}

class BoundWindowedSum implements BoundOperator {
  readonly #log: BucketLog;
  readonly #stream: number;
  readonly #bucketMs: number;
  readonly #windows: Int32Array;
  readonly #isAmount: boolean;

  constructor(spec: WindowedSumSpec, store: ColumnStore) {
    this.#isAmount = spec.value === 'amount';
    this.#log = this.#isAmount ? store.bucketLog(AMOUNTS_LOG, 'f64') : store.bucketLog();
    this.#stream = this.#log.stream(spec.name, spec.buckets);
    this.#bucketMs = spec.bucketMs;
    this.#windows = Int32Array.from(spec.windows, (w) => w.buckets);
  }

  step(slot: number, input: FoldInput): void {
    const bucket = Math.floor(input.ts / this.#bucketMs);
    if (this.#isAmount)
      this.#log.add(
        slot,
        this.#stream,
        bucket,
        Math.round(input.amount * 100),
        Number.NEGATIVE_INFINITY,
        Number.POSITIVE_INFINITY,
      );
    else this.#log.add(slot, this.#stream, bucket, 1, 0, COUNT_MAX);
  }

  emit(slot: number, now: number, out: Float64Array, offset: number): void {
    this.#log.sums(slot, this.#stream, Math.floor(now / this.#bucketMs), this.#windows, out, offset);
    if (this.#isAmount) for (let w = 0; w < this.#windows.length; w++) out[offset + w]! /= 100;
  }
}

export function windowedSum(spec: WindowedSumSpec): Operator {
  for (const w of spec.windows) {
    if (w.buckets < 1 || w.buckets > spec.buckets)
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `window ${w.feature} must span 1 to ${spec.buckets} buckets of ring ${spec.name}, got ${w.buckets}`,
      );
  }
  for (const t of spec.types)
    if (eventTypeIndex(t) < 0)
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `${spec.name} counts event type ${t}: types must be among EVENT_TYPES (docs/events.md)`,
      );
  return {
    name: spec.name,
    features: spec.windows.map((w) => w.feature),
    types: spec.types,
    bind: (store) => new BoundWindowedSum(spec, store),
  };
}
