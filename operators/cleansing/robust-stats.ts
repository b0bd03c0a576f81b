/**
 * Streaming robust statistics of positive values on log scale, per key (a currency's amounts, a
 * category's quantities): each key's values go into a quantile sketch (DDSketch, 1% relative
 * accuracy), and every `refreshEvery` values its median and spread are read back from it:
 * centre = ln(q50), and a spread on each side: below = (ln q50 − ln q25) / 0.6745 and above =
 * (ln q75 − ln q50) / 0.6745 (a quartile of a normal law lies 0.6745 σ from its median). A value's
 * distance is |ln v − centre| / max(spread of its side, minScale) robust standard deviations: real
 * amounts are skewed even on log scale (many small orders, few large ones), and one spread for
 * both sides flags the long side's ordinary values.
 *
 * With `pooled`, every value also goes into one distribution of all keys, which judges the values
 * of a key still warming up (fewer than `minCount` values): a category's quantities are judged from
 * its first event on against the partition's, once the partition has seen `minCount` quantities.
 *
 * Deterministic: the answer depends only on the values observed, in their order, so a partition
 * restored from its checkpoint and fed the same events judges them the same way. Judging allocates
 * nothing; a key is created (a Map entry and a sketch) the first time it is observed.
 */
import { QuantileSketch, type QuantileSketchJSON } from '../analytics/quantile-sketch.js';

const QUARTILE_TO_SIGMA = 0.6745;
const SKETCH = { alpha: 0.01, maxBuckets: 2048, minValue: 1e-9 } as const;

interface Distribution {
  readonly sketch: QuantileSketch;
  /** ln of the median at the last refresh; NaN before the first. */
  centre: number;
  /** Robust spreads on log scale below and above the median at the last refresh (not yet floored by minScale). */
  below: number;
  above: number;
  /** Values observed since the last refresh. */
  since: number;
}

interface DistributionJSON {
  key: string;
  sketch: QuantileSketchJSON;
  centre: number | null;
  below: number | null;
  above: number | null;
  since: number;
}

function newDistribution(): Distribution {
  return {
    sketch: new QuantileSketch(SKETCH),
    centre: Number.NaN,
    below: Number.NaN,
    above: Number.NaN,
    since: 0,
  };
}

function distributionJSON(key: string, d: Distribution): DistributionJSON {
  return {
    key,
    sketch: d.sketch.toJSON(),
    centre: Number.isNaN(d.centre) ? null : d.centre,
    below: Number.isNaN(d.below) ? null : d.below,
    above: Number.isNaN(d.above) ? null : d.above,
    since: d.since,
  };
}

function fromJSON(j: DistributionJSON): Distribution {
  return {
    sketch: QuantileSketch.fromJSON(j.sketch),
    centre: j.centre ?? Number.NaN,
    below: j.below ?? Number.NaN,
    above: j.above ?? Number.NaN,
    since: j.since,
  };
}

export interface RobustStatsJSON {
  keys: DistributionJSON[];
  pooled?: DistributionJSON;
}

export class RobustStats {
  readonly #byKey = new Map<string, Distribution>();
  readonly #pooled: Distribution | undefined;
  #maxKeys: number;
  #refreshEvery: number;

  constructor(maxKeys: number, refreshEvery: number, pooled = false) {
    this.#pooled = pooled ? newDistribution() : undefined;
    this.#maxKeys = maxKeys;
    this.#refreshEvery = refreshEvery;
  }

  /** New limits from reloaded rules (the distributions are kept). */
  configure(maxKeys: number, refreshEvery: number): void {
    this.#maxKeys = maxKeys;
    this.#refreshEvery = refreshEvery;
  }

  get keys(): number {
    return this.#byKey.size;
  }

  /** Values observed under `key`. */
  count(key: string): number {
    return this.#byKey.get(key)?.sketch.count ?? 0;
  }

  /**
   * How many robust standard deviations `v` lies from the key's median on log scale; 0 while the key
   * has seen fewer than `minCount` values (warm-up), for a non-positive value, or an unknown key.
   */
  distance(key: string, v: number, minCount: number, minScale: number): number {
    if (!(v > 0)) return 0;
    let d = this.#byKey.get(key);
    if (d === undefined || d.sketch.count < minCount) d = this.#pooled;
    if (d === undefined || d.sketch.count < minCount) return 0;
    if (d.since >= this.#refreshEvery || Number.isNaN(d.centre)) refresh(d);
    const x = Math.log(v) - d.centre;
    return x < 0 ? -x / Math.max(d.below, minScale) : x / Math.max(d.above, minScale);
  }

  /** Learns `v` under `key` (non-positive values and keys past `maxKeys` are not learnt). */
  observe(key: string, v: number): void {
    if (!(v > 0) || !Number.isFinite(v)) return;
    const pooled = this.#pooled;
    if (pooled !== undefined) {
      pooled.sketch.add(v);
      pooled.since++;
    }
    let d = this.#byKey.get(key);
    if (d === undefined) {
      if (this.#byKey.size >= this.#maxKeys) return;
      d = newDistribution();
      this.#byKey.set(key, d);
    }
    d.sketch.add(v);
    d.since++;
  }

  toJSON(): RobustStatsJSON {
    const keys = [...this.#byKey].map(([key, d]) => distributionJSON(key, d));
    return this.#pooled ? { keys, pooled: distributionJSON('', this.#pooled) } : { keys };
  }

  restore(json: RobustStatsJSON): void {
    this.#byKey.clear();
    for (const j of json.keys) this.#byKey.set(j.key, fromJSON(j));
    const pooled = this.#pooled;
    if (pooled !== undefined && json.pooled !== undefined) Object.assign(pooled, fromJSON(json.pooled));
  }
}

function refresh(d: Distribution): void {
  const s = d.sketch;
  d.centre = Math.log(s.quantile(0.5));
  d.below = (d.centre - Math.log(s.quantile(0.25))) / QUARTILE_TO_SIGMA;
  d.above = (Math.log(s.quantile(0.75)) - d.centre) / QUARTILE_TO_SIGMA;
  d.since = 0;
}
