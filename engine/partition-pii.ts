/**
 * The personal fields of a partition's customers (`props.name`, `props.phone`... of `profile`
 * events), kept only as ciphertexts, one per customer and field, the latest value winning. They go
 * into checkpoints sealed and leave the worker sealed; the main thread opens them for the roles
 * allowed to see them (docs/security.md).
 */
import { PERSONAL_FIELD_SET } from './security/masking.js';
import { sealedKeyId } from './security/pii-cipher.js';
import type { PiiSealer } from './security/pii-sealer.js';

/** Longest personal value kept (characters); longer ones are dropped, not cut. */
const MAX_VALUE_LENGTH = 1024;

export class PartitionPii {
  readonly #sealer: () => PiiSealer;
  readonly #fields: (Record<string, string> | undefined)[] = [];

  /** @param sealer the worker's current sealer (it changes when the keyring is reloaded) */
  constructor(sealer: () => PiiSealer) {
    this.#sealer = sealer;
  }

  /** Seals the personal fields of a profile event's props. */
  onProfile(slot: number, customerId: string, props: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(props)) {
      if (!PERSONAL_FIELD_SET.has(key)) continue;
      const text =
        typeof value === 'string'
          ? value
          : typeof value === 'number' && Number.isFinite(value)
            ? String(value)
            : undefined;
      if (text === undefined || text.length === 0 || text.length > MAX_VALUE_LENGTH) continue;
      let fields = this.#fields[slot];
      if (!fields) this.#fields[slot] = fields = {};
      fields[key] = this.#sealer().seal(customerId, key, text);
    }
  }

  sealed(slot: number): Readonly<Record<string, string>> | undefined {
    return this.#fields[slot];
  }

  moveSlot(from: number, to: number): void {
    this.#fields[to] = this.#fields[from];
    this.#fields[from] = undefined;
  }

  removeSlot(slot: number): void {
    this.#fields[slot] = undefined;
  }

  /**
   * Re-seals fields not under the current key and cipher (after a key rotation). Fields that do not
   * open are kept as they are and counted.
   */
  reseal(idOf: (slot: number) => string): { resealed: number; failed: number } {
    const sealer = this.#sealer();
    let resealed = 0;
    let failed = 0;
    this.#fields.forEach((fields, slot) => {
      if (!fields) return;
      const id = idOf(slot);
      for (const [field, text] of Object.entries(fields)) {
        try {
          const next = sealer.reseal(id, field, text);
          if (next !== text) {
            fields[field] = next;
            resealed++;
          }
        } catch {
          failed++;
        }
      }
    });
    return { resealed, failed };
  }

  /** Sealed fields per key id (metric `bellwether_pii_fields`). */
  countByKey(into: Map<string, number>): void {
    for (const fields of this.#fields) {
      if (!fields) continue;
      for (const text of Object.values(fields)) {
        const id = sealedKeyId(text) ?? 'unknown';
        into.set(id, (into.get(id) ?? 0) + 1);
      }
    }
  }

  snapshot(): [number, Record<string, string>][] {
    const out: [number, Record<string, string>][] = [];
    this.#fields.forEach((fields, slot) => {
      if (fields) out.push([slot, fields]);
    });
    return out;
  }

  restore(entries: [number, Record<string, string>][] | undefined): void {
    for (const [slot, fields] of entries ?? []) this.#fields[slot] = fields;
  }
}
