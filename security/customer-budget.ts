/**
 * How many distinct customers each API key has read in the last hour (BW_EXPORT_LIMIT), through
 * every route that returns customer data: single reads, lists and exports. A customer is charged
 * when a key first reads it and stays charged for an hour from then; reading it again within
 * that hour costs nothing. An answer that would take a key over the limit is refused whole.
 *
 * The window is in memory and answers synchronously (a map lookup on the hot read path); the
 * engine copies each charge to NATS and merges the charges of other instances, and of before a
 * restart, back in (`merge`; engine/customer-budget-store.ts).
 */
import { HOUR_MS } from '../contract/time.js';

/** A customer charged to a key at a time (ms): what the store copies to NATS. */
export interface BudgetCharge {
  key: string;
  customer: string;
  at: number;
}

/** What a take answers. `retryAfterMs`: when enough of the key's charges will have expired. */
export type BudgetAnswer = { ok: true } | { ok: false; used: number; retryAfterMs: number };

const OK: BudgetAnswer = { ok: true };
/** Refused answers raise at most one security alert per key in this time. */
const ALERT_EVERY_MS = 60_000;
/** Charges kept for the store while it cannot write them (NATS away); the oldest half goes first. */
const PENDING_MAX = 1_000_000;

/** One key's charges: customer → charged at, and the same in time order (for expiry). */
class KeyWindow {
  readonly charged = new Map<string, number>();
  ids: string[] = [];
  ats: number[] = [];
  head = 0;
  lastAlert = Number.NEGATIVE_INFINITY;

  /** Drops charges of an hour ago or more. */
  expire(now: number): void {
    const cutoff = now - HOUR_MS;
    const { ids, ats, charged } = this;
    let head = this.head;
    while (head < ats.length && ats[head]! <= cutoff) {
      const id = ids[head]!;
      if (charged.get(id) === ats[head]) charged.delete(id);
      head++;
    }
    if (head > 1024 && head * 2 > ats.length) {
      this.ids = ids.slice(head);
      this.ats = ats.slice(head);
      head = 0;
    }
    this.head = head;
  }

  /** Records a charge at `at`, keeping the time order (merged charges can be older than the last). */
  push(id: string, at: number): void {
    const { ids, ats } = this;
    if (ats.length === this.head || ats[ats.length - 1]! <= at) {
      ids.push(id);
      ats.push(at);
      return;
    }
    let lo = this.head;
    let hi = ats.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ats[mid]! <= at) lo = mid + 1;
      else hi = mid;
    }
    ids.splice(lo, 0, id);
    ats.splice(lo, 0, at);
  }

  /** Milliseconds until `slots` charges of the window have expired. */
  retryAfter(slots: number, now: number): number {
    let seen = 0;
    for (let i = this.head; i < this.ats.length; i++) {
      if (this.charged.get(this.ids[i]!) !== this.ats[i]) continue;
      if (++seen >= slots) return Math.max(0, this.ats[i]! + HOUR_MS - now);
    }
    return HOUR_MS;
  }
}

export class CustomerBudget {
  readonly limit: number;
  readonly #windows = new Map<string, KeyWindow>();
  #pending: BudgetCharge[] = [];
  #tracking = false;

  constructor(limitPerHour: number) {
    this.limit = limitPerHour;
  }

  #window(key: string): KeyWindow {
    let w = this.#windows.get(key);
    if (!w) this.#windows.set(key, (w = new KeyWindow()));
    return w;
  }

  #charge(w: KeyWindow, key: string, customer: string, now: number): void {
    w.charged.set(customer, now);
    w.push(customer, now);
    if (!this.#tracking) return;
    // Full (NATS away for long): the older half goes at once, not one shift per charge.
    if (this.#pending.length >= PENDING_MAX) this.#pending = this.#pending.slice(PENDING_MAX / 2);
    this.#pending.push({ key, customer, at: now });
  }

  /** Distinct customers `key` has been charged for in the hour before `now`. */
  used(key: string, now: number = Date.now()): number {
    const w = this.#windows.get(key);
    if (!w) return 0;
    w.expire(now);
    return w.charged.size;
  }

  /** Whether `key` could read `customer` now (already charged, or room left); charges nothing. */
  allows(key: string, customer: string, now: number = Date.now()): boolean {
    const w = this.#windows.get(key);
    if (!w) return this.limit > 0;
    w.expire(now);
    return w.charged.has(customer) || w.charged.size < this.limit;
  }

  /** Charges one customer to `key` unless that takes it over the limit (nothing charged then). */
  take(key: string, customer: string, now: number = Date.now()): BudgetAnswer {
    const w = this.#window(key);
    w.expire(now);
    if (w.charged.has(customer)) return OK;
    if (w.charged.size >= this.limit) {
      return { ok: false, used: w.charged.size, retryAfterMs: w.retryAfter(1, now) };
    }
    this.#charge(w, key, customer, now);
    return OK;
  }

  /** Charges every customer of an answer, or none when the new ones would take `key` over the limit. */
  takeAll(key: string, customers: readonly string[], now: number = Date.now()): BudgetAnswer {
    const w = this.#window(key);
    w.expire(now);
    const fresh = new Set<string>();
    for (const c of customers) if (!w.charged.has(c)) fresh.add(c);
    const over = w.charged.size + fresh.size - this.limit;
    if (over > 0) {
      const retryAfterMs = fresh.size > this.limit ? HOUR_MS : w.retryAfter(over, now);
      return { ok: false, used: w.charged.size, retryAfterMs };
    }
    for (const c of fresh) this.#charge(w, key, c, now);
    return OK;
  }

  /** True at most once a minute per key: whether a refusal now raises a security alert. */
  alertDue(key: string, now: number = Date.now()): boolean {
    const w = this.#window(key);
    if (now - w.lastAlert < ALERT_EVERY_MS) return false;
    w.lastAlert = now;
    return true;
  }

  /**
   * Adds a charge made elsewhere (another instance, or this one before a restart). The earlier of
   * two charges of one customer wins. True when the window changed.
   */
  merge(key: string, customer: string, at: number, now: number = Date.now()): boolean {
    if (!(at > now - HOUR_MS)) return false;
    const w = this.#window(key);
    const known = w.charged.get(customer);
    if (known !== undefined && known <= at) return false;
    w.charged.set(customer, at);
    w.push(customer, at);
    return true;
  }

  /** From now on, keeps every charge until `drain` takes it (for the store). */
  track(): void {
    this.#tracking = true;
  }

  /** The charges made since the last drain, oldest first. */
  drain(): BudgetCharge[] {
    const out = this.#pending;
    this.#pending = [];
    return out;
  }

  /** Puts back charges the store could not write, ahead of newer ones. */
  requeue(charges: BudgetCharge[]): void {
    if (charges.length === 0) return;
    const all = charges.concat(this.#pending);
    this.#pending = all.length > PENDING_MAX ? all.slice(all.length - PENDING_MAX) : all;
  }
}
