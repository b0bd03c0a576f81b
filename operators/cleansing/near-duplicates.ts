/**
 * Near-duplicate memory of a partition: the recent events of the judged types, keyed by a 64-bit
 * fingerprint of (customer, type, amount, sku), each with the fingerprint of its event id and its
 * event time. An event whose key was seen within `windowMs` (event time, either direction) under
 * another event id is a near-duplicate; the same event id is left to the exact dedupe.
 *
 * Bounded: a 4-way set-associative table of `maxEntries` typed-array slots, no per-event
 * allocation; a full set forgets its oldest entry. Not salted, so it is deterministic: a partition
 * restored from its checkpoint (live entries only) decides the same way.
 */

const WAYS = 4;
/** Words per entry: key lane 1, key lane 2 (never 0 for a used slot), event id lane. */
const WORDS = 3;

/** Mixes the UTF-16 units of `s` into two 32-bit lanes (cyrb53's mixing). */
function mixText(s: string, lanes: Uint32Array): void {
  let h1 = lanes[0]!;
  let h2 = lanes[1]!;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  // A separator, so ("ab", "c") and ("a", "bc") differ.
  lanes[0] = Math.imul(h1 ^ 0x1f, 2654435761);
  lanes[1] = Math.imul(h2 ^ 0x1f, 1597334677);
}

function mixWord(w: number, lanes: Uint32Array): void {
  lanes[0] = Math.imul(lanes[0]! ^ w, 2654435761);
  lanes[1] = Math.imul(lanes[1]! ^ w, 1597334677);
}

function finish(lanes: Uint32Array): void {
  let h1 = lanes[0]!;
  let h2 = lanes[1]!;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  lanes[0] = h1 >>> 0;
  lanes[1] = (h2 >>> 0) | 1;
}

export class NearDuplicates {
  readonly #windowMs: number;
  readonly #sets: number;
  readonly #keys: Uint32Array;
  readonly #ts: Float64Array;
  readonly #lanes = new Uint32Array(2);
  readonly #id = new Uint32Array(2);
  readonly #amount = new Float64Array(1);
  readonly #amountWords = new Uint32Array(this.#amount.buffer);
  /** Set and way of the key of the last {@link check}; -1 when it was not found. */
  #found = -1;
  #maxTs = Number.NEGATIVE_INFINITY;

  constructor(maxEntries: number, windowMs: number) {
    let sets = 1;
    while (sets * WAYS < maxEntries) sets *= 2;
    this.#sets = sets;
    this.#windowMs = windowMs;
    this.#keys = new Uint32Array(sets * WAYS * WORDS);
    this.#ts = new Float64Array(sets * WAYS);
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  get capacity(): number {
    return this.#sets * WAYS;
  }

  /**
   * Whether this event repeats a remembered one within the window under another id. Leaves the
   * event's fingerprints for {@link remember} (call it next, for the same event, if it is kept).
   */
  check(
    customerId: string,
    typeIndex: number,
    amount: number,
    sku: string | undefined,
    eventId: string,
    ts: number,
  ): boolean {
    const lanes = this.#lanes;
    lanes[0] = 0xdeadbeef;
    lanes[1] = 0x41c6ce57;
    mixText(customerId, lanes);
    mixWord(typeIndex, lanes);
    this.#amount[0] = amount;
    mixWord(this.#amountWords[0]!, lanes);
    mixWord(this.#amountWords[1]!, lanes);
    if (sku !== undefined) mixText(sku, lanes);
    finish(lanes);
    const id = this.#id;
    id[0] = 0x12345678;
    id[1] = 0x9abcdef0;
    mixText(eventId, id);
    finish(id);
    const k1 = lanes[0]!;
    const k2 = lanes[1]!;
    const base = (k1 & (this.#sets - 1)) * WAYS;
    const keys = this.#keys;
    this.#found = -1;
    for (let w = 0; w < WAYS; w++) {
      const e = (base + w) * WORDS;
      if (keys[e + 1] !== k2 || keys[e] !== k1) continue;
      this.#found = base + w;
      return keys[e + 2] !== id[0] && Math.abs(ts - this.#ts[base + w]!) <= this.#windowMs;
    }
    return false;
  }

  /** Remembers the event last {@link check}ed at event time `ts` (replacing its key's older entry). */
  remember(ts: number): void {
    const keys = this.#keys;
    let slot = this.#found;
    if (slot < 0) {
      const base = (this.#lanes[0]! & (this.#sets - 1)) * WAYS;
      slot = base;
      for (let w = 0; w < WAYS; w++) {
        const s = base + w;
        if (keys[s * WORDS + 1] === 0) {
          slot = s;
          break;
        }
        if (this.#ts[s]! < this.#ts[slot]!) slot = s;
      }
    }
    keys[slot * WORDS] = this.#lanes[0]!;
    keys[slot * WORDS + 1] = this.#lanes[1]!;
    keys[slot * WORDS + 2] = this.#id[0]!;
    this.#ts[slot] = ts;
    this.#found = slot;
    if (ts > this.#maxTs) this.#maxTs = ts;
  }

  /** The live entries (within the window of the newest), for a checkpoint: base64 of key words and times. */
  toJSON(): { keys: string; ts: string } {
    const live: number[] = [];
    const from = this.#maxTs - this.#windowMs;
    for (let s = 0; s < this.#ts.length; s++)
      if (this.#keys[s * WORDS + 1] !== 0 && this.#ts[s]! >= from) live.push(s);
    const keys = new Uint32Array(live.length * WORDS);
    const ts = new Float64Array(live.length);
    live.forEach((s, i) => {
      keys.set(this.#keys.subarray(s * WORDS, s * WORDS + WORDS), i * WORDS);
      ts[i] = this.#ts[s]!;
    });
    return {
      keys: Buffer.from(keys.buffer).toString('base64'),
      ts: Buffer.from(ts.buffer).toString('base64'),
    };
  }

  /** Restores entries from {@link toJSON} (into an empty memory, oldest first). */
  restore(json: { keys: string; ts: string }): void {
    const kb = Buffer.from(json.keys, 'base64');
    const tb = Buffer.from(json.ts, 'base64');
    const n = Math.min(Math.floor(kb.byteLength / (4 * WORDS)), Math.floor(tb.byteLength / 8));
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => tb.readDoubleLE(8 * a) - tb.readDoubleLE(8 * b),
    );
    for (const i of order) {
      this.#lanes[0] = kb.readUInt32LE(4 * WORDS * i);
      this.#lanes[1] = kb.readUInt32LE(4 * WORDS * i + 4);
      this.#id[0] = kb.readUInt32LE(4 * WORDS * i + 8);
      this.#found = this.#lookup(this.#lanes[0]!, this.#lanes[1]!);
      this.remember(tb.readDoubleLE(8 * i));
    }
  }

  #lookup(k1: number, k2: number): number {
    const base = (k1 & (this.#sets - 1)) * WAYS;
    for (let w = 0; w < WAYS; w++) {
      const e = (base + w) * WORDS;
      if (this.#keys[e + 1] === k2 && this.#keys[e] === k1) return base + w;
    }
    return -1;
  }
}
