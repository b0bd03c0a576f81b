import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from '../../lib/random.js';
import { QuantileSketch } from '../../operators/analytics/quantile-sketch.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const QS = [0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 0.99, 0.999, 1];

/** Exact quantile with the sketch's rank convention: sorted[⌊q·(n − 1)⌋]. */
function exact(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

function data(seed: number, n: number): number[] {
  const u = mulberry32(seed);
  const z = gaussian(u);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = u();
    if (r < 0.05)
      out.push(0); // a zero mass, like spend of non-buyers
    else if (r < 0.5)
      out.push(Math.exp(3 + 2 * z())); // log-normal, heavy tailed
    else if (r < 0.8)
      out.push(u() * 365); // days
    else out.push(1 + Math.floor(u() * 20)); // small integers (purchase counts)
  }
  return out;
}

describe('quantile sketch (DDSketch)', () => {
  it('answers every quantile within relative error alpha of the exact quantile', () => {
    for (const alpha of [0.01, 0.02, 0.05]) {
      for (const seed of [1, 2, 3]) {
        const values = data(seed, 20_000);
        const sketch = new QuantileSketch({ alpha });
        for (const v of values) sketch.add(v);
        const sorted = [...values].sort((a, b) => a - b);
        expect(sketch.count).toBe(values.length);
        for (const q of [...QS, ...Array.from({ length: 99 }, (_, i) => (i + 1) / 100)]) {
          const want = exact(sorted, q);
          const got = sketch.quantile(q);
          expect(Math.abs(got - want)).toBeLessThanOrEqual(alpha * want + 1e-12);
        }
      }
    }
  });

  it('merges into exactly the sketch of the union, in any order', () => {
    const values = data(7, 10_000);
    const union = new QuantileSketch();
    for (const v of values) union.add(v);
    const parts = [0, 1, 2, 3].map(() => new QuantileSketch());
    values.forEach((v, i) => {
      parts[(i * 7919) % 4]!.add(v);
    });
    const a = new QuantileSketch().merge(parts[0]!).merge(parts[1]!).merge(parts[2]!).merge(parts[3]!);
    const b = new QuantileSketch()
      .merge(parts[3]!.toJSON())
      .merge(parts[1]!)
      .merge(parts[0]!)
      .merge(parts[2]!);
    for (const m of [a, b]) {
      const { sum, ...rest } = m.toJSON();
      const { sum: unionSum, ...unionRest } = union.toJSON();
      expect(rest).toEqual(unionRest);
      expect(sum).toBeCloseTo(unionSum, 6);
      for (const q of QS) expect(m.quantile(q)).toBe(union.quantile(q));
    }
  });

  it('collapses the lowest buckets beyond maxBuckets, order-independently, keeping high quantiles accurate', () => {
    const u = mulberry32(11);
    const values = Array.from({ length: 5000 }, () => 10 ** (u() * 9 - 3)); // 1e-3 .. 1e6
    const small = new QuantileSketch({ maxBuckets: 200 });
    for (const v of values) small.add(v);
    const json = small.toJSON();
    expect(json.bins.length).toBeLessThanOrEqual(200);
    const sorted = [...values].sort((a, b) => a - b);
    // 200 buckets of α = 1% span a factor e^(200·ln γ) ≈ 54: the top 1.7 of the 9 decades stay exact.
    for (const q of [0.85, 0.9, 0.95, 0.99]) {
      const want = exact(sorted, q);
      expect(Math.abs(small.quantile(q) - want)).toBeLessThanOrEqual(0.01 * want);
    }
    // Below, values sit in the collapsed lowest bucket: overestimated, never under.
    expect(small.quantile(0.5)).toBeGreaterThan(exact(sorted, 0.5));
    const reversed = new QuantileSketch({ maxBuckets: 200 });
    for (let i = values.length - 1; i >= 0; i--) reversed.add(values[i]!);
    const halves = [new QuantileSketch({ maxBuckets: 200 }), new QuantileSketch({ maxBuckets: 200 })];
    values.forEach((v, i) => {
      halves[i % 2]!.add(v);
    });
    const merged = new QuantileSketch({ maxBuckets: 200 }).merge(halves[1]!).merge(halves[0]!);
    expect(reversed.toJSON().bins).toEqual(json.bins);
    expect(merged.toJSON().bins).toEqual(json.bins);
    expect(merged.toJSON().offset).toBe(json.offset);
  });

  it('round-trips through JSON and structured clone', () => {
    const s = new QuantileSketch({ alpha: 0.02 });
    for (const v of data(5, 2000)) s.add(v);
    const copy = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
    const cloned = QuantileSketch.fromJSON(structuredClone(s.toJSON()));
    for (const q of QS) {
      expect(copy.quantile(q)).toBe(s.quantile(q));
      expect(cloned.quantile(q)).toBe(s.quantile(q));
    }
    expect(copy.count).toBe(s.count);
  });

  it('handles empty sketches, zeros, negatives, NaN and weights', () => {
    const s = new QuantileSketch();
    expect(s.quantile(0.5)).toBeNaN();
    expect(s.min).toBeNaN();
    expect(new QuantileSketch().merge(s).count).toBe(0);
    s.add(Number.NaN);
    s.add(Number.POSITIVE_INFINITY);
    s.add(5, 0);
    expect(s.count).toBe(0);
    s.add(-3); // taken as 0
    s.add(0);
    s.add(10, 2);
    expect(s.count).toBe(4);
    expect(s.min).toBe(0);
    expect(s.max).toBe(10);
    expect(s.quantile(0)).toBe(0);
    expect(s.quantile(0.3)).toBe(0); // rank 0.9 → the zero bucket
    expect(s.quantile(0.5)).toBe(0); // rank 1.5 → sorted[1] = 0
    expect(s.quantile(0.7)).toBe(10); // rank 2.1: clamped to the exact max
    expect(s.quantile(1)).toBe(10);
    expect(s.sum).toBe(20);
    s.reset();
    expect(s.count).toBe(0);
    s.add(3);
    expect(s.quantile(0.5)).toBe(3);
  });

  it('refuses to merge sketches of different accuracy and invalid settings', () => {
    expect(() => new QuantileSketch({ alpha: 0.01 }).merge(new QuantileSketch({ alpha: 0.02 }))).toThrow(
      coded('BW_ERR_STATE_MISMATCH', /same alpha/),
    );
    expect(() => new QuantileSketch({ alpha: 0 })).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /alpha must be in \(0, 1\), got 0/),
    );
    expect(() => new QuantileSketch({ alpha: 1 })).toThrow(coded('BW_ERR_INVALID_ARGUMENT', /got 1$/));
    expect(() => new QuantileSketch({ maxBuckets: 1 })).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /maxBuckets must be an integer ≥ 2, got 1/),
    );
    expect(() => new QuantileSketch({ minValue: 0 })).toThrow(
      coded('BW_ERR_INVALID_ARGUMENT', /minValue must be a finite number > 0, got 0/),
    );
  });
});
