/**
 * Deterministic simulated customer feed for the quickstart and tests. Every customer runs a
 * piecewise-constant Poisson process over activity kinds (buy, browse, login, ...) whose rates
 * change with the customer's archetype phase; an activity expands into a few timed events
 * (a session, an email funnel, a support case). One binary heap keyed by each customer's next
 * event time yields a globally non-decreasing stream without scanning customers. Pure: no I/O.
 *
 * Archetypes ({@link ARCHETYPE_MIX}): regulars 27% (buy every 1-3 weeks), occasional 22.5%
 * (every 1-3 months), drifters 13.5% (regular, then trouble and silence), intent risers 9% (quiet,
 * then a burst of carts and checkouts, then a purchase), newcomers 10.8% (sign up during the sim),
 * dormant 7.2% (fall silent in the first weeks) and lapsed 10% (one or two small orders 160+ days
 * before the start, since then only the odd campaign mail: the customers a churn model flags).
 *
 * Prehistory: everyone but the newcomers already exists at `startMs`, with a compact past that
 * comes first in the stream: a signup (and profile) or a first purchase 60-720 days earlier, then
 * only purchases at the archetype's pace (and the odd refund) - about 10 events per customer, no
 * sessions - so the engine starts from a realistic customer base, long-lapsed customers included.
 *
 * Identity: newcomers browse anonymously (only an `anonymous_id`, on one or two devices) until they
 * sign up; the signup and their next logins carry both ids and link the devices
 * (simulator-identity.ts).
 */

import { eventSubject } from '../contract/subjects.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../contract/time.js';
import { type Archetype, type Customer, mulberry32, type Planned } from './simulator-activities.js';
import { CustomerPlanner } from './simulator-customers.js';
import { FaultInjector, type FaultKind } from './simulator-faults.js';
import { type EventIds, idsOf } from './simulator-identity.js';

export type { Archetype };

export interface SimulatorOptions {
  customers: number;
  seed: number;
  /** Start of the live sim, epoch ms; pre-existing customers' backfilled past comes before it. */
  startMs: number;
  /** Fraction of events replaced by a malformed one (default 0). */
  badRate?: number;
  /**
   * Fraction of valid events given a data-quality fault for the cleansing rules to catch
   * (simulator-faults.ts; default 0), and which faults (default all).
   */
  faultRate?: number;
  faultKinds?: readonly FaultKind[];
  /**
   * Injected drift for the model monitor (BW_SIMULATE_DRIFT): from `startMs` on, every amount
   * (purchases, refunds, carts, discounts) is multiplied by this factor, as a price-list or currency
   * mistake would; the customers' backfilled past keeps its amounts. 1 or absent: no drift.
   */
  driftFactor?: number;
}

export interface SimEvent {
  subject: string;
  body: Uint8Array | string;
  /** Event time, epoch ms. */
  ts: number;
  /** The data-quality fault injected into this event (known truth for the cleansing rules), if any. */
  fault?: FaultKind;
}

const BAD_TYPES = ['teleport', 'page_veiw', 'purchased'];
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

export class EventSimulator {
  private readonly planner: CustomerPlanner;
  private readonly badRand: () => number;
  private readonly badRate: number;
  private readonly faults: FaultInjector | undefined;
  /** A near-duplicate copy to emit right after its original. */
  private queued: SimEvent | undefined;
  private readonly seed: number;
  private readonly customers: Customer[] = [];
  private key: Float64Array;
  /** Mean planned time between two newcomers arriving in the live phase, ms. */
  private readonly arrivalGapMs: number;
  /** Planned time of the next newcomer arrival; NaN until the live phase begins. */
  private nextArrivalAt = Number.NaN;
  private readonly arrivalRand: () => number;
  private readonly heap: number[] = [];
  private counter = 0;
  private badCounter = 0;
  private readonly startMs: number;
  /** Seed and start time: event ids stay unique across runs on the same stream. */
  private readonly runId: string;
  private lastTs: number;
  private isoDay = Number.NaN;
  private isoPrefix = '';
  /** The ids of the event being emitted (simulator-identity.ts), one object reused. */
  private readonly ids: EventIds = { customerId: undefined, anonymousId: undefined };

  /** BW_SIMULATE_DRIFT: amounts from `startMs` on are multiplied by it (SimulatorOptions.driftFactor). */
  private readonly driftFactor: number;

  constructor(opts: SimulatorOptions) {
    if (!(opts.customers >= 1)) throw new RangeError('customers must be >= 1');
    this.seed = opts.seed >>> 0;
    const startMs = Math.floor(opts.startMs);
    this.startMs = startMs;
    this.runId = `${this.seed}-${startMs.toString(36)}`;
    this.badRate = Math.min(1, Math.max(0, opts.badRate ?? 0));
    this.driftFactor = opts.driftFactor ?? 1;
    this.planner = new CustomerPlanner(mulberry32(this.seed), startMs);
    this.badRand = mulberry32(this.seed ^ 0x9e3779b9);
    this.faults =
      (opts.faultRate ?? 0) > 0 ? new FaultInjector(this.seed, opts.faultRate!, opts.faultKinds) : undefined;
    this.key = new Float64Array(opts.customers);
    this.arrivalGapMs = CustomerPlanner.arrivalGapDays(opts.customers) * DAY_MS;
    this.arrivalRand = mulberry32(this.seed ^ 0x5bd1e995);
    for (let i = 0; i < opts.customers; i++) {
      const c = this.planner.create(i);
      this.customers.push(c);
      this.refreshKey(c);
      if (this.key[i]! < Number.POSITIVE_INFINITY) this.heapPush(i);
    }
    const first = this.heap[0];
    this.lastTs = first === undefined ? startMs : Math.min(startMs, this.key[first]!);
  }

  /** End of the prehistory (= `startMs`): events before it are the customers' backfilled past. */
  get prehistoryEnd(): number {
    return this.startMs;
  }

  /** Sim time of the last event returned by {@link next} (before any: of the first one). */
  get simTime(): number {
    return this.lastTs;
  }

  /** True when no customer has anything left to do (only possible with very few customers). */
  get exhausted(): boolean {
    return this.heap.length === 0;
  }

  /** The archetype of a simulated customer, for docs and demos; undefined for unknown ids. */
  archetypeOf(customerId: string): Archetype | undefined {
    const i = Number(customerId.slice(1));
    const c = this.customers[i];
    return c && c.id === customerId ? c.arch : undefined;
  }

  /**
   * The next event in non-decreasing time order. With `notAfter` (epoch ms), an event planned later
   * is stamped `notAfter` instead (the live phase of the feed: the customers' plans play on, in
   * order, at a pace the caller chooses, never stamped in the future); {@link simTime} stays the
   * planned time.
   */
  next(notAfter = Number.POSITIVE_INFINITY): SimEvent {
    const queued = this.queued;
    if (queued !== undefined) {
      this.queued = undefined;
      return queued;
    }
    for (;;) {
      const top = this.heap[0];
      if (top !== undefined && this.key[top]! > notAfter) this.arrivals(this.key[top]!);
      const i = this.heap[0];
      if (i === undefined) throw new Error('simulated feed is exhausted');
      const c = this.customers[i]!;
      const p = c.pending[c.pending.length - 1];
      if (p === undefined || c.nextAt < p.ts) {
        this.planner.expand(c);
        this.settle(c);
        continue;
      }
      c.pending.pop();
      if (p.type === 'subscription_renew' && !this.planner.renewal(c, p)) {
        this.settle(c);
        continue;
      }
      this.settle(c);
      this.lastTs = p.ts;
      return this.emit(c, p, Math.min(p.ts, notAfter));
    }
  }

  /**
   * The live phase (the next plan lies after `notAfter`, the present): newcomers keep arriving as
   * they did in the sim's first days (at the same mean rate, a Poisson process on planned time),
   * from the later of the present and the end of the start's own sign-up period. Each browses
   * anonymously, signs up and buys (or not) like the newcomers of the start.
   */
  private arrivals(until: number): void {
    if (Number.isNaN(this.nextArrivalAt)) {
      this.nextArrivalAt = Math.max(until, this.planner.newcomersUntil);
    }
    while (this.nextArrivalAt <= until) {
      const i = this.customers.length;
      const c = this.planner.arrive(i, this.nextArrivalAt);
      this.customers.push(c);
      if (this.key.length <= i) {
        const grown = new Float64Array(this.key.length * 2);
        grown.set(this.key);
        this.key = grown;
      }
      this.refreshKey(c);
      if (this.key[i]! < Number.POSITIVE_INFINITY) this.heapPush(i);
      this.nextArrivalAt += Math.max(1, Math.floor(-Math.log(1 - this.arrivalRand()) * this.arrivalGapMs));
    }
  }

  /** The event of plan `p`, stamped `ts` (its planned time, or earlier in the live phase). */
  private emit(c: Customer, p: Planned, ts: number): SimEvent {
    const amount = p.fields?.['amount'];
    if (this.driftFactor !== 1 && ts >= this.startMs && typeof amount === 'number')
      p.fields = { ...p.fields, amount: Math.round(amount * this.driftFactor * 100) / 100 };
    const eventId = `sim-${this.runId}-${this.counter++}`;
    const iso = this.iso(ts);
    if (this.badRate > 0 && this.badRand() < this.badRate) {
      return this.malformed({ event_id: eventId, customer_id: c.id, type: p.type }, iso, ts);
    }
    if (this.faults?.draw()) {
      const fault = this.faults.inject(
        { event_id: eventId, customer_id: c.id, type: p.type, ts: iso, ...p.fields },
        ts,
      );
      if (fault !== undefined) {
        const subject = eventSubject(p.type, c.id);
        if (fault.copy === undefined)
          return { subject, body: JSON.stringify(fault.body), ts, fault: fault.kind };
        this.queued = { subject, body: JSON.stringify(fault.copy), ts, fault: fault.kind };
      }
    }
    // Hand-built head (ids and types never need escaping); JSON.stringify for the variable part.
    const { customerId, anonymousId } = idsOf(c, p.type, this.ids);
    const who =
      (customerId === undefined ? '' : `"customer_id":"${customerId}",`) +
      (anonymousId === undefined ? '' : `"anonymous_id":"${anonymousId}",`);
    const head = `{"event_id":"${eventId}",${who}"type":"${p.type}","ts":"${iso}"`;
    const body = p.fields === undefined ? `${head}}` : `${head},${JSON.stringify(p.fields).slice(1)}`;
    return { subject: eventSubject(p.type, customerId ?? anonymousId!), body, ts };
  }

  /** ISO-8601 UTC text of `ts`, reusing the date part within a day. */
  private iso(ts: number): string {
    let ms = ts - this.isoDay;
    if (!(ms >= 0 && ms < DAY_MS)) {
      this.isoDay = ts - (((ts % DAY_MS) + DAY_MS) % DAY_MS);
      this.isoPrefix = new Date(this.isoDay).toISOString().slice(0, 11);
      ms = ts - this.isoDay;
    }
    const h = Math.floor(ms / HOUR_MS);
    const m = Math.floor((ms % HOUR_MS) / MINUTE_MS);
    const sec = Math.floor((ms % MINUTE_MS) / 1000);
    return `${this.isoPrefix}${TWO[h]}:${TWO[m]}:${TWO[sec]}.${THREE[ms % 1000]}Z`;
  }

  /** A malformed event with an honest subject, rotating through the kinds of damage. */
  private malformed(base: { event_id: string; customer_id: string; type: string }, iso: string, ts: number) {
    const subject = eventSubject(base.type, base.customer_id);
    const full = JSON.stringify({ ...base, ts: iso });
    switch (this.badCounter++ % 5) {
      case 0:
        return { subject, body: full.slice(0, Math.floor(full.length / 2)), ts };
      case 1:
        return {
          subject,
          body: JSON.stringify({ event_id: base.event_id, type: base.type, ts: iso }),
          ts,
        };
      case 2: {
        const type = BAD_TYPES[this.badCounter % BAD_TYPES.length]!;
        const body = JSON.stringify({ ...base, type, ts: iso });
        return { subject: eventSubject(type, base.customer_id), body, ts };
      }
      case 3:
        return { subject, body: JSON.stringify({ ...base, ts: 'last tuesday' }), ts };
      default:
        return { subject, body: `${full.slice(0, -1)},"amount":1e999,"currency":"EUR"}`, ts };
    }
  }

  private refreshKey(c: Customer): void {
    const p = c.pending[c.pending.length - 1];
    this.key[c.index] = p === undefined || c.nextAt < p.ts ? c.nextAt : p.ts;
  }

  /** Re-keys the heap top `c` after it changed; drops it when it has nothing left. */
  private settle(c: Customer): void {
    this.refreshKey(c);
    if (this.key[c.index]! === Number.POSITIVE_INFINITY) {
      const last = this.heap.pop()!;
      if (this.heap.length === 0) return;
      this.heap[0] = last;
    }
    this.siftDown(0);
  }

  private less(a: number, b: number): boolean {
    const ka = this.key[a]!;
    const kb = this.key[b]!;
    return ka < kb || (ka === kb && a < b);
  }

  private heapPush(i: number): void {
    const h = this.heap;
    let n = h.length;
    h.push(i);
    while (n > 0) {
      const parent = (n - 1) >> 1;
      if (!this.less(i, h[parent]!)) break;
      h[n] = h[parent]!;
      n = parent;
    }
    h[n] = i;
  }

  private siftDown(n: number): void {
    const h = this.heap;
    const size = h.length;
    const item = h[n]!;
    for (;;) {
      let child = 2 * n + 1;
      if (child >= size) break;
      if (child + 1 < size && this.less(h[child + 1]!, h[child]!)) child++;
      if (!this.less(h[child]!, item)) break;
      h[n] = h[child]!;
      n = child;
    }
    h[n] = item;
  }
}
