import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../lib/random.js';
import { ADD_EXISTING, ADD_NEW, ADD_REFUSED, BucketLog } from '../../operators/state/bucket-log.js';
import { ColumnStore } from '../../operators/state/column-store.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

/** The dense ring the log replaces: head = newest bucket, buckets older than head - length + 1 dropped. */
class ReferenceRing {
  head: number | undefined;
  readonly values = new Map<number, number>();
  constructor(readonly length: number) {}

  add(bucket: number, delta: number, max: number): number {
    if (this.head === undefined) this.head = bucket;
    else if (bucket > this.head) {
      this.head = bucket;
      for (const b of [...this.values.keys()]) if (b <= bucket - this.length) this.values.delete(b);
    }
    if (bucket <= this.head - this.length) return ADD_REFUSED;
    const had = this.values.has(bucket);
    this.values.set(bucket, Math.min(max, (this.values.get(bucket) ?? 0) + delta));
    return had ? ADD_EXISTING : ADD_NEW;
  }

  sums(now: number, windows: readonly number[]): number[] {
    return windows.map((w) => {
      let sum = 0;
      for (const [b, v] of this.values) if (b <= now && b > now - w) sum += v;
      return sum;
    });
  }
}

const STREAMS = [
  { name: 'a90', length: 90, windows: [7, 30, 90] },
  { name: 'b30', length: 30, windows: [7, 30] },
  { name: 'h24', length: 24, windows: [24] },
  { name: 'd512', length: 512, windows: [512] },
];

describe('bucket log', () => {
  it('matches a dense ring per stream under random, late, repeated and far-jumping events', () => {
    const random = mulberry32(7);
    const log = new BucketLog('t', 4);
    const ids = STREAMS.map((s) => log.stream(s.name, s.length));
    const slots = 4;
    const refs = Array.from({ length: slots }, () => STREAMS.map((s) => new ReferenceRing(s.length)));
    let base = 20_000; // a day number of 2024
    for (let step = 0; step < 20_000; step++) {
      const slot = Math.floor(random() * slots);
      const s = Math.floor(random() * STREAMS.length);
      const r = random();
      // Mostly near the present, some late, a few jumps far ahead (the whole ring falls out).
      if (r < 0.002) base += 600 + Math.floor(random() * 400);
      else if (r < 0.2) base += 1;
      const bucket = r < 0.7 ? base - Math.floor(random() * 5) : base - Math.floor(random() * 700);
      const delta = 1 + Math.floor(random() * 3);
      const got = log.add(slot, ids[s]!, bucket, delta, 0, 1000);
      expect(got).toBe(refs[slot]![s]!.add(bucket, delta, 1000));
      if (step % 97 === 0) {
        for (let k = 0; k < STREAMS.length; k++) {
          const now = base + Math.floor(random() * 40) - 10;
          const windows = STREAMS[k]!.windows;
          const out = new Float64Array(windows.length);
          log.sums(slot, ids[k]!, now, Int32Array.from(windows), out, 0);
          expect([...out]).toEqual(refs[slot]![k]!.sums(now, windows));
        }
      }
    }
  });

  it('compares buckets across a multiple of 2^24 (they are kept in 24 bits)', () => {
    const log = new BucketLog('t', 1);
    const s = log.stream('m5', 12);
    const ref = new ReferenceRing(12);
    const base = 3 * 2 ** 24 - 6; // a 5-minute bucket of 2129
    for (let k = 0; k < 30; k++) {
      const bucket = base + k - (k % 4 === 3 ? 5 : 0);
      expect(log.add(0, s, bucket, 1, 0, 65535)).toBe(ref.add(bucket, 1, 65535));
      const out = new Float64Array(2);
      log.sums(0, s, base + k, Int32Array.of(1, 12), out, 0);
      expect([...out]).toEqual(ref.sums(base + k, [1, 12]));
    }
    expect(log.entries(0)).toBeLessThanOrEqual(12);
  });

  it('keeps only the buckets that received events', () => {
    const log = new BucketLog('t', 2);
    const s = log.stream('d', 90);
    log.add(0, s, 100, 1, 0, 65535);
    log.add(0, s, 100, 1, 0, 65535);
    log.add(0, s, 150, 1, 0, 65535);
    expect(log.entries(0)).toBe(2);
    log.add(0, s, 240, 1, 0, 65535); // bucket 100 and 150 fall out (240 - 90 = 150)
    expect(log.entries(0)).toBe(1);
    expect(log.entries(1)).toBe(0);
  });

  it('clamps sums to the given range', () => {
    const log = new BucketLog('t', 1);
    const s = log.stream('c', 7);
    for (let i = 0; i < 70_000; i++) log.add(0, s, 5, 1, 0, 65535);
    log.add(0, s, 6, -5, -10, 10);
    const out = new Float64Array(1);
    log.sums(0, s, 6, Int32Array.of(7), out, 0);
    expect(out[0]).toBe(65535 - 5);
  });

  it('moves, clears and reuses blocks; survives export and import into a new store', () => {
    const store = new ColumnStore(4);
    const log = store.bucketLog();
    const a = log.stream('a', 30);
    const b = log.stream('b', 7);
    store.ensure(40);
    for (let slot = 0; slot < 40; slot++)
      for (let k = 0; k <= slot % 9; k++) {
        log.add(slot, a, 1000 - k, slot + 1, 0, 65535);
        log.add(slot, b, 1000 - (k % 3), 1, 0, 65535);
      }
    const sums = (l: BucketLog, slot: number) => {
      const out = new Float64Array(3);
      l.sums(slot, a, 1000, Int32Array.of(7, 30), out, 0);
      l.sums(slot, b, 1000, Int32Array.of(7), out, 2);
      return [...out];
    };
    const before = Array.from({ length: 40 }, (_, s) => sums(log, s));
    store.moveSlot(39, 3); // slot 3 takes slot 39's buckets
    store.clear(39);
    expect(sums(log, 3)).toEqual(before[39]);
    expect(sums(log, 39)).toEqual([0, 0, 0]);
    const bytes = log.byteLength();
    for (let round = 0; round < 50; round++) {
      store.clear(5);
      for (let k = 0; k < 6; k++) log.add(5, a, 1000 - k, 6, 0, 65535);
    }
    expect(log.byteLength()).toBe(bytes); // freed blocks are reused, the arena does not grow

    const restored = new ColumnStore(4);
    const log2 = restored.bucketLog();
    // Declared in another order, plus one stream the checkpoint does not know: matched by name.
    expect(log2.stream('c', 5)).toBe(0);
    log2.stream('b', 7);
    log2.stream('a', 30);
    restored.importSlots(39, store.exportSlots(39));
    for (let slot = 0; slot < 39; slot++) {
      const out = new Float64Array(3);
      log2.sums(slot, 2, 1000, Int32Array.of(7, 30), out, 0);
      log2.sums(slot, 1, 1000, Int32Array.of(7), out, 2);
      expect([...out]).toEqual(sums(log, slot));
    }
  });

  it('holds amount sums past 32 bits in a float64 log, exact to the cent', () => {
    const store = new ColumnStore(4);
    const log = store.bucketLog('amounts', 'f64');
    const s = log.stream('spend', 7);
    const inf = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) log.add(1, s, 50, 99_999_999_999_99, -inf, inf); // 3 × 999,999,999,999.99
    log.add(1, s, 50, 1, -inf, inf);
    const out = new Float64Array(1);
    log.sums(1, s, 50, Int32Array.of(7), out, 0);
    expect(out[0]).toBe(3 * 99_999_999_999_99 + 1);
    const restored = new ColumnStore(4);
    const again = restored.bucketLog('amounts', 'f64');
    again.stream('spend', 7);
    restored.importSlots(2, store.exportSlots(2));
    again.sums(1, 0, 50, Int32Array.of(7), out, 0);
    expect(out[0]).toBe(3 * 99_999_999_999_99 + 1);
    expect(() => store.bucketLog('amounts')).toThrow(/declared with f64 and i32/);
  });

  it('takes the spend stream of a checkpoint written before amounts had their own log', () => {
    // Before 2026-12-07 every stream was in the default i32 log `buckets`.
    const old = new ColumnStore(4);
    const oldLog = old.bucketLog();
    const count = oldLog.stream('purchases', 30);
    const spend = oldLog.stream('spend', 90);
    oldLog.add(0, count, 100, 2, 0, 65535);
    oldLog.add(0, spend, 100, 12_345, -(2 ** 31 - 1), 2 ** 31 - 1);
    oldLog.add(0, spend, 99, -45, -(2 ** 31 - 1), 2 ** 31 - 1);
    const now = new ColumnStore(4);
    const counts = now.bucketLog();
    const c = counts.stream('purchases', 30);
    const amounts = now.bucketLog('amounts', 'f64');
    const a = amounts.stream('spend', 90);
    now.importSlots(1, old.exportSlots(1));
    const out = new Float64Array(2);
    counts.sums(0, c, 100, Int32Array.of(30), out, 0);
    amounts.sums(0, a, 100, Int32Array.of(90), out, 1);
    expect([...out]).toEqual([2, 12_300]);
    expect(counts.entries(0)).toBe(1);
    expect(amounts.entries(0)).toBe(2);
  });

  it('drops the entries of a stream whose length changed since the export', () => {
    const store = new ColumnStore(4);
    const s = store.bucketLog().stream('a', 30);
    store.bucketLog().add(0, s, 10, 3, 0, 65535);
    const restored = new ColumnStore(4);
    const t = restored.bucketLog().stream('a', 60);
    restored.importSlots(1, store.exportSlots(1));
    const out = new Float64Array(1);
    restored.bucketLog().sums(0, t, 10, Int32Array.of(30), out, 0);
    expect(out[0]).toBe(0);
    expect(restored.bucketLog().entries(0)).toBe(0);
  });

  it('refuses streams and columns declared twice with different shapes, and rings out of range', () => {
    const log = new BucketLog('t', 1);
    expect(log.stream('a', 30)).toBe(log.stream('a', 30));
    expect(() => log.stream('a', 60)).toThrow(coded('BW_ERR_FEATURE_DEFINITION', /with 30 and 60 buckets/));
    expect(() => log.stream('b', 0)).toThrow(
      coded('BW_ERR_FEATURE_DEFINITION', /1 to 4194303 buckets, got 0/),
    );
    const store = new ColumnStore(4);
    store.column({ name: 'x', kind: 'f64', width: 2 });
    expect(() => store.column({ name: 'x', kind: 'f32', width: 2 })).toThrow(
      coded('BW_ERR_FEATURE_DEFINITION', /x is declared as f64×2 and as f32×2/),
    );
  });
});
