/**
 * Event paths (docs/analytics.md): next-event transition counts between event types, and the top
 * paths to purchase (the last 3 event types before each purchase).
 *
 * Per customer, the last 3 event types live in one u8×3 column (oldest first, 255 = none); its
 * newest entry is the customer's last type. Per event of type t (in arrival order):
 * transitions[last][t] += 1 when the customer had an event before; on a purchase, the path
 * (the ≤ 3 previous types, oldest first) is counted in a Space-Saving summary of at most
 * `maxPaths` distinct paths (space-saving.ts); then t is shifted into the ring. A purchase that is
 * the customer's first event counts in `purchases` but has no path.
 */
import { BellwetherError } from '../../contract/errors.js';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import { SpaceSaving, type SpaceSavingJSON } from './space-saving.js';

const T = EVENT_TYPES.length;
const NONE = 255;
/** Path keys are base-(T + 1) numbers of the types + 1, oldest first (0 = no type). */
const BASE = T + 1;
const PURCHASE = eventTypeIndex('purchase');
const PATH_LENGTH = 3;
const DEFAULT_MAX_PATHS = 1000;

export interface PathStatsJSON {
  /** T × T row-major: transitions[from * T + to], T = EVENT_TYPES.length. */
  readonly transitions: number[];
  readonly purchases: number;
  readonly paths: SpaceSavingJSON;
}

/** GET /v1/paths?from=… */
export interface NextEvents {
  readonly from: string;
  /** Transitions out of `from`. */
  readonly total: number;
  readonly next: { readonly type: string; readonly count: number; readonly share: number }[];
}

export interface PathToPurchase {
  /** Event types before the purchase, oldest first (1–3 of them). */
  readonly path: string[];
  /** Purchases preceded by this path (an upper bound once the summary has evicted, see `error`). */
  readonly count: number;
  readonly error: number;
  /** count / all purchases counted. */
  readonly share: number;
}

/** Encodes up to 3 type indexes (oldest first, NONE skipped) as one path key. */
export function pathKey(types: readonly number[]): number {
  let key = 0;
  for (const t of types) if (t !== NONE) key = key * BASE + (t + 1);
  return key;
}

/** Decodes a path key into type names, oldest first. */
export function pathTypes(key: number): string[] {
  const out: string[] = [];
  while (key > 0) {
    out.unshift(EVENT_TYPES[(key % BASE) - 1]!);
    key = Math.floor(key / BASE);
  }
  return out;
}

/** Mergeable results of one partition (or of all, once merged). */
export class PathStats {
  readonly transitions = new Float64Array(T * T);
  readonly paths: SpaceSaving;
  purchases = 0;

  constructor(maxPaths = DEFAULT_MAX_PATHS) {
    this.paths = new SpaceSaving(maxPaths);
  }

  /** Next-event counts out of `from`, descending (ties by type order); undefined for an unknown type. */
  next(from: string): NextEvents | undefined {
    const f = eventTypeIndex(from);
    if (f < 0) return undefined;
    let total = 0;
    for (let t = 0; t < T; t++) total += this.transitions[f * T + t]!;
    const next: { type: string; count: number; share: number }[] = [];
    for (let t = 0; t < T; t++) {
      const count = this.transitions[f * T + t]!;
      if (count > 0) next.push({ type: EVENT_TYPES[t]!, count, share: count / total });
    }
    next.sort((a, b) => b.count - a.count || eventTypeIndex(a.type) - eventTypeIndex(b.type));
    return { from, total, next };
  }

  /** The `limit` most frequent paths to purchase, descending. */
  topPathsToPurchase(limit = 10): PathToPurchase[] {
    return this.paths.top(limit).map(({ key, count, error }) => ({
      path: pathTypes(key),
      count,
      error,
      share: this.purchases > 0 ? count / this.purchases : 0,
    }));
  }

  merge(other: PathStats | PathStatsJSON): this {
    const transitions = other.transitions;
    if (transitions.length !== T * T)
      throw new BellwetherError(
        'BW_ERR_STATE_MISMATCH',
        `path stats hold ${transitions.length} transitions, this engine's ${T} event types make ${T * T}: they merge only over the same event types`,
      );
    for (let i = 0; i < T * T; i++) this.transitions[i]! += transitions[i]!;
    this.purchases += other.purchases;
    this.paths.merge(other.paths);
    return this;
  }

  reset(): void {
    this.transitions.fill(0);
    this.purchases = 0;
    this.paths.reset();
  }

  toJSON(): PathStatsJSON {
    return {
      transitions: Array.from(this.transitions),
      purchases: this.purchases,
      paths: this.paths.toJSON(),
    };
  }

  static fromJSON(json: PathStatsJSON): PathStats {
    return new PathStats(json.paths.capacity).merge(json);
  }
}

export interface PathTrackerOptions {
  /** Distinct paths kept per partition (default 1,000). */
  readonly maxPaths?: number;
}

/** Per-partition path state: the customers' last types in a column, the counts in {@link stats}. */
export class PathTracker {
  readonly stats: PathStats;
  readonly #ring: Column;

  constructor(store: ColumnStore, options: PathTrackerOptions = {}) {
    this.stats = new PathStats(options.maxPaths ?? DEFAULT_MAX_PATHS);
    this.#ring = store.column({
      name: 'analytics.paths.last3',
      kind: 'u8',
      width: PATH_LENGTH,
      initial: NONE,
    });
  }

  /** Folds one event, in arrival order. */
  onEvent(slot: number, typeIndex: number): void {
    if (typeIndex < 0 || typeIndex >= T) return;
    const ring = this.#ring.data;
    const base = slot * PATH_LENGTH;
    const a = ring[base]!;
    const b = ring[base + 1]!;
    const last = ring[base + 2]!;
    if (last !== NONE) this.stats.transitions[last * T + typeIndex]!++;
    if (typeIndex === PURCHASE) {
      this.stats.purchases++;
      if (last !== NONE) {
        let key = 0;
        if (a !== NONE) key = a + 1;
        if (b !== NONE) key = key * BASE + b + 1;
        this.stats.paths.add(key * BASE + last + 1);
      }
    }
    ring[base] = b;
    ring[base + 1] = last;
    ring[base + 2] = typeIndex;
  }

  /** The customer's last event types, oldest first (for answers and tests). */
  lastTypes(slot: number): string[] {
    const out: string[] = [];
    for (let k = 0; k < PATH_LENGTH; k++) {
      const t = this.#ring.data[slot * PATH_LENGTH + k]!;
      if (t !== NONE) out.push(EVENT_TYPES[t]!);
    }
    return out;
  }
}
