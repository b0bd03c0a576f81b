import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../engine/recent-ids.js';

describe('RecentIds', () => {
  it('remembers the last capacity distinct ids, forgetting the oldest first', () => {
    const r = new RecentIds(3);
    expect(['a', 'b', 'a', 'c'].map((id) => r.add(id))).toEqual([true, true, false, true]);
    expect(r.ids()).toEqual(['a', 'b', 'c']);
    expect(r.add('d')).toBe(true); // forgets a
    expect(r.has('a')).toBe(false);
    expect(r.ids()).toEqual(['b', 'c', 'd']);
    expect(r.add('b')).toBe(false); // a repeat does not refresh b
    expect(r.add('e')).toBe(true); // forgets b
    expect(r.ids()).toEqual(['c', 'd', 'e']);
    expect(r.size).toBe(3);
  });

  it('restores to the same memory from its ids', () => {
    const r = new RecentIds(4);
    for (let i = 0; i < 10; i++) r.add(`e${i}`);
    const again = new RecentIds(4);
    for (const id of r.ids()) again.add(id);
    expect(again.ids()).toEqual(r.ids());
    expect(again.add('e5')).toBe(true);
    expect(again.add('e9')).toBe(false);
  });
});
