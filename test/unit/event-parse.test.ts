import { describe, expect, it } from 'vitest';
import { parseEvent, parseEventJson, parseEventTime } from '../../contract/event-parse.js';
import { scanEvent } from '../../contract/event-scan.js';
import { customerToken, partitionOfCustomer } from '../../contract/subjects.js';
import { DAY_MS } from '../../contract/time.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const good = {
  event_id: 'e1',
  customer_id: 'c1',
  type: 'purchase',
  ts: '2026-11-23T10:00:00Z',
  amount: 12.5,
};

function parse(body: unknown, type = 'purchase', token = 'c1') {
  return parseEvent(enc(body), type, token, NOW);
}

describe('event parsing', () => {
  it('accepts a valid event with ISO or epoch time', () => {
    const r = parse(good);
    expect(r.ok && r.event.ts).toBe(Date.UTC(2026, 10, 23, 10));
    const r2 = parse({ ...good, ts: NOW - 1000 });
    expect(r2.ok && r2.event.ts).toBe(NOW - 1000);
    expect(r.ok && r.event.amount).toBe(12.5);
  });

  it.each([
    ['oversized', 'x'.repeat(70_000)],
    ['oversized', { ...good, props: { note: 'x'.repeat(70_000) } }],
    ['not_json', '{"event_id":'],
    ['not_json', '[1,2]'],
    ['missing_field', { customer_id: 'c1', type: 'purchase', ts: NOW }],
    ['missing_field', { event_id: 'e', type: 'purchase', ts: NOW }],
    ['unknown_type', { ...good, type: 'teleport' }],
    ['bad_time', { ...good, ts: 'yesterday' }],
    ['bad_time', { ...good, ts: '2026-13-45T99:00:00Z' }],
    ['bad_time', { ...good, ts: true }],
    ['future_time', { ...good, ts: NOW + 25 * 3600 * 1000 }],
    ['bad_time', { ...good, ts: '0001-01-01T00:00:00Z' }],
    ['bad_time', { ...good, ts: NOW - 61 * 365.25 * DAY_MS }],
    ['bad_amount', '{"event_id":"e","customer_id":"c1","type":"purchase","ts":1,"amount":1e999}'],
    ['bad_amount', { ...good, amount: 'NaN' }],
    ['bad_amount', { ...good, amount: -50 }],
    ['bad_amount', { ...good, amount: 9.9e12 }],
    ['bad_amount', { ...good, amount: 1e308 }],
    ['bad_amount', { ...good, amount: -1e308, type: 'refund' }],
    ['bad_quantity', { ...good, quantity: 1e7 }],
    ['bad_quantity', { ...good, quantity: -2 }],
    ['bad_quantity', { ...good, quantity: '3' }],
    ['bad_quantity', '{"event_id":"e","customer_id":"c1","type":"purchase","ts":1,"quantity":-1e999}'],
    ['invalid_field', { ...good, event_id: 7 }],
    ['subject_mismatch', { ...good, customer_id: 'c2' }],
  ])('rejects %s', (reason, body) => {
    const type = typeof body === 'object' && body.type === 'refund' ? 'refund' : 'purchase';
    const r = parse(body, type);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('accepts amounts and quantities within their bounds, and negative ones outside purchases', () => {
    for (const [body, type] of [
      [{ ...good, amount: 1e9, quantity: 1e6 }, 'purchase'],
      [{ ...good, amount: 0, quantity: 0 }, 'purchase'],
      [{ ...good, type: 'refund', amount: -25, quantity: -1 }, 'refund'],
      [{ ...good, type: 'refund', amount: 1e9 }, 'refund'],
    ] as const) {
      const r = parse(body, type);
      expect(r.ok, JSON.stringify(body)).toBe(true);
    }
  });

  it('accepts events decades old (replays of 1990s data sets)', () => {
    const r = parse({ ...good, ts: '1997-01-01T00:00:00Z' });
    expect(r.ok).toBe(true);
  });

  it('checks the subject type against the body', () => {
    const r = parse(good, 'refund');
    expect(!r.ok && r.reason).toBe('subject_mismatch');
  });

  it('matches encoded tokens for ids outside the plain alphabet', () => {
    const id = 'jane.doe@example.com';
    const r = parseEvent(enc({ ...good, customer_id: id }), 'purchase', customerToken(id), NOW);
    expect(r.ok).toBe(true);
  });

  it('checks a tokenless stored subject by the customer partition', () => {
    const home = { partition: partitionOfCustomer('c1', 16), partitions: 16 };
    expect(parseEvent(enc(good), 'purchase', home, NOW).ok).toBe(true);
    const elsewhere = { partition: (home.partition + 1) % 16, partitions: 16 };
    const r = parseEvent(enc(good), 'purchase', elsewhere, NOW);
    expect(!r.ok && r.reason).toBe('subject_mismatch');
    const id = 'jane.doe@example.com';
    const encoded = { partition: partitionOfCustomer(id, 16), partitions: 16 };
    expect(parseEvent(enc({ ...good, customer_id: id }), 'purchase', encoded, NOW).ok).toBe(true);
  });

  it('routes an event without customer_id by its anonymous_id, and marks it anonymous', () => {
    const { customer_id: _, ...anonymous } = good;
    const scanned = parse({ ...anonymous, anonymous_id: 'dev-1' }, 'purchase', 'dev-1');
    expect(scanned.ok && [scanned.event.body.customer_id, scanned.event.anonymous]).toEqual(['dev-1', true]);
    // The general path (a nested value) says the same.
    const general = parse({ ...anonymous, anonymous_id: 'dev-1', x: [1] }, 'purchase', 'dev-1');
    expect(general.ok && [general.event.body.customer_id, general.event.anonymous]).toEqual(['dev-1', true]);
    const both = parse({ ...good, anonymous_id: 'dev-1' });
    expect(
      both.ok && [both.event.body.customer_id, both.event.body.anonymous_id, both.event.anonymous],
    ).toEqual(['c1', 'dev-1', false]);
    expect(parse({ ...anonymous, anonymous_id: 'dev-1' }, 'purchase', 'c1')).toMatchObject({
      ok: false,
      reason: 'subject_mismatch',
    });
    expect(parse(anonymous)).toMatchObject({ ok: false, reason: 'missing_field' });
    expect(parse({ ...anonymous, anonymous_id: '' }, 'purchase', '')).toMatchObject({
      ok: false,
      reason: 'invalid_field',
    });
  });

  it('names the unknown type without echoing what does not look like one', () => {
    const r = parse({ ...good, type: 'teleport' });
    expect(!r.ok && r.detail).toBe('unknown type teleport');
    const r2 = parse({ ...good, type: '<script>' });
    expect(!r2.ok && r2.reason).toBe('unknown_type');
    expect(!r2.ok && r2.detail).toBe('unknown type');
    const r3 = parse({ ...good, type: 7 });
    expect(!r3.ok && r3.reason).toBe('invalid_field');
  });

  it('rejects a time of -0 (and "-0") as bad_time with its reason, on both paths alike', () => {
    for (const ts of ['-0', '-0.0', '-0e3', '-0.000']) {
      const text = `{"event_id":"e","customer_id":"c1","type":"purchase","ts":${ts}}`;
      for (const r of [parse(text), parseEventJson(enc(text), 'purchase', 'c1', NOW)])
        expect(r, ts).toEqual({ ok: false, reason: 'bad_time', detail: 'ts is negative zero' });
    }
    expect(parse({ ...good, ts: '-0' })).toEqual({
      ok: false,
      reason: 'bad_time',
      detail: 'ts is not a valid time',
    });
    expect(parse({ ...good, ts: '-0.0' })).toMatchObject({ ok: false, reason: 'bad_time' });
  });

  it('rejects ids with a lone surrogate as bad_id (they have no UTF-8 form and would share a token)', () => {
    const body = (customer: string, event = 'e1') =>
      `{"event_id":"${event}","customer_id":"${customer}","type":"purchase","ts":${NOW}}`;
    const cases: [string, string, string][] = [
      [body('c\\ud800'), 'c\ud800', 'customer_id is not well-formed UTF-16'],
      [body('\\udc00c'), '\udc00c', 'customer_id is not well-formed UTF-16'],
      [body('c1', 'e\\udbff'), 'c1', 'event_id is not well-formed UTF-16'],
    ];
    for (const [text, id, detail] of cases) {
      for (const r of [
        parseEvent(enc(text), 'purchase', customerToken(id), NOW),
        parseEventJson(enc(text), 'purchase', customerToken(id), NOW),
      ])
        expect(r, text).toEqual({ ok: false, reason: 'bad_id', detail });
      expect(scanEvent(enc(text), 'purchase'), text).toBeUndefined();
    }
    // A surrogate pair is one well-formed character: accepted.
    const emoji = '\u{1F600}';
    const r = parseEvent(enc(body('c\\ud83d\\ude00')), 'purchase', customerToken(`c${emoji}`), NOW);
    expect(r.ok && r.event.body.customer_id).toBe(`c${emoji}`);
  });

  it('parses times', () => {
    expect(parseEventTime('2026-01-02')).toBe(Date.UTC(2026, 0, 2));
    expect(parseEventTime('2026-01-02T03:04:05+01:00')).toBe(Date.UTC(2026, 0, 2, 2, 4, 5));
    expect(parseEventTime(Number.POSITIVE_INFINITY)).toBeNaN();
    expect(parseEventTime('12345')).toBeNaN();
  });
});
