/**
 * Which member should own each partition: a pure function of the partition count, the live members
 * and the current owner of each partition, so every instance that sees the same inputs computes the
 * same answer.
 *
 * - Balanced: with P partitions and M members every member gets floor(P/M) or ceil(P/M).
 * - Sticky: a partition stays with its current owner whenever that owner is live and within its
 *   quota, and the quotas (which members get the extra partition) go to the members that already
 *   hold more than floor(P/M). This keeps the largest possible number of partitions where they
 *   are, so a join or a leave moves the theoretical minimum.
 * - Deterministic: members are taken in sorted order, partitions in ascending order; input order
 *   and duplicates do not matter, an owner that is not a live member counts as no owner.
 */

/** `owners[p]`: the member that owns partition p now, or null/undefined when nobody does. */
export type CurrentOwners = ReadonlyArray<string | null | undefined>;

/** The member each partition should go to (null only when there are no members). */
export function assignPartitions(
  partitions: number,
  members: ReadonlyArray<string>,
  owners: CurrentOwners,
): (string | null)[] {
  if (!Number.isInteger(partitions) || partitions < 0) {
    throw new RangeError(`partition count must be a non-negative integer, got ${partitions}`);
  }
  const sorted = [...new Set(members)].sort(compareIds);
  const target: (string | null)[] = new Array<string | null>(partitions).fill(null);
  if (sorted.length === 0 || partitions === 0) return target;

  const live = new Set(sorted);
  // What each live member holds now, partitions ascending.
  const holding = new Map<string, number[]>(sorted.map((m) => [m, []]));
  for (let p = 0; p < partitions; p += 1) {
    const owner = owners[p];
    if (owner != null && live.has(owner)) holding.get(owner)?.push(p);
  }

  const quotas = quotasOf(partitions, sorted, holding);
  const unplaced: number[] = [];
  for (const member of sorted) {
    const held = holding.get(member) ?? [];
    const quota = quotas.get(member) ?? 0;
    held.forEach((p, i) => {
      if (i < quota) target[p] = member;
    });
  }
  for (let p = 0; p < partitions; p += 1) if (target[p] === null) unplaced.push(p);

  // Fill each member up to its quota with the unplaced partitions, members and partitions in order.
  let next = 0;
  for (const member of sorted) {
    const kept = Math.min(holding.get(member)?.length ?? 0, quotas.get(member) ?? 0);
    for (let k = kept; k < (quotas.get(member) ?? 0); k += 1) {
      const p = unplaced[next];
      if (p === undefined) break;
      target[p] = member;
      next += 1;
    }
  }
  return target;
}

/**
 * Each member's quota: floor(P/M), and floor(P/M)+1 for P mod M of them. The extra places go
 * first to members that hold more than floor(P/M) now (most held first, then by id), so they keep
 * one more; the rest to the others by id.
 */
function quotasOf(
  partitions: number,
  sorted: ReadonlyArray<string>,
  holding: ReadonlyMap<string, ReadonlyArray<number>>,
): Map<string, number> {
  const base = Math.floor(partitions / sorted.length);
  let extras = partitions % sorted.length;
  const quotas = new Map<string, number>(sorted.map((m) => [m, base]));
  const heldCount = (m: string): number => holding.get(m)?.length ?? 0;
  const over = sorted
    .filter((m) => heldCount(m) > base)
    .sort((a, b) => heldCount(b) - heldCount(a) || compareIds(a, b));
  const order = [...over, ...sorted.filter((m) => heldCount(m) <= base)];
  for (const member of order) {
    if (extras === 0) break;
    quotas.set(member, base + 1);
    extras -= 1;
  }
  return quotas;
}

/** Plain code-unit order: the same on every host, whatever its locale. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Partitions whose owner changes from `owners` to `target` (a partition with no owner counts). */
export function movesBetween(owners: CurrentOwners, target: ReadonlyArray<string | null>): number {
  let moves = 0;
  target.forEach((member, p) => {
    if ((owners[p] ?? null) !== member) moves += 1;
  });
  return moves;
}
