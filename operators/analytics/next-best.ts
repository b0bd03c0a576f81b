/**
 * Next-best category per customer (docs/analytics.md#next-best-category).
 *
 * State per customer, in typed columns (56 bytes): the 4 categories with the highest interest
 * (`reco.categories` u32×4, `reco.weights` f32×4, decayed with a 14-day half-life in event time
 * from `reco.at` f64), and the 4 categories bought last (`reco.bought` u32×4, latest first).
 * A `page_view` with a category adds 1, an `add_to_cart` 3, a `purchase` 5; a category not among
 * the 4 replaces the weakest when its weight is at least as large (the newer wins a tie).
 *
 * Score of a candidate category c (not among those bought last), with ω the customer's weights
 * normalised to sum 1 and the category rules of {@link CategoryModel}:
 *
 *   score(c) = Σ_r ω_r · (r = c ? 1 : confidence(r → c)) + 0.01 · popularity(c)
 *
 * so a customer with no history gets the most popular categories, one who bought A gets the
 * categories bought together with A, and interest in c itself (views, carts, earlier purchases)
 * counts fully. Category ids are item ids (basket-stats.ts); the names seen are kept in a
 * dictionary of at most {@link MAX_NAMES}.
 */
import { eventTypeIndex } from '../../contract/event-types.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import type { CategoryModel } from './association-rules.js';
import { itemId, type LevelCounts } from './basket-stats.js';
import type { SpaceSavingItem } from './space-saving.js';

const K = 4;
const HALF_LIFE_MS = 14 * 86_400_000;
const POPULARITY_WEIGHT = 0.01;
const MAX_NAMES = 4096;
const WEIGHT = new Map<number, number>([
  [eventTypeIndex('page_view'), 1],
  [eventTypeIndex('add_to_cart'), 3],
  [eventTypeIndex('purchase'), 5],
]);
const PURCHASE = eventTypeIndex('purchase');

export interface ScoredCategory {
  readonly category: string;
  readonly score: number;
}

export interface Recommendation {
  readonly next_best_category: string | null;
  readonly categories: ScoredCategory[];
  readonly skus: { readonly sku: string; readonly category: string; readonly baskets: number }[];
  /** The customer's interest weights, decayed to `now`. */
  readonly recent: { readonly category: string; readonly weight: number }[];
  readonly just_bought: string[];
  /** Baskets the rules were mined from. */
  readonly baskets: number;
}

export class NextBestTracker {
  readonly #categories: Column;
  readonly #weights: Column;
  readonly #at: Column;
  readonly #bought: Column;
  readonly names = new Map<number, string>();

  constructor(store: ColumnStore) {
    this.#categories = store.column({ name: 'reco.categories', kind: 'u32', width: K });
    this.#weights = store.column({ name: 'reco.weights', kind: 'f32', width: K });
    this.#at = store.column({ name: 'reco.at', kind: 'f64', width: 1, initial: Number.NaN });
    this.#bought = store.column({ name: 'reco.bought', kind: 'u32', width: K });
  }

  /** Folds one event: views, cart adds and purchases with a category. */
  onEvent(slot: number, typeIndex: number, ts: number, category: string | undefined): void {
    if (!category) return;
    const weight = WEIGHT.get(typeIndex);
    if (weight === undefined) return;
    const id = itemId(category);
    if (!this.names.has(id) && this.names.size < MAX_NAMES) this.names.set(id, category);
    const cats = this.#categories.data;
    const ws = this.#weights.data;
    const base = slot * K;
    const at = this.#at.data[slot]!;
    let add = weight;
    if (Number.isNaN(at) || ts >= at) {
      const f = Number.isNaN(at) ? 1 : 2 ** (-(ts - at) / HALF_LIFE_MS);
      for (let i = 0; i < K; i++) ws[base + i] = ws[base + i]! * f;
      this.#at.data[slot] = ts;
    } else {
      add = weight * 2 ** (-(at - ts) / HALF_LIFE_MS);
    }
    let weakest = 0;
    let placed = false;
    for (let i = 0; i < K; i++) {
      if (cats[base + i] === id) {
        ws[base + i] = ws[base + i]! + add;
        placed = true;
        break;
      }
      if (ws[base + i]! < ws[base + weakest]!) weakest = i;
    }
    if (!placed && add >= ws[base + weakest]!) {
      cats[base + weakest] = id;
      ws[base + weakest] = add;
    }
    if (typeIndex === PURCHASE) {
      const bought = this.#bought.data;
      let at2 = K - 1;
      for (let i = 0; i < K; i++)
        if (bought[base + i] === id) {
          at2 = i;
          break;
        }
      for (let i = at2; i > 0; i--) bought[base + i] = bought[base + i - 1]!;
      bought[base] = id;
    }
  }

  #justBought(slot: number, id: number): boolean {
    const bought = this.#bought.data;
    for (let i = 0; i < K; i++) if (bought[slot * K + i] === id) return true;
    return false;
  }

  /** Score of category `id` for the customer in `slot`, or -1 when it was just bought. */
  score(slot: number, id: number, model: CategoryModel): number {
    if (this.#justBought(slot, id)) return -1;
    const cats = this.#categories.data;
    const ws = this.#weights.data;
    let total = 0;
    for (let i = 0; i < K; i++) total += ws[slot * K + i]!;
    let score = POPULARITY_WEIGHT * model.popularity(id);
    if (total <= 0) return score;
    for (let i = 0; i < K; i++) {
      const w = ws[slot * K + i]!;
      const r = cats[slot * K + i]!;
      if (w <= 0 || r === 0) continue;
      score += (w / total) * (r === id ? 1 : model.confidence(r, id));
    }
    return score;
  }

  /** The best-scoring category for the customer (not just bought), or null when none scores. */
  nextBest(slot: number, model: CategoryModel): string | null {
    let best = 0;
    let bestScore = 0;
    const ids = model.ids;
    const cats = this.#categories.data;
    for (let i = 0; i < ids.length + K; i++) {
      const id = i < ids.length ? ids[i]! : cats[slot * K + i - ids.length]!;
      if (id === 0) continue;
      const s = this.score(slot, id, model);
      if (s > bestScore) {
        bestScore = s;
        best = id;
      }
    }
    return best === 0 ? null : this.nameOf(best, model);
  }

  nameOf(id: number, model?: CategoryModel): string {
    return this.names.get(id) ?? model?.names.get(id) ?? `#${id}`;
  }

  /**
   * The customer's top `limit` categories and, in them, the skus most often bought (`skuTop`: the
   * sku counts' items by count, descending, as `skus.items.top()` gives them).
   */
  recommend(
    slot: number,
    model: CategoryModel,
    skus: LevelCounts,
    skuTop: readonly SpaceSavingItem[],
    now: number,
    limit: number,
  ): Recommendation {
    const candidates = new Set<number>(model.ids);
    const cats = this.#categories.data;
    const ws = this.#weights.data;
    for (let i = 0; i < K; i++) if (cats[slot * K + i]! !== 0) candidates.add(cats[slot * K + i]!);
    const scored: { id: number; score: number }[] = [];
    for (const id of candidates) {
      const score = this.score(slot, id, model);
      if (score > 0) scored.push({ id, score });
    }
    scored.sort(
      (a, b) => b.score - a.score || this.nameOf(a.id, model).localeCompare(this.nameOf(b.id, model)),
    );
    const top = scored.slice(0, limit);
    const topIds = new Set(top.map((s) => s.id));
    const skuList = skuTop
      .filter(({ key }) => topIds.has(skus.categories.get(key) ?? 0))
      .slice(0, limit)
      .map(({ key, count, error }) => ({
        sku: skus.names.get(key) ?? `#${key}`,
        category: this.nameOf(skus.categories.get(key) ?? 0, model),
        baskets: count - error,
      }));
    const at = this.#at.data[slot]!;
    const decay = Number.isNaN(at) || now <= at ? 1 : 2 ** (-(now - at) / HALF_LIFE_MS);
    const recent: { category: string; weight: number }[] = [];
    for (let i = 0; i < K; i++) {
      const w = ws[slot * K + i]! * decay;
      if (w > 0 && cats[slot * K + i]! !== 0)
        recent.push({ category: this.nameOf(cats[slot * K + i]!, model), weight: Math.round(w * 1e4) / 1e4 });
    }
    recent.sort((a, b) => b.weight - a.weight);
    const justBought: string[] = [];
    for (let i = 0; i < K; i++) {
      const id = this.#bought.data[slot * K + i]!;
      if (id !== 0) justBought.push(this.nameOf(id, model));
    }
    const first = top[0];
    return {
      next_best_category: first ? this.nameOf(first.id, model) : null,
      categories: top.map((s) => ({
        category: this.nameOf(s.id, model),
        score: Math.round(s.score * 1e6) / 1e6,
      })),
      skus: skuList,
      recent,
      just_bought: justBought,
      baskets: model.baskets,
    };
  }

  snapshotNames(): [number, string][] {
    return [...this.names];
  }

  restoreNames(names: readonly [number, string][] | undefined): void {
    for (const [id, name] of names ?? []) if (this.names.size < MAX_NAMES) this.names.set(id, name);
  }
}
