import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { eventSubject } from '../../contract/subjects.js';
import { EventSimulator, type SimEvent } from '../../feeds/simulator.js';

const START = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;
/** Generous per-test limit: the heavier tests walk a million events. */
const SLOW = 60_000;

interface Body {
  event_id: string;
  customer_id?: string;
  anonymous_id?: string;
  type: string;
  ts: string;
  amount?: number;
  currency?: string;
  sku?: string;
  session_id?: string;
  campaign?: string;
  channel?: string;
  props?: Record<string, unknown>;
}

function take(sim: EventSimulator, n: number): SimEvent[] {
  const out: SimEvent[] = [];
  for (let i = 0; i < n; i++) out.push(sim.next());
  return out;
}

/** Type and customer id from `bw.events.<type>.<customer>` (simulated ids need no encoding). */
function subjectParts(subject: string): { type: string; customer: string } {
  const parts = subject.split('.');
  return { type: parts[2] ?? '', customer: parts[3] ?? '' };
}

function text(e: SimEvent): string {
  return typeof e.body === 'string' ? e.body : new TextDecoder().decode(e.body);
}

describe('EventSimulator', () => {
  it(
    'gives the same stream for the same seed and another for another seed',
    () => {
      const a = take(new EventSimulator({ customers: 1000, seed: 42, startMs: START }), 10_000);
      const b = take(new EventSimulator({ customers: 1000, seed: 42, startMs: START }), 10_000);
      const c = take(new EventSimulator({ customers: 1000, seed: 43, startMs: START }), 10_000);
      expect(b).toEqual(a);
      expect(c.map(text)).not.toEqual(a.map(text));
    },
    SLOW,
  );

  it(
    'emits valid, unique, time-ordered events of all 20 types with honest subjects',
    () => {
      const sim = new EventSimulator({ customers: 1000, seed: 1, startMs: START });
      const seen = new Set<string>();
      const ids = new Set<string>();
      const problems: string[] = [];
      const check = (ok: boolean, what: string, e: SimEvent): void => {
        if (!ok && problems.length < 5) problems.push(`${what}: ${e.subject} ${text(e)}`);
      };
      let prev = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < 200_000; i++) {
        const e = sim.next();
        check(e.ts >= prev && e.ts >= START - 720 * DAY, 'time order', e);
        prev = e.ts;
        const body = JSON.parse(text(e)) as Body;
        // A customer id, an anonymous id (a newcomer browsing before its signup), or both.
        const routing = body.customer_id ?? body.anonymous_id;
        check(typeof body.event_id === 'string' && typeof routing === 'string', 'ids', e);
        check((EVENT_TYPES as readonly string[]).includes(body.type), 'type', e);
        check(body.ts === new Date(e.ts).toISOString(), 'ts', e);
        check(e.subject === eventSubject(body.type, routing ?? ''), 'subject', e);
        check(!ids.has(body.event_id), 'unique event_id', e);
        ids.add(body.event_id);
        seen.add(body.type);
        if (body.amount !== undefined) {
          check(Number.isFinite(body.amount) && body.currency === 'EUR', 'amount', e);
          check(Math.abs(body.amount * 100 - Math.round(body.amount * 100)) < 1e-6, '2 decimals', e);
        }
        if (body.type === 'purchase') check((body.amount ?? 0) > 0 && body.sku !== undefined, 'purchase', e);
        if (body.type === 'profile') check(typeof body.props?.['country'] === 'string', 'profile props', e);
        if (body.type.startsWith('email_') || body.type === 'campaign_touch') {
          check(!!body.campaign && !!body.channel, 'campaign', e);
        }
      }
      expect(problems).toEqual([]);
      expect(ids.size).toBe(200_000);
      expect([...seen].sort()).toEqual([...EVENT_TYPES].sort());
      expect(sim.simTime).toBe(prev);
    },
    SLOW,
  );

  it(
    'starts every customer with a signup, a login or a purchase and keeps sessions coherent',
    () => {
      const sim = new EventSimulator({ customers: 500, seed: 9, startMs: START });
      const first = new Map<string, string>();
      const sessions = new Map<string, string[]>();
      const purchases = new Map<string, number>();
      let refunds = 0;
      let lateSignups = 0;
      for (let i = 0; i < 100_000; i++) {
        const e = sim.next();
        const body = JSON.parse(text(e)) as Body;
        // Anonymous browsing (no customer_id) comes before a newcomer's signup.
        if (body.customer_id !== undefined && !first.has(body.customer_id)) {
          first.set(body.customer_id, body.type);
          if (body.type === 'signup' && e.ts > START + 5 * DAY) lateSignups++;
        }
        if (body.session_id !== undefined) {
          const list = sessions.get(body.session_id) ?? [];
          list.push(body.type);
          sessions.set(body.session_id, list);
        }
        const key = `${body.customer_id}/${body.sku}`;
        if (body.type === 'purchase') purchases.set(key, Math.max(purchases.get(key) ?? 0, body.amount ?? 0));
        if (body.type === 'refund') {
          refunds++;
          expect(body.amount).toBeLessThanOrEqual(purchases.get(key) ?? 0);
        }
      }
      for (const type of first.values()) expect(['signup', 'login', 'purchase']).toContain(type);
      expect(lateSignups).toBeGreaterThan(0);
      expect(refunds).toBeGreaterThan(0);
      let bought = 0;
      for (const types of sessions.values()) {
        expect(types[0]).toBe('session_start');
        const buy = types.indexOf('purchase');
        if (buy >= 0) {
          bought++;
          expect(types.indexOf('checkout_start')).toBeLessThan(buy);
          expect(types.indexOf('add_to_cart')).toBeGreaterThan(0);
        }
      }
      expect(bought).toBeGreaterThan(100);
    },
    SLOW,
  );

  it(
    'replaces a fraction of events by malformed ones of every kind when badRate is set',
    () => {
      const sim = new EventSimulator({ customers: 500, seed: 5, startMs: START, badRate: 0.05 });
      const kinds = new Map<string, number>();
      const n = 20_000;
      for (let i = 0; i < n; i++) {
        const e = sim.next();
        const raw = text(e);
        let body: Body;
        try {
          body = JSON.parse(raw) as Body;
        } catch {
          kinds.set('not_json', (kinds.get('not_json') ?? 0) + 1);
          continue;
        }
        const { type } = subjectParts(e.subject);
        let kind = 'ok';
        if (body.customer_id === undefined && body.anonymous_id === undefined) kind = 'missing_field';
        else if (!(EVENT_TYPES as readonly string[]).includes(body.type)) kind = 'unknown_type';
        else if (Number.isNaN(Date.parse(body.ts))) kind = 'bad_time';
        else if (body.amount !== undefined && !Number.isFinite(body.amount)) kind = 'bad_amount';
        if (kind !== 'missing_field') expect(body.type).toBe(type);
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      const bad = n - (kinds.get('ok') ?? 0);
      expect(bad / n).toBeGreaterThan(0.03);
      expect(bad / n).toBeLessThan(0.07);
      for (const k of ['not_json', 'missing_field', 'unknown_type', 'bad_time', 'bad_amount']) {
        expect(kinds.get(k) ?? 0).toBeGreaterThan(0);
      }
    },
    SLOW,
  );

  it(
    'has churn drifters: steady buyers early, silent buyers late',
    () => {
      const sim = new EventSimulator({ customers: 2000, seed: 3, startMs: START });
      const early = new Map<string, number>();
      const late = new Map<string, number>();
      const lastPurchase = new Map<string, number>();
      const lastTrouble = new Map<string, number>();
      for (let e = sim.next(); e.ts < START + 200 * DAY; e = sim.next()) {
        const { type, customer } = subjectParts(e.subject);
        // An order's companion lines are purchases at the order's time: counted as one order.
        if (type === 'purchase' && lastPurchase.get(customer) !== e.ts) {
          const day = (e.ts - START) / DAY;
          if (day >= 0 && day < 60) early.set(customer, (early.get(customer) ?? 0) + 1);
          if (day > 90) late.set(customer, (late.get(customer) ?? 0) + 1);
          lastPurchase.set(customer, e.ts);
        } else if (type === 'support_ticket' || type === 'complaint' || type === 'subscription_cancel') {
          lastTrouble.set(customer, e.ts);
        }
      }
      const drifters = [...early].filter(([c, n]) => n >= 3 && !late.has(c)).map(([c]) => c);
      const loyal = [...early].filter(([c, n]) => n >= 3 && (late.get(c) ?? 0) >= 3);
      expect(drifters.length).toBeGreaterThan(50);
      expect(loyal.length).toBeGreaterThan(drifters.length);
      // Their trouble (ticket, complaint, cancellation) comes after their last purchase.
      const troubled = drifters.filter((c) => (lastTrouble.get(c) ?? 0) > (lastPurchase.get(c) ?? 0));
      expect(troubled.length / drifters.length).toBeGreaterThan(0.6);
      const labelled = drifters.filter((c) => sim.archetypeOf(c) === 'drifter');
      expect(labelled.length / drifters.length).toBeGreaterThan(0.8);
    },
    SLOW,
  );

  it(
    'has intent risers: a quiet start, then carts and checkouts, then a purchase',
    () => {
      const sim = new EventSimulator({ customers: 2000, seed: 4, startMs: START });
      const risers = new Set<string>();
      for (let i = 0; i < 2000; i++) {
        const id = `c${String(i).padStart(6, '0')}`;
        if (sim.archetypeOf(id) === 'riser') risers.add(id);
      }
      expect(risers.size).toBeGreaterThan(100);
      const carts = new Map<string, number[]>();
      const checkouts = new Map<string, number>();
      const firstPurchaseAfterCheckout = new Map<string, number>();
      for (let e = sim.next(); e.ts < START + 90 * DAY; e = sim.next()) {
        const { type, customer } = subjectParts(e.subject);
        if (!risers.has(customer)) continue;
        if (type === 'add_to_cart') carts.set(customer, [...(carts.get(customer) ?? []), e.ts]);
        if (type === 'checkout_start') checkouts.set(customer, (checkouts.get(customer) ?? 0) + 1);
        if (type === 'purchase' && checkouts.has(customer) && !firstPurchaseAfterCheckout.has(customer)) {
          firstPurchaseAfterCheckout.set(customer, checkouts.get(customer) ?? 0);
        }
      }
      const ramped = [...risers].filter(
        (c) => (carts.get(c)?.length ?? 0) >= 3 && (checkouts.get(c) ?? 0) >= 2,
      );
      expect(ramped.length / risers.size).toBeGreaterThan(0.6);
      // Carts come in a burst: the busiest week holds carts at 4x the rate of the other weeks.
      const bursty = ramped.filter((c) => {
        const ts = carts.get(c) ?? [];
        const peak = Math.max(...ts.map((t0) => ts.filter((t) => t >= t0 && t < t0 + 7 * DAY).length));
        return peak / 7 >= (4 * (ts.length - peak)) / 83;
      });
      expect(bursty.length / ramped.length).toBeGreaterThan(0.7);
      expect(firstPurchaseAfterCheckout.size / risers.size).toBeGreaterThan(0.5);
    },
    SLOW,
  );

  it(
    'starts from a customer base with a compact, time-ordered past, lapsed customers included',
    () => {
      const n = 2000;
      const sim = new EventSimulator({ customers: n, seed: 11, startMs: START });
      expect(sim.prehistoryEnd).toBe(START);
      const ids = Array.from({ length: n }, (_, i) => `c${String(i).padStart(6, '0')}`);
      const initial = ids.filter((c) => sim.archetypeOf(c) !== 'newcomer');
      const lapsed = new Set(ids.filter((c) => sim.archetypeOf(c) === 'lapsed'));
      const before = new Map<string, number>();
      const preTypes = new Set<string>();
      const purchases = new Map<string, number[]>();
      const lapsedLive = new Map<string, string[]>();
      let min = Number.POSITIVE_INFINITY;
      let prev = Number.NEGATIVE_INFINITY;
      let disorder = 0;
      let maxLapsedOrder = 0;
      for (let e = sim.next(); e.ts < START + 200 * DAY; e = sim.next()) {
        if (e.ts < prev) disorder++;
        prev = e.ts;
        const { type, customer } = subjectParts(e.subject);
        if (e.ts < START) {
          min = Math.min(min, e.ts);
          preTypes.add(type);
          // An order's companion lines (purchases at the order's time) count as one event of its past.
          const line = type === 'purchase' && (purchases.get(customer) ?? []).at(-1) === e.ts;
          if (!line) before.set(customer, (before.get(customer) ?? 0) + 1);
        } else if (lapsed.has(customer)) {
          const list = lapsedLive.get(customer) ?? [];
          list.push(type);
          lapsedLive.set(customer, list);
        }
        if (type === 'purchase') {
          const list = purchases.get(customer) ?? [];
          list.push(e.ts);
          purchases.set(customer, list);
          const amount = (JSON.parse(text(e)) as Body).amount ?? 0;
          if (lapsed.has(customer)) maxLapsedOrder = Math.max(maxLapsedOrder, amount);
        }
      }
      expect(disorder).toBe(0);
      expect(min).toBeLessThan(START - 60 * DAY);
      expect(min).toBeGreaterThanOrEqual(START - 720 * DAY);
      const allowed = ['signup', 'purchase', 'refund', 'profile', 'email_open', 'campaign_touch'];
      expect([...preTypes].filter((t) => !allowed.includes(t))).toEqual([]);
      // Every pre-existing customer has a past, newcomers have none; the backfill stays small.
      expect(initial.filter((c) => !before.has(c))).toEqual([]);
      expect(before.size).toBe(initial.length);
      const backfill = [...before.values()].reduce((s, k) => s + k, 0);
      expect(backfill / initial.length).toBeLessThanOrEqual(12);
      expect(backfill / initial.length).toBeGreaterThan(3);
      // Regulars keep buying in their past: most of them have several purchases before the start.
      const regulars = initial.filter((c) => sim.archetypeOf(c) === 'regular');
      const busy = regulars.filter((c) => (purchases.get(c) ?? []).filter((t) => t < START).length >= 4);
      expect(busy.length / regulars.length).toBeGreaterThan(0.7);
      // Lapsed: about 10% of the base, one or two purchases long ago, then only the odd mail.
      expect(lapsed.size / initial.length).toBeGreaterThan(0.06);
      expect(lapsed.size / initial.length).toBeLessThan(0.14);
      for (const c of lapsed) {
        const bought = purchases.get(c) ?? [];
        expect(bought.length).toBeGreaterThanOrEqual(1);
        expect(bought.length).toBeLessThanOrEqual(2);
        expect(Math.max(...bought)).toBeLessThanOrEqual(START - 150 * DAY);
      }
      // Small first baskets: one-time buyers of little value are what the churn model flags.
      expect(maxLapsedOrder).toBeLessThanOrEqual(35);
      const mails = [...lapsedLive.values()].flat();
      expect(mails.filter((t) => t !== 'email_open' && t !== 'campaign_touch')).toEqual([]);
      expect(mails.length / lapsed.size).toBeLessThanOrEqual(200 / 60);
      expect(lapsedLive.size).toBeGreaterThan(0);
    },
    SLOW,
  );

  it(
    'lets newcomers browse anonymously on one or two devices, then link them at signup and login',
    () => {
      const sim = new EventSimulator({ customers: 600, seed: 5, startMs: START });
      /** Anonymous id → the customer that linked it, or null while it only browsed. */
      const devices = new Map<string, string | null>();
      let anonymousEvents = 0;
      let linkingLogins = 0;
      for (let i = 0; i < 150_000; i++) {
        const e = sim.next();
        const body = JSON.parse(text(e)) as Body;
        const anon = body.anonymous_id;
        if (anon === undefined) continue;
        if (body.customer_id === undefined) {
          anonymousEvents++;
          // Routed by the anonymous id, and never after the device was linked.
          expect(e.subject).toBe(eventSubject(body.type, anon));
          expect(devices.get(anon) ?? null).toBeNull();
          devices.set(anon, null);
          continue;
        }
        expect(['signup', 'login']).toContain(body.type);
        expect(e.subject).toBe(eventSubject(body.type, body.customer_id));
        expect(devices.get(anon) ?? null, anon).toBeNull();
        expect(anon.startsWith(`a${body.customer_id.slice(1)}`)).toBe(true);
        devices.set(anon, body.customer_id);
        if (body.type === 'login') linkingLogins++;
      }
      const linked = [...devices.values()].filter((c) => c !== null);
      expect(anonymousEvents).toBeGreaterThan(100);
      expect(linked.length).toBeGreaterThan(10);
      // Some customers link a second device.
      expect(linkingLogins).toBeGreaterThan(0);
      expect(new Set(linked).size).toBeLessThan(linked.length);
    },
    SLOW,
  );

  it('lets dormant customers fall silent, and says so when nobody is left', () => {
    let seed = 0;
    while (new EventSimulator({ customers: 1, seed, startMs: START }).archetypeOf('c000000') !== 'dormant')
      seed++;
    const sim = new EventSimulator({ customers: 1, seed, startMs: START });
    const events: SimEvent[] = [];
    while (!sim.exhausted && events.length < 10_000) events.push(sim.next());
    expect(sim.exhausted).toBe(true);
    expect(events.length).toBeGreaterThan(0);
    // Every event falls in the first weeks (activity stops by day 15, plus a late refund at most).
    expect((events.at(-1)?.ts ?? 0) - START).toBeLessThan(40 * DAY);
    expect(() => sim.next()).toThrow(/exhausted/);
  });
});
