/**
 * Masking of personal fields: one module for every route, export and log line. A mask keeps the
 * first `first` and last `last` characters (Unicode code points) and replaces each other character
 * with `*`, so the length is kept, as in the plans' `138****5678`. An email keeps its domain and
 * masks its local part the same way. When what would be kept is not shorter than the value, all of
 * it is masked.
 *
 * Defaults: phone 3+4 (`138****5678`), email first letter + domain (`z***@example.com`), name first
 * character (`张**`), id_number last 4, address first 6, birthday first 4 (the year); a field spelled
 * otherwise (`Phone`, `mobile`, `idNumber`: personalKind) takes the mask of its kind. Other fields
 * are masked whole. BW_PII_MASKS overrides per field: `field:first:last,...`, e.g. `phone:7:0` for the
 * plans' `1381234****`.
 */
import { BellwetherError } from '../contract/errors.js';

/**
 * The kinds of personal field that have masks of their own. Every profile property that is not
 * declared plain is sealed (pii-policy.ts); these names only pick a mask, and keep a name from
 * being declared plain.
 */
const PERSONAL_FIELDS = ['name', 'phone', 'email', 'address', 'birthday', 'id_number'] as const;
type PersonalKind = (typeof PERSONAL_FIELDS)[number];

/**
 * Spellings of each kind, compared case-insensitively with `_`, `-`, `.` and spaces left out
 * (`Phone`, `PHONE`, `mobile_phone`, `idNumber`, `full-name`, `Date of Birth` all match).
 */
const ALIASES: Readonly<Record<PersonalKind, readonly string[]>> = {
  name: [
    'name',
    'fullname',
    'firstname',
    'lastname',
    'givenname',
    'familyname',
    'surname',
    'middlename',
    'realname',
    'legalname',
  ],
  phone: [
    'phone',
    'phonenumber',
    'phoneno',
    'mobile',
    'mobilephone',
    'mobilenumber',
    'mobileno',
    'cell',
    'cellphone',
    'tel',
    'telephone',
    'msisdn',
    'fax',
  ],
  email: ['email', 'emailaddress', 'mail', 'mailaddress'],
  address: [
    'address',
    'addr',
    'streetaddress',
    'street',
    'homeaddress',
    'postaladdress',
    'shippingaddress',
    'billingaddress',
    'postcode',
    'postalcode',
    'zip',
    'zipcode',
  ],
  birthday: ['birthday', 'birthdate', 'dateofbirth', 'dob', 'birthyear'],
  id_number: [
    'idnumber',
    'idno',
    'idcard',
    'idcardnumber',
    'nationalid',
    'identitynumber',
    'identitycard',
    'ssn',
    'socialsecuritynumber',
    'passport',
    'passportnumber',
    'passportno',
    'taxid',
    'driverslicense',
    'licensenumber',
  ],
};

const KIND_OF = new Map<string, PersonalKind>(
  PERSONAL_FIELDS.flatMap((kind) => ALIASES[kind].map((alias) => [alias, kind] as const)),
);

/** The personal kind a property name spells (case-insensitive, with aliases), or undefined. */
export function personalKind(name: string): PersonalKind | undefined {
  return KIND_OF.get(name.toLowerCase().replace(/[\s_.-]/g, ''));
}

export interface MaskRule {
  first: number;
  last: number;
}

const DEFAULT_MASKS: Readonly<Record<string, MaskRule>> = {
  phone: { first: 3, last: 4 },
  email: { first: 1, last: 0 },
  name: { first: 1, last: 0 },
  id_number: { first: 0, last: 4 },
  address: { first: 6, last: 0 },
  birthday: { first: 4, last: 0 },
};

const WHOLE: MaskRule = { first: 0, last: 0 };

/** Pattern of BW_PII_MASKS (also used by the config schema). */
export const MASKS_PATTERN =
  '^\\s*[a-z_]{1,32}:\\d{1,3}:\\d{1,3}(\\s*,\\s*[a-z_]{1,32}:\\d{1,3}:\\d{1,3})*\\s*$';

export function parseMasks(text: string | undefined): Record<string, MaskRule> {
  const masks: Record<string, MaskRule> = { ...DEFAULT_MASKS };
  if (!text?.trim()) return masks;
  if (!new RegExp(MASKS_PATTERN).test(text)) {
    throw new BellwetherError('BW_ERR_CONFIG_INVALID', 'BW_PII_MASKS: expected field:first:last,...');
  }
  for (const entry of text.split(',')) {
    const [field, first, last] = entry.trim().split(':') as [string, string, string];
    masks[field] = { first: Number(first), last: Number(last) };
  }
  return masks;
}

function keepEnds(chars: string[], rule: MaskRule): string {
  const n = chars.length;
  if (rule.first + rule.last >= n) return '*'.repeat(n);
  return (
    chars.slice(0, rule.first).join('') +
    '*'.repeat(n - rule.first - rule.last) +
    chars.slice(n - rule.last).join('')
  );
}

export class Masker {
  readonly #rules: Record<string, MaskRule>;

  constructor(rules: Record<string, MaskRule> = DEFAULT_MASKS) {
    this.#rules = rules;
  }

  mask(field: string, value: string): string {
    const kind = personalKind(field);
    const rule = this.#rules[field] ?? (kind === undefined ? undefined : this.#rules[kind]) ?? WHOLE;
    if (kind === 'email') {
      const at = value.lastIndexOf('@');
      if (at > 0) return keepEnds(Array.from(value.slice(0, at)), rule) + value.slice(at);
    }
    return keepEnds(Array.from(value), rule);
  }

  /** Masks every field of a record. */
  maskAll(fields: Readonly<Record<string, string>>): Record<string, string> {
    const out = Object.create(null) as Record<string, string>; // a field may be named `__proto__`
    for (const [field, value] of Object.entries(fields)) out[field] = this.mask(field, value);
    return out;
  }
}

/**
 * pino `redact` settings that mask personal fields wherever a log line carries them (an event's
 * `props`, a `pii` record, a bare field) and hide credentials, through the same masks.
 */
export function logRedaction(masker: Masker): {
  paths: string[];
  censor: (value: unknown, path: string[]) => unknown;
} {
  // Exact names only (pino's paths are not patterns): the kinds and their aliases as spelled here.
  const names = [...new Set([...PERSONAL_FIELDS, ...KIND_OF.keys()])];
  const paths = names.flatMap((f) => [f, `*.${f}`, `*.props.${f}`, `*.pii.${f}`, `*.*.props.${f}`]);
  paths.push('req.headers.authorization', 'headers.authorization', 'authorization', 'apiKey', 'secret');
  return {
    paths,
    censor: (value, path) => {
      const field = path[path.length - 1] ?? '';
      if (typeof value === 'string' && personalKind(field) !== undefined) return masker.mask(field, value);
      return '[redacted]';
    },
  };
}
