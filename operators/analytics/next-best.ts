/**
 * Next-best category per customer (docs/analytics.md#next-best-category).
 *
 * State per customer, in typed columns (36 bytes): the 4 categories with the highest interest
 * (`reco.categories` u16×4, `reco.weights` f32×4, decayed with a 14-day half-life in event time
 * from `reco.at`, u32 minutes since 1970), and the 4 categories bought last (`reco.bought` u16×4,
 * latest first). The u16 values index the partition's category dictionary (index 0: none; at most
 * 65,535 categories per partition, later ones are not tracked).
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
 * counts fully. Category ids are item ids (basket-stats.ts).
 */
import { eventTypeIndex } from '../../contract/event-types.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import type { CategoryModel } from './association-rules.js';
import { itemId, type LevelCounts } from './basket-stats.js';
import type { SpaceSavingItem } from './space-saving.js';

const K = 4;
const HALF_LIFE_MS = 14 * 86_400_000;
const POPULARITY_WEIGHT = 0.01;
const MAX_CATEGORIES = 65_535;
const MINUTE_MS = 60_000;
const WEIGHT = new Map<number, number>([
  [eventTypeIndex('page_view'), 1],
  [eventTypeIndex('add_to_cart'), 3],
  [eventTypeIndex('purchase'), 5],
]);
const PURCHASE = eventTypeIndex('purchase');

/** Code-unit order (a stable tie-break, cheaper than localeCompare). */
const byName = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

interface ScoredCategory {
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
  /** Dictionary index → category id (index 0: none). */
  readonly #ids: number[] = [0];
  readonly #index = new Map<number, number>();
  readonly names = new Map<number, string>();

  constructor(store: ColumnStore) {
    this.#categories = store.column({ name: 'reco.categories', kind: 'u16', width: K });
    this.#weights = store.column({ name: 'reco.weights', kind: 'f32', width: K });
    this.#at = store.column({ name: 'reco.at', kind: 'u32', width: 1 });
    this.#bought = store.column({ name: 'reco.bought', kind: 'u16', width: K });
  }

  /** The dictionary index of a category (added when new), 0 once the dictionary is full. */
  #indexOf(id: number, name: string): number {
    const known = this.#index.get(id);
    if (known !== undefined) return known;
    if (this.#ids.length > MAX_CATEGORIES) return 0;
    const at = this.#ids.length;
    this.#ids.push(id);
    this.#index.set(id, at);
    this.names.set(id, name);
    return at;
  }

  /** Category id of the value at `data[k]` of a dictionary column. */
  #idAt(data: ArrayLike<number>, k: number): number {
    return this.#ids[data[k]!] ?? 0;
  }

  /** Folds one event: views, cart adds and purchases with a category. */
  onEvent(slot: number, typeIndex: number, ts: number, category: string | undefined): void {
    if (!category) return;
    const weight = WEIGHT.get(typeIndex);
    if (weight === undefined) return;
    const id = this.#indexOf(itemId(category), category);
    if (id === 0) return;
    const cats = this.#categories.data;
    const ws = this.#weights.data;
    const base = slot * K;
    const at = this.#at.data[slot]!;
    const minute = Math.max(1, Math.floor(ts / MINUTE_MS));
    let add = weight;
    if (at === 0 || minute >= at) {
      const f = at === 0 ? 1 : 2 ** (-((minute - at) * MINUTE_MS) / HALF_LIFE_MS);
      for (let i = 0; i < K; i++) ws[base + i] = ws[base + i]! * f;
      this.#at.data[slot] = minute;
    } else {
      add = weight * 2 ** (-((at - minute) * MINUTE_MS) / HALF_LIFE_MS);
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
    for (let i = 0; i < K; i++) if (this.#idAt(bought, slot * K + i) === id) return true;
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
      const r = this.#idAt(cats, slot * K + i);
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
      const id = i < ids.length ? ids[i]! : this.#idAt(cats, slot * K + i - ids.length);
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
   * Category ids by score for the customer, best first, at most `limit`; `keepJustBought` scores
   * the categories bought last too (for evaluation: how much the exclusion costs).
   */
  rank(
    slot: number,
    model: CategoryModel,
    limit: number,
    keepJustBought = false,
  ): { id: number; score: number }[] {
    const candidates = new Set<number>(model.ids);
    const cats = this.#categories.data;
    for (let i = 0; i < K; i++) if (cats[slot * K + i]! !== 0) candidates.add(this.#idAt(cats, slot * K + i));
    const bought = this.#bought.data;
    const saved = keepJustBought ? bought.slice(slot * K, slot * K + K) : undefined;
    if (saved) bought.fill(0, slot * K, slot * K + K);
    const scored: { id: number; score: number }[] = [];
    for (const id of candidates) {
      const score = this.score(slot, id, model);
      if (score > 0) scored.push({ id, score });
    }
    if (saved) bought.set(saved, slot * K);
    scored.sort((a, b) => b.score - a.score || byName(this.nameOf(a.id, model), this.nameOf(b.id, model)));
    return scored.slice(0, limit);
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
    const cats = this.#categories.data;
    const ws = this.#weights.data;
    const top = this.rank(slot, model, limit);
    const topIds = new Set(top.map((s) => s.id));
    const skuList = skuTop
      .filter(({ key }) => topIds.has(skus.categories.get(key) ?? 0))
      .slice(0, limit)
      .map(({ key, count, error }) => ({
        sku: skus.names.get(key) ?? `#${key}`,
        category: this.nameOf(skus.categories.get(key) ?? 0, model),
        baskets: count - error,
      }));
    const at = this.#at.data[slot]! * MINUTE_MS;
    const decay = at === 0 || now <= at ? 1 : 2 ** (-(now - at) / HALF_LIFE_MS);
    const recent: { category: string; weight: number }[] = [];
    for (let i = 0; i < K; i++) {
      const w = ws[slot * K + i]! * decay;
      if (w > 0 && cats[slot * K + i]! !== 0)
        recent.push({
          category: this.nameOf(this.#idAt(cats, slot * K + i), model),
          weight: Math.round(w * 1e4) / 1e4,
        });
    }
    recent.sort((a, b) => b.weight - a.weight);
    const justBought: string[] = [];
    for (let i = 0; i < K; i++) {
      const id = this.#idAt(this.#bought.data, slot * K + i);
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

  /** The category dictionary, [id, name] in index order (the columns hold indexes into it). */
  dictionary(): [number, string][] {
    return this.#ids.slice(1).map((id) => [id, this.names.get(id) ?? `#${id}`]);
  }

  /** Restores the dictionary the restored columns index (before any event is folded). */
  restoreDictionary(entries: readonly [number, string][] | undefined): void {
    for (const [id, name] of entries ?? []) this.#indexOf(id, name);
  }
}
