import { describe, expect, it } from 'vitest';
import { FIELDS, FieldKind, fieldAt, UNKNOWN_FIELD } from '../../contract/event-fields.js';
import { type ParseResult, parseEvent, parseEventJson } from '../../contract/event-parse.js';
import { scanEvent } from '../../contract/event-scan.js';
import { partitionOfCustomer } from '../../contract/subjects.js';
import { DAY_MS } from '../../contract/time.js';
import { EventSimulator } from '../../feeds/simulator.js';
import { mulberry32 } from '../../lib/random.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Case {
  body: Uint8Array;
  type: string;
  route: { partition: number; partitions: number };
}

/** The same outcome on both paths: equal fields and times (Object.is: -0 too), or the same reject. */
function expectSame(fast: ParseResult, slow: ParseResult, what: string): void {
  if (!fast.ok || !slow.ok) {
    expect({ what, ...fast }).toEqual({ what, ...slow });
    return;
  }
  const a = fast.event;
  const b = slow.event;
  expect(Object.is(a.ts, b.ts) && Object.is(a.amount, b.amount), what).toBe(true);
  expect(a.typeIndex, what).toBe(b.typeIndex);
  for (const key of ['amount', 'quantity'] as const)
    expect(Object.is(a.body[key], b.body[key]), `${what}: ${key}`).toBe(true);
  expect({ what, ...a.body }).toEqual({ what, ...b.body });
  // One object shape whichever path read it.
  expect(Object.keys(a.body)).toEqual(Object.keys(b.body));
}

function routeOf(customerId: string) {
  return { partition: partitionOfCustomer(customerId, 16), partitions: 16 };
}

function simulated(n: number, seed: number): Case[] {
  const sim = new EventSimulator({ customers: 2000, seed, startMs: NOW - 7 * DAY_MS, badRate: 0.02 });
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const e = sim.next();
    const body = typeof e.body === 'string' ? enc.encode(e.body) : e.body;
    const type = e.subject.split('.')[2]!;
    let id = 'c0';
    try {
      id = String((JSON.parse(dec.decode(body)) as { customer_id?: unknown }).customer_id);
    } catch {}
    cases.push({ body, type, route: routeOf(id) });
  }
  return cases;
}

/** Texts a mutation may put in place of a value or between tokens. */
const VALUES = [
  '"x"',
  '""',
  '"a\\"b"',
  '"\\u0063\\u0031"',
  '"é"',
  '"日本"',
  '"\u{1F600}"',
  '"c\\ud800"',
  '"\\udc00"',
  '"\\ud83d\\ude00"',
  '0',
  '-0',
  '-0.0',
  '1e3',
  '1E-2',
  '12.50',
  '0.1',
  '1.7976931348623157e308',
  '1e999',
  '123456789012345678',
  '0.30000000000000004',
  '-12.345',
  '-50',
  '9.9e12',
  '1000000',
  '01',
  '1.',
  '.5',
  '-',
  'true',
  'false',
  'null',
  'nul',
  '{}',
  '{"a":{"b":[1,2,{"c":"}"}]}}',
  '[1,2]',
  '[',
  '"2026-11-23T10:00:00Z"',
  '"2026-11-23T10:00:00.123Z"',
  '"2026-11-23T10:00:00.12Z"',
  '"2026-11-23T10:00:00+08:00"',
  '"2026-02-30T10:00:00Z"',
  '"2026-13-01T10:00:00Z"',
  '"2026-11-23T24:00:00Z"',
  '"2026-11-23T10:00:60Z"',
  '"0999-01-01T00:00:00Z"',
  '"2026-11-23"',
  '"2026-11-23t10:00:00z"',
  `"${'x'.repeat(300)}"`,
  `"${'y'.repeat(129)}"`,
  '"purchase"',
  '"login"',
  '1763892000000',
];
const KEYS = [
  'event_id',
  'customer_id',
  'type',
  'ts',
  'amount',
  'currency',
  'quantity',
  'sku',
  'category',
  'channel',
  'session_id',
  'campaign',
  'props',
  'extra',
  'event_i\\u0064',
];
const SPACES = [' ', '\n', '\t', '\r\n  '];

/** One random edit of a JSON text: a value, a key, whitespace, a cut, a duplicate or a removed field. */
function mutate(text: string, rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const at = Math.floor(rand() * text.length);
  switch (Math.floor(rand() * 8)) {
    case 0: {
      // replace the value after a colon
      const colon = text.indexOf(':', at);
      if (colon < 0) return text;
      let end = colon + 1;
      let depth = 0;
      let inString = false;
      for (; end < text.length; end++) {
        const c = text[end]!;
        if (inString) {
          if (c === '\\') end++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          if (depth === 0) break;
          depth--;
        } else if (c === ',' && depth === 0) break;
      }
      return `${text.slice(0, colon + 1)}${pick(VALUES)}${text.slice(end)}`;
    }
    case 1:
      return `${text.slice(0, -1)},"${pick(KEYS)}":${pick(VALUES)}}`;
    case 2: {
      const comma = text.indexOf(',', at);
      return comma < 0
        ? text
        : `${text.slice(0, comma)}${pick(SPACES)},${pick(SPACES)}${text.slice(comma + 1)}`;
    }
    case 3:
      return text.slice(0, at);
    case 4: {
      // drop a field
      const start = text.indexOf(',"', at);
      if (start < 0) return text;
      const next = text.indexOf(',"', start + 1);
      return next < 0 ? `${text.slice(0, start)}}` : text.slice(0, start) + text.slice(next);
    }
    case 5:
      return `${pick(SPACES)}${text}${pick(SPACES)}`;
    case 6:
      return `\uFEFF${text}`;
    default: {
      // a key renamed
      const q = text.indexOf('"', at);
      const q2 = q < 0 ? -1 : text.indexOf('"', q + 1);
      if (q2 < 0 || text[q2 + 1] !== ':') return text;
      return `${text.slice(0, q + 1)}${pick(KEYS)}${text.slice(q2)}`;
    }
  }
}

describe('event scanner (the fast path of event parsing)', () => {
  it('reads the whole simulated feed itself, with the same fields as JSON.parse and the validator', () => {
    let scanned = 0;
    for (const c of simulated(20_000, 11)) {
      if (scanEvent(c.body, c.type as never) !== undefined) scanned++;
      expectSame(
        parseEvent(c.body, c.type, c.route, NOW),
        parseEventJson(c.body, c.type, c.route, NOW),
        dec.decode(c.body),
      );
    }
    // Everything but the simulator's malformed events (2%) takes the fast path.
    expect(scanned).toBeGreaterThan(19_000);
  });

  it('gives the general path the same outcome over 40,000 mutated bodies', () => {
    const rand = mulberry32(5);
    const base = simulated(400, 3);
    let accepted = 0;
    let scanned = 0;
    for (let n = 0; n < 40_000; n++) {
      const from = base[n % base.length]!;
      let text = dec.decode(from.body);
      const edits = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < edits; k++) text = mutate(text, rand);
      const body = enc.encode(text);
      let id = 'c0';
      try {
        id = String((JSON.parse(text) as { customer_id?: unknown }).customer_id);
      } catch {}
      // Mostly the body's own subject type; now and then another, or one that is no event type.
      const type = n % 8 === 0 ? ['purchase', 'login', 'teleport'][(n >> 3) % 3]! : from.type;
      const fast = parseEvent(body, type, routeOf(id), NOW);
      expectSame(fast, parseEventJson(body, type, routeOf(id), NOW), text);
      if (fast.ok) accepted++;
      if (type !== 'teleport' && scanEvent(body, type as never) !== undefined) scanned++;
    }
    // Many mutations keep the body valid, and the scanner reads most of those itself.
    expect(accepted).toBeGreaterThan(8_000);
    expect(scanned).toBeGreaterThan(0.6 * accepted);
  });

  it('reads ISO times from their digits exactly as Date.parse, days past the month end included', () => {
    for (const year of [0, 999, 1600, 1900, 1970, 2000, 2024, 2100, 9999]) {
      for (let month = 1; month <= 12; month++) {
        for (let day = 1; day <= 31; day++) {
          for (const time of ['00:00:00Z', '23:59:59.999Z', '12:34:56.007Z']) {
            const ts = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T${time}`;
            const body = enc.encode(JSON.stringify({ event_id: 'e', customer_id: 'c', type: 'login', ts }));
            expect(scanEvent(body, 'login')?.ts, ts).toBe(Date.parse(ts));
          }
        }
      }
    }
  });

  it('reads numbers as JSON.parse does, and leaves escapes and nested unknown values to the general path', () => {
    for (const text of [
      '0',
      '-0',
      '25.74',
      '0.1',
      '-12.345',
      '1e3',
      '123456789012345678',
      '9007199254740993',
      '0.000001',
    ]) {
      const r = scanEvent(
        enc.encode(`{"event_id":"e","customer_id":"c","type":"purchase","ts":1,"amount":${text}}`),
        'purchase',
      );
      expect(Object.is(r?.body.amount, JSON.parse(text)), text).toBe(true);
    }
    for (const body of [
      '{"event_id":"e\\u0031","customer_id":"c","type":"login","ts":1}',
      '{"event_id":"e","customer_id":"c","type":"login","ts":1,"x":{"y":1}}',
      '{"event_id":"e","customer_id":"c","type":"login","ts":1,"x":[1]}',
      '{"event_id":"é","customer_id":"c","type":"login","ts":1}',
      '{"event_id":"e","customer_id":"c","type":"purchase","ts":1}',
    ])
      expect(scanEvent(enc.encode(body), 'login'), body).toBeUndefined();
  });

  it('takes every field rule from the event schema and finds each field by its name alone', () => {
    const rules = Object.fromEntries(
      FIELDS.map((f) => [
        f.name,
        [FieldKind[f.kind], f.minLength, f.maxLength, f.ascii, f.slot, f.requiredBit > 0],
      ]),
    );
    expect(rules).toEqual({
      event_id: ['String', 1, 256, true, 0, true],
      customer_id: ['String', 1, 256, true, 1, false],
      anonymous_id: ['String', 1, 256, true, 2, false],
      type: ['Type', 0, Number.POSITIVE_INFINITY, true, 3, true],
      ts: ['Time', 1, 64, true, -1, true],
      amount: ['Number', 0, Number.POSITIVE_INFINITY, true, 4, false],
      currency: ['String', 0, 8, true, 5, false],
      quantity: ['Number', 0, Number.POSITIVE_INFINITY, true, 6, false],
      sku: ['String', 0, 256, true, 7, false],
      category: ['String', 0, 256, true, 8, false],
      channel: ['String', 0, 128, true, 9, false],
      session_id: ['String', 0, 256, true, 10, false],
      campaign: ['String', 0, 256, true, 11, false],
      props: ['Object', 0, Number.POSITIVE_INFINITY, true, 12, false],
    });
    const at = (name: string) => {
      const bytes = enc.encode(`"${name}"`);
      return fieldAt(bytes, 1, bytes.length - 1);
    };
    for (const field of FIELDS) expect(at(field.name)).toBe(field);
    // Same lengths and the same looked-at bytes as real names, but other names.
    for (const name of [
      '',
      't',
      'ty',
      'tx',
      'typo',
      'cuRrency',
      'campaigN',
      'event_ie',
      'Event_id',
      'props_',
      'sessionid',
    ])
      expect(at(name), name).toBe(UNKNOWN_FIELD);
  });
});
