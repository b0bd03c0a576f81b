/**
 * Association rules A → B from basket counts (basket-stats.ts), for `GET /v1/association-rules`
 * and the next-best category (next-best.ts). With N baskets, n(A) baskets holding A and n(AB)
 * holding both:
 *
 *   support(A → B) = n(AB) / N,   confidence(A → B) = n(AB) / n(A),   lift = confidence / (n(B) / N)
 *
 * Counts come from Space-Saving summaries: a pair's count is taken at its lower bound (count −
 * error) and an item's at its upper bound, so support and confidence are never overstated; they
 * are exact while the summaries have not evicted anything (`exact: true`).
 */
import { type BasketLevel, type LevelCounts, pairIds } from './basket-stats.js';

interface AssociationRule {
  readonly antecedent: string;
  readonly consequent: string;
  /** Baskets holding both (lower bound). */
  readonly count: number;
  readonly support: number;
  readonly confidence: number;
  readonly lift: number;
}

export interface RuleQuery {
  readonly minSupport: number;
  readonly minConfidence: number;
  readonly limit: number;
}

export interface AssociationRules {
  readonly level: BasketLevel;
  readonly baskets: number;
  /** True when no count is an estimate (no summary has evicted a key). */
  readonly exact: boolean;
  readonly rules: AssociationRule[];
}

/** Item id → baskets holding it (upper bound). */
function itemCounts(counts: LevelCounts): Map<number, number> {
  const out = new Map<number, number>();
  for (const { key, count } of counts.items.top()) out.set(key, count);
  return out;
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * Rules with support ≥ minSupport and confidence ≥ minConfidence, by confidence, then lift, then
 * support (descending), then names; at most `limit`.
 */
export function associationRules(
  counts: LevelCounts,
  level: BasketLevel,
  query: RuleQuery,
): AssociationRules {
  const n = counts.baskets;
  const items = itemCounts(counts);
  const rules: AssociationRule[] = [];
  let exact = true;
  for (const { error } of counts.items.top()) if (error > 0) exact = false;
  for (const { key, count, error } of counts.pairs.top()) {
    if (error > 0) exact = false;
    const both = count - error;
    if (both <= 0 || n === 0) continue;
    const support = both / n;
    if (support < query.minSupport) continue;
    const [a, b] = pairIds(key);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const nFrom = items.get(from) ?? 0;
      const nTo = items.get(to) ?? 0;
      if (nFrom <= 0 || nTo <= 0) continue;
      const confidence = Math.min(1, both / nFrom);
      if (confidence < query.minConfidence) continue;
      rules.push({
        antecedent: counts.names.get(from) ?? `#${from}`,
        consequent: counts.names.get(to) ?? `#${to}`,
        count: both,
        support: round(support),
        confidence: round(confidence),
        lift: round(confidence / (nTo / n)),
      });
    }
  }
  rules.sort(
    (x, y) =>
      y.confidence - x.confidence ||
      y.lift - x.lift ||
      y.support - x.support ||
      (x.antecedent < y.antecedent ? -1 : x.antecedent > y.antecedent ? 1 : 0) ||
      (x.consequent < y.consequent ? -1 : x.consequent > y.consequent ? 1 : 0),
  );
  return { level, baskets: n, exact, rules: rules.slice(0, query.limit) };
}

/**
 * A category model for scoring: popularity and pairwise confidence over category ids, built once
 * from a level's counts and read per customer without allocating.
 */
export class CategoryModel {
  readonly baskets: number;
  /** Category ids by popularity (descending, ties by name). */
  readonly ids: readonly number[];
  readonly names: ReadonlyMap<number, string>;
  readonly #count: Map<number, number>;
  readonly #pair: Map<number, Map<number, number>>;

  constructor(counts: LevelCounts) {
    this.baskets = counts.baskets;
    this.#count = itemCounts(counts);
    this.names = new Map(counts.names);
    this.#pair = new Map();
    for (const { key, count, error } of counts.pairs.top()) {
      const both = count - error;
      if (both <= 0) continue;
      const [a, b] = pairIds(key);
      this.#row(a).set(b, both);
      this.#row(b).set(a, both);
    }
    this.ids = [...this.#count.keys()].sort(
      (x, y) =>
        this.count(y) - this.count(x) ||
        (this.nameOf(x) < this.nameOf(y) ? -1 : this.nameOf(x) > this.nameOf(y) ? 1 : 0),
    );
  }

  #row(id: number): Map<number, number> {
    let row = this.#pair.get(id);
    if (!row) this.#pair.set(id, (row = new Map()));
    return row;
  }

  nameOf(id: number): string {
    return this.names.get(id) ?? `#${id}`;
  }

  /** Baskets holding `id`. */
  count(id: number): number {
    return this.#count.get(id) ?? 0;
  }

  /** n(id) / N. */
  popularity(id: number): number {
    return this.baskets > 0 ? this.count(id) / this.baskets : 0;
  }

  /** Baskets holding both. */
  together(a: number, b: number): number {
    return this.#pair.get(a)?.get(b) ?? 0;
  }

  /** confidence(from → to) = n(from, to) / n(from); 0 without baskets holding `from`. */
  confidence(from: number, to: number): number {
    const n = this.count(from);
    return n > 0 ? Math.min(1, this.together(from, to) / n) : 0;
  }
}
