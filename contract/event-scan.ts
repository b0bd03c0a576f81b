/**
 * The fast path of event parsing (event-parse.ts): one pass over the bytes of a flat JSON event
 * body that checks it against the event schema and builds only the fields the engine reads. There
 * is no decoded copy of the body, no intermediate object, no schema validator call, and the common
 * ISO-8601 time form is read from its digits instead of through `Date.parse`. What each field may
 * hold comes from the field table (event-fields.ts), derived from the schema at module load.
 *
 * It gives up (returns undefined) whenever the body leaves the common shape: an escape or a
 * non-ASCII byte in a string the engine keeps, a field of the wrong type, a nested value under an
 * unknown key, an unknown key spelled with escapes, a time the digit reader does not cover, a body
 * type that is not the subject's. The caller then takes the general path (JSON.parse and the
 * schema validator), which also names the reason of a reject. So the fast path accepts a subset
 * of what the general path accepts, with the same values: the unit tests hold it to that on the
 * simulator's feed and on mutated bodies.
 */
import { FieldKind, fieldAt, fieldsFromSlots, newSlots, REQUIRED_MASK } from './event-fields.js';
import type { EventFields } from './event-schema.js';
import { isoTime, parseEventTime } from './event-time.js';

/** What the scanner read: the fields and the event time in epoch ms (NaN when unparseable). */
export interface ScannedEvent {
  body: EventFields;
  ts: number;
}

// The JSON token readers live in this module with the scan loop: imported from a module of their
// own, they made the scan ~25% slower (measured on Node 20), and so would an imported enum's members
// in the loop's comparisons, hence the field kinds as constants of this module below.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

// Node's own latin1 slicer works on any Uint8Array: one native call per kept string.
const latin1 = (
  Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, s: number, e: number): string }
).latin1Slice;

/** Exact powers of ten (10^22 is the largest exact double). */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** `i`, or the first index after `i` that is not JSON whitespace (a compact body calls no loop). */
function skipWs(data: Uint8Array, i: number): number {
  const first = data[i];
  if (first === undefined || first > 0x20) return i;
  for (;;) {
    const b = data[i];
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return i;
    i++;
  }
}

/**
 * End (the closing quote) of a string starting after its opening quote at `i`, or -1 on an
 * escape, a control character, the end of the bytes, or (unless `high`) a byte ≥ 0x80.
 */
function stringEnd(data: Uint8Array, i: number, high: boolean): number {
  for (;;) {
    const b = data[i];
    if (b === QUOTE) return i;
    if (b === undefined || b === BACKSLASH || b < 0x20 || (b >= 0x80 && !high)) return -1;
    i++;
  }
}

/** The value of the number read by the last {@link numberEnd}. */
let numberValue = 0;

/** End of a JSON number starting at `i` (its value in `numberValue`), or -1 when it is not one. */
function numberEnd(data: Uint8Array, i: number): number {
  const start = i;
  const negative = data[i] === MINUS;
  if (negative) i++;
  let mantissa = 0;
  let digits = 0;
  let b = data[i];
  if (b === ZERO) {
    i++;
  } else if (b !== undefined && b > ZERO && b <= NINE) {
    while (b !== undefined && b >= ZERO && b <= NINE) {
      mantissa = mantissa * 10 + (b - ZERO);
      digits++;
      b = data[++i];
    }
  } else {
    return -1;
  }
  let fraction = 0;
  if (data[i] === DOT) {
    b = data[++i];
    if (b === undefined || b < ZERO || b > NINE) return -1;
    while (b !== undefined && b >= ZERO && b <= NINE) {
      mantissa = mantissa * 10 + (b - ZERO);
      digits++;
      fraction++;
      b = data[++i];
    }
  }
  b = data[i];
  let exponent = false;
  if (b === 0x65 || b === 0x45) {
    exponent = true;
    b = data[++i];
    if (b === PLUS || b === MINUS) b = data[++i];
    if (b === undefined || b < ZERO || b > NINE) return -1;
    while (b !== undefined && b >= ZERO && b <= NINE) b = data[++i];
  }
  if (!exponent && digits <= 15 && fraction <= 22) {
    // Both operands are exact doubles, so the one correctly rounded division is the correctly
    // rounded decimal: the same double as JSON.parse.
    const v = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    numberValue = negative ? -v : v;
  } else {
    numberValue = Number(latin1.call(data, start, i));
  }
  return i;
}

/** End of the literal `true`, `false` or `null` at `i`, or -1. */
function literalEnd(data: Uint8Array, i: number): number {
  const b = data[i];
  const word = b === 0x74 ? 'true' : b === 0x66 ? 'false' : b === 0x6e ? 'null' : undefined;
  if (word === undefined) return -1;
  for (let k = 1; k < word.length; k++) if (data[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/**
 * End (after the closing brace) of the object at `i`, found by counting brackets outside
 * strings; the caller has JSON.parse check what is inside. -1 when it does not close.
 */
function objectEnd(data: Uint8Array, i: number): number {
  let depth = 0;
  for (;;) {
    const b = data[i++];
    if (b === undefined) return -1;
    if (b === QUOTE) {
      for (;;) {
        const c = data[i++];
        if (c === undefined) return -1;
        if (c === QUOTE) break;
        if (c === BACKSLASH) i++;
      }
    } else if (b === LBRACE || b === LBRACKET) {
      depth++;
    } else if (b === RBRACE || b === RBRACKET) {
      if (--depth === 0) return i;
    }
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

const UNKNOWN = FieldKind.Unknown;
const STRING = FieldKind.String;
const NUMBER = FieldKind.Number;
const OBJECT = FieldKind.Object;
const TYPE = FieldKind.Type;
const TIME = FieldKind.Time;

/**
 * Scans `data` as an event body of type `type` (the subject's, already known to be an event type).
 * Undefined when the general path must decide; otherwise the schema holds for the body, its type
 * is `type`, and `ts` is its event time (NaN when its form parses to no time).
 */
export function scanEvent(data: Uint8Array, type: EventFields['type']): ScannedEvent | undefined {
  let i = skipWs(data, 0);
  if (data[i] !== LBRACE) return undefined;
  i = skipWs(data, i + 1);
  if (data[i] === RBRACE) return undefined;
  const values = newSlots(); // the kept fields' values, by their index in KEPT_FIELDS
  let seen = 0;
  let ts = Number.NaN;
  for (;;) {
    if (data[i] !== QUOTE) return undefined;
    const keyStart = i + 1;
    const keyEnd = stringEnd(data, keyStart, true);
    if (keyEnd < 0) return undefined;
    i = skipWs(data, keyEnd + 1);
    if (data[i] !== COLON) return undefined;
    i = skipWs(data, i + 1);
    const field = fieldAt(data, keyStart, keyEnd);
    const kind = field.kind;
    const b = data[i];
    let end: number;
    if (b === QUOTE) {
      const s = i + 1;
      if (kind === STRING || kind === UNKNOWN) {
        end = stringEnd(data, s, !field.ascii);
        // Bytes ≥ characters, and equal in ASCII: a string within its limits in bytes is within
        // them in characters; past them, the general path decides.
        if (end < 0 || end - s < field.minLength || end - s > field.maxLength) return undefined;
        if (field.slot >= 0) values[field.slot] = latin1.call(data, s, end);
      } else if (kind === TYPE) {
        end = stringEnd(data, s, false);
        if (end - s !== type.length) return undefined;
        for (let k = 0; k < type.length; k++) if (data[s + k] !== type.charCodeAt(k)) return undefined;
        if (field.slot >= 0) values[field.slot] = type;
      } else if (kind === TIME) {
        end = stringEnd(data, s, false);
        if (end < 0 || end - s < field.minLength || end - s > field.maxLength) return undefined;
        ts = isoTime(data, s, end);
        if (Number.isNaN(ts)) ts = parseEventTime(latin1.call(data, s, end));
      } else {
        return undefined; // a string where the schema wants a number or an object
      }
      i = end + 1;
    } else if (b === MINUS || (b !== undefined && b >= ZERO && b <= NINE)) {
      end = numberEnd(data, i);
      if (end < 0) return undefined;
      if (kind === NUMBER) {
        if (!Number.isFinite(numberValue)) return undefined;
        if (field.slot >= 0) values[field.slot] = numberValue;
      } else if (kind === TIME) {
        ts = numberValue;
      } else if (kind !== UNKNOWN) {
        return undefined;
      }
      i = end;
    } else if (b === LBRACE && kind === OBJECT) {
      end = objectEnd(data, i);
      if (end < 0) return undefined;
      let value: unknown;
      try {
        value = JSON.parse(utf8Decoder.decode(data.subarray(i, end)));
      } catch {
        return undefined;
      }
      if (field.slot >= 0) values[field.slot] = value;
      i = end;
    } else if (kind === UNKNOWN) {
      // Scalars only: a nested value under an unknown key goes to the general path.
      end = literalEnd(data, i);
      if (end < 0) return undefined;
      i = end;
    } else {
      return undefined;
    }
    seen |= field.requiredBit;
    i = skipWs(data, i);
    const sep = data[i];
    if (sep === COMMA) {
      i = skipWs(data, i + 1);
      continue;
    }
    if (sep !== RBRACE) return undefined;
    break;
  }
  if (skipWs(data, i + 1) !== data.length) return undefined;
  if (seen !== REQUIRED_MASK) return undefined;
  return { body: fieldsFromSlots(values), ts };
}
