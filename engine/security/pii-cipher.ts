/**
 * Sealing personal fields: authenticated encryption with the key id in every ciphertext.
 *
 * `bw1.<alg>.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts), where alg is
 * - `g`: AES-256-GCM, 96-bit random IV, 128-bit tag;
 * - `s`: SM4-CTR (GB/T 32907) then HMAC-SM3 (GB/T 32905) over everything before the tag
 *   (encrypt-then-MAC: Node's OpenSSL has SM4 in CBC/CTR, not GCM), 128-bit random IV.
 * Working keys come from the 256-bit master key by HKDF-SHA-256, one per purpose. The associated
 * data binds a ciphertext to where it belongs (customer and field), so a ciphertext copied onto
 * another customer or field does not open. Opening picks the algorithm and key from the
 * ciphertext, so switching BW_PII_CIPHER or rotating keys never strands old data.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomFillSync,
  timingSafeEqual,
} from 'node:crypto';
import { BellwetherError } from '../errors.js';
import type { PiiKey, PiiKeyring } from './pii-keyring.js';

const PREFIX = 'bw1';

interface WorkingKeys {
  gcm: Buffer;
  sm4: Buffer;
  sm3: Buffer;
}

const working = new WeakMap<Buffer, WorkingKeys>();

function derive(secret: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'bellwether-pii', info, length));
}

function workingKeys(key: PiiKey): WorkingKeys {
  let keys = working.get(key.secret);
  if (!keys) {
    keys = {
      gcm: derive(key.secret, 'aes-256-gcm', 32),
      sm4: derive(key.secret, 'sm4-ctr', 16),
      sm3: derive(key.secret, 'hmac-sm3', 32),
    };
    working.set(key.secret, keys);
  }
  return keys;
}

const b64 = (b: Buffer): string => b.toString('base64url');

/**
 * IVs come from the CSPRNG 4 KiB at a time (one `randomFillSync` per ~340 seals instead of one
 * syscall each: measured as a visible share of a worker folding profile events); every byte is
 * used once.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomIv(n: number): Buffer {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const iv = Buffer.from(pool.subarray(poolAt, poolAt + n));
  poolAt += n;
  return iv;
}

/** Seals `plaintext` with the keyring's current key and cipher, bound to `aad`. */
export function seal(keyring: PiiKeyring, plaintext: string | Uint8Array, aad: string): string {
  const key = keyring.current;
  const keys = workingKeys(key);
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  if (keyring.cipher === 'sm4') {
    const iv = randomIv(16);
    const c = createCipheriv('sm4-ctr', keys.sm4, iv);
    const ct = Buffer.concat([c.update(data), c.final()]);
    const head = `${PREFIX}.s.${key.id}.${b64(iv)}.${b64(ct)}`;
    return `${head}.${b64(sm3Tag(keys.sm3, head, aad))}`;
  }
  const iv = randomIv(12);
  const c = createCipheriv('aes-256-gcm', keys.gcm, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(data), c.final()]);
  return `${PREFIX}.g.${key.id}.${b64(iv)}.${b64(ct)}.${b64(c.getAuthTag())}`;
}

function sm3Tag(macKey: Buffer, head: string, aad: string): Buffer {
  const aadBytes = Buffer.from(aad, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(aadBytes.length);
  return createHmac('sm3', macKey).update(length).update(aadBytes).update(head).digest();
}

/** The key id a ciphertext was sealed with, or undefined when it is not one. */
export function sealedKeyId(sealed: string): string | undefined {
  const parts = sealed.split('.');
  return parts.length === 6 && parts[0] === PREFIX ? parts[2] : undefined;
}

export function isSealed(value: string): boolean {
  return sealedKeyId(value) !== undefined;
}

/** Opens a ciphertext made by {@link seal} with the same `aad`; BW_ERR_PII_DECRYPT otherwise. */
export function openSealedBytes(keyring: PiiKeyring, sealed: string, aad: string): Buffer {
  const parts = sealed.split('.');
  if (parts.length !== 6 || parts[0] !== PREFIX) {
    throw new BellwetherError('BW_ERR_PII_DECRYPT', 'not a bw1 ciphertext');
  }
  const [, alg, id, ivText, ctText, tagText] = parts as [string, string, string, string, string, string];
  const key = keyring.byId(id);
  if (!key) throw new BellwetherError('BW_ERR_PII_DECRYPT', `key id ${id} is not in the keyring`);
  const keys = workingKeys(key);
  const iv = Buffer.from(ivText, 'base64url');
  const ct = Buffer.from(ctText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  try {
    if (alg === 's') {
      const expected = sm3Tag(keys.sm3, parts.slice(0, 5).join('.'), aad);
      if (tag.length !== expected.length || !timingSafeEqual(tag, expected)) throw new Error('bad tag');
      const d = createDecipheriv('sm4-ctr', keys.sm4, iv);
      return Buffer.concat([d.update(ct), d.final()]);
    }
    if (alg !== 'g' || tag.length !== 16) throw new Error('bad algorithm');
    const d = createDecipheriv('aes-256-gcm', keys.gcm, iv);
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ct), d.final()]);
  } catch (err) {
    throw new BellwetherError('BW_ERR_PII_DECRYPT', `ciphertext under key ${id} fails authentication`, {
      cause: err,
    });
  }
}

export function openSealed(keyring: PiiKeyring, sealed: string, aad: string): string {
  return openSealedBytes(keyring, sealed, aad).toString('utf8');
}

/** The associated data of a personal field: the customer and the field name. */
export function fieldAad(customerId: string, field: string): string {
  return `pii\u0000${customerId}\u0000${field}`;
}

/**
 * The associated data of a dead letter's body: the events stream and sequence it came from
 * (header `Bw-Stream`; letters written before it existed bind the sequence only).
 */
export function deadLetterAad(sequence: number, stream?: string | null): string {
  return stream ? `dlq\u0000${stream}\u0000${sequence}` : `dlq\u0000${sequence}`;
}

/**
 * Opens a dead letter's sealed body from its `Bw-Stream-Seq` and `Bw-Stream` headers. A letter
 * with a stream but sealed to its sequence alone (written while the header existed and the binding
 * did not) is opened by the sequence as a fallback.
 */
export function openDeadLetterBody(
  keyring: PiiKeyring,
  sealed: string,
  sequence: number,
  stream?: string | null,
): Buffer {
  if (!stream) return openSealedBytes(keyring, sealed, deadLetterAad(sequence));
  try {
    return openSealedBytes(keyring, sealed, deadLetterAad(sequence, stream));
  } catch (err) {
    try {
      return openSealedBytes(keyring, sealed, deadLetterAad(sequence));
    } catch {
      throw err;
    }
  }
}
