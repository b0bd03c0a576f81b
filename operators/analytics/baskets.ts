/**
 * Baskets from purchase events (docs/analytics.md#association-rules). A purchase event with a
 * `sku` and/or `category` is one line of a basket; a customer's lines with the same `session_id`
 * (the order or session id; none counts as the same key) make one basket. The basket closes when a
 * line with another key comes for the customer, or when `timeoutMs` of event time passed since its
 * last line (checked against the partition's latest event time every `timeoutMs / 4`), or when
 * the customer is forgotten. A closed basket is counted in {@link BasketStats}: its distinct
 * categories and distinct skus (at most {@link MAX_BASKET_ITEMS} of each; further lines are
 * ignored).
 *
 * Open baskets live in a map by customer slot (few at a time: only customers in the middle of an
 * order), so a customer costs nothing here between orders.
 */
import { BellwetherError } from '../../contract/errors.js';
import { type BasketCapacity, type BasketLevel, BasketStats, type LevelCounts } from './basket-stats.js';

/** Distinct items per level kept in one basket (32 items make 496 pairs). */
const MAX_BASKET_ITEMS = 32;
const DEFAULT_TIMEOUT_MS = 30 * 60_000;

export interface OpenBasketJSON {
  readonly slot: number;
  readonly key: string;
  /** Event time of its last line. */
  readonly last: number;
  readonly categories: string[];
  /** [sku, category or ''] */
  readonly skus: [string, string][];
}

export interface BasketTrackerOptions {
  /** Event-time gap after which an open basket closes (default 30 minutes). */
  readonly timeoutMs?: number;
  readonly capacity?: Readonly<Record<BasketLevel, BasketCapacity>>;
}

interface OpenBasket {
  key: string;
  last: number;
  categories: string[];
  skus: [string, string][];
}

export class BasketTracker {
  readonly stats: BasketStats;
  readonly timeoutMs: number;
  readonly #open = new Map<number, OpenBasket>();
  readonly #ids = new Float64Array(MAX_BASKET_ITEMS);
  #latest = Number.NEGATIVE_INFINITY;
  #swept = Number.NEGATIVE_INFINITY;

  constructor(options: BasketTrackerOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0))
      throw new BellwetherError('BW_ERR_INVALID_ARGUMENT', `basket timeout must be > 0 ms, got ${timeoutMs}`);
    this.timeoutMs = timeoutMs;
    this.stats = new BasketStats(options.capacity);
  }

  /** Baskets open now. */
  get open(): number {
    return this.#open.size;
  }

  /**
   * Folds one event of any type at event time `ts` (only purchases with a sku or category are
   * lines; every event moves the partition's time on, which closes baskets that timed out).
   */
  onEvent(
    slot: number,
    purchase: boolean,
    ts: number,
    key: string | undefined,
    sku: string | undefined,
    category: string | undefined,
  ): void {
    if (ts > this.#latest) this.#latest = ts;
    if (this.#latest - this.#swept >= this.timeoutMs / 4) this.closeExpired(this.#latest);
    if (!purchase || (!sku && !category)) return;
    const k = key ?? '';
    let basket = this.#open.get(slot);
    if (basket && (basket.key !== k || ts - basket.last > this.timeoutMs)) {
      this.close(slot);
      basket = undefined;
    }
    if (!basket) {
      basket = { key: k, last: ts, categories: [], skus: [] };
      this.#open.set(slot, basket);
    }
    if (ts > basket.last) basket.last = ts;
    if (category && basket.categories.length < MAX_BASKET_ITEMS && !basket.categories.includes(category))
      basket.categories.push(category);
    if (sku && basket.skus.length < MAX_BASKET_ITEMS && !basket.skus.some((s) => s[0] === sku))
      basket.skus.push([sku, category ?? '']);
  }

  /** Closes the baskets whose last line is more than the timeout before `now`. */
  closeExpired(now: number): void {
    this.#swept = now;
    for (const [slot, basket] of this.#open) if (now - basket.last > this.timeoutMs) this.close(slot);
  }

  /** Closes and counts the slot's open basket, if any. */
  close(slot: number): void {
    const basket = this.#open.get(slot);
    if (!basket) return;
    this.#open.delete(slot);
    this.#count(
      this.stats.category,
      basket.categories.map((c) => [c, ''] as [string, string]),
    );
    this.#count(this.stats.sku, basket.skus);
  }

  #count(level: LevelCounts, items: readonly [string, string][]): void {
    if (items.length === 0) return;
    const ids = this.#ids;
    let n = 0;
    for (const [name, category] of items) {
      const id = level.name(name, category ? this.stats.category.name(category) : 0);
      if (!ids.subarray(0, n).includes(id)) ids[n++] = id;
    }
    level.addBasket(ids, n);
  }

  /** The customer in `from` now lives in `to`. */
  moveSlot(from: number, to: number): void {
    const basket = this.#open.get(from);
    this.#open.delete(from);
    if (basket) this.#open.set(to, basket);
  }

  /** The customer in `slot` is forgotten: its open basket is counted now. */
  removeSlot(slot: number): void {
    this.close(slot);
  }

  snapshot(): OpenBasketJSON[] {
    return [...this.#open].map(([slot, b]) => ({
      slot,
      key: b.key,
      last: b.last,
      categories: [...b.categories],
      skus: b.skus.map((s) => [s[0], s[1]] as [string, string]),
    }));
  }

  restore(open: readonly OpenBasketJSON[] | undefined): void {
    for (const b of open ?? []) {
      this.#open.set(b.slot, {
        key: b.key,
        last: b.last,
        categories: [...b.categories],
        skus: b.skus.map((s) => [s[0], s[1]] as [string, string]),
      });
      if (b.last > this.#latest) this.#latest = b.last;
    }
  }
}
