/**
 * The keys that seal personal fields. A keyring holds one or more 256-bit master keys, each with a
 * key id that travels in every ciphertext; the first key seals, every key opens. Rotation: put the
 * new key first and keep the old ones until `bellwether_pii_fields{key_id}` shows none left under
 * them (the engine re-seals old ciphertexts when the keyring changes).
 *
 * Key text (BW_PII_KEY, or the lines of BW_PII_KEY_FILE): `id:secret` entries separated by commas
 * or new lines, or one bare `secret` whose id is derived from it. A secret is 32 bytes as 64 hex
 * digits or base64 / base64url; an inline key (BW_PII_KEY) must also clear the entropy bar of
 * key-strength.ts (BW_ERR_KEY_WEAK). Without either setting, a random key is created once in
 * `<data dir>/pii.key` (mode 0600) and a warning says to move it out of the data directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BellwetherError } from '../contract/errors.js';
import { requireStrongKey } from './key-strength.js';

export const PII_CIPHERS = ['aes-256-gcm', 'sm4'] as const;
export type PiiCipherName = (typeof PII_CIPHERS)[number];

export interface PiiKey {
  readonly id: string;
  /** 32 bytes. */
  readonly secret: Buffer;
}

/** What crosses into a worker thread (structured clone keeps Uint8Arrays). */
export interface PiiKeyringData {
  cipher: PiiCipherName;
  keys: { id: string; secret: Uint8Array }[];
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

function decodeSecret(text: string, where: string): Buffer {
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t)
    ? Buffer.from(t, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(t)
      ? Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
      : Buffer.alloc(0);
  if (bytes.length !== 32) {
    throw new BellwetherError(
      'BW_ERR_PII_KEY',
      `${where}: a key must be 32 bytes as 64 hex digits or base64`,
    );
  }
  return bytes;
}

/** The id of a bare key: 8 hex digits of its SHA-256 (not secret: 32 bits of a one-way hash). */
export function derivedKeyId(secret: Buffer): string {
  return createHash('sha256').update('bellwether-pii-key-id').update(secret).digest('hex').slice(0, 8);
}

export class PiiKeyring {
  readonly cipher: PiiCipherName;
  readonly keys: readonly PiiKey[];
  readonly #byId: Map<string, PiiKey>;

  constructor(cipher: PiiCipherName, keys: readonly PiiKey[]) {
    if (keys.length === 0) throw new BellwetherError('BW_ERR_PII_KEY', 'the keyring is empty');
    this.cipher = cipher;
    this.keys = keys;
    this.#byId = new Map();
    for (const key of keys) {
      if (this.#byId.has(key.id)) throw new BellwetherError('BW_ERR_PII_KEY', `key id ${key.id} repeats`);
      this.#byId.set(key.id, key);
    }
  }

  /** A hash of every id and secret in order: equal fingerprints, same keyring. Not secret-revealing. */
  get fingerprint(): string {
    const h = createHash('sha256');
    for (const k of this.keys) h.update(k.id).update('\0').update(k.secret);
    return h.digest('hex');
  }

  /** The key that seals. */
  get current(): PiiKey {
    return this.keys[0]!;
  }

  byId(id: string): PiiKey | undefined {
    return this.#byId.get(id);
  }

  /** Parses key text (see the module comment). `where` names the source in errors, never the value. */
  static parse(text: string, cipher: PiiCipherName, where: string): PiiKeyring {
    const entries = text
      .split(/[,\n]/)
      .map((e) => e.trim())
      .filter((e) => e !== '' && !e.startsWith('#'));
    const keys = entries.map((entry, i) => {
      const colon = entry.indexOf(':');
      if (colon < 0) {
        const secret = decodeSecret(entry, `${where} entry ${i + 1}`);
        return { id: derivedKeyId(secret), secret };
      }
      const id = entry.slice(0, colon);
      if (!KEY_ID.test(id)) {
        throw new BellwetherError('BW_ERR_PII_KEY', `${where} entry ${i + 1}: key id must match ${KEY_ID}`);
      }
      return { id, secret: decodeSecret(entry.slice(colon + 1), `${where} entry ${i + 1}`) };
    });
    return new PiiKeyring(cipher, keys);
  }

  toData(): PiiKeyringData {
    return {
      cipher: this.cipher,
      keys: this.keys.map((k) => ({ id: k.id, secret: new Uint8Array(k.secret) })),
    };
  }

  static fromData(data: PiiKeyringData): PiiKeyring {
    return new PiiKeyring(
      data.cipher,
      data.keys.map((k) => ({ id: k.id, secret: Buffer.from(k.secret) })),
    );
  }
}

export interface KeyringSource {
  cipher: PiiCipherName;
  /** BW_PII_KEY (secret). */
  key?: string | undefined;
  /** BW_PII_KEY_FILE. */
  keyFile?: string | undefined;
  dataDir: string;
}

/** Where the keyring comes from, for logs: never the key itself. */
export function keyringOrigin(source: KeyringSource): string {
  if (source.key) return 'BW_PII_KEY';
  if (source.keyFile) return source.keyFile;
  return generatedKeyFile(source.dataDir);
}

function generatedKeyFile(dataDir: string): string {
  return path.join(dataDir, 'pii.key');
}

/**
 * Loads the keyring: BW_PII_KEY, else BW_PII_KEY_FILE, else the generated `<data dir>/pii.key`
 * (created on first use). `generated` says the last case happened, so the caller can warn.
 */
export async function loadKeyring(
  source: KeyringSource,
): Promise<{ keyring: PiiKeyring; generated: boolean }> {
  if (source.key) {
    const keyring = PiiKeyring.parse(source.key, source.cipher, 'BW_PII_KEY');
    // Inline keys only: a keys file is the recommended path and is taken as its owner wrote it.
    for (const key of keyring.keys) requireStrongKey(key.secret, `BW_PII_KEY key ${key.id}`);
    return { keyring, generated: false };
  }
  if (source.keyFile) {
    let text: string;
    try {
      text = await readFile(source.keyFile, 'utf8');
    } catch (err) {
      throw new BellwetherError('BW_ERR_PII_KEY', `cannot read ${source.keyFile}`, { cause: err });
    }
    return { keyring: PiiKeyring.parse(text, source.cipher, source.keyFile), generated: false };
  }
  const file = generatedKeyFile(source.dataDir);
  try {
    return { keyring: PiiKeyring.parse(await readFile(file, 'utf8'), source.cipher, file), generated: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(source.dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  const id = `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
  await writeFile(file, `${id}:${secret.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { keyring: new PiiKeyring(source.cipher, [{ id, secret }]), generated: true };
}
