/**
 * Sealing personal fields: authenticated encryption with the key id in every ciphertext.
 *
 * `bw1.<alg>.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts) seals one value, and
 * `bw2.<alg>.<key id>.<field names>.<iv>.<ciphertext>.<tag>` all personal fields of one customer
 * (one encryption per profile event instead of one per field). alg is
 * - `g`: AES-256-GCM, 96-bit random IV, 128-bit tag;
 * - `s`: SM4-CTR (GB/T 32907) then HMAC-SM3 (GB/T 32905) over everything before the tag
 *   (encrypt-then-MAC: Node's OpenSSL has SM4 in CBC/CTR, not GCM), 128-bit random IV.
 * Working keys come from the 256-bit master key by HKDF-SHA-256, one per purpose. The associated
 * data binds a ciphertext to where it belongs (customer and field; a record: customer and its
 * field names), so a ciphertext copied onto another customer or field does not open. Opening picks the algorithm and key from the
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
import { BellwetherError } from '../contract/errors.js';
import type { PiiKey, PiiKeyring } from './pii-keyring.js';

const PREFIX = 'bw1';
const RECORD_PREFIX = 'bw2';

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

/**
 * Encrypts `data` under the keyring's current key and cipher, bound to `aad`:
 * `<prefix>.<alg>.<key id>[.<clear>].<iv>.<ciphertext>.<tag>`; the SM4 MAC covers everything
 * before the tag.
 */
function encrypt(keyring: PiiKeyring, data: Uint8Array, aad: string, prefix: string, clear?: string): string {
  const key = keyring.current;
  const keys = workingKeys(key);
  const sm4 = keyring.cipher === 'sm4';
  const front = `${prefix}.${sm4 ? 's' : 'g'}.${key.id}${clear === undefined ? '' : `.${clear}`}`;
  if (sm4) {
    const iv = randomIv(16);
    const c = createCipheriv('sm4-ctr', keys.sm4, iv);
    const ct = Buffer.concat([c.update(data), c.final()]);
    const head = `${front}.${b64(iv)}.${b64(ct)}`;
    return `${head}.${b64(sm3Tag(keys.sm3, head, aad))}`;
  }
  const iv = randomIv(12);
  const c = createCipheriv('aes-256-gcm', keys.gcm, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(data), c.final()]);
  return `${front}.${b64(iv)}.${b64(ct)}.${b64(c.getAuthTag())}`;
}

/** Seals `plaintext` with the keyring's current key and cipher, bound to `aad` (the `bw1` form). */
export function seal(keyring: PiiKeyring, plaintext: string | Uint8Array, aad: string): string {
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  return encrypt(keyring, data, aad, PREFIX);
}

function sm3Tag(macKey: Buffer, head: string, aad: string): Buffer {
  const aadBytes = Buffer.from(aad, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(aadBytes.length);
  return createHmac('sm3', macKey).update(length).update(aadBytes).update(head).digest();
}

/** The key id a ciphertext (either form) was sealed with, or undefined when it is not one. */
export function sealedKeyId(sealed: string): string | undefined {
  const parts = sealed.split('.');
  return (parts.length === 6 && parts[0] === PREFIX) || (parts.length === 7 && parts[0] === RECORD_PREFIX)
    ? parts[2]
    : undefined;
}

/** The algorithm code (`g` or `s`) of a ciphertext of either form. */
export function sealedCipher(sealed: string): string | undefined {
  return sealed.split('.')[1];
}

/**
 * Decrypts the parts of a ciphertext: `[prefix, alg, key id, ...clear, iv, ciphertext, tag]`;
 * BW_ERR_PII_DECRYPT when the key is missing or authentication fails.
 */
function decrypt(keyring: PiiKeyring, parts: readonly string[], aad: string): Buffer {
  const n = parts.length;
  const alg = parts[1]!;
  const id = parts[2]!;
  const key = keyring.byId(id);
  if (!key) throw new BellwetherError('BW_ERR_PII_DECRYPT', `key id ${id} is not in the keyring`);
  const keys = workingKeys(key);
  const iv = Buffer.from(parts[n - 3]!, 'base64url');
  const ct = Buffer.from(parts[n - 2]!, 'base64url');
  const tag = Buffer.from(parts[n - 1]!, 'base64url');
  try {
    if (alg === 's') {
      const expected = sm3Tag(keys.sm3, parts.slice(0, n - 1).join('.'), aad);
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

/** Opens a ciphertext made by {@link seal} with the same `aad`; BW_ERR_PII_DECRYPT otherwise. */
export function openSealedBytes(keyring: PiiKeyring, sealed: string, aad: string): Buffer {
  const parts = sealed.split('.');
  if (parts.length !== 6 || parts[0] !== PREFIX) {
    throw new BellwetherError('BW_ERR_PII_DECRYPT', 'not a bw1 ciphertext');
  }
  return decrypt(keyring, parts, aad);
}

export function openSealed(keyring: PiiKeyring, sealed: string, aad: string): string {
  return openSealedBytes(keyring, sealed, aad).toString('utf8');
}

/**
 * A field name in the clear part of a record: as it is when it is a plain name, else `~` and the
 * base64url of its UTF-8 (profile properties may be named anything; `.` and `,` separate parts).
 */
const PLAIN_FIELD_NAME = /^[A-Za-z0-9_]{1,64}$/;
const ENCODED_FIELD_NAME = /^~[A-Za-z0-9_-]+$/;

function frontName(name: string): string {
  if (PLAIN_FIELD_NAME.test(name)) return name;
  if (name.length === 0) throw new BellwetherError('BW_ERR_PII_DECRYPT', 'empty personal field name');
  return `~${Buffer.from(name, 'utf8').toString('base64url')}`;
}

/** A record's field name from its clear form (frontName); BW_ERR_PII_DECRYPT when it is not one. */
export function fieldName(front: string): string {
  if (PLAIN_FIELD_NAME.test(front)) return front;
  if (!ENCODED_FIELD_NAME.test(front)) throw new BellwetherError('BW_ERR_PII_DECRYPT', 'not a field name');
  return Buffer.from(front.slice(1), 'base64url').toString('utf8');
}

function recordAad(customerId: string, names: string): string {
  return `pii2\u0000${customerId}\u0000${names}`;
}

/**
 * Seals every personal field of one customer as one record (the `bw2` form): one encryption
 * however many fields. `bw2.<alg>.<key id>.<field names>.<iv>.<ciphertext>.<tag>`: the field
 * names (sorted, comma-separated) are in the clear and authenticated with the customer id as the
 * associated data; the plaintext is the JSON array of the values in that order.
 */
export function sealRecord(
  keyring: PiiKeyring,
  customerId: string,
  fields: Readonly<Record<string, string>>,
): string {
  const byFront = new Map(Object.keys(fields).map((name) => [frontName(name), name]));
  const names = [...byFront.keys()].sort();
  const list = names.join(',');
  const plaintext = Buffer.from(JSON.stringify(names.map((n) => fields[byFront.get(n)!])), 'utf8');
  return encrypt(keyring, plaintext, recordAad(customerId, list), RECORD_PREFIX, list);
}

/**
 * The key id and comma-separated field names of a record, read from its clear front
 * `bw2.<alg>.<key id>.<names>.` with indexOf (workers read it at every profile event; nothing is
 * decrypted); undefined for other text.
 */
export function recordFront(sealed: string): { keyId: string; names: string } | undefined {
  if (!sealed.startsWith(`${RECORD_PREFIX}.`)) return undefined;
  const a = sealed.indexOf('.', RECORD_PREFIX.length + 1);
  const b = a < 0 ? -1 : sealed.indexOf('.', a + 1);
  const c = b < 0 ? -1 : sealed.indexOf('.', b + 1);
  return c < 0 ? undefined : { keyId: sealed.slice(a + 1, b), names: sealed.slice(b + 1, c) };
}

/** The field names of a record, read from its clear part (nothing is decrypted); undefined for other text. */
export function recordFields(sealed: string): string[] | undefined {
  const parts = sealed.split('.');
  if (parts.length !== 7 || parts[0] !== RECORD_PREFIX) return undefined;
  try {
    return parts[3]!.split(',').map(fieldName);
  } catch {
    return undefined;
  }
}

/** Opens a record made by {@link sealRecord} for `customerId`; BW_ERR_PII_DECRYPT otherwise. */
export function openRecord(keyring: PiiKeyring, sealed: string, customerId: string): Record<string, string> {
  const parts = sealed.split('.');
  if (parts.length !== 7 || parts[0] !== RECORD_PREFIX) {
    throw new BellwetherError('BW_ERR_PII_DECRYPT', 'not a bw2 record');
  }
  const names = parts[3]!.split(',').map(fieldName);
  const values = JSON.parse(
    decrypt(keyring, parts, recordAad(customerId, parts[3]!)).toString('utf8'),
  ) as unknown;
  if (!Array.isArray(values) || values.length !== names.length)
    throw new BellwetherError('BW_ERR_PII_DECRYPT', 'record does not match its field names');
  const out = Object.create(null) as Record<string, string>; // a field may be named `__proto__`
  names.forEach((name, i) => {
    out[name] = String(values[i]);
  });
  return out;
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
