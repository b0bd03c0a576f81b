/**
 * DDSketch (Masson, Rim & Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
 * relative-error guarantees", VLDB 2019) for non-negative values.
 *
 * A value v ≥ `minValue` goes to the bucket i = ⌈log_γ v⌉ with γ = (1 + α) / (1 − α), i.e. the
 * bucket (γ^(i−1), γ^i]; a quantile is answered with the bucket's representative 2γ^i / (γ + 1),
 * which is within relative error α of every value of the bucket. Values below `minValue` (0,
 * and negatives, which are taken as 0) go to a zero bucket answered with the exact minimum.
 * Buckets live in one dense Float64Array with an index offset; when the buckets span more than
 * `maxBuckets` indexes the lowest ones are collapsed into the lowest kept one (the paper's
 * "collapsing lowest" store): only quantiles that fall among those collapsed values lose the
 * guarantee. With α = 1% and 2,048 buckets that is a range of 1:10^17, more than money or days need.
 *
 * Two sketches with the same α, `minValue` and `maxBuckets` merge by adding bucket counts: the
 * merge of sketches of parts is bucket for bucket the sketch of the union (whatever the order).
 */
import { BellwetherError } from '../../contract/errors.js';

export interface QuantileSketchOptions {
  /** Relative accuracy α, in (0, 1); default 0.01. */
  readonly alpha?: number;
  /** Most buckets kept (default 2,048); the lowest are collapsed beyond that. */
  readonly maxBuckets?: number;
  /** Values below this count in the zero bucket (default 1e-9). */
  readonly minValue?: number;
}

/** Plain form of a sketch: JSON- and structured-clone friendly. */
export interface QuantileSketchJSON {
  readonly alpha: number;
  readonly maxBuckets: number;
  readonly minValue: number;
  readonly count: number;
  readonly zero: number;
  readonly sum: number;
  /** Exact minimum and maximum seen (0 when empty). */
  readonly min: number;
  readonly max: number;
  /** Bucket index of `bins[0]`. */
  readonly offset: number;
  /** Counts of the buckets `offset, offset + 1, …`. */
  readonly bins: number[];
}

const DEFAULT_ALPHA = 0.01;
const DEFAULT_MAX_BUCKETS = 2048;
const DEFAULT_MIN_VALUE = 1e-9;
const INITIAL_BINS = 64;

export class QuantileSketch {
  readonly alpha: number;
  readonly maxBuckets: number;
  readonly minValue: number;
  readonly #gamma: number;
  readonly #lnGamma: number;
  #bins = new Float64Array(INITIAL_BINS);
  /** Bucket index of #bins[0]. */
  #offset = 0;
  /** Lowest and highest bucket index that may be non-empty (valid when #binTotal > 0). */
  #lo = 0;
  #hi = -1;
  #binTotal = 0;
  #zero = 0;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  constructor(options: QuantileSketchOptions = {}) {
    const alpha = options.alpha ?? DEFAULT_ALPHA;
    const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    const minValue = options.minValue ?? DEFAULT_MIN_VALUE;
    if (!(alpha > 0 && alpha < 1))
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `quantile sketch alpha must be in (0, 1), got ${alpha}`,
      );
    if (!Number.isInteger(maxBuckets) || maxBuckets < 2) {
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `quantile sketch maxBuckets must be an integer ≥ 2, got ${maxBuckets}`,
      );
    }
    if (!(minValue > 0 && Number.isFinite(minValue))) {
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `quantile sketch minValue must be a finite number > 0, got ${minValue}`,
      );
    }
    this.alpha = alpha;
    this.maxBuckets = maxBuckets;
    this.minValue = minValue;
    this.#gamma = (1 + alpha) / (1 - alpha);
    this.#lnGamma = Math.log(this.#gamma);
  }

  /** Values added (a weight counts as that many values). */
  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Exact smallest value added (NaN when empty). */
  get min(): number {
    return this.#count > 0 ? this.#min : Number.NaN;
  }

  /** Exact largest value added (NaN when empty). */
  get max(): number {
    return this.#count > 0 ? this.#max : Number.NaN;
  }

  /** Adds `v` (`weight` times). NaN, ±Infinity and non-positive weights are ignored; v < 0 counts as 0. */
  add(v: number, weight = 1): void {
    if (!Number.isFinite(v) || !(weight > 0) || !Number.isFinite(weight)) return;
    if (v < 0) v = 0;
    this.#count += weight;
    this.#sum += v * weight;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
    if (v < this.minValue) this.#zero += weight;
    else this.#insert(Math.ceil(Math.log(v) / this.#lnGamma), weight);
  }

  /**
   * The value of rank ⌊q·(count − 1)⌋ (0-based, ascending) within relative error α (clamped to
   * the exact [min, max]); NaN when empty. q is clamped to [0, 1].
   */
  quantile(q: number): number {
    if (this.#count === 0 || Number.isNaN(q)) return Number.NaN;
    if (q <= 0) return this.#min;
    if (q >= 1) return this.#max;
    const rank = q * (this.#count - 1);
    let cumulative = this.#zero;
    if (cumulative > rank) return this.#min;
    const bins = this.#bins;
    for (let i = this.#lo; i <= this.#hi; i++) {
      cumulative += bins[i - this.#offset]!;
      if (cumulative > rank) return this.#clamp(this.#representative(i));
    }
    return this.#max;
  }

  /** Adds every value of `other` to this sketch; both must have the same α, minValue and maxBuckets. */
  merge(other: QuantileSketch | QuantileSketchJSON): this {
    const o = other instanceof QuantileSketch ? other.toJSON() : other;
    if (o.alpha !== this.alpha || o.minValue !== this.minValue || o.maxBuckets !== this.maxBuckets) {
      throw new BellwetherError(
        'BW_ERR_STATE_MISMATCH',
        `quantile sketches merge only with the same alpha, minValue and maxBuckets: ${this.alpha}, ${this.minValue}, ${this.maxBuckets} and ${o.alpha}, ${o.minValue}, ${o.maxBuckets}`,
      );
    }
    if (!(o.count > 0)) return this;
    this.#count += o.count;
    this.#sum += o.sum;
    this.#zero += o.zero;
    if (o.min < this.#min) this.#min = o.min;
    if (o.max > this.#max) this.#max = o.max;
    for (let k = 0; k < o.bins.length; k++) {
      const c = o.bins[k]!;
      if (c > 0) this.#insert(o.offset + k, c);
    }
    return this;
  }

  /** Empties the sketch (keeps its settings and its bucket array). */
  reset(): void {
    this.#bins.fill(0);
    this.#lo = 0;
    this.#hi = -1;
    this.#binTotal = 0;
    this.#zero = 0;
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = Number.NEGATIVE_INFINITY;
  }

  toJSON(): QuantileSketchJSON {
    const empty = this.#binTotal === 0;
    const start = this.#lo - this.#offset;
    return {
      alpha: this.alpha,
      maxBuckets: this.maxBuckets,
      minValue: this.minValue,
      count: this.#count,
      zero: this.#zero,
      sum: this.#sum,
      min: this.#count > 0 ? this.#min : 0,
      max: this.#count > 0 ? this.#max : 0,
      offset: empty ? 0 : this.#lo,
      bins: empty ? [] : Array.from(this.#bins.subarray(start, start + this.#hi - this.#lo + 1)),
    };
  }

  static fromJSON(json: QuantileSketchJSON): QuantileSketch {
    const sketch = new QuantileSketch({
      alpha: json.alpha,
      maxBuckets: json.maxBuckets,
      minValue: json.minValue,
    });
    return sketch.merge(json);
  }

  #representative(i: number): number {
    return (2 * Math.exp(i * this.#lnGamma)) / (this.#gamma + 1);
  }

  #clamp(v: number): number {
    return Math.max(this.#min, Math.min(v, this.#max));
  }

  /** Adds `w` to bucket `i`, collapsing the lowest buckets so that at most maxBuckets are spanned. */
  #insert(i: number, w: number): void {
    if (this.#binTotal === 0) {
      this.#cover(i, i);
      this.#lo = this.#hi = i;
    } else if (i < this.#lo) {
      const floor = this.#hi - this.maxBuckets + 1;
      if (i < floor) i = floor;
      this.#cover(i, this.#hi);
      if (i < this.#lo) this.#lo = i;
    } else if (i > this.#hi) {
      const floor = i - this.maxBuckets + 1;
      if (floor > this.#lo) this.#collapseBelow(floor);
      this.#cover(this.#lo, i);
      this.#hi = i;
    }
    this.#bins[i - this.#offset]! += w;
    this.#binTotal += w;
  }

  /** Moves the counts of every bucket below `floor` into bucket `floor`. */
  #collapseBelow(floor: number): void {
    const bins = this.#bins;
    const top = Math.min(this.#hi, floor - 1);
    let moved = 0;
    for (let k = this.#lo; k <= top; k++) {
      moved += bins[k - this.#offset]!;
      bins[k - this.#offset] = 0;
    }
    this.#lo = floor;
    if (this.#hi < floor) this.#hi = floor;
    this.#cover(floor, this.#hi);
    this.#bins[floor - this.#offset]! += moved;
  }

  /** Makes the bucket array cover indexes [lo, hi], keeping every count at its index. */
  #cover(lo: number, hi: number): void {
    const bins = this.#bins;
    if (lo >= this.#offset && hi < this.#offset + bins.length) return;
    const needed = hi - lo + 1;
    let length = bins.length;
    while (length < needed) length *= 2;
    const offset = lo - Math.floor((length - needed) / 2);
    const next = length === bins.length ? bins : new Float64Array(length);
    if (this.#binTotal > 0) {
      // Non-zero counts lie within [#lo, #hi] ∩ [lo, hi].
      const from = Math.max(this.#lo, lo);
      const to = Math.min(this.#hi, hi);
      if (to >= from) {
        const values = bins.slice(from - this.#offset, to - this.#offset + 1);
        if (next === bins) bins.fill(0);
        next.set(values, from - offset);
      } else if (next === bins) {
        bins.fill(0);
      }
    }
    this.#bins = next;
    this.#offset = offset;
  }
}
