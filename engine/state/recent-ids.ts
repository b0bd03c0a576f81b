/**
 * The last `capacity` distinct event ids seen, oldest forgotten first: the dedupe memory of a
 * partition.
 *
 * Ids are kept as 64-bit fingerprints in typed arrays: an open-addressing table (linear probing,
 * load ≤ 1/2, backward-shift deletion) for membership and a ring in arrival order for eviction.
 * A Set of the id strings did the same at ~1 µs per event (4% of a worker's time under live load)
 * and kept up to 16 × 50,000 strings alive for the collector to mark; this keeps 24–40 bytes per id
 * and allocates nothing per event.
 *
 * An id's slot in the table mixes both lanes with a random salt of the process, so producers cannot
 * craft ids that pile into one probe chain (the fingerprint function itself is not secret).
 *
 * The price is a false duplicate when two live ids share a fingerprint: with at most n ids
 * remembered, a new id is taken for a repeat with probability below n / 2^63 (5 × 10^-15 at the
 * default 50,000), i.e. about one event in 2 × 10^14.
 */

import { randomFillSync } from 'node:crypto';

/** Fingerprint of `id`: two 32-bit lanes (cyrb53's mixing, both lanes kept), the second never 0. */
export function fingerprint(id: string, out: Uint32Array, at: number): void {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[at] = h1 >>> 0;
  // 0 in the second lane marks an empty table slot.
  out[at + 1] = (h2 >>> 0) | 1;
}

export class RecentIds {
  readonly capacity: number;
  /** Two words per slot (lane 1, lane 2); lane 2 = 0: empty. */
  readonly #table: Uint32Array;
  readonly #mask: number;
  /** 32 - log2(slots): the top bits of the salted mix pick the slot. */
  readonly #shift: number;
  readonly #salt = randomFillSync(new Uint32Array(2));
  /** Two words per remembered id, in arrival order; `#next` is where the next one goes. */
  readonly #ring: Uint32Array;
  #next = 0;
  #size = 0;
  readonly #fp = new Uint32Array(2);

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    let slots = 2;
    let bits = 1;
    while (slots < 2 * capacity) {
      slots *= 2;
      bits++;
    }
    this.#table = new Uint32Array(2 * slots);
    this.#mask = slots - 1;
    this.#shift = 32 - bits;
    this.#ring = new Uint32Array(2 * capacity);
  }

  get size(): number {
    return this.#size;
  }

  has(id: string): boolean {
    fingerprint(id, this.#fp, 0);
    return this.#find(this.#fp[0]!, this.#fp[1]!) >= 0;
  }

  /** Remembers `id`; false (and nothing changes) when it is already remembered. */
  add(id: string): boolean {
    fingerprint(id, this.#fp, 0);
    return this.addFingerprint(this.#fp[0]!, this.#fp[1]!);
  }

  /** {@link add} of a fingerprint (`lane2` odd, as {@link fingerprint} makes it). */
  addFingerprint(lane1: number, lane2: number): boolean {
    lane1 >>>= 0;
    lane2 = (lane2 | 1) >>> 0;
    if (this.#find(lane1, lane2) >= 0) return false;
    const ring = this.#ring;
    const at = 2 * this.#next;
    if (this.#size === this.capacity) this.#remove(ring[at]!, ring[at + 1]!);
    else this.#size++;
    ring[at] = lane1;
    ring[at + 1] = lane2;
    this.#next = (this.#next + 1) % this.capacity;
    this.#insert(lane1, lane2);
    return true;
  }

  /** Every remembered fingerprint, oldest first, two words each (a checkpoint's dedupe memory). */
  fingerprints(): Uint32Array {
    const n = this.#size;
    const out = new Uint32Array(2 * n);
    const start = n < this.capacity ? 0 : this.#next;
    for (let i = 0; i < n; i++) {
      const from = 2 * ((start + i) % this.capacity);
      out[2 * i] = this.#ring[from]!;
      out[2 * i + 1] = this.#ring[from + 1]!;
    }
    return out;
  }

  /** Where a fingerprint's probe chain starts: both lanes, salted, multiplied, top bits. */
  #home(lane1: number, lane2: number): number {
    return (
      (Math.imul(lane1 ^ this.#salt[0]!, 0x9e3779b1) + Math.imul(lane2 ^ this.#salt[1]!, 0x85ebca77)) >>>
      this.#shift
    );
  }

  /** Slot of a fingerprint in the table, or -1. */
  #find(lane1: number, lane2: number): number {
    const table = this.#table;
    const mask = this.#mask;
    for (let i = this.#home(lane1, lane2); ; i = (i + 1) & mask) {
      const l2 = table[2 * i + 1]!;
      if (l2 === 0) return -1;
      if (l2 === lane2 && table[2 * i] === lane1) return i;
    }
  }

  #insert(lane1: number, lane2: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let i = this.#home(lane1, lane2);
    while (table[2 * i + 1] !== 0) i = (i + 1) & mask;
    table[2 * i] = lane1;
    table[2 * i + 1] = lane2;
  }

  /** Deletes a fingerprint, shifting the entries after it back so no probe chain breaks. */
  #remove(lane1: number, lane2: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let hole = this.#find(lane1, lane2);
    if (hole < 0) return;
    for (let j = (hole + 1) & mask; table[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = this.#home(table[2 * j]!, table[2 * j + 1]!);
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      table[2 * hole] = table[2 * j]!;
      table[2 * hole + 1] = table[2 * j + 1]!;
      hole = j;
    }
    table[2 * hole] = 0;
    table[2 * hole + 1] = 0;
  }
}
