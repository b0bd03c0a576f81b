/**
 * Sealing and opening the personal fields of one customer with a keyring: the associated data
 * binds each ciphertext to its customer and field. Workers seal; the main thread opens for the
 * roles that may see a field.
 */
import { BellwetherError } from '../errors.js';
import { fieldAad, openSealed, seal, sealedKeyId } from './pii-cipher.js';
import type { PiiKeyring } from './pii-keyring.js';

export class PiiSealer {
  keyring: PiiKeyring;

  constructor(keyring: PiiKeyring) {
    this.keyring = keyring;
  }

  seal(customerId: string, field: string, value: string): string {
    return seal(this.keyring, value, fieldAad(customerId, field));
  }

  open(customerId: string, field: string, sealed: string): string {
    return openSealed(this.keyring, sealed, fieldAad(customerId, field));
  }

  /** The ciphertext under the current key (the same one when it already is). */
  reseal(customerId: string, field: string, sealed: string): string {
    if (
      sealedKeyId(sealed) === this.keyring.current.id &&
      sealed.split('.')[1] === cipherCode(this.keyring)
    ) {
      return sealed;
    }
    return this.seal(customerId, field, this.open(customerId, field, sealed));
  }

  /**
   * Opens every field of a customer; a field that does not open (its key was removed, or it was
   * tampered with) is left out and reported through `onError`.
   */
  openAll(
    customerId: string,
    sealed: Readonly<Record<string, string>>,
    onError: (field: string, err: BellwetherError) => void,
  ): Record<string, string> {
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
