/**
 * Distinct counts (customers per day and cell of the daily cube): exact up to {@link EXACT_MAX}
 * distinct 32-bit hashes, then a HyperLogLog (Flajolet et al. 2007) of 2^{@link PRECISION}
 * one-byte registers, with linear counting while registers are empty (Heule et al. 2013 §5).
 * The standard error of the HyperLogLog is 1.04 / √1024 ≈ 3.25% (about 2% for most counts past
 * the linear-counting range; docs/analytics.md). Sketches merge by set union (exact) or register
 * maximum, in any order. Values are hashed by the caller ({@link hashId}).
 */

/** log2 of the registers. */
const PRECISION = 10;
const REGISTERS = 1 << PRECISION;
/** Distinct hashes kept exactly before the sketch turns into registers. */
export const EXACT_MAX = 64;
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

/** Plain form: the exact hashes, or the registers in base64. */
export type DistinctSketchJSON = { h: number[] } | { r: string };

/** A 32-bit hash of a string (FNV-1a, then murmur3's finalizer to spread the bits). */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class DistinctSketch {
  #exact: number[] | undefined = [];
  #registers: Uint8Array | undefined;

  /** Adds a 32-bit hash. */
  add(hash: number): this {
    const exact = this.#exact;
    if (exact) {
      if (exact.includes(hash)) return this;
      exact.push(hash);
      if (exact.length > EXACT_MAX) this.#toRegisters();
      return this;
    }
    this.#set(hash);
    return this;
  }

  #set(hash: number): void {
    const index = hash >>> (32 - PRECISION);
    // Rank of the first 1 bit among the remaining 22 bits (23 when they are all 0).
    const rest = (hash << PRECISION) >>> 0;
    const rank = rest === 0 ? 32 - PRECISION + 1 : Math.clz32(rest) + 1;
    const registers = this.#registers!;
    if (rank > registers[index]!) registers[index] = rank;
  }

  #toRegisters(): void {
    const exact = this.#exact!;
    this.#exact = undefined;
    this.#registers = new Uint8Array(REGISTERS);
    for (const h of exact) this.#set(h);
  }

  /** The distinct count: exact while small, estimated after. */
  estimate(): number {
    if (this.#exact) return this.#exact.length;
    const registers = this.#registers!;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < REGISTERS; i++) {
      const r = registers[i]!;
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const raw = (ALPHA * REGISTERS * REGISTERS) / sum;
    if (raw <= 2.5 * REGISTERS && zeros > 0) return Math.round(REGISTERS * Math.log(REGISTERS / zeros));
    return Math.round(raw);
  }

  merge(other: DistinctSketch | DistinctSketchJSON): this {
    let theirs: Uint8Array;
    if (other instanceof DistinctSketch) {
      if (other.#exact) {
        for (const h of other.#exact) this.add(h);
        return this;
      }
      theirs = other.#registers!;
    } else if ('h' in other) {
      for (const h of other.h) this.add(h);
      return this;
    } else theirs = Buffer.from(other.r, 'base64');
    if (this.#exact) this.#toRegisters();
    const mine = this.#registers!;
    for (let i = 0; i < REGISTERS && i < theirs.length; i++) if (theirs[i]! > mine[i]!) mine[i] = theirs[i]!;
    return this;
  }

  /** Bytes held (for the cube's memory figure). */
  byteLength(): number {
    return this.#exact ? this.#exact.length * 8 : REGISTERS;
  }

  toJSON(): DistinctSketchJSON {
    if (this.#exact) return { h: [...this.#exact] };
    const r = this.#registers!;
    return { r: Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64') };
  }

  static fromJSON(json: DistinctSketchJSON): DistinctSketch {
    return new DistinctSketch().merge(json);
  }
}
