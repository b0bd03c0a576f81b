/**
 * Sealing and opening the personal fields of one customer with a keyring: the associated data
 * binds each ciphertext to its customer (and field, or a record's field names). Workers seal;
 * the main thread opens for the roles that may see a field.
 *
 * A customer's personal fields are one record (`bw2`, pii-cipher.ts). Checkpoints written before
 * records existed hold one `bw1` ciphertext per field; those open as they are and become a record
 * at the customer's next profile event, or when a key rotation re-seals them.
 */
import { BellwetherError } from '../contract/errors.js';
import {
  fieldAad,
  openRecord,
  openSealed,
  recordFields,
  seal,
  sealedCipher,
  sealedKeyId,
  sealRecord,
} from './pii-cipher.js';
import type { PiiKeyring } from './pii-keyring.js';

/** A customer's sealed personal fields: one record, or (from older checkpoints) one ciphertext per field. */
export type SealedPii = string | Readonly<Record<string, string>>;

export class PiiSealer {
  keyring: PiiKeyring;

  constructor(keyring: PiiKeyring) {
    this.keyring = keyring;
  }

  /** One field (the `bw1` form). */
  seal(customerId: string, field: string, value: string): string {
    return seal(this.keyring, value, fieldAad(customerId, field));
  }

  /** All personal fields of a customer as one record. */
  sealRecord(customerId: string, fields: Readonly<Record<string, string>>): string {
    return sealRecord(this.keyring, customerId, fields);
  }

  open(customerId: string, field: string, sealed: string): string {
    return openSealed(this.keyring, sealed, fieldAad(customerId, field));
  }

  /** Every field of a customer's sealed personal data; BW_ERR_PII_DECRYPT when any does not open. */
  openPii(customerId: string, sealed: SealedPii): Record<string, string> {
    if (typeof sealed === 'string') return openRecord(this.keyring, sealed, customerId);
    const out: Record<string, string> = {};
    for (const [field, text] of Object.entries(sealed)) out[field] = this.open(customerId, field, text);
    return out;
  }

  /** The ciphertext under the current key (the same one when it already is). */
  reseal(customerId: string, field: string, sealed: string): string {
    if (this.#isCurrent(sealed)) return sealed;
    return this.seal(customerId, field, this.open(customerId, field, sealed));
  }

  /**
   * The customer's fields under the current key and cipher: the same ciphertexts when they already
   * are; otherwise one record (per-field ciphertexts under an older key are gathered into one).
   */
  resealPii(customerId: string, sealed: SealedPii): SealedPii {
    if (typeof sealed === 'string') {
      if (this.#isCurrent(sealed)) return sealed;
    } else if (Object.values(sealed).every((text) => this.#isCurrent(text))) {
      // Already under the current key: left for the customer's next profile event, so the first
      // start on older checkpoints does not open every customer's fields at once.
      return sealed;
    }
    return this.sealRecord(customerId, this.openPii(customerId, sealed));
  }

  #isCurrent(sealed: string): boolean {
    return (
      sealedKeyId(sealed) === this.keyring.current.id && sealedCipher(sealed) === cipherCode(this.keyring)
    );
  }

  /**
   * Opens every field of a customer; a field that does not open (its key was removed, or it was
   * tampered with) is left out and reported through `onError` (a record's fields fail together).
   */
  openAll(
    customerId: string,
    sealed: SealedPii,
    onError: (field: string, err: BellwetherError) => void,
  ): Record<string, string> {
    if (typeof sealed === 'string') {
      try {
        return openRecord(this.keyring, sealed, customerId);
      } catch (err) {
        if (!(err instanceof BellwetherError)) throw err;
        for (const field of recordFields(sealed) ?? ['record']) onError(field, err);
        return {};
      }
    }
    const out: Record<string, string> = {};
    for (const [field, text] of Object.entries(sealed)) {
      try {
        out[field] = this.open(customerId, field, text);
      } catch (err) {
        if (!(err instanceof BellwetherError)) throw err;
        onError(field, err);
      }
    }
    return out;
  }
}

function cipherCode(keyring: PiiKeyring): string {
  return keyring.cipher === 'sm4' ? 's' : 'g';
}
