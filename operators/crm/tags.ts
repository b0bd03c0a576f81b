/**
 * Tags: named boolean expressions over a customer's features and scores (docs/crm.md). A
 * customer's tags are a bit set of up to 64 tags, `words` 32-bit words, bit i = the i-th tag of
 * the file. The engine owns per-slot storage (a `u32` column of width `words`) and calls
 * `evaluateInto` when a customer's features or scores change.
 */
import { BellwetherError } from '../../contract/errors.js';
import type { CrmTag } from './config.js';
import { MAX_TAGS } from './config-schema.js';
import type { ExpressionLookup } from './expression.js';

export interface TagChange {
  readonly added: string[];
  readonly removed: string[];
}

export class TagEvaluator {
  readonly tags: readonly CrmTag[];
  /** 32-bit words per tag set (at least 1). */
  readonly words: number;
  readonly #index: ReadonlyMap<string, number>;

  constructor(tags: readonly CrmTag[]) {
    if (tags.length > MAX_TAGS)
      throw new BellwetherError('BW_ERR_CRM_CONFIG', `at most ${MAX_TAGS} tags, got ${tags.length}`);
    this.tags = tags;
    this.words = Math.max(1, Math.ceil(tags.length / 32));
    this.#index = new Map(tags.map((tag, i) => [tag.id, i]));
  }

  /**
   * Evaluates every tag and writes the set at `out[offset .. offset + words)`. Returns true when
   * the set differs from what was there.
   */
  evaluateInto(lookup: ExpressionLookup, out: Uint32Array, offset = 0): boolean {
    let changed = false;
    for (let w = 0; w < this.words; w++) {
      let word = 0;
      const end = Math.min(this.tags.length, (w + 1) * 32);
      for (let i = w * 32; i < end; i++) {
        if (this.tags[i]!.when.evaluate(lookup)) word |= 1 << (i & 31);
      }
      word >>>= 0;
      if (out[offset + w] !== word) {
        out[offset + w] = word;
        changed = true;
      }
    }
    return changed;
  }

  /** A new tag set for `lookup`. */
  evaluate(lookup: ExpressionLookup): Uint32Array {
    const out = new Uint32Array(this.words);
    this.evaluateInto(lookup, out, 0);
    return out;
  }

  /** Whether tag `id` is in the set at `bits[offset..]`; false for an unknown id. */
  has(bits: Uint32Array, id: string, offset = 0): boolean {
    const i = this.#index.get(id);
    return i !== undefined && ((bits[offset + (i >>> 5)]! >>> (i & 31)) & 1) === 1;
  }

  /** Bit position of tag `id`, or -1. */
  indexOf(id: string): number {
    return this.#index.get(id) ?? -1;
  }

  /** Ids of the tags in the set at `bits[offset..]`, in file order. */
  names(bits: Uint32Array, offset = 0): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.tags.length; i++) {
      if (((bits[offset + (i >>> 5)]! >>> (i & 31)) & 1) === 1) out.push(this.tags[i]!.id);
    }
    return out;
  }

  /** Tags added and removed between two sets. */
  diff(before: Uint32Array, after: Uint32Array, beforeOffset = 0, afterOffset = 0): TagChange {
    const added: string[] = [];
    const removed: string[] = [];
    for (let i = 0; i < this.tags.length; i++) {
      const w = i >>> 5;
      const b = (before[beforeOffset + w]! >>> (i & 31)) & 1;
      const a = (after[afterOffset + w]! >>> (i & 31)) & 1;
      if (a > b) added.push(this.tags[i]!.id);
      else if (b > a) removed.push(this.tags[i]!.id);
    }
    return { added, removed };
  }
}
