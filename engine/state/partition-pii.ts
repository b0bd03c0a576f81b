/**
 * The personal fields of a partition's customers (every property of a `profile` event that is not
 * declared plain: pii-policy.ts), kept only sealed: one record per customer (pii-cipher.ts, `bw2`), the latest value of
 * each field winning. A profile event costs one encryption however many fields it carries (plus
 * one decryption when it updates some of the customer's fields but not all). Records go into
 * checkpoints sealed and leave the worker sealed; the main thread opens them for the roles
 * allowed to see them (docs/security.md). Customers restored from checkpoints of before records
 * keep their per-field ciphertexts until their next profile event or a key rotation.
 */
import { BellwetherError } from '../../contract/errors.js';
import { fieldName, recordFront, sealedKeyId } from '../../security/pii-cipher.js';
import {
  MAX_PERSONAL_FIELDS,
  MAX_PERSONAL_VALUE_LENGTH,
  type ProfilePolicy,
  personalText,
} from '../../security/pii-policy.js';
import type { PiiSealer, SealedPii } from '../../security/pii-sealer.js';

/** What a profile update did to a customer's personal fields. */
export interface ProfileOutcome {
  /** Fields of the earlier record dropped because it no longer opens (its key was removed). */
  dropped: number;
  /** Values refused: longer than MAX_PERSONAL_VALUE_LENGTH, or new names past MAX_PERSONAL_FIELDS. */
  refused: number;
}

const NOTHING: ProfileOutcome = Object.freeze({ dropped: 0, refused: 0 });

function namesOf(sealed: SealedPii): string[] {
  if (typeof sealed !== 'string') return Object.keys(sealed);
  const names = recordFront(sealed)?.names;
  return names ? names.split(',').map(fieldName) : [];
}

function fieldCount(sealed: SealedPii): number {
  if (typeof sealed !== 'string') return Object.keys(sealed).length;
  const names = recordFront(sealed)?.names ?? '';
  let n = 1;
  for (let i = names.indexOf(','); i >= 0; i = names.indexOf(',', i + 1)) n++;
  return n;
}

/** Fields per key id of a customer's sealed data, read from the clear parts. */
function fieldsByKey(sealed: SealedPii, add: (keyId: string, fields: number) => void): void {
  if (typeof sealed === 'string') {
    add(recordFront(sealed)?.keyId ?? 'unknown', fieldCount(sealed));
    return;
  }
  for (const text of Object.values(sealed)) add(sealedKeyId(text) ?? 'unknown', 1);
}

export class PartitionPii {
  readonly #sealer: () => PiiSealer;
  readonly #policy: ProfilePolicy;
  readonly #sealed: (SealedPii | undefined)[] = [];
  /** Sealed fields per key id, kept as records change (metric `bellwether_pii_fields`). */
  readonly #byKey = new Map<string, number>();
  readonly #count = (keyId: string, fields: number): void => {
    this.#byKey.set(keyId, (this.#byKey.get(keyId) ?? 0) + fields);
  };
  readonly #uncount = (keyId: string, fields: number): void => {
    this.#byKey.set(keyId, (this.#byKey.get(keyId) ?? 0) - fields);
  };

  /**
   * @param sealer the worker's current sealer (it changes when the keyring is reloaded)
   * @param policy which profile properties are plain (the others are sealed here)
   */
  constructor(sealer: () => PiiSealer, policy: ProfilePolicy) {
    this.#sealer = sealer;
    this.#policy = policy;
  }

  /**
   * Seals every property of a profile event's props that is not declared plain into the
   * customer's record (objects and arrays as their JSON: personalText). Says how many fields of the
   * earlier record were dropped because it no longer opens (0 but after a key was removed from the
   * keyring) and how many values were refused (too long, or too many fields).
   */
  onProfile(slot: number, customerId: string, props: Record<string, unknown>): ProfileOutcome {
    let incoming: Record<string, string> | undefined;
    let refused = 0;
    for (const key of Object.keys(props)) {
      if (this.#policy.isPlain(key)) continue;
      const text = personalText(props[key]);
      if (text === undefined) continue;
      if (text.length > MAX_PERSONAL_VALUE_LENGTH) refused++;
      else (incoming ??= Object.create(null) as Record<string, string>)[key] = text;
    }
    if (incoming === undefined) return refused === 0 ? NOTHING : { dropped: 0, refused };
    const sealer = this.#sealer();
    const current = this.#sealed[slot];
    let dropped = 0;
    if (current !== undefined && !coveredBy(current, incoming)) {
      try {
        incoming = { ...sealer.openPii(customerId, current), ...incoming };
      } catch (err) {
        if (!(err instanceof BellwetherError)) throw err;
        dropped = fieldCount(current);
      }
    }
    const names = Object.keys(incoming);
    if (names.length > MAX_PERSONAL_FIELDS) {
      // The earlier fields are kept; the newest names past the bound are refused.
      for (const name of names.slice(MAX_PERSONAL_FIELDS)) delete incoming[name];
      refused += names.length - MAX_PERSONAL_FIELDS;
    }
    this.#set(slot, sealer.sealRecord(customerId, incoming));
    return dropped === 0 && refused === 0 ? NOTHING : { dropped, refused };
  }

  /**
   * The profile fields a checkpoint of an earlier version kept in the clear: those the policy does
   * not declare plain are sealed into the customer's record. Returns the plain ones (undefined when
   * none) and how many were sealed.
   */
  sealClearFields<T>(
    slot: number,
    customerId: string,
    fields: Readonly<Record<string, T>>,
  ): { plain: Record<string, T> | undefined; sealed: number } {
    let plain: Record<string, T> | undefined;
    let personal: Record<string, unknown> | undefined;
    let sealed = 0;
    for (const [key, value] of Object.entries(fields)) {
      if (this.#policy.isPlain(key)) (plain ??= Object.create(null) as Record<string, T>)[key] = value;
      else {
        (personal ??= {})[key] = value;
        sealed++;
      }
    }
    if (personal !== undefined) this.onProfile(slot, customerId, personal);
    return { plain, sealed };
  }

  #set(slot: number, sealed: SealedPii | undefined): void {
    const old = this.#sealed[slot];
    if (old !== undefined) fieldsByKey(old, this.#uncount);
    this.#sealed[slot] = sealed;
    if (sealed !== undefined) fieldsByKey(sealed, this.#count);
  }

  sealed(slot: number): SealedPii | undefined {
    return this.#sealed[slot];
  }

  moveSlot(from: number, to: number): void {
    this.#set(to, this.#sealed[from]);
    this.#set(from, undefined);
  }

  removeSlot(slot: number): void {
    this.#set(slot, undefined);
  }

  /**
   * Re-seals what is not under the current key and cipher (after a key rotation), gathering
   * per-field ciphertexts into records. Counts fields; those that do not open are kept as they are.
   */
  reseal(idOf: (slot: number) => string): { resealed: number; failed: number } {
    const sealer = this.#sealer();
    let resealed = 0;
    let failed = 0;
    this.#sealed.forEach((sealed, slot) => {
      if (sealed === undefined) return;
      try {
        const next = sealer.resealPii(idOf(slot), sealed);
        if (next !== sealed) {
          this.#set(slot, next);
          resealed += fieldCount(sealed);
        }
      } catch (err) {
        if (!(err instanceof BellwetherError)) throw err;
        failed += fieldCount(sealed);
      }
    });
    return { resealed, failed };
  }

  /** Adds the sealed fields per key id into `into` (metric `bellwether_pii_fields`). */
  countByKey(into: Map<string, number>): void {
    for (const [keyId, n] of this.#byKey) if (n > 0) into.set(keyId, (into.get(keyId) ?? 0) + n);
  }

  /** [slot, record] (or [slot, field → ciphertext] for customers not yet in a record). */
  snapshot(): [number, SealedPii][] {
    const out: [number, SealedPii][] = [];
    this.#sealed.forEach((sealed, slot) => {
      if (sealed !== undefined) out.push([slot, sealed]);
    });
    return out;
  }

  restore(entries: [number, SealedPii][] | undefined): void {
    for (const [slot, sealed] of entries ?? []) this.#set(slot, sealed);
  }
}

/** True when the event carries every field the customer already has (nothing to carry over). */
function coveredBy(current: SealedPii, incoming: Record<string, string>): boolean {
  for (const name of namesOf(current)) if (!Object.hasOwn(incoming, name)) return false;
  return true;
}
