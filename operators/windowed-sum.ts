/**
 * Trailing-window counts and sums kept in ring buckets per customer slot.
 *
 * A ring of `buckets` buckets of `bucketMs` each, plus the index of the newest bucket (the head).
 * An event lands in bucket floor(ts / bucketMs) whatever order it arrives in, as long as that bucket
 * is still inside the ring; an event older than the ring counts in lifetime totals only (see
 * lifetime.ts). A window of N buckets at `now` sums the buckets floor(now/bucketMs)-N+1 ..
 * floor(now/bucketMs): window edges are aligned to bucket boundaries (docs/features.md).
 *
 * Counts are 16-bit and saturate at 65535 per bucket; amounts are kept in integer cents (32-bit,
 * saturating), so sums are exact to the cent.
 */
import { eventTypeIndex } from '../engine/event-types.js';
import type { Column, ColumnStore } from './column-store.js';
import type { BoundOperator, FoldInput, Operator } from './types.js';

const EMPTY = -2147483648;
const I32_MAX = 2147483647;
const I32_MIN = -2147483647;

export interface WindowSpec {
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

function mod(k: number, n: number): number {
  const r = k % n;
  return r < 0 ? r + n : r;
}

class BoundWindowedSum implements BoundOperator {
  readonly #spec: WindowedSumSpec;
  readonly #ring: Column;
  readonly #head: Column;
  readonly #isAmount: boolean;

  constructor(spec: WindowedSumSpec, store: ColumnStore) {
    this.#spec = spec;
    this.#isAmount = spec.value === 'amount';
    this.#ring = store.column({
      name: `${spec.name}.ring`,
      kind: this.#isAmount ? 'i32' : 'u16',
      width: spec.buckets,
    });
    this.#head = store.column({ name: `${spec.name}.head`, kind: 'i32', width: 1, initial: EMPTY });
  }

  step(slot: number, input: FoldInput): void {
    const length = this.#spec.buckets;
    const ring = this.#ring.data;
    const heads = this.#head.data;
    const base = slot * length;
    const bucket = Math.floor(input.ts / this.#spec.bucketMs);
    let head = heads[slot]!;
    if (head === EMPTY) {
      heads[slot] = head = bucket;
    } else if (bucket > head) {
      if (bucket - head >= length) ring.fill(0, base, base + length);
      else for (let k = head + 1; k <= bucket; k++) ring[base + mod(k, length)] = 0;
      heads[slot] = head = bucket;
    }
    if (bucket <= head - length) return;
    const at = base + mod(bucket, length);
    if (this.#isAmount) {
      const next = ring[at]! + Math.round(input.amount * 100);
      ring[at] = next > I32_MAX ? I32_MAX : Math.max(next, I32_MIN);
    } else {
      const next = ring[at]! + 1;
      ring[at] = Math.min(next, 65535);
    }
  }

  emit(slot: number, now: number, out: Float64Array, offset: number): void {
    const { windows, buckets: length, bucketMs } = this.#spec;
    const head = this.#head.data[slot]!;
    if (head === EMPTY) {
      for (let w = 0; w < windows.length; w++) out[offset + w] = 0;
      return;
    }
    const ring = this.#ring.data;
    const base = slot * length;
    const nowBucket = Math.floor(now / bucketMs);
    const oldest = head - length + 1;
    for (let w = 0; w < windows.length; w++) {
      const lo = Math.max(nowBucket - windows[w]!.buckets + 1, oldest);
      const hi = Math.min(nowBucket, head);
      let sum = 0;
      for (let k = lo; k <= hi; k++) sum += ring[base + mod(k, length)]!;
      out[offset + w] = this.#isAmount ? sum / 100 : sum;
    }
  }
}

export function windowedSum(spec: WindowedSumSpec): Operator {
  for (const w of spec.windows) {
    if (w.buckets < 1 || w.buckets > spec.buckets)
      throw new Error(`window ${w.feature} does not fit ring ${spec.name}`);
  }
  for (const t of spec.types) if (eventTypeIndex(t) < 0) throw new Error(`unknown event type ${t}`);
  return {
    name: spec.name,
    features: spec.windows.map((w) => w.feature),
    types: spec.types,
    bind: (store) => new BoundWindowedSum(spec, store),
  };
}
