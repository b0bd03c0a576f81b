/**
 * Baskets and next-best categories of one partition: the basket counts (merged across partitions
 * for `GET /v1/association-rules`), the open baskets, the customers' interest columns, and the
 * category model the partition scores its customers with.
 *
 * The model is the partition's own category rules (its customers are a hash sample of all), rebuilt
 * when the partition has counted 5% more baskets (at least one) than the model was built from: a
 * customer's recommendation may lag the latest baskets by that much.
 */
import type { ParsedEvent } from '../../contract/event-parse.js';
import { eventTypeIndex } from '../../contract/event-types.js';
import { CategoryModel } from '../../operators/analytics/association-rules.js';
import type { BasketStatsJSON } from '../../operators/analytics/basket-stats.js';
import { BasketTracker, type OpenBasketJSON } from '../../operators/analytics/baskets.js';
import { NextBestTracker, type Recommendation } from '../../operators/analytics/next-best.js';
import type { SpaceSavingItem } from '../../operators/analytics/space-saving.js';
import type { ColumnStore } from '../../operators/state/column-store.js';

const PURCHASE = eventTypeIndex('purchase');
/** Categories and skus in a customer's recommendations. */
const RECOMMENDATIONS = 5;

export interface BasketsSnapshot {
  counts: BasketStatsJSON;
  open: OpenBasketJSON[];
  /** The category dictionary the customers' interest columns index: [id, name] in index order. */
  categories: [number, string][];
}

export interface CustomerRecommendation extends Recommendation {
  /** `likely_to_buy:<category>`, the predictive tag (null without a next-best category). */
  tag: string | null;
}

export class PartitionBaskets {
  readonly baskets = new BasketTracker();
  readonly nextBest: NextBestTracker;
  #model: CategoryModel | undefined;
  #skuTop: SpaceSavingItem[] = [];

  constructor(store: ColumnStore) {
    this.nextBest = new NextBestTracker(store);
  }

  onEvent(slot: number, event: ParsedEvent): void {
    const { body } = event;
    this.baskets.onEvent(
      slot,
      event.typeIndex === PURCHASE,
      event.ts,
      body.session_id,
      body.sku,
      body.category,
    );
    this.nextBest.onEvent(slot, event.typeIndex, event.ts, body.category);
  }

  /** The category model, rebuilt when the counts grew by 5% (or from nothing). */
  model(): CategoryModel {
    const counts = this.baskets.stats.category;
    const built = this.#model?.baskets ?? -1;
    if (!this.#model || counts.baskets - built >= Math.max(1, built / 20)) {
      this.#model = new CategoryModel(counts);
      // Only the first RECOMMENDATIONS skus of each category can be served: an answer filters these.
      const skus = this.baskets.stats.sku;
      const taken = new Map<number, number>();
      this.#skuTop = skus.items.top().filter(({ key }) => {
        const category = skus.categories.get(key) ?? 0;
        const n = taken.get(category) ?? 0;
        taken.set(category, n + 1);
        return n < RECOMMENDATIONS;
      });
    }
    return this.#model;
  }

  /** `likely_to_buy` in tag and rule expressions: the next-best category's name, or null. */
  likelyToBuy(slot: number): string | null {
    return this.nextBest.nextBest(slot, this.model());
  }

  recommend(slot: number, now: number): CustomerRecommendation {
    const model = this.model();
    const r = this.nextBest.recommend(
      slot,
      model,
      this.baskets.stats.sku,
      this.#skuTop,
      now,
      RECOMMENDATIONS,
    );
    return { ...r, tag: r.next_best_category === null ? null : `likely_to_buy:${r.next_best_category}` };
  }

  moveSlot(from: number, to: number): void {
    this.baskets.moveSlot(from, to);
  }

  removeSlot(slot: number): void {
    this.baskets.removeSlot(slot);
  }

  snapshot(): BasketsSnapshot {
    return {
      counts: this.baskets.stats.toJSON(),
      open: this.baskets.snapshot(),
      categories: this.nextBest.dictionary(),
    };
  }

  /** Restores a snapshot; checkpoints written before baskets existed have none. */
  restore(snap: BasketsSnapshot | undefined): void {
    if (!snap) return;
    this.baskets.stats.merge(snap.counts);
    this.baskets.restore(snap.open);
    this.nextBest.restoreDictionary(snap.categories);
    this.#model = undefined;
  }
}
