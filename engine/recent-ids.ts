/**
 * The last `capacity` distinct ids seen, oldest forgotten first: the dedupe memory of a partition.
 * A Set for membership and a ring of the ids in arrival order for eviction — what an LRU cache
 * that is never read (only tested and inserted) amounts to, at a fraction of its cost per event
 * (lru-cache was 4–5% of a worker's self time during ingest).
 */
export class RecentIds {
  readonly capacity: number;
  readonly #set = new Set<string>();
  readonly #ring: string[];
  /** Where the next id goes; once full, also the oldest id. */
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    this.#ring = new Array<string>(capacity);
  }

  get size(): number {
    return this.#set.size;
  }

  has(id: string): boolean {
    return this.#set.has(id);
  }

  /** Remembers `id`; false (and nothing changes) when it is already remembered. */
  add(id: string): boolean {
    if (this.#set.has(id)) return false;
    if (this.#set.size === this.capacity) this.#set.delete(this.#ring[this.#next]!);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.capacity;
    this.#set.add(id);
    return true;
  }

  /** Every remembered id, oldest first. */
  ids(): string[] {
    const n = this.#set.size;
    const start = n < this.capacity ? 0 : this.#next;
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = this.#ring[(start + i) % this.capacity]!;
    return out;
  }
}
