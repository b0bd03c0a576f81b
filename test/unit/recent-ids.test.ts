import { describe, expect, it } from 'vitest';
import { fingerprint, RecentIds } from '../../engine/state/recent-ids.js';
import { mulberry32 } from '../../lib/random.js';

/** What RecentIds promises, kept the obvious way: a Set and a ring of the ids. */
class Reference {
  readonly set = new Set<string>();
  readonly ring: string[] = [];
  constructor(readonly capacity: number) {}
  add(id: string): boolean {
    if (this.set.has(id)) return false;
    if (this.ring.length === this.capacity) this.set.delete(this.ring.shift()!);
    this.ring.push(id);
    this.set.add(id);
    return true;
  }
}

describe('RecentIds', () => {
  it('remembers the last capacity distinct ids, forgetting the oldest first', () => {
    const r = new RecentIds(3);
    expect(['a', 'b', 'a', 'c'].map((id) => r.add(id))).toEqual([true, true, false, true]);
    expect(r.add('d')).toBe(true); // forgets a
    expect(r.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((id) => r.has(id))).toBe(true);
    expect(r.add('b')).toBe(false); // a repeat does not refresh b
    expect(r.add('e')).toBe(true); // forgets b
    expect(r.has('b')).toBe(false);
    expect(r.size).toBe(3);
  });

  it('answers exactly like a Set with a ring over 200,000 random adds (deletions shift probe chains)', () => {
    const rand = mulberry32(11);
    for (const capacity of [1, 7, 64, 1000]) {
      const r = new RecentIds(capacity);
      const ref = new Reference(capacity);
      // Ids drawn from a pool a few times the capacity: many repeats, many evictions.
      const pool = capacity * 3 + 5;
      for (let i = 0; i < 50_000; i++) {
        const id = `evt-${Math.floor(rand() * pool)}`;
        expect(r.add(id)).toBe(ref.add(id));
      }
      expect(r.size).toBe(ref.set.size);
      for (let k = 0; k < pool; k++) expect(r.has(`evt-${k}`)).toBe(ref.set.has(`evt-${k}`));
    }
  });

  it('restores to the same memory from its fingerprints, oldest first', () => {
    const r = new RecentIds(4);
    for (let i = 0; i < 10; i++) r.add(`e${i}`);
    const fps = r.fingerprints();
    expect(fps.length).toBe(8);
    const expected = new Uint32Array(2);
    fingerprint('e6', expected, 0);
    expect([fps[0], fps[1]]).toEqual([expected[0], expected[1]]);
    const again = new RecentIds(4);
    for (let i = 0; i < fps.length; i += 2) again.addFingerprint(fps[i]!, fps[i + 1]!);
    expect(again.fingerprints()).toEqual(fps);
    expect(again.add('e5')).toBe(true);
    expect(again.add('e9')).toBe(false);
    // e6 was the oldest, so adding e5 forgot it.
    expect(again.has('e6')).toBe(false);
  });

  it('gives distinct fingerprints to near-identical ids', () => {
    const seen = new Set<string>();
    const fp = new Uint32Array(2);
    for (let i = 0; i < 100_000; i++) {
      fingerprint(`order-2026-11-23-${i}`, fp, 0);
      expect(fp[1]! & 1).toBe(1);
      seen.add(`${fp[0]}:${fp[1]}`);
    }
    expect(seen.size).toBe(100_000);
  });
});
