import { describe, expect, it } from 'vitest';
import { assignPartitions, type CurrentOwners, movesBetween } from '../../engine/cluster/assignment.js';
import { mulberry32 } from '../../lib/random.js';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `m${i}`);

function counts(target: ReadonlyArray<string | null>): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of target) if (m !== null) out.set(m, (out.get(m) ?? 0) + 1);
  return out;
}

/** Every member gets floor or ceil of P/M, and every partition has a member. */
function expectBalanced(partitions: number, members: string[], target: ReadonlyArray<string | null>): void {
  expect(target).toHaveLength(partitions);
  const floor = Math.floor(partitions / members.length);
  const ceil = Math.ceil(partitions / members.length);
  const per = counts(target);
  for (const m of members) {
    const n = per.get(m) ?? 0;
    expect(n).toBeGreaterThanOrEqual(floor);
    expect(n).toBeLessThanOrEqual(ceil);
  }
  expect(target.every((m) => m !== null && members.includes(m))).toBe(true);
}

/** r-subsets of 0..n-1 */
function* subsets(n: number, r: number, from = 0): Generator<number[]> {
  if (r === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= n - r; i += 1) for (const rest of subsets(n, r - 1, i + 1)) yield [i, ...rest];
}

/**
 * The fewest partitions any balanced assignment must move, by brute force over which members get
 * the extra partition: P minus the most partitions that can stay with a live owner.
 */
function minimumMoves(partitions: number, members: string[], owners: CurrentOwners): number {
  const base = Math.floor(partitions / members.length);
  const extras = partitions % members.length;
  const held = members.map((m) => owners.filter((o) => o === m).length);
  let bestKept = 0;
  for (const withExtra of subsets(members.length, extras)) {
    const extra = new Set(withExtra);
    const kept = held.reduce((sum, h, i) => sum + Math.min(h, base + (extra.has(i) ? 1 : 0)), 0);
    bestKept = Math.max(bestKept, kept);
  }
  return partitions - bestKept;
}

describe('partition assignment', () => {
  it('gives every member floor or ceil of P/M from nothing', () => {
    const target = assignPartitions(16, ['b', 'a', 'c'], []);
    expectBalanced(16, ['a', 'b', 'c'], target);
    expect([...counts(target).values()].sort()).toEqual([5, 5, 6]);
  });

  it('gives no partition to anyone when there are no members', () => {
    expect(assignPartitions(4, [], ['x', 'y', null, 'x'])).toEqual([null, null, null, null]);
    expect(assignPartitions(0, ['a'], [])).toEqual([]);
  });

  it('keeps a balanced assignment as it is', () => {
    const first = assignPartitions(16, ids(3), []);
    expect(assignPartitions(16, ids(3), first)).toEqual(first);
  });

  it('moves only what the joining member needs on a join', () => {
    const before = assignPartitions(16, ['a', 'b'], []);
    const after = assignPartitions(16, ['a', 'b', 'c'], before);
    expectBalanced(16, ['a', 'b', 'c'], after);
    // c needs 5: exactly 5 partitions move, all of them to c.
    expect(movesBetween(before, after)).toBe(5);
    after.forEach((m, p) => {
      if (m !== before[p]) expect(m).toBe('c');
    });
  });

  it('moves only the leaving member’s partitions on a leave', () => {
    const before = assignPartitions(16, ['a', 'b', 'c'], []);
    const after = assignPartitions(16, ['a', 'c'], before);
    expectBalanced(16, ['a', 'c'], after);
    const ofB = before.filter((m) => m === 'b').length;
    expect(movesBetween(before, after)).toBe(ofB);
    after.forEach((m, p) => {
      if (before[p] !== 'b') expect(m).toBe(before[p]);
    });
  });

  it('treats an owner that is not a live member as no owner', () => {
    const target = assignPartitions(4, ['a', 'b'], ['ghost', 'ghost', 'a', 'b']);
    expectBalanced(4, ['a', 'b'], target);
    expect(target[2]).toBe('a');
    expect(target[3]).toBe('b');
  });

  it('answers the same whatever the order of members and with duplicates', () => {
    const owners = ['c', 'a', null, 'b', 'b', 'b', 'b', 'x', 'a'];
    const one = assignPartitions(9, ['a', 'b', 'c'], owners);
    expect(assignPartitions(9, ['c', 'b', 'a', 'b'], owners)).toEqual(one);
    expect(assignPartitions(9, ['b', 'a', 'c'], [...owners])).toEqual(one);
  });

  it('orders member ids by code units, not by locale', () => {
    const target = assignPartitions(3, ['b', 'B', 'a'], []);
    expect(target).toEqual(['B', 'a', 'b']);
  });

  it('holds balance, stickiness and minimal moves for 1..64 partitions and 1..7 members', () => {
    const random = mulberry32(17);
    for (let partitions = 1; partitions <= 64; partitions += 1) {
      for (let m = 1; m <= 7; m += 1) {
        const members = ids(m);
        // Random current owners: some live members, some gone, some unowned; then the same from a
        // balanced start followed by one join and one leave.
        const pool = [...ids(m + 2), null];
        const randomOwners = Array.from(
          { length: partitions },
          () => pool[Math.floor(random() * pool.length)] ?? null,
        );
        const balanced = assignPartitions(partitions, members, []);
        const scenarios: [string[], CurrentOwners][] = [
          [members, randomOwners],
          [[...members, 'joiner'], balanced],
          [members.slice(1), balanced],
        ];
        for (const [live, owners] of scenarios) {
          if (live.length === 0) continue;
          const target = assignPartitions(partitions, live, owners);
          expectBalanced(partitions, live, target);
          expect(movesBetween(owners, target)).toBe(minimumMoves(partitions, live, owners));
          expect(assignPartitions(partitions, [...live].reverse(), owners)).toEqual(target);
          // Sticky: a live owner keeps every partition up to its quota.
          const per = counts(target);
          for (const member of live) {
            const had = owners.filter((o) => o === member).length;
            const kept = owners.filter((o, p) => o === member && target[p] === member).length;
            expect(kept).toBe(Math.min(had, per.get(member) ?? 0));
          }
          // Stable: applying it again moves nothing.
          expect(assignPartitions(partitions, live, target)).toEqual(target);
        }
      }
    }
  });

  it('rejects a partition count that is not a non-negative integer', () => {
    expect(() => assignPartitions(-1, ['a'], [])).toThrow(RangeError);
    expect(() => assignPartitions(1.5, ['a'], [])).toThrow(RangeError);
  });
});
