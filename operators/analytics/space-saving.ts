/**
 * Space-Saving top-K counter (Metwally, Agrawal & El Abbadi, "Efficient computation of frequent
 * and top-k elements in data streams", ICDT 2005) over number keys, with at most `capacity`
 * counters in typed arrays.
 *
 * A monitored key's counter is incremented. A new key takes a free counter, or, when all are in
 * use, evicts the key with the smallest count m: the new key gets count m + w and error m. So a
 * count never underestimates (true ≤ count, count − error ≤ true), and any key whose true count
 * exceeds (total weight) / capacity is monitored. The counters are ordered by an indexed binary
 * min-heap on count, so an increment or an eviction costs O(log capacity) (a linear scan for the
 * minimum made a full summary of 4,096 counters cost ~4 µs per new key).
 *
 * Merge (Agarwal et al., "Mergeable summaries", 2012, for the counter family): counts and errors
 * are added key by key; a key missing from a full summary is charged that summary's minimum (it
 * may have been evicted with up to that count), in both count and error; the `capacity` largest
 * counts are kept. Summaries that never filled up merge exactly.
 */
import { BellwetherError } from '../../contract/errors.js';

export interface SpaceSavingJSON {
  readonly capacity: number;
  /** Total weight added (defaults to the sum of counts when absent). */
  readonly total?: number;
  readonly keys: number[];
  readonly counts: number[];
  readonly errors: number[];
}

export interface SpaceSavingItem {
  readonly key: number;
  /** Upper bound of the key's weight. */
  readonly count: number;
  /** count − error is a lower bound. */
  readonly error: number;
}

export class SpaceSaving {
  readonly capacity: number;
  readonly #keys: Float64Array;
  readonly #counts: Float64Array;
  readonly #errors: Float64Array;
  readonly #index = new Map<number, number>();
  /** Min-heap on count of counter indexes; `#at[i]` is counter i's place in it. */
  readonly #heap: Int32Array;
  readonly #at: Int32Array;
  #size = 0;
  #total = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `space-saving capacity must be an integer ≥ 1, got ${capacity}`,
      );
    this.capacity = capacity;
    this.#keys = new Float64Array(capacity);
    this.#counts = new Float64Array(capacity);
    this.#errors = new Float64Array(capacity);
    this.#heap = new Int32Array(capacity);
    this.#at = new Int32Array(capacity);
  }

  #swap(a: number, b: number): void {
    const ia = this.#heap[a]!;
    const ib = this.#heap[b]!;
    this.#heap[a] = ib;
    this.#heap[b] = ia;
    this.#at[ib] = a;
    this.#at[ia] = b;
  }

  #up(place: number): void {
    const counts = this.#counts;
    while (place > 0) {
      const parent = (place - 1) >> 1;
      if (counts[this.#heap[parent]!]! <= counts[this.#heap[place]!]!) return;
      this.#swap(place, parent);
      place = parent;
    }
  }

  #down(place: number): void {
    const counts = this.#counts;
    const n = this.#size;
    for (;;) {
      const l = 2 * place + 1;
      if (l >= n) return;
      const r = l + 1;
      const child = r < n && counts[this.#heap[r]!]! < counts[this.#heap[l]!]! ? r : l;
      if (counts[this.#heap[child]!]! >= counts[this.#heap[place]!]!) return;
      this.#swap(place, child);
      place = child;
    }
  }

  /** Orders the first `#size` counters into the heap. */
  #heapify(): void {
    for (let i = 0; i < this.#size; i++) {
      this.#heap[i] = i;
      this.#at[i] = i;
    }
    for (let p = (this.#size >> 1) - 1; p >= 0; p--) this.#down(p);
  }

  /** Keys monitored. */
  get size(): number {
    return this.#size;
  }

  /** Total weight added (including merges). */
  get total(): number {
    return this.#total;
  }

  /** Smallest count when full, else 0 (the most an unmonitored key can have). */
  get min(): number {
    return this.#size < this.capacity ? 0 : this.#counts[this.#heap[0]!]!;
  }

  /** Adds `weight` (≥ 0) to `key`. */
  add(key: number, weight = 1): void {
    this.#total += weight;
    const at = this.#index.get(key);
    if (at !== undefined) {
      this.#counts[at]! += weight;
      this.#down(this.#at[at]!);
      return;
    }
    if (this.#size < this.capacity) {
      const i = this.#size++;
      this.#keys[i] = key;
      this.#counts[i] = weight;
      this.#errors[i] = 0;
      this.#index.set(key, i);
      this.#heap[i] = i;
      this.#at[i] = i;
      this.#up(i);
      return;
    }
    const m = this.#heap[0]!;
    this.#index.delete(this.#keys[m]!);
    this.#keys[m] = key;
    this.#errors[m] = this.#counts[m]!;
    this.#counts[m]! += weight;
    this.#index.set(key, m);
    this.#down(0);
  }

  /** Count of a monitored key, 0 otherwise. */
  count(key: number): number {
    const at = this.#index.get(key);
    return at === undefined ? 0 : this.#counts[at]!;
  }

  /** The `limit` largest counts, descending (ties by key ascending). */
  top(limit = this.capacity): SpaceSavingItem[] {
    const items: SpaceSavingItem[] = [];
    for (let i = 0; i < this.#size; i++) {
      items.push({ key: this.#keys[i]!, count: this.#counts[i]!, error: this.#errors[i]! });
    }
    items.sort((a, b) => b.count - a.count || a.key - b.key);
    return items.slice(0, Math.max(0, limit));
  }

  merge(other: SpaceSaving | SpaceSavingJSON): this {
    const o = other instanceof SpaceSaving ? other.toJSON() : other;
    const oFull = o.keys.length >= o.capacity;
    let oMin = Number.POSITIVE_INFINITY;
    if (oFull) for (const c of o.counts) if (c < oMin) oMin = c;
    const otherMissing = oFull ? oMin : 0;
    const thisMissing = this.min;
    const union = new Map<number, [number, number]>();
    for (let i = 0; i < this.#size; i++) {
      union.set(this.#keys[i]!, [this.#counts[i]! + otherMissing, this.#errors[i]! + otherMissing]);
    }
    o.keys.forEach((key, i) => {
      const c = o.counts[i] ?? 0;
      const e = o.errors[i] ?? 0;
      const mine = union.get(key);
      if (mine) {
        mine[0] += c - otherMissing;
        mine[1] += e - otherMissing;
      } else {
        union.set(key, [c + thisMissing, e + thisMissing]);
      }
    });
    let otherTotal = 0;
    for (const c of o.counts) otherTotal += c;
    const kept = [...union].sort((a, b) => b[1][0] - a[1][0] || a[0] - b[0]).slice(0, this.capacity);
    this.#index.clear();
    this.#size = 0;
    for (const [key, [count, error]] of kept) {
      const i = this.#size++;
      this.#keys[i] = key;
      this.#counts[i] = count;
      this.#errors[i] = error;
      this.#index.set(key, i);
    }
    this.#heapify();
    this.#total += o.total ?? otherTotal;
    return this;
  }

  reset(): void {
    this.#index.clear();
    this.#size = 0;
    this.#total = 0;
  }

  toJSON(): SpaceSavingJSON {
    return {
      capacity: this.capacity,
      total: this.#total,
      keys: Array.from(this.#keys.subarray(0, this.#size)),
      counts: Array.from(this.#counts.subarray(0, this.#size)),
      errors: Array.from(this.#errors.subarray(0, this.#size)),
    };
  }

  static fromJSON(json: SpaceSavingJSON): SpaceSaving {
    return new SpaceSaving(json.capacity).merge(json);
  }
}
