/**
 * Which properties of a `profile` event are personal: all of them, except the ones declared
 * non-personal (BW_PROFILE_PLAIN_FIELDS, an allow-list of exact, case-sensitive names). Personal
 * properties are sealed (partition-pii.ts), whatever their spelling (`Phone`, `EMAIL`, `mobile`,
 * `idNumber`...); only the allow-listed ones are kept in the clear, where rules and tags read them as
 * `profile.<name>`. A name that reads as a personal field (personalKind, masking.ts) cannot be
 * allow-listed. docs/security.md describes the policy.
 */
import { BellwetherError } from '../contract/errors.js';
import { personalKind } from './masking.js';

/** Profile properties kept in the clear unless BW_PROFILE_PLAIN_FIELDS says otherwise. */
export const DEFAULT_PLAIN_PROFILE_FIELDS = [
  'tier',
  'plan',
  'city',
  'region',
  'country',
  'language',
  'locale',
  'timezone',
] as const;

/** A plain field's name: what a rule can spell as `profile.<name>`. */
const PLAIN_NAME = '[A-Za-z0-9_]{1,64}';

/** Pattern of BW_PROFILE_PLAIN_FIELDS (also used by the config schema); `-`: nothing is plain. */
export const PLAIN_FIELDS_PATTERN = `^\\s*(-|${PLAIN_NAME}(\\s*,\\s*${PLAIN_NAME})*)\\s*$`;

/** Longest personal value sealed, in characters; longer values are refused (counted, not kept). */
export const MAX_PERSONAL_VALUE_LENGTH = 4096;

/** Most personal fields kept per customer; further new names are refused (counted, not kept). */
export const MAX_PERSONAL_FIELDS = 64;

/** The allow-list from its setting's text; BW_ERR_CONFIG_INVALID for a bad list or a personal name. */
export function parsePlainFields(text: string | undefined): ReadonlySet<string> {
  if (text === undefined) return new Set(DEFAULT_PLAIN_PROFILE_FIELDS);
  if (!new RegExp(PLAIN_FIELDS_PATTERN).test(text)) {
    throw new BellwetherError('BW_ERR_CONFIG_INVALID', 'BW_PROFILE_PLAIN_FIELDS: expected name,name,...');
  }
  if (text.trim() === '-') return new Set();
  const names = text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  const personal = names.filter((n) => personalKind(n) !== undefined);
  if (personal.length > 0) {
    throw new BellwetherError(
      'BW_ERR_CONFIG_INVALID',
      `BW_PROFILE_PLAIN_FIELDS: ${personal.join(', ')} name personal data and cannot be declared plain`,
    );
  }
  return new Set(names);
}

export class ProfilePolicy {
  readonly #plain: ReadonlySet<string>;

  /** @param plainFields BW_PROFILE_PLAIN_FIELDS (undefined: the defaults) */
  constructor(plainFields?: string) {
    this.#plain = parsePlainFields(plainFields);
  }

  /** Whether a property is declared non-personal (kept in the clear, readable by rules). */
  isPlain(name: string): boolean {
    return this.#plain.has(name);
  }

  get plainFields(): readonly string[] {
    return [...this.#plain];
  }
}

/**
 * The text a personal value is sealed as: strings as they are, numbers and booleans as their
 * JSON, objects and arrays as their JSON (so nothing given is dropped); undefined for null and the
 * empty string (nothing to keep).
 */
export function personalText(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return undefined;
}
