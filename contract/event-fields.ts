/**
 * The event scanner's field table, derived once at module load from the event schema
 * (event-schema.ts) and its list of kept fields: for each field, what the scanner reads there
 * (a bounded string, a finite number, an object, the event type, the event time), whether it is
 * required, and where the engine keeps it. A field is declared once, in the schema; a schema the
 * scanner does not check itself (an enum, a pattern, an integer...) makes it leave every body with
 * that field to the general path, so the scanner still accepts only what the validator accepts.
 * Also the two builders of an {@link EventFields} object (from the scanner's value slots, from a
 * validated body), generated once so that each is one object literal of the KEPT_FIELDS shape.
 */
import { BellwetherError } from './errors.js';
import { type EventBody, type EventFields, EventSchema, KEPT_FIELDS } from './event-schema.js';
import { EVENT_TYPES } from './event-types.js';

export enum FieldKind {
  /** A key the schema does not name: any scalar is fine (a nested value goes to the general path). */
  Unknown,
  /** A string of `minLength`..`maxLength` code points. */
  String,
  /** A finite number. */
  Number,
  /** An object; JSON.parse checks what is inside. */
  Object,
  /** The event type: the subject's type, in plain ASCII. */
  Type,
  /** The event time: a string of `minLength`..`maxLength` characters, or a number. */
  Time,
  /** A schema the scanner does not check: the general path decides a body with this field. */
  Unsupported,
}

export interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly minLength: number;
  readonly maxLength: number;
  /**
   * Whether a string must be plain ASCII (bytes = characters): a kept string is decoded as latin1,
   * and a minimum length over 1 could not be told from the byte length of other text.
   */
  readonly ascii: boolean;
  /** Index of the field in KEPT_FIELDS (the scanner's value slots), or -1 when it is dropped. */
  readonly slot: number;
  /** The field's bit in {@link REQUIRED_MASK}, or 0 when it is optional. */
  readonly requiredBit: number;
}

type JsonSchema = Readonly<Record<string, unknown>>;

const STRING_KEYWORDS = new Set(['type', 'minLength', 'maxLength', 'description']);
const NUMBER_KEYWORDS = new Set(['type', 'description']);
const OBJECT_KEYWORDS = new Set(['type', 'properties', 'additionalProperties', 'description']);
const TYPE_KEYWORDS = new Set(['type', 'enum', 'description']);
const TIME_KEYWORDS = new Set(['anyOf', 'description']);

/** Whether `schema` has only keywords from `allowed` (TypeBox's own keys are symbols, not seen here). */
function only(schema: JsonSchema, allowed: ReadonlySet<string>): boolean {
  return Object.keys(schema).every((k) => allowed.has(k));
}

function isString(s: JsonSchema): boolean {
  return s['type'] === 'string' && only(s, STRING_KEYWORDS);
}

function isNumber(s: JsonSchema): boolean {
  return s['type'] === 'number' && only(s, NUMBER_KEYWORDS);
}

/** An object with any properties: JSON.parse of its bytes is the whole check. */
function isOpenObject(s: JsonSchema): boolean {
  const properties = s['properties'];
  return (
    s['type'] === 'object' &&
    s['additionalProperties'] === true &&
    (properties === undefined || Object.keys(properties as object).length === 0) &&
    only(s, OBJECT_KEYWORDS)
  );
}

/** The string branch of the event time's `anyOf`, when it is a string-or-number union. */
function timeStringBranch(s: JsonSchema): JsonSchema | undefined {
  const branches = s['anyOf'];
  if (!Array.isArray(branches) || branches.length !== 2 || !only(s, TIME_KEYWORDS)) return undefined;
  const [a, b] = branches as JsonSchema[];
  if (isString(a!) && isNumber(b!)) return a;
  if (isNumber(a!) && isString(b!)) return b;
  return undefined;
}

function invalid(name: string, what: string): BellwetherError {
  return new BellwetherError('BW_ERR_INTERNAL', `event schema field ${name} must be ${what}`);
}

function fieldSpec(name: string, schema: JsonSchema, slot: number, requiredBit: number): FieldSpec {
  let kind: FieldKind;
  let limits: JsonSchema = schema;
  // The scanner returns the time and checks the type against the subject: these two are roles.
  if (name === 'type') {
    const values = schema['enum'];
    if (
      schema['type'] !== 'string' ||
      !only(schema, TYPE_KEYWORDS) ||
      !Array.isArray(values) ||
      !EVENT_TYPES.every((t) => values.includes(t))
    )
      throw invalid(name, 'a string enum of every event type');
    kind = FieldKind.Type;
  } else if (name === 'ts') {
    const text = timeStringBranch(schema);
    if (text === undefined) throw invalid(name, 'a union of a bounded string and a number');
    if (slot >= 0) throw invalid(name, 'the event time, which the scanner returns apart (not a kept field)');
    kind = FieldKind.Time;
    limits = text;
  } else if (isString(schema)) kind = FieldKind.String;
  else if (isNumber(schema)) kind = FieldKind.Number;
  else if (isOpenObject(schema)) kind = FieldKind.Object;
  else kind = FieldKind.Unsupported;
  const minLength = typeof limits['minLength'] === 'number' ? limits['minLength'] : 0;
  const maxLength = typeof limits['maxLength'] === 'number' ? limits['maxLength'] : Number.POSITIVE_INFINITY;
  const ascii = kind === FieldKind.Type || kind === FieldKind.Time || slot >= 0 || minLength > 1;
  return { name, kind, minLength, maxLength, ascii, slot, requiredBit };
}

const properties = EventSchema.properties as unknown as Readonly<Record<string, JsonSchema>>;
const required: readonly string[] = EventSchema.required ?? [];
if (required.length > 30) throw invalid('required', 'at most 30 fields');

/** One spec per schema field, in the schema's order. */
export const FIELDS: readonly FieldSpec[] = Object.entries(properties).map(([name, schema]) => {
  const r = required.indexOf(name);
  return fieldSpec(name, schema, KEPT_FIELDS.indexOf(name as never), r < 0 ? 0 : 1 << r);
});

/** The spec of a key the schema does not name. */
export const UNKNOWN_FIELD: FieldSpec = {
  name: '',
  kind: FieldKind.Unknown,
  minLength: 0,
  maxLength: Number.POSITIVE_INFINITY,
  ascii: false,
  slot: -1,
  requiredBit: 0,
};

/** Every required field's bit: a body is complete when the bits of the fields it has cover this. */
export const REQUIRED_MASK = required.length === 0 ? 0 : 2 ** required.length - 1;

/** The names of the number fields, each of which must be finite. */
export const NUMBER_FIELDS: readonly string[] = FIELDS.filter((f) => f.kind === FieldKind.Number).map(
  (f) => f.name,
);

// The key lookup: the field of a name is found from its length and one of its bytes, chosen per
// length so that the names of that length differ there (where no byte tells them all apart, the
// few that share one are compared in turn), then the whole name is compared once.
const encoder = new TextEncoder();
const NAMES = FIELDS.map((f) => encoder.encode(f.name));
const MAX_NAME = Math.max(0, ...NAMES.map((n) => n.length));
/** For each name length, the byte position looked at (the one with the most distinct bytes). */
const POSITION = new Int32Array(MAX_NAME + 1);
/** By name length × 256 + the byte at POSITION: 1 + the index of the first field it can be, or 0. */
const FIRST = new Int32Array((MAX_NAME + 1) * 256);
/** 1 + the index of the next field with the same length and byte, or 0. */
const NEXT = new Int32Array(FIELDS.length);
for (let length = 1; length <= MAX_NAME; length++) {
  const same = FIELDS.flatMap((_, k) => (NAMES[k]!.length === length ? [k] : []));
  let distinct = 0;
  for (let p = 0; p < length; p++) {
    const n = new Set(same.map((k) => NAMES[k]![p])).size;
    if (n > distinct) [distinct, POSITION[length]] = [n, p];
  }
  for (const k of same.reverse()) {
    const at = length * 256 + NAMES[k]![POSITION[length]!]!;
    NEXT[k] = FIRST[at]!;
    FIRST[at] = k + 1;
  }
}

/** The spec of the field whose name is the bytes from `start` to `end`, or UNKNOWN_FIELD. */
export function fieldAt(data: Uint8Array, start: number, end: number): FieldSpec {
  const length = end - start;
  if (length > MAX_NAME) return UNKNOWN_FIELD;
  let k = FIRST[length * 256 + data[start + POSITION[length]!]!]! - 1;
  while (k >= 0) {
    const name = NAMES[k]!;
    let i = 0;
    while (i < length && name[i] === data[start + i]) i++;
    if (i === length) return FIELDS[k]!;
    k = NEXT[k]! - 1;
  }
  return UNKNOWN_FIELD;
}

const keys = KEPT_FIELDS.map((name) => JSON.stringify(name));

/** A fresh array of value slots for the kept fields, one per KEPT_FIELDS entry, all undefined. */
export const newSlots = new Function(
  `'use strict'; return [${keys.map(() => 'undefined').join(', ')}];`,
) as () => unknown[];

/** The EventFields object of the scanner's value slots (KEPT_FIELDS order). */
export const fieldsFromSlots = new Function(
  'v',
  `'use strict'; return { ${keys.map((key, k) => `${key}: v[${k}]`).join(', ')} };`,
) as (values: readonly unknown[]) => EventFields;

/** The EventFields object of a validated body: its kept fields, in KEPT_FIELDS order. */
export const fieldsOfBody = new Function(
  'b',
  `'use strict'; return { ${keys.map((key) => `${key}: b[${key}]`).join(', ')} };`,
) as (body: EventBody) => EventFields;
