/**
 * The bar inline keys (BW_API_KEYS, BW_PII_KEY) must clear. A key's strength is estimated as its
 * length times the Shannon entropy of its own symbol frequencies (characters of an API key, bytes
 * of a PII key): `aaaaaaaaaaaaaaaa` scores 0 bits, any 16-character key at most 64, a random
 * 32-byte key (`bellwether keys create`, `openssl rand -hex 32`) about 150 to 250. Keys under
 * {@link MIN_KEY_BITS} are refused with BW_ERR_KEY_WEAK. The estimate only catches keys that are
 * visibly not random; keys files (BW_API_KEYS_FILE of hashes, BW_PII_KEY_FILE) remain the
 * recommended way to pass keys.
 */
import { BellwetherError } from '../contract/errors.js';

/** Least estimated strength of an inline key, in bits. */
const MIN_KEY_BITS = 96;

/** Length × Shannon entropy (bits per symbol) of the symbols' own frequencies. */
export function estimatedKeyBits(symbols: ArrayLike<number>): number {
  const n = symbols.length;
  if (n === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(symbols[i]!, (counts.get(symbols[i]!) ?? 0) + 1);
  let perSymbol = 0;
  for (const c of counts.values()) perSymbol -= (c / n) * Math.log2(c / n);
  return n * perSymbol;
}

/** Throws BW_ERR_KEY_WEAK (naming `where`, never the key) when the key scores under the bar. */
export function requireStrongKey(symbols: ArrayLike<number>, where: string): void {
  const bits = estimatedKeyBits(symbols);
  if (bits < MIN_KEY_BITS) {
    throw new BellwetherError(
      'BW_ERR_KEY_WEAK',
      `${where}: the key looks weak (about ${Math.floor(bits)} bits, at least ${MIN_KEY_BITS} needed); use a random key (bellwether keys create, openssl rand -hex 32) or a keys file`,
      { data: { bits: Math.floor(bits), min_bits: MIN_KEY_BITS } },
    );
  }
}

/** The UTF-16 code units of a text key, as symbols. */
export function keySymbols(key: string): number[] {
  return Array.from(key, (c) => c.codePointAt(0)!);
}
