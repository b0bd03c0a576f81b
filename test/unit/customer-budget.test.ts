/**
 * The distinct-customer budget on virtual time (a sliding hour per key, merges from elsewhere,
 * the charges handed to the store) and the enumeration detector (sequential ids, in order and
 * jumbled; distinct misses), with the KV key tokens of API key names.
 */
import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../contract/time.js';
import { keyName, keyToken } from '../../engine/customer-budget-store.js';
import { CustomerBudget } from '../../security/customer-budget.js';
import {
  EnumerationDetector,
  MISS_ALERT,
  neighbourId,
  SEQUENTIAL_WINDOW,
} from '../../security/enumeration-detector.js';

const T = 1_800_000_000_000;
const ids = (from: number, to: number, prefix = 'c'): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${String(from + i).padStart(6, '0')}`);

describe('customer budget', () => {
  it('counts distinct customers per key; the same customer again within the hour is free', () => {
    const budget = new CustomerBudget(3);
    expect(budget.take('a', 'c1', T)).toEqual({ ok: true });
    expect(budget.take('a', 'c1', T + 1000)).toEqual({ ok: true });
    expect(budget.take('a', 'c2', T + 2000)).toEqual({ ok: true });
    expect(budget.take('a', 'c3', T + 3000)).toEqual({ ok: true });
    expect(budget.used('a', T + 3000)).toBe(3);
    expect(budget.take('a', 'c4', T + 4000)).toEqual({ ok: false, used: 3, retryAfterMs: HOUR_MS - 4000 });
    // Already charged: still readable at the limit.
    expect(budget.take('a', 'c2', T + 5000)).toEqual({ ok: true });
    expect(budget.allows('a', 'c3', T + 5000)).toBe(true);
    expect(budget.allows('a', 'c4', T + 5000)).toBe(false);
    // Another key has its own hour.
    expect(budget.take('b', 'c4', T + 5000)).toEqual({ ok: true });
  });

  it('slides: a charge frees its slot an hour after it was made, and is charged again after that', () => {
    const budget = new CustomerBudget(2);
    budget.take('a', 'c1', T);
    budget.take('a', 'c2', T + 10 * 60_000);
    expect(budget.take('a', 'c3', T + HOUR_MS - 1).ok).toBe(false);
    expect(budget.take('a', 'c3', T + HOUR_MS)).toEqual({ ok: true });
    expect(budget.used('a', T + HOUR_MS)).toBe(2);
    // c1 expired: reading it again is a new charge, refused while c2 and c3 hold the budget.
    expect(budget.take('a', 'c1', T + HOUR_MS + 1)).toEqual({
      ok: false,
      used: 2,
      retryAfterMs: 10 * 60_000 - 1,
    });
  });

  it('takes a list whole or not at all, counting only its customers not yet charged', () => {
    const budget = new CustomerBudget(5);
    expect(budget.takeAll('a', ['c1', 'c2', 'c3'], T)).toEqual({ ok: true });
    expect(budget.takeAll('a', ['c1', 'c2', 'c3', 'c4', 'c5'], T + 1)).toEqual({ ok: true });
    expect(budget.takeAll('a', ['c1', 'c6'], T + 2)).toEqual({
      ok: false,
      used: 5,
      retryAfterMs: HOUR_MS - 2,
    });
    expect(budget.used('a', T + 2)).toBe(5);
    // More than the limit in one answer can never be served whole.
    expect(new CustomerBudget(2).takeAll('a', ['x', 'y', 'z'], T)).toMatchObject({ retryAfterMs: HOUR_MS });
  });

  it('merges charges made elsewhere, the earliest of a customer winning, and ignores expired ones', () => {
    const budget = new CustomerBudget(3);
    budget.take('a', 'c1', T + 5000);
    expect(budget.merge('a', 'c1', T + 9000, T + 9000)).toBe(false);
    expect(budget.merge('a', 'c1', T + 1000, T + 9000)).toBe(true);
    expect(budget.merge('a', 'c2', T + 2000, T + 9000)).toBe(true);
    expect(budget.merge('a', 'old', T - HOUR_MS, T + 9000)).toBe(false);
    expect(budget.used('a', T + 9000)).toBe(2);
    // c1's earlier charge (from elsewhere) is the one that expires.
    expect(budget.used('a', T + HOUR_MS + 1000)).toBe(1);
    expect(budget.used('a', T + HOUR_MS + 2000)).toBe(0);
  });

  it('hands new charges to the store once tracking, and takes back the ones it could not write', () => {
    const budget = new CustomerBudget(10);
    budget.take('a', 'c0', T);
    budget.track();
    budget.take('a', 'c1', T + 1);
    budget.take('a', 'c1', T + 2);
    budget.takeAll('b', ['c2', 'c3'], T + 3);
    budget.merge('a', 'c9', T + 4, T + 4);
    const drained = budget.drain();
    expect(drained).toEqual([
      { key: 'a', customer: 'c1', at: T + 1 },
      { key: 'b', customer: 'c2', at: T + 3 },
      { key: 'b', customer: 'c3', at: T + 3 },
    ]);
    budget.take('a', 'c4', T + 5);
    budget.requeue(drained.slice(0, 1));
    expect(budget.drain().map((c) => c.customer)).toEqual(['c1', 'c4']);
    expect(budget.drain()).toEqual([]);
  });

  it('alerts on refusals at most once a minute per key', () => {
    const budget = new CustomerBudget(1);
    expect(budget.alertDue('a', T)).toBe(true);
    expect(budget.alertDue('a', T + 59_999)).toBe(false);
    expect(budget.alertDue('b', T + 1)).toBe(true);
    expect(budget.alertDue('a', T + 60_000)).toBe(true);
  });

  it('names each API key in NATS with a reversible KV token', () => {
    for (const name of ['analyst', 'bob_01-x', 'alice@example.com', '张三', 'a.b']) {
      expect(keyToken(name)).toMatch(/^[A-Za-z0-9_=-]+$/);
      expect(keyName(keyToken(name))).toBe(name);
    }
    expect(keyToken('analyst')).toBe('analyst');
  });
});

describe('enumeration detector', () => {
  it('finds the numeric neighbours of an id, keeping zero padding', () => {
    expect(neighbourId('c000041', 1)).toBe('c000042');
    expect(neighbourId('c000041', -1)).toBe('c000040');
    expect(neighbourId('c000100', -1)).toBe('c000099');
    expect(neighbourId('c10', -1)).toBe('c9');
    expect(neighbourId('c99', 1)).toBe('c100');
    expect(neighbourId('c099', 1)).toBe('c100');
    expect(neighbourId('c009', 1)).toBe('c010');
    expect(neighbourId('c100', -1)).toBe('c99');
    expect(neighbourId('c1', -1)).toBe('c0');
    expect(neighbourId('x-19', 1)).toBe('x-20');
    expect(neighbourId('42', 1)).toBe('43');
    expect(neighbourId('c0', -1)).toBeUndefined();
    expect(neighbourId('alice', 1)).toBeUndefined();
  });

  it('raises one alert for a key reading ids in order, and none for another key', () => {
    const detector = new EnumerationDetector();
    const alerts = ids(1, 400).map((id, i) => detector.read('analyst', id, T + i));
    const raised = alerts.filter((a) => a !== undefined);
    expect(raised).toHaveLength(1);
    expect(alerts.findIndex((a) => a !== undefined)).toBe(SEQUENTIAL_WINDOW - 1);
    expect(raised[0]).toMatch(/^sequential ids: \d+ of the last 256 distinct customers read have/);
    expect(detector.read('viewer', 'c000401', T + 500)).toBeUndefined();
    // Ten minutes later a scan still going on alerts again.
    expect(detector.read('analyst', 'c000401', T + 10 * 60_000 + 400)).toBeDefined();
  });

  it('sees a scan in the jumbled order of 200 concurrent connections', () => {
    const detector = new EnumerationDetector();
    let state = 7;
    const random = (): number => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    // Each id arrives up to 200 places away from its place in the scan.
    const order = ids(1, 2000)
      .map((id, i) => ({ id, at: i + random() * 200 }))
      .sort((a, b) => a.at - b.at);
    const raised = order.map((o, i) => detector.read('viewer', o.id, T + i)).filter((a) => a !== undefined);
    expect(raised).toHaveLength(1);
  });

  it('does not alert on reads of customers picked at random, nor on repeated reads of a few', () => {
    const detector = new EnumerationDetector();
    let state = 11;
    const random = (): number => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const all = ids(1, 2000);
    for (let i = 0; i < 5000; i++) {
      expect(detector.read('dashboard', all[Math.floor(random() * all.length)]!, T + i)).toBeUndefined();
    }
    for (let i = 0; i < 1000; i++) {
      expect(detector.read('poller', `c00000${i % 3}`, T + i)).toBeUndefined();
    }
    for (let i = 0; i < 1000; i++) {
      expect(
        detector.read('names', `customer-${String.fromCharCode(97 + (i % 26))}${i}x`, T + i),
      ).toBeUndefined();
    }
  });

  it('raises one alert at MISS_ALERT distinct misses within ten minutes, not for one id missed often', () => {
    const detector = new EnumerationDetector();
    for (let i = 0; i < 500; i++) expect(detector.miss('a', 'new-customer', T + i)).toBeUndefined();
    const alerts = Array.from({ length: 200 }, (_, i) => detector.miss('a', `x${i * 7}`, T + 1000 + i));
    expect(alerts.findIndex((a) => a !== undefined)).toBe(MISS_ALERT - 2);
    expect(alerts.filter((a) => a !== undefined)).toEqual([
      'distinct misses: 50 customers that do not exist asked within 10 minutes',
    ]);
    // Misses spread over more than ten minutes each window start again.
    const slow = new EnumerationDetector();
    for (let i = 0; i < 200; i++) expect(slow.miss('b', `y${i}`, T + i * 13_000)).toBeUndefined();
  });
});
