/**
 * Basket counts for association rules (docs/analytics.md#association-rules), at two levels:
 * `category` and `sku`. Per level: the number of baskets, how many baskets hold each item, and how
 * many hold each pair of items, the last two in Space-Saving summaries (space-saving.ts) so the
 * memory is bounded whatever the catalogue: at most `items` + `pairs` counters per level.
 *
 * Items are named by strings (a category, a sku) and counted under a 26-bit FNV-1a hash of the
 * name, so the counts of two partitions, workers or instances add key by key without sharing a
 * dictionary; a pair {a, b} (a < b) is the one number a·2²⁶ + b (< 2⁵², exact in a double). Two
 * names with the same hash count as one item (with 4,000 skus, about 0.12 such collisions are
 * expected); the names of the monitored keys travel with the counts.
 *
 * Error bounds: a Space-Saving count c with error e means the true count is in [c − e, c]; both
 * summaries of a partition are exact until they fill up, and merging adds counts (and errors).
 */
import { SpaceSaving, type SpaceSavingJSON } from './space-saving.js';

const BASKET_LEVELS = ['category', 'sku'] as const;
export type BasketLevel = (typeof BASKET_LEVELS)[number];

const ID_BITS = 26;
const ID_SPACE = 2 ** ID_BITS;

/** The item id of a name: 26-bit FNV-1a of its UTF-16 code units, never 0 (0 means "none"). */
export function itemId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  const id = (h >>> 0) % ID_SPACE;
  return id === 0 ? 1 : id;
}

/** The key of the unordered pair {a, b}. */
export function pairKey(a: number, b: number): number {
  return a < b ? a * ID_SPACE + b : b * ID_SPACE + a;
}

/** The two ids of a pair key, smaller first. */
export function pairIds(key: number): [number, number] {
  const a = Math.floor(key / ID_SPACE);
  return [a, key - a * ID_SPACE];
}

export interface BasketCapacity {
  /** Distinct items counted per level. */
  readonly items: number;
  /** Distinct pairs counted per level. */
  readonly pairs: number;
}

/** Per partition: 256 categories and 4,096 category pairs; 2,048 skus and 4,096 sku pairs. */
const DEFAULT_CAPACITY: Readonly<Record<BasketLevel, BasketCapacity>> = {
  category: { items: 256, pairs: 4096 },
  sku: { items: 2048, pairs: 4096 },
};

export interface LevelCountsJSON {
  readonly baskets: number;
  readonly items: SpaceSavingJSON;
  readonly pairs: SpaceSavingJSON;
  /** [id, name] of the monitored items. */
  readonly names: [number, string][];
  /** sku level: [sku id, category id] of the monitored skus (their latest category). */
  readonly categories?: [number, number][];
}

export type BasketStatsJSON = Record<BasketLevel, LevelCountsJSON>;

/** The counts of one level. */
export class LevelCounts {
  readonly items: SpaceSaving;
  readonly pairs: SpaceSaving;
  readonly names = new Map<number, string>();
  /** sku id → category id (sku level only). */
  readonly categories = new Map<number, number>();
  baskets = 0;

  constructor(capacity: BasketCapacity) {
    this.items = new SpaceSaving(capacity.items);
    this.pairs = new SpaceSaving(capacity.pairs);
  }

  /** Remembers an item's name (and, for a sku, its category id); returns its id. */
  name(name: string, category = 0): number {
    const id = itemId(name);
    if (!this.names.has(id)) this.names.set(id, name);
    if (category !== 0) this.categories.set(id, category);
    return id;
  }

  /** Counts one closed basket of distinct item ids. */
  addBasket(ids: ArrayLike<number>, n: number): void {
    this.baskets++;
    for (let i = 0; i < n; i++) {
      const a = ids[i]!;
      this.items.add(a);
      for (let j = i + 1; j < n; j++) this.pairs.add(pairKey(a, ids[j]!));
    }
    // Names of keys no longer monitored are dropped now and then (bounded memory).
    if (this.names.size > 4 * this.items.capacity) this.#pruneNames();
  }

  #pruneNames(): void {
    const keep = new Set<number>();
    for (const { key } of this.items.top()) keep.add(key);
    for (const { key } of this.pairs.top()) for (const id of pairIds(key)) keep.add(id);
    for (const id of this.names.keys()) if (!keep.has(id)) this.names.delete(id);
    for (const id of this.categories.keys()) if (!keep.has(id)) this.categories.delete(id);
  }

  merge(other: LevelCountsJSON): this {
    this.baskets += other.baskets;
    this.items.merge(other.items);
    this.pairs.merge(other.pairs);
    for (const [id, name] of other.names) if (!this.names.has(id)) this.names.set(id, name);
    for (const [id, category] of other.categories ?? []) this.categories.set(id, category);
    return this;
  }

  reset(): void {
    this.baskets = 0;
    this.items.reset();
    this.pairs.reset();
    this.names.clear();
    this.categories.clear();
  }

  toJSON(): LevelCountsJSON {
    this.#pruneNames();
    return {
      baskets: this.baskets,
      items: this.items.toJSON(),
      pairs: this.pairs.toJSON(),
      names: [...this.names],
      ...(this.categories.size > 0 ? { categories: [...this.categories] } : {}),
    };
  }
}

/** Mergeable basket counts of one partition (or of all, once merged). */
export class BasketStats {
  readonly category: LevelCounts;
  readonly sku: LevelCounts;

  constructor(capacity: Readonly<Record<BasketLevel, BasketCapacity>> = DEFAULT_CAPACITY) {
    this.category = new LevelCounts(capacity.category);
    this.sku = new LevelCounts(capacity.sku);
  }

  level(level: BasketLevel): LevelCounts {
    return level === 'category' ? this.category : this.sku;
  }

  merge(other: BasketStats | BasketStatsJSON): this {
    const json = other instanceof BasketStats ? other.toJSON() : other;
    this.category.merge(json.category);
    this.sku.merge(json.sku);
    return this;
  }

  reset(): void {
    this.category.reset();
    this.sku.reset();
  }

  toJSON(): BasketStatsJSON {
    return { category: this.category.toJSON(), sku: this.sku.toJSON() };
  }

  static fromJSON(json: BasketStatsJSON): BasketStats {
    return new BasketStats({
      category: { items: json.category.items.capacity, pairs: json.category.pairs.capacity },
      sku: { items: json.sku.items.capacity, pairs: json.sku.pairs.capacity },
    }).merge(json);
  }
}
