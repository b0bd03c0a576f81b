/**
 * The fast path of event parsing (event-parse.ts): one pass over the bytes of a flat JSON event
 * body that checks it against the event schema and builds only the fields the engine reads. There
 * is no decoded copy of the body, no intermediate object, no schema validator call, and the common
 * ISO-8601 time form is read from its digits instead of through `Date.parse`.
 *
 * It gives up (returns undefined) whenever the body leaves the common shape: an escape or a
 * non-ASCII byte in a string the engine keeps, a field of the wrong type, a nested value under an
 * unknown key, an unknown key spelled with escapes, a time the digit reader does not cover, a body
 * type that is not the subject's. The caller then takes the general path (JSON.parse and the
 * schema validator), which also names the reason of a reject. So the fast path accepts a subset
 * of what the general path accepts, with the same values: the unit tests hold it to that on the
 * simulator's feed and on mutated bodies.
 */
import type { EVENT_TYPES } from './event-types.js';

/** The fields of a valid event that the engine reads; the others are checked and dropped. */
export interface EventFields {
  event_id: string;
  customer_id: string;
  type: (typeof EVENT_TYPES)[number];
  amount?: number | undefined;
  quantity?: number | undefined;
  channel?: string | undefined;
  campaign?: string | undefined;
  props?: Record<string, unknown> | undefined;
}

/** What the scanner read: the fields and the event time in epoch ms (NaN when unparseable). */
export interface ScannedEvent {
  body: EventFields;
  ts: number;
}

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
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

enum Key {
  Unknown,
  EventId,
  CustomerId,
  Type,
  Ts,
  Amount,
  Currency,
  Quantity,
  Sku,
  Category,
  Channel,
  SessionId,
  Campaign,
  Props,
}

const KEY_NAMES: [string, Key][] = [
  ['event_id', Key.EventId],
  ['customer_id', Key.CustomerId],
  ['type', Key.Type],
  ['ts', Key.Ts],
  ['amount', Key.Amount],
  ['currency', Key.Currency],
  ['quantity', Key.Quantity],
  ['sku', Key.Sku],
  ['category', Key.Category],
  ['channel', Key.Channel],
  ['session_id', Key.SessionId],
  ['campaign', Key.Campaign],
  ['props', Key.Props],
];
/** Key names as bytes and their keys, grouped by name length. */
const KEY_BYTES: Uint8Array[][] = [];
const KEY_CODES: Key[][] = [];
for (const [name, key] of KEY_NAMES) {
  const bytes = new TextEncoder().encode(name);
  (KEY_BYTES[bytes.length] ??= []).push(bytes);
  (KEY_CODES[bytes.length] ??= []).push(key);
}

/** Exact powers of ten (10^22 is the largest exact double). */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

function keyOf(data: Uint8Array, start: number, end: number): Key {
  const candidates = KEY_BYTES[end - start];
  if (candidates === undefined) return Key.Unknown;
  for (let c = 0; c < candidates.length; c++) {
    const bytes = candidates[c]!;
    let i = 0;
    while (i < bytes.length && bytes[i] === data[start + i]) i++;
    if (i === bytes.length) return KEY_CODES[end - start]![c]!;
  }
  return Key.Unknown;
}

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

/** The value of the number read by {@link numberEnd}. */
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

/** End of `literal` (true, false, null) at `i`, or -1. */
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

function digit2(data: Uint8Array, i: number): number {
  const a = data[i]! - ZERO;
  const b = data[i + 1]! - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ` between `s` and `e` in epoch ms (what
 * `Date.parse` gives for it), or NaN for any other form (the caller then asks `Date.parse`).
 */
function isoTime(data: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n !== 20 && n !== 24) return Number.NaN;
  if (data[s + 4] !== MINUS || data[s + 7] !== MINUS || data[s + 10] !== 0x54) return Number.NaN;
  if (data[s + 13] !== COLON || data[s + 16] !== COLON || data[e - 1] !== 0x5a) return Number.NaN;
  const hi = digit2(data, s);
  const lo = digit2(data, s + 2);
  const month = digit2(data, s + 5);
  const day = digit2(data, s + 8);
  const hour = digit2(data, s + 11);
  const minute = digit2(data, s + 14);
  const second = digit2(data, s + 17);
  let ms = 0;
  if (n === 24) {
    if (data[s + 19] !== DOT) return Number.NaN;
    const a = digit2(data, s + 20);
    const c = data[s + 22]! - ZERO;
    if (a < 0 || c < 0 || c > 9) return Number.NaN;
    ms = a * 10 + c;
  }
  if (hi < 0 || lo < 0 || month < 1 || month > 12 || day < 1 || day > 31) return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return Number.NaN;
  return (daysFromCivil(hi * 100 + lo, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + ms;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil); a day
 * past the month's end runs into the next month, as with Date.UTC and Date.parse.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** A string value's end when its byte length is within `max` code points, or -1. */
function boundedStringEnd(data: Uint8Array, i: number, max: number): number {
  const end = stringEnd(data, i, true);
  // Bytes ≥ code points: within `max` bytes is within `max` characters; past it, the general path decides.
  return end >= 0 && end - i <= max ? end : -1;
}

/**
 * Scans `data` as an event body of type `type` (the subject's, already known to be an event type).
 * Undefined when the general path must decide; otherwise the schema holds for the body, its type
 * is `type`, and `ts` is its event time (NaN when its form parses to no time).
 */
export function scanEvent(data: Uint8Array, type: EventFields['type']): ScannedEvent | undefined {
  let i = skipWs(data, 0);
  if (data[i] !== LBRACE) return undefined;
  i = skipWs(data, i + 1);
  let eventId: string | undefined;
  let customerId: string | undefined;
  let typeSeen = false;
  let ts = Number.NaN;
  let tsSeen = false;
  let amount: number | undefined;
  let quantity: number | undefined;
  let channel: string | undefined;
  let campaign: string | undefined;
  let props: Record<string, unknown> | undefined;
  if (data[i] === RBRACE) return undefined;
  for (;;) {
    if (data[i] !== QUOTE) return undefined;
    const keyStart = i + 1;
    const keyEnd = stringEnd(data, keyStart, true);
    if (keyEnd < 0) return undefined;
    i = skipWs(data, keyEnd + 1);
    if (data[i] !== COLON) return undefined;
    i = skipWs(data, i + 1);
    const key = keyOf(data, keyStart, keyEnd);
    const b = data[i];
    let end: number;
    if (b === QUOTE) {
      const s = i + 1;
      switch (key) {
        case Key.EventId:
        case Key.CustomerId: {
          end = stringEnd(data, s, false);
          if (end <= s || end - s > 256) return undefined;
          const text = latin1.call(data, s, end);
          if (key === Key.EventId) eventId = text;
          else customerId = text;
          break;
        }
        case Key.Type: {
          end = stringEnd(data, s, false);
          if (end - s !== type.length) return undefined;
          for (let k = 0; k < type.length; k++) if (data[s + k] !== type.charCodeAt(k)) return undefined;
          typeSeen = true;
          break;
        }
        case Key.Ts: {
          end = stringEnd(data, s, false);
          if (end <= s || end - s > 64) return undefined;
          ts = isoTime(data, s, end);
          if (Number.isNaN(ts)) ts = parseEventTime(latin1.call(data, s, end));
          tsSeen = true;
          break;
        }
        case Key.Channel:
        case Key.Campaign: {
          end = stringEnd(data, s, false);
          if (end < 0 || end - s > (key === Key.Channel ? 128 : 256)) return undefined;
          const text = latin1.call(data, s, end);
          if (key === Key.Channel) channel = text;
          else campaign = text;
          break;
        }
        case Key.Currency:
          end = boundedStringEnd(data, s, 8);
          break;
        case Key.Sku:
        case Key.Category:
        case Key.SessionId:
          end = boundedStringEnd(data, s, 256);
          break;
        case Key.Unknown:
          end = stringEnd(data, s, true);
          break;
        default:
          return undefined; // a string where the schema wants a number or an object
      }
      if (end < 0) return undefined;
      i = end + 1;
    } else if (b === MINUS || (b !== undefined && b >= ZERO && b <= NINE)) {
      end = numberEnd(data, i);
      if (end < 0) return undefined;
      switch (key) {
        case Key.Ts:
          ts = numberValue;
          tsSeen = true;
          break;
        case Key.Amount:
          amount = numberValue;
          break;
        case Key.Quantity:
          quantity = numberValue;
          break;
        case Key.Unknown:
          break;
        default:
          return undefined;
      }
      i = end;
    } else if (b === LBRACE && key === Key.Props) {
      end = objectEnd(data, i);
      if (end < 0) return undefined;
      try {
        props = JSON.parse(utf8Decoder.decode(data.subarray(i, end))) as Record<string, unknown>;
      } catch {
        return undefined;
      }
      i = end;
    } else if (key === Key.Unknown) {
      // Scalars only: a nested value under an unknown key goes to the general path.
      end = literalEnd(data, i);
      if (end < 0) return undefined;
      i = end;
    } else {
      return undefined;
    }
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
  if (eventId === undefined || customerId === undefined || !typeSeen || !tsSeen) return undefined;
  if (
    (amount !== undefined && !Number.isFinite(amount)) ||
    (quantity !== undefined && !Number.isFinite(quantity))
  )
    return undefined;
  return {
    body: { event_id: eventId, customer_id: customerId, type, amount, quantity, channel, campaign, props },
    ts,
  };
}

/** Event time in epoch ms, or NaN when unparseable. Numbers are epoch ms; strings are ISO-8601. */
export function parseEventTime(ts: string | number): number {
  if (typeof ts === 'number') return Number.isFinite(ts) ? ts : Number.NaN;
  if (!/^\d{4}-\d{2}-\d{2}/.test(ts)) return Number.NaN;
  return Date.parse(ts);
}
