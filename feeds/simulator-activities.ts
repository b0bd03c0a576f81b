/**
 * How one activity of a simulated customer (a session, an email funnel, a support case, a
 * subscription renewal) expands into timed events, plus the shared customer record and catalog.
 */
import type { EventType } from '../contract/event-types.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../contract/time.js';

export type Archetype = 'regular' | 'occasional' | 'drifter' | 'riser' | 'newcomer' | 'dormant' | 'lapsed';

/** Activity kinds in the order of `Customer.rates`. */
export const KINDS = ['buy', 'browse', 'login', 'email', 'support', 'feedback', 'profile'] as const;
export type Kind = (typeof KINDS)[number];
export const CATEGORIES = [
  'shoes',
  'apparel',
  'electronics',
  'home',
  'beauty',
  'sports',
  'books',
  'toys',
  'garden',
  'baby',
  'coffee',
];
const PRICES = [70, 40, 180, 55, 25, 60, 15, 30, 45, 35, 12];
/**
 * Co-purchase structure (docs/analytics.md#association-rules): a buying session's main item may
 * bring companion lines, each [category, probability, price]: one order with several purchase
 * lines under the session's `session_id`, so the quickstart's rules read baby → diapers + wipes,
 * coffee → filters, electronics → cables.
 */
const COMPANIONS: Record<string, readonly (readonly [string, number, number])[]> = {
  shoes: [
    ['socks', 0.45, 9],
    ['shoe care', 0.25, 12],
  ],
  apparel: [
    ['accessories', 0.35, 19],
    ['socks', 0.2, 9],
  ],
  electronics: [
    ['cables', 0.5, 15],
    ['batteries', 0.3, 8],
  ],
  home: [
    ['candles', 0.35, 14],
    ['cleaning', 0.25, 7],
  ],
  beauty: [['skincare', 0.45, 22]],
  sports: [
    ['water bottles', 0.3, 11],
    ['socks', 0.3, 9],
  ],
  books: [
    ['bookmarks', 0.3, 4],
    ['stationery', 0.25, 8],
  ],
  toys: [
    ['batteries', 0.45, 8],
    ['gift wrap', 0.3, 5],
  ],
  garden: [
    ['seeds', 0.5, 4],
    ['gloves', 0.3, 12],
  ],
  baby: [
    ['diapers', 0.65, 18],
    ['wipes', 0.6, 6],
  ],
  coffee: [
    ['filters', 0.6, 4],
    ['mugs', 0.15, 10],
  ],
};
const COUNTRIES = ['DE', 'FR', 'NL', 'AT', 'ES', 'IT', 'BE', 'PL'];
const SEGMENT_HINTS = ['value', 'premium', 'family', 'student', 'business'];
const GIVEN_NAMES = ['Anna', 'Li', 'Jonas', 'Mei', 'Lukas', 'Sofia', 'Wei', 'Emma', 'Noah', 'Yan'];
const FAMILY_NAMES = ['Schmidt', 'Wang', 'Muller', 'Zhang', 'Rossi', 'Chen', 'Dubois', 'Kowalski'];
const TOUCH_CHANNELS = ['email', 'email', 'email', 'sms', 'social', 'search', 'display'];
const CAMPAIGNS = ['spring-sale', 'new-arrivals', 'win-back', 'loyalty-bonus', 'weekend-deal', 'newsletter'];
export const TOPICS = ['delivery', 'billing', 'product', 'account', 'returns'];
const SUBSCRIPTION_PRICE = 9.99;

export type Fields = Record<string, unknown>;

export interface Planned {
  ts: number;
  type: EventType;
  fields: Fields | undefined;
}

export interface Customer {
  readonly index: number;
  readonly id: string;
  readonly arch: Archetype;
  phase: number;
  phaseEnd: number;
  /** Per-day rates of KINDS in the current phase. */
  rates: number[];
  total: number;
  /** Start of the next sampled activity, Infinity when none. */
  nextAt: number;
  /** Planned events, latest first (the next one is last). */
  pending: Planned[];
  subscribed: boolean;
  converter: boolean;
  sessions: number;
  favourite: number;
  device: string;
  openP: number;
  clickP: number;
  cartP: number;
  checkoutP: number;
  searchP: number;
  /**
   * Anonymous ids (devices, cookies) a newcomer browses under before signing up; empty for
   * everyone else (simulator-identity.ts).
   */
  readonly devices: readonly string[];
  /** Devices linked so far (the signup links the first, later logins the others). */
  linked: number;
  /** The device of the newcomer's current anonymous session. */
  device_at: number;
}

export { mulberry32 } from '../lib/random.js';

const money = (x: number): number => Math.round(x * 100) / 100;

/** Customer id of index `i`: `c000123`. */
export function simCustomerId(i: number): string {
  return `c${String(i).padStart(6, '0')}`;
}

/** Expands activities into planned events, drawing from the shared PRNG. */
export class ActivityPlanner {
  constructor(readonly rand: () => number) {}

  /** Expands one activity into planned events from `t`; returns the time of its last event. */
  plan(c: Customer, kind: Kind, t: number): number {
    const r = this.rand;
    switch (kind) {
      case 'buy':
        return this.session(c, t, true);
      case 'browse':
        return this.session(c, t, false);
      case 'login':
        this.add(c, t, 'login', { channel: c.device });
        return r() < 0.4 ? this.session(c, t + this.gap(), false) : t;
      case 'email': {
        // Lapsed customers only ever get mail (no click-through, no session).
        const channel = c.arch === 'lapsed' ? 'email' : this.pick(TOUCH_CHANNELS);
        return this.emailFunnel(c, t, this.pick(CAMPAIGNS), channel, c.openP, c.clickP);
      }
      case 'support': {
        this.add(c, t, 'support_ticket', { channel: 'chat', props: { topic: this.pick(TOPICS) } });
        if (r() < 0.2)
          this.add(c, t + Math.floor((1 + r() * 47) * HOUR_MS), 'complaint', { channel: 'email' });
        return t;
      }
      case 'feedback':
        this.add(c, t, 'feedback', { channel: c.device, props: { rating: 3 + Math.floor(r() * 3) } });
        return t;
      case 'profile':
        return this.profile(c, t);
    }
  }

  signup(c: Customer, t: number): number {
    this.add(c, t, 'signup', { channel: c.device });
    return this.profile(c, t + this.gap());
  }

  profile(c: Customer, t: number): number {
    // Made-up personal fields (the engine seals them; answers show them masked by role).
    const r = this.rand;
    const digits = String(Math.floor(r() * 1e8)).padStart(8, '0');
    const props = {
      country: this.pick(COUNTRIES),
      segment_hint: this.pick(SEGMENT_HINTS),
      name: `${this.pick(GIVEN_NAMES)} ${this.pick(FAMILY_NAMES)}`,
      phone: `13${Math.floor(r() * 10)}${digits}`,
      email: `${c.id.replace(/[^a-z0-9]/gi, '').toLowerCase()}@example.com`,
    };
    this.add(c, t, 'profile', { props });
    return t;
  }

  emailFunnel(c: Customer, t: number, campaign: string, channel: string, openP: number, clickP: number) {
    const r = this.rand;
    this.add(c, t, 'campaign_touch', { campaign, channel });
    if (channel !== 'email')
      return r() < 0.1 ? this.session(c, t + Math.floor((1 + r() * 59) * MINUTE_MS), false) : t;
    if (r() >= openP) return t;
    t += Math.floor((5 + r() * 355) * MINUTE_MS);
    this.add(c, t, 'email_open', { campaign, channel });
    if (r() >= clickP) return t;
    t += this.gap();
    this.add(c, t, 'email_click', { campaign, channel });
    return r() < 0.6 ? this.session(c, t + this.gap(), false) : t;
  }

  /** A session: start, views and searches, maybe a cart and a checkout, maybe a purchase. */
  session(c: Customer, t: number, buy: boolean): number {
    const r = this.rand;
    const session_id = `s-${c.id}-${c.sessions++}`;
    const channel = c.device;
    const cat = r() < 0.6 ? c.favourite : Math.floor(r() * CATEGORIES.length);
    const category = CATEGORIES[cat]!;
    const price = money(PRICES[cat]! * (0.5 + r()));
    const sku = `${category.slice(0, 3).toUpperCase()}-${100 + Math.floor(r() * 400)}`;
    this.add(c, t, 'session_start', { session_id, channel });
    const views = 1 + Math.floor(r() * 6);
    for (let v = 0; v < views; v++) {
      t += this.gap();
      if (r() < c.searchP) this.add(c, t, 'search', { session_id, channel, props: { query: category } });
      else this.add(c, t, 'page_view', { session_id, channel, category, props: { page: `/c/${category}` } });
    }
    if (!buy && r() >= c.cartP) return t;
    const quantity = r() < 0.8 ? 1 : 2;
    const item = { session_id, channel, sku, category, quantity };
    this.add(c, (t += this.gap()), 'add_to_cart', {
      ...item,
      amount: money(price * quantity),
      currency: 'EUR',
    });
    const lines = this.companions(category, { session_id, channel });
    for (const line of lines) this.add(c, (t += this.gap()), 'add_to_cart', line);
    if (r() < 0.25) {
      const other = { session_id, channel, sku: `${sku}X`, category, quantity: 1 };
      this.add(c, (t += this.gap()), 'add_to_cart', { ...other, amount: price, currency: 'EUR' });
      this.add(c, (t += this.gap()), 'remove_from_cart', other);
    }
    if (!buy && r() >= c.checkoutP) return t;
    const total = money(price * quantity + lines.reduce((sum, l) => sum + (l['amount'] as number), 0));
    this.add(c, (t += this.gap()), 'checkout_start', {
      session_id,
      channel,
      quantity,
      amount: total,
      currency: 'EUR',
    });
    if (!buy) return t;
    let amount = total;
    if (r() < 0.12) {
      const discount = money(total * 0.1);
      amount = money(total - discount);
      const coupon = {
        session_id,
        channel,
        campaign: this.pick(CAMPAIGNS),
        amount: discount,
        currency: 'EUR',
      };
      this.add(c, (t += this.gap()), 'coupon_redeem', coupon);
    }
    // The main line carries what the order cost beyond its companion lines (discount included).
    const extra = total - money(price * quantity);
    this.add(c, (t += this.gap()), 'purchase', { ...item, amount: money(amount - extra), currency: 'EUR' });
    for (const line of lines) this.add(c, t, 'purchase', line);
    if (r() < 0.06) this.refund(c, t, money(amount - extra), sku);
    return t;
  }

  /**
   * A purchase outside a session (store or phone order, or a backfilled past order); a `trial`
   * order is a small first basket (5-35 EUR).
   */
  barePurchase(c: Customer, t: number, channel = 'store', trial = false): number {
    const r = this.rand;
    const cat = channel === 'store' || r() < 0.7 ? c.favourite : Math.floor(r() * CATEGORIES.length);
    const category = CATEGORIES[cat]!;
    const amount = money(trial ? 5 + r() * 30 : PRICES[cat]! * (0.5 + r()));
    const sku = `${category.slice(0, 3).toUpperCase()}-${100 + Math.floor(r() * 400)}`;
    this.add(c, t, 'purchase', { channel, sku, category, quantity: 1, amount, currency: 'EUR' });
    if (!trial) for (const line of this.companions(category, { channel })) this.add(c, t, 'purchase', line);
    if (r() < 0.06) this.refund(c, t, amount, sku);
    return t;
  }

  /** The companion lines (COMPANIONS) an order of `category` brings, drawn now. */
  companions(category: string, fields: Fields): Fields[] {
    const lines: Fields[] = [];
    for (const [companion, p, each] of COMPANIONS[category] ?? []) {
      if (this.rand() >= p) continue;
      const sku = `${companion.slice(0, 3).toUpperCase()}-${10 + Math.floor(this.rand() * 40)}`;
      lines.push({ ...fields, sku, category: companion, quantity: 1, amount: each, currency: 'EUR' });
    }
    return lines;
  }

  refund(c: Customer, t: number, paid: number, sku: string): void {
    const r = this.rand;
    const amount = r() < 0.6 ? paid : Math.min(paid, money(paid * (0.2 + r() * 0.8)));
    this.add(c, t + Math.floor((1 + r() * 19) * DAY_MS), 'refund', { sku, amount, currency: 'EUR' });
  }

  /** Decides a due renewal: emits it (and plans the next) or turns it into a cancellation. */
  renewal(c: Customer, p: Planned): boolean {
    if (!c.subscribed) return false;
    if (this.rand() < (c.arch === 'occasional' ? 0.05 : 0.02)) {
      c.subscribed = false;
      p.type = 'subscription_cancel';
      p.fields = { channel: c.device };
      return true;
    }
    p.fields = { amount: SUBSCRIPTION_PRICE, currency: 'EUR', props: { plan: 'monthly' } };
    this.add(c, p.ts + 30 * DAY_MS, 'subscription_renew', undefined);
    return true;
  }

  add(c: Customer, ts: number, type: EventType, fields: Fields | undefined): void {
    const q = c.pending;
    const p: Planned = { ts, type, fields };
    let i = q.length;
    q.push(p);
    while (i > 0 && q[i - 1]!.ts <= ts) {
      q[i] = q[i - 1]!;
      i--;
    }
    q[i] = p;
  }

  gap(): number {
    return Math.floor((20 + this.rand() * 220) * 1000);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }
}
