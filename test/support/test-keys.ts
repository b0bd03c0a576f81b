/**
 * Inline keys for tests that clear the entropy bar of security/key-strength.ts: derived from a
 * label (so a test can name them), random-looking, the same on every run.
 */
import { createHash } from 'node:crypto';

/** An API key `<label>-<43 base64url characters>`. */
export function strongApiKey(label: string): string {
  return `${label}-${createHash('sha256').update(`api:${label}`).digest('base64url')}`;
}

/** A PII key entry `<id>:<64 hex digits>`. */
export function strongPiiKey(id: string): string {
  return `${id}:${createHash('sha256').update(`pii:${id}`).digest('hex')}`;
}
