/**
 * Simulated customers over time: archetypes, their phases and per-day activity rates. Each
 * customer runs a piecewise-constant Poisson process over activity kinds; its rates change when it
 * enters the next phase of its archetype (a drifter starts to fade, an intent riser ramps up).
 */
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../contract/time.js';
import {
  ActivityPlanner,
  type Archetype,
  CATEGORIES,
  type Customer,
  KINDS,
  type Kind,
  type Planned,
  simCustomerId,
  TOPICS,
} from './simulator-activities.js';
import { newcomerDevices } from './simulator-identity.js';

/** Newcomers among the customers at the start; they sign up over the first NEWCOMER_DAYS days. */
const NEWCOMER_SHARE = 0.108;
const NEWCOMER_DAYS = 90;
/** A newcomer arriving later browses anonymously for up to this many days before signing up. */
const ARRIVAL_BROWSE_DAYS = 3;

/**
 * Share of each archetype among the customers. Everyone but the newcomers exists at the sim start
 * and comes with a compact past (see {@link CustomerPlanner.prehistory}).
 */
const ARCHETYPE_MIX: ReadonlyArray<readonly [Archetype, number]> = [
  ['regular', 0.27],
  ['occasional', 0.225],
  ['drifter', 0.135],
  ['riser', 0.09],
  ['newcomer', NEWCOMER_SHARE],
  ['dormant', 0.072],
  ['lapsed', 0.1],
];

/** Tenure of a pre-existing customer at the sim start: 60 + a truncated exponential, days. */
const TENURE_MIN = 60;
const TENURE_MAX = 720;
const TENURE_SCALE = 100;
/** Lapsed customers signed up this long before the start, days. */
const LAPSED_MIN = 200;
/** Mail to lapsed customers: one campaign per this many days on average (no clicks). */
const LAPSED_MAIL_DAYS = 150;

/** Plans customers from one shared PRNG, so the stream depends on the seed only. */
export class CustomerPlanner {
  private readonly act: ActivityPlanner;

  constructor(
    private readonly rand: () => number,
    private readonly startMs: number,
  ) {
    this.act = new ActivityPlanner(rand);
  }

  /** Expands the activity due at `c.nextAt` and samples the one after it. */
  expand(c: Customer): void {
    const now = c.nextAt;
    const end = this.act.plan(c, this.pickKind(c), now);
    this.sampleNext(c, end, now);
  }

  /** Decides a due renewal: false drops it (no longer subscribed). */
  renewal(c: Customer, p: Planned): boolean {
    return this.act.renewal(c, p);
  }

  /** A new customer with its first phase entered and its first activity planned. */
  create(i: number): Customer {
    const r = this.rand;
    let u = r();
    let arch: Archetype = 'regular';
    for (const [a, share] of ARCHETYPE_MIX) {
      arch = a;
      if ((u -= share) < 0) break;
    }
    const c = this.blank(i, arch);
    this.enterPhase(c, 0, this.startMs);
    if (arch === 'newcomer') {
      this.sampleNext(c, this.startMs, this.startMs);
      return c;
    }
    const last = this.prehistory(c);
    if (arch === 'lapsed') {
      // Their mail process starts in the past; nothing else ever happens.
      this.sampleNext(c, last + Math.floor((7 + r() * 23) * DAY_MS), this.startMs);
      return c;
    }
    const t0 = this.startMs + Math.floor(r() * 2 * DAY_MS);
    const from = r() < 0.6 ? this.act.plan(c, 'login', t0) : this.act.barePurchase(c, t0);
    const subP = { regular: 0.5, occasional: 0.15, drifter: 0.6, riser: 0.1, dormant: 0 }[arch];
    if (r() < subP) {
      c.subscribed = true;
      this.act.add(c, t0 + Math.floor((0.5 + r() * 29.5) * DAY_MS), 'subscription_renew', undefined);
    }
    this.sampleNext(c, from, this.startMs);
    return c;
  }

  /**
   * A newcomer arriving at `at` (after the sim start: the feed's live phase): browses anonymously
   * for a few days of its own time, then signs up and lives on as the newcomers of the start do.
   */
  arrive(i: number, at: number): Customer {
    const c = this.blank(i, 'newcomer');
    this.enterPhase(c, 0, at);
    c.phaseEnd = at + Math.floor(this.rand() * ARRIVAL_BROWSE_DAYS * DAY_MS);
    this.sampleNext(c, at, at);
    return c;
  }

  /** End of the start's own sign-up period (its newcomers sign up before it), epoch ms. */
  get newcomersUntil(): number {
    return this.startMs + NEWCOMER_DAYS * DAY_MS;
  }

  /** Mean days between two newcomers arriving, for a population of `customers` (as at the start). */
  static arrivalGapDays(customers: number): number {
    return NEWCOMER_DAYS / Math.max(1e-9, customers * NEWCOMER_SHARE);
  }

  private blank(i: number, arch: Archetype): Customer {
    const r = this.rand;
    return {
      index: i,
      id: simCustomerId(i),
      arch,
      phase: 0,
      phaseEnd: Number.POSITIVE_INFINITY,
      rates: [0, 0, 0, 0, 0, 0, 0],
      total: 0,
      nextAt: Number.POSITIVE_INFINITY,
      pending: [],
      subscribed: false,
      converter: r() < 0.6,
      sessions: 0,
      favourite: Math.floor(r() * CATEGORIES.length),
      device: r() < 0.55 ? 'app' : 'web',
      openP: 0,
      clickP: 0,
      cartP: 0.15,
      checkoutP: 0.05,
      searchP: 0.25,
      devices: arch === 'newcomer' ? newcomerDevices(i) : [],
      linked: 0,
      device_at: 0,
    };
  }

  /**
   * Plans the compact past of a customer who exists at the sim start: a signup (with its profile)
   * or just a first purchase, 60-720 days back, then only purchases at the archetype's phase-0
   * buying rate up to the start (refunds now and then); lapsed customers place one or two small
   * orders in their first weeks and never buy again. Returns the time of its last planned event.
   */
  private prehistory(c: Customer): number {
    const r = this.rand;
    const u = (lo: number, hi: number): number => lo + r() * (hi - lo);
    const start = this.startMs;
    const lapsed = c.arch === 'lapsed';
    const span = TENURE_MAX - TENURE_MIN;
    const days = lapsed
      ? u(LAPSED_MIN, TENURE_MAX)
      : TENURE_MIN - TENURE_SCALE * Math.log(1 - r() * (1 - Math.exp(-span / TENURE_SCALE)));
    const t0 = start - Math.floor(days * DAY_MS);
    const channel = (): string => (r() < 0.3 ? 'store' : c.device);
    let t = t0;
    if (r() < (lapsed ? 0.8 : 0.7)) {
      const signedUp = this.act.signup(c, t0);
      // Some risers have never bought anything yet.
      if (c.arch === 'riser' && r() < 0.5) return signedUp;
      t = signedUp + Math.floor(u(0.05, 14) * DAY_MS);
    }
    t = this.act.barePurchase(c, t, channel(), lapsed);
    if (lapsed) {
      if (r() < 0.3) t = this.act.barePurchase(c, t + Math.floor(u(3, 28) * DAY_MS), channel(), true);
      return t;
    }
    const rate = c.rates[0]!;
    for (;;) {
      const next = rate > 0 ? t + Math.floor((-Math.log(1 - r()) / rate) * DAY_MS) : start;
      if (next >= start) return t;
      t = this.act.barePurchase(c, next, channel());
    }
  }

  /** Sets rates for `phase` entered at `t`; returns the end of any activity it forces. */
  private enterPhase(c: Customer, phase: number, t: number): number {
    const r = this.rand;
    const u = (lo: number, hi: number): number => lo + r() * (hi - lo);
    c.phase = phase;
    let end = t;
    let next = Number.POSITIVE_INFINITY;
    const set = (rates: number[], openP: number, clickP: number): void => {
      c.rates = rates;
      c.total = rates.reduce((s, x) => s + x, 0);
      c.openP = openP;
      c.clickP = clickP;
    };
    const regular = (): number[] => [1 / u(7, 21), u(0.2, 0.5), u(0.3, 0.7), 0.3, 0.01, 0.015, 0.004];
    switch (`${c.arch}:${phase}`) {
      case 'regular:0':
        set(regular(), 0.45, 0.3);
        break;
      case 'occasional:0':
        set([1 / u(30, 90), u(0.05, 0.15), 0.1, 0.25, 0.005, 0.01, 0.003], 0.25, 0.15);
        break;
      case 'drifter:0':
        set(regular(), 0.45, 0.3);
        next = this.startMs + Math.floor(u(20, 60) * DAY_MS);
        break;
      case 'drifter:1': {
        // Fading: no more purchases, a support case or two, maybe a cancellation.
        set([0, 0.08, 0.1, 0.15, 0, 0, 0], 0.1, 0.03);
        next = t + Math.floor(u(5, 12) * DAY_MS);
        const ticket = t + Math.floor(u(0, 4) * DAY_MS);
        this.act.add(c, ticket, 'support_ticket', {
          channel: 'chat',
          props: { topic: this.act.pick(TOPICS) },
        });
        if (r() < 0.6)
          this.act.add(c, ticket + Math.floor(u(1, 24) * HOUR_MS), 'complaint', { channel: 'email' });
        if (r() < 0.4)
          this.act.add(c, t + Math.floor(u(2, 8) * DAY_MS), 'support_ticket', { channel: 'phone' });
        if (r() < 0.5)
          this.act.add(c, t + Math.floor(u(0, 8) * DAY_MS), 'feedback', {
            props: { rating: r() < 0.5 ? 1 : 2 },
          });
        if (c.subscribed) {
          c.subscribed = false;
          this.act.add(c, t + Math.floor(u(1, 10) * DAY_MS), 'subscription_cancel', { channel: 'web' });
        }
        break;
      }
      case 'drifter:2':
        set([0, 0, 0.005, 0.03, 0, 0, 0], 0.03, 0);
        break;
      case 'riser:0':
        set([0.004, 0.06, 0.05, 0.15, 0.002, 0.004, 0.003], 0.15, 0.05);
        c.cartP = 0.05;
        c.checkoutP = 0.02;
        next = this.startMs + Math.floor(u(5, 60) * DAY_MS);
        break;
      case 'riser:1':
        // Rising intent: frequent, search-heavy sessions with carts and abandoned checkouts.
        set([0, u(1.5, 3), 0.5, 0.3, 0, 0, 0], 0.5, 0.4);
        c.cartP = 0.6;
        c.checkoutP = 0.35;
        c.searchP = 0.5;
        next = t + Math.floor(u(2, 6) * DAY_MS);
        break;
      case 'riser:2':
        end = this.act.plan(c, 'buy', t);
        set([1 / u(14, 45), 0.3, 0.3, 0.25, 0.005, 0.015, 0.003], 0.35, 0.2);
        c.cartP = 0.25;
        c.checkoutP = 0.1;
        c.searchP = 0.3;
        break;
      case 'newcomer:0':
        // Anonymous browsing before the signup (on one or two devices, simulator-identity.ts).
        set([0, 0.3, 0, 0, 0, 0, 0], 0, 0);
        next = this.startMs + Math.floor(u(0, NEWCOMER_DAYS) * DAY_MS);
        break;
      case 'newcomer:1':
        end = this.act.signup(c, t);
        this.act.emailFunnel(c, end + Math.floor(u(10, 60) * MINUTE_MS), 'welcome', 'email', 0.7, 0.4);
        if (c.converter) this.act.plan(c, 'buy', t + Math.floor(u(0.2, 10) * DAY_MS));
        set([0, 0.4, 0.3, 0.2, 0.01, 0, 0.01], 0.5, 0.25);
        next = t + 14 * DAY_MS;
        break;
      case 'newcomer:2':
        if (c.converter) set([1 / u(10, 60), 0.25, 0.3, 0.25, 0.008, 0.015, 0.004], 0.35, 0.2);
        else set([0, 0.03, 0.02, 0.1, 0, 0, 0], 0.05, 0.01);
        break;
      case 'lapsed:0':
        set([0, 0, 0, 1 / LAPSED_MAIL_DAYS, 0, 0, 0], 0.15, 0);
        break;
      case 'dormant:0':
        set([0.05, 0.2, 0.3, 0.2, 0, 0, 0], 0.2, 0.1);
        next = this.startMs + Math.floor(u(3, 15) * DAY_MS);
        break;
      default:
        set([0, 0, 0, 0, 0, 0, 0], 0, 0);
    }
    c.phaseEnd = next;
    return end;
  }

  /** Samples the next activity start after `from`, crossing phase boundaries (memoryless). */
  private sampleNext(c: Customer, from: number, now: number): void {
    for (;;) {
      const t = c.total > 0 ? from + Math.floor((-Math.log(1 - this.rand()) / c.total) * DAY_MS) : Infinity;
      if (t < c.phaseEnd) {
        c.nextAt = t;
        return;
      }
      if (c.phaseEnd === Number.POSITIVE_INFINITY) {
        c.nextAt = t;
        return;
      }
      const at = Math.max(c.phaseEnd, now);
      const end = this.enterPhase(c, c.phase + 1, at);
      from = Math.max(from, at, end);
    }
  }

  private pickKind(c: Customer): Kind {
    let u = this.rand() * c.total;
    for (let k = 0; k < KINDS.length; k++) if ((u -= c.rates[k]!) < 0) return KINDS[k]!;
    return 'browse';
  }
}
