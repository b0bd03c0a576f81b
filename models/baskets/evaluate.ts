/**
 * Offline evaluation of the next-best category (docs/analytics.md#evaluation) on a time split:
 * the engine's own operators (BasketTracker, CategoryModel, NextBestTracker) fold every basket
 * line before `cutoff`, in time order, as the engine would (one purchase event per line, the
 * invoice as `session_id`); then, for each customer who bought before the cutoff and again after
 * it, the categories of the customer's FIRST basket after the cutoff are the target.
 *
 * hit@k = share of those customers for whom at least one target category is among the k
 * recommended. `novel` counts only target categories that were not in the customer's last
 * basket before the cutoff (customers with none are left out): what a recommender that leaves
 * out what was just bought can hope to hit.
 *
 * Methods:
 * - `next_best`: the recommender as served (just-bought categories excluded);
 * - `next_best_keep_bought`: the same scores without that exclusion;
 * - `popularity`: the categories in most training baskets;
 * - `bought_together`: the categories most often in a basket with those of the customer's last
 *   basket (Σ over its categories of n(l, c)), not in it, then by popularity.
 *
 * At the sku level (`skus`): the skus the recommender serves (the most bought skus of its top
 * categories), the most popular skus, and the skus most often bought with the last basket's skus
 * (not in it), all from the engine's bounded sku summaries.
 */
import { eventTypeIndex } from '../../contract/event-types.js';
import { CategoryModel } from '../../operators/analytics/association-rules.js';
import { itemId, type LevelCounts, pairIds } from '../../operators/analytics/basket-stats.js';
import { BasketTracker } from '../../operators/analytics/baskets.js';
import { NextBestTracker } from '../../operators/analytics/next-best.js';
import { ColumnStore } from '../../operators/state/column-store.js';
import type { RetailLine } from '../datasets/online-retail-lines.js';

const PURCHASE = eventTypeIndex('purchase');
const KS = [5, 10] as const;

export const BASKET_EVAL_METHODS = [
  'next_best',
  'next_best_keep_bought',
  'popularity',
  'bought_together',
] as const;
type BasketEvalMethod = (typeof BASKET_EVAL_METHODS)[number];

interface HitRates {
  /** Customers evaluated. */
  readonly customers: number;
  readonly hit_at_5: number;
  readonly hit_at_10: number;
}

export interface BasketEvalReport {
  readonly cutoff: string;
  readonly train: { readonly lines: number; readonly baskets: number; readonly customers: number };
  readonly categories: number;
  /** Mean distinct categories per target basket. */
  readonly target_categories_mean: number;
  readonly methods: Record<BasketEvalMethod, { readonly all: HitRates; readonly novel: HitRates }>;
  /** The same customers, at the sku level: any sku of the next basket among the k recommended. */
  readonly skus: Record<SkuMethod, HitRates>;
}

const SKU_METHODS = ['next_best', 'popularity', 'bought_together'] as const;
type SkuMethod = (typeof SKU_METHODS)[number];

interface Invoice {
  readonly ts: number;
  readonly categories: Set<number>;
  readonly skus: Set<number>;
}

/** Each customer's invoices in time order, split at the cutoff. */
function invoicesByCustomer(lines: readonly RetailLine[]): Map<string, Map<string, Invoice>> {
  const out = new Map<string, Map<string, Invoice>>();
  for (const line of lines) {
    let invoices = out.get(line.customer);
    if (!invoices) out.set(line.customer, (invoices = new Map()));
    let inv = invoices.get(line.invoice);
    if (!inv) invoices.set(line.invoice, (inv = { ts: line.ts, categories: new Set(), skus: new Set() }));
    inv.categories.add(itemId(line.category));
    inv.skus.add(itemId(line.sku));
  }
  return out;
}

class Tally {
  customers = 0;
  readonly hits = [0, 0];

  add(ranked: readonly number[], target: ReadonlySet<number>): void {
    if (target.size === 0) return;
    this.customers++;
    KS.forEach((k, i) => {
      if (ranked.slice(0, k).some((id) => target.has(id))) this.hits[i]!++;
    });
  }

  rates(): HitRates {
    const rate = (h: number) => (this.customers > 0 ? Math.round((h / this.customers) * 10_000) / 10_000 : 0);
    return { customers: this.customers, hit_at_5: rate(this.hits[0]!), hit_at_10: rate(this.hits[1]!) };
  }
}

function boughtTogether(model: CategoryModel, last: ReadonlySet<number>, limit: number): number[] {
  const scored = model.ids
    .filter((c) => !last.has(c))
    .map((c) => {
      let s = 0;
      for (const l of last) s += model.together(l, c);
      return { c, s };
    });
  // Stable sort: ties keep the popularity order of model.ids.
  scored.sort((a, b) => b.s - a.s);
  return scored.slice(0, limit).map((x) => x.c);
}

/** Skus most often bought with those of `last` (pair counts at their lower bound), then by popularity. */
function skusTogether(
  counts: LevelCounts,
  popular: readonly number[],
  last: ReadonlySet<number>,
  limit: number,
): number[] {
  const score = new Map<number, number>();
  for (const { key, count, error } of counts.pairs.top()) {
    const [a, b] = pairIds(key);
    if (last.has(a) && !last.has(b)) score.set(b, (score.get(b) ?? 0) + count - error);
    if (last.has(b) && !last.has(a)) score.set(a, (score.get(a) ?? 0) + count - error);
  }
  const ranked = [...score].sort((x, y) => y[1] - x[1]).map(([id]) => id);
  for (const id of popular) if (ranked.length < limit && !last.has(id) && !score.has(id)) ranked.push(id);
  return ranked.slice(0, limit);
}

/** Runs the evaluation over basket lines (any order; sorted by time here, stable). */
export function evaluateBaskets(input: readonly RetailLine[], cutoff: number): BasketEvalReport {
  const lines = [...input].sort((a, b) => a.ts - b.ts);
  const train = lines.filter((l) => l.ts < cutoff);
  const slots = new Map<string, number>();
  for (const l of train) if (!slots.has(l.customer)) slots.set(l.customer, slots.size);
  const tracker = new BasketTracker();
  const next = new NextBestTracker(new ColumnStore(Math.max(1, slots.size)));
  for (const l of train) {
    const slot = slots.get(l.customer)!;
    tracker.onEvent(slot, true, l.ts, l.invoice, l.sku, l.category);
    next.onEvent(slot, PURCHASE, l.ts, l.category);
  }
  tracker.closeExpired(Number.POSITIVE_INFINITY);
  const model = new CategoryModel(tracker.stats.category);
  const skuTop = tracker.stats.sku.items.top();
  const popularSkus = skuTop.slice(0, 10).map((s) => s.key);
  const skuTallies = Object.fromEntries(SKU_METHODS.map((m) => [m, new Tally()])) as Record<SkuMethod, Tally>;
  const tallies = Object.fromEntries(
    BASKET_EVAL_METHODS.map((m) => [m, { all: new Tally(), novel: new Tally() }]),
  ) as Record<BasketEvalMethod, { all: Tally; novel: Tally }>;
  let targetCategories = 0;
  let targets = 0;
  for (const [customer, invoices] of invoicesByCustomer(lines)) {
    const slot = slots.get(customer);
    if (slot === undefined) continue;
    const ordered = [...invoices.values()].sort((a, b) => a.ts - b.ts);
    const before = ordered.filter((i) => i.ts < cutoff);
    const after = ordered.find((i) => i.ts >= cutoff);
    const last = before[before.length - 1];
    if (!after || !last) continue;
    const target = after.categories;
    const novel = new Set([...target].filter((c) => !last.categories.has(c)));
    targets++;
    targetCategories += target.size;
    const ranked: Record<BasketEvalMethod, number[]> = {
      next_best: next.rank(slot, model, 10).map((r) => r.id),
      next_best_keep_bought: next.rank(slot, model, 10, true).map((r) => r.id),
      popularity: model.ids.slice(0, 10),
      bought_together: boughtTogether(model, last.categories, 10),
    };
    for (const m of BASKET_EVAL_METHODS) {
      tallies[m].all.add(ranked[m], target);
      tallies[m].novel.add(ranked[m], novel);
    }
    const served = next.recommend(slot, model, tracker.stats.sku, skuTop, cutoff, 10).skus;
    skuTallies.next_best.add(
      served.map((s) => itemId(s.sku)),
      after.skus,
    );
    skuTallies.popularity.add(popularSkus, after.skus);
    skuTallies.bought_together.add(skusTogether(tracker.stats.sku, popularSkus, last.skus, 10), after.skus);
  }
  const methods = Object.fromEntries(
    BASKET_EVAL_METHODS.map((m) => [m, { all: tallies[m].all.rates(), novel: tallies[m].novel.rates() }]),
  ) as BasketEvalReport['methods'];
  return {
    cutoff: new Date(cutoff).toISOString().slice(0, 10),
    train: { lines: train.length, baskets: tracker.stats.category.baskets, customers: slots.size },
    categories: model.ids.length,
    target_categories_mean: targets > 0 ? Math.round((targetCategories / targets) * 100) / 100 : 0,
    methods,
    skus: Object.fromEntries(SKU_METHODS.map((m) => [m, skuTallies[m].rates()])) as BasketEvalReport['skus'],
  };
}
