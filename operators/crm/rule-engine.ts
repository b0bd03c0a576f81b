/**
 * Per-partition rule state over customer slots: event rules fire on their event, absence rules
 * arm a timer at their `on` event that fires `within` later unless an `unless` event came in
 * between, condition rules fire when their expression turns from false to true. Pure: no clock,
 * no I/O, no timers of the host. Time is event time: `advance(now)` is called with the
 * partition's clock (watermark or wall) and fires the timers due by then.
 *
 * Absence timers live in {@link AbsenceTimers} (absence-timers.ts): typed arrays ordered by a
 * binary min-heap on due time and linked per slot. A late `on` event whose window already holds
 * an `unless` event seen earlier does not arm: the latest four `unless` times per (slot, rule)
 * are remembered.
 * Every firing carries a deterministic `cause` (the trigger event id, `absence:<on-event-id>`,
 * `condition:<event-id-or-time>`), so a trigger replayed after a restart yields the same message
 * id. The state is a plain JSON snapshot; see docs/crm.md.
 */
import { BellwetherError } from '../../contract/errors.js';
import { AbsenceTimers, NO_TIMER } from './absence-timers.js';
import type { CompiledRule, CrmRuleKind } from './config.js';
import { CRM_SCORE_NAMES } from './config.js';
import type { ExpressionLookup } from './expression.js';

/** Names whose values change only when a customer is scored. */
const SCORE_TIME_NAMES: ReadonlySet<string> = new Set(CRM_SCORE_NAMES);

export interface Firing {
  readonly rule_id: string;
  readonly customer_id: string;
  readonly slot: number;
  readonly kind: CrmRuleKind;
  /** Event time of the trigger (event, condition) or due time (absence), epoch ms. */
  readonly at: number;
  /** Deterministic per trigger: the engine derives the message id from rule_id + customer + cause. */
  readonly cause: string;
  readonly reason: string;
}

export interface RuleEngineSnapshot {
  readonly version: 1;
  /** Pending absence timers, ordered by due time. */
  readonly timers: readonly {
    readonly rule_id: string;
    readonly slot: number;
    readonly customer_id: string;
    readonly event_id: string;
    readonly trigger_ts: number;
    readonly due_ts: number;
  }[];
  /** Per condition rule, the slots whose condition is true and has fired (disarmed until false). */
  readonly conditions: readonly { readonly rule_id: string; readonly slots: readonly number[] }[];
  /** Per absence rule and slot, the latest `unless` event times seen (for late `on` events). */
  readonly unless_seen: readonly {
    readonly rule_id: string;
    readonly slot: number;
    readonly ts: readonly number[];
  }[];
}

/** `unless` event times remembered per (slot, absence rule): the latest SEEN of them. */
const SEEN = 4;
const NONE = -1;

export class RuleEngine {
  readonly rules: readonly CompiledRule[];
  readonly #eventByType: number[][];
  readonly #absenceByOn: number[][];
  readonly #absenceByUnless: number[][];
  readonly #conditionRules: number[] = [];
  /**
   * Columns (among condition rules) of the conditions that read something an event can change (a
   * feature, a profile field). The others read only scores, the segment and RFM scores, which
   * change only when the customer is scored: their value at an event is the one they had at the
   * last `onScores`, so they cannot turn true there and are not evaluated on events.
   */
  readonly #eventConditions: number[] = [];
  /** Rule index → its column among condition rules / absence rules, -1 when another kind. */
  readonly #condCol: Int32Array;
  readonly #absCol: Int32Array;
  readonly #nAbs: number;

  #slotCap = 0;
  #latched = new Uint8Array(0);
  #seen = new Float64Array(0);
  readonly #timers = new AbsenceTimers();

  constructor(rules: readonly CompiledRule[]) {
    if (rules.length > 0xffff)
      throw new BellwetherError('BW_ERR_CRM_CONFIG', `at most 65535 rules, got ${rules.length}`);
    this.rules = rules;
    const byType = (): number[][] => Array.from({ length: 256 }, () => []);
    this.#eventByType = byType();
    this.#absenceByOn = byType();
    this.#absenceByUnless = byType();
    this.#condCol = new Int32Array(rules.length).fill(NONE);
    this.#absCol = new Int32Array(rules.length).fill(NONE);
    let nAbs = 0;
    rules.forEach((rule, r) => {
      if (rule.kind === 'event') this.#eventByType[rule.onIndex]?.push(r);
      else if (rule.kind === 'absence' && rule.unless !== null) {
        this.#absCol[r] = nAbs++;
        this.#absenceByOn[rule.onIndex]?.push(r);
        this.#absenceByUnless[rule.unless.typeIndex]?.push(r);
      } else if (rule.kind === 'condition') {
        const column = this.#conditionRules.length;
        this.#condCol[r] = column;
        this.#conditionRules.push(r);
        if (rule.when?.names.some((n) => !SCORE_TIME_NAMES.has(n))) this.#eventConditions.push(column);
      }
    });
    this.#nAbs = nAbs;
  }

  /** Absence timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Due time of the earliest pending timer, or null. */
  nextDue(): number | null {
    const t = this.#timers.peek();
    return t === NO_TIMER ? null : this.#timers.due(t);
  }

  /**
   * One event of a customer, `lookup` reading the customer's state after the event is folded in.
   * Fires event rules and condition rules that turn true; arms and cancels absence timers.
   */
  onEvent(
    slot: number,
    customerId: string,
    typeIndex: number,
    ts: number,
    eventId: string,
    lookup: ExpressionLookup,
    /** The partition's clock; rules with `max_age` ignore trigger events older than that. */
    now: number = ts,
  ): Firing[] {
    const age = now - ts;
    this.#ensureSlot(slot);
    const out: Firing[] = [];
    for (const r of this.#eventByType[typeIndex] ?? []) {
      const rule = this.rules[r]!;
      if (rule.maxAgeMs !== null && age > rule.maxAgeMs) continue;
      if (rule.when !== null && !rule.when.evaluate(lookup)) continue;
      const reason = `${rule.on} ${eventId}${rule.when === null ? '' : ` and ${rule.when.source}`}`;
      out.push({
        rule_id: rule.id,
        customer_id: customerId,
        slot,
        kind: 'event',
        at: ts,
        cause: eventId,
        reason,
      });
    }
    for (const r of this.#absenceByOn[typeIndex] ?? []) {
      const rule = this.rules[r]!;
      if (rule.maxAgeMs !== null && age > rule.maxAgeMs) continue;
      if (rule.when !== null && !rule.when.evaluate(lookup)) continue;
      const due = ts + rule.unless!.withinMs;
      if (this.#seenWithin(slot, r, ts, due) || this.#timers.find(slot, r, eventId) !== NO_TIMER) continue;
      this.#timers.add(slot, r, customerId, eventId, ts, due);
    }
    for (const r of this.#absenceByUnless[typeIndex] ?? []) {
      const timers = this.#timers;
      for (let t = timers.first(slot); t !== NO_TIMER; ) {
        const next = timers.nextInSlot(t);
        if (
          timers.rule(t) === r &&
          timers.trigger(t) <= ts &&
          ts <= timers.due(t) &&
          timers.eventId(t) !== eventId
        ) {
          timers.remove(t);
        }
        t = next;
      }
      this.#recordSeen(slot, r, ts);
    }
    this.#conditions(slot, customerId, ts, `condition:${eventId}`, lookup, out, this.#eventConditions);
    return out;
  }

  /** After the customer is (re)scored at `now`: fires condition rules that turn true. */
  onScores(slot: number, customerId: string, now: number, lookup: ExpressionLookup): Firing[] {
    this.#ensureSlot(slot);
    const out: Firing[] = [];
    this.#conditions(slot, customerId, now, `condition:${now}`, lookup, out);
    return out;
  }

  /** Fires (and forgets) every absence timer due at or before `now`, in due-time order. */
  advance(now: number): Firing[] {
    const out: Firing[] = [];
    const timers = this.#timers;
    for (let t = timers.peek(); t !== NO_TIMER && timers.due(t) <= now; t = timers.peek()) {
      const rule = this.rules[timers.rule(t)]!;
      const unless = rule.unless!;
      const eventId = timers.eventId(t);
      out.push({
        rule_id: rule.id,
        customer_id: timers.customer(t),
        slot: timers.slot(t),
        kind: 'absence',
        at: timers.due(t),
        cause: `absence:${eventId}`,
        reason: `no ${unless.type} within ${unless.within} of ${rule.on} ${eventId}`,
      });
      timers.remove(t);
    }
    return out;
  }

  /** Moves the rule state of slot `from` to slot `to` (compaction); `to`'s previous state is dropped. */
  moveSlot(from: number, to: number): void {
    if (from === to) return;
    this.#ensureSlot(Math.max(from, to));
    this.removeSlot(to);
    this.#timers.moveSlot(from, to);
    const nc = this.#conditionRules.length;
    this.#latched.copyWithin(to * nc, from * nc, (from + 1) * nc);
    this.#latched.fill(0, from * nc, (from + 1) * nc);
    const ns = this.#nAbs * SEEN;
    this.#seen.copyWithin(to * ns, from * ns, (from + 1) * ns);
    this.#seen.fill(Number.NaN, from * ns, (from + 1) * ns);
  }

  /** Forgets every timer, flag and remembered time of `slot`. */
  removeSlot(slot: number): void {
    if (slot >= this.#slotCap) return;
    this.#timers.removeSlot(slot);
    const nc = this.#conditionRules.length;
    this.#latched.fill(0, slot * nc, (slot + 1) * nc);
    const ns = this.#nAbs * SEEN;
    this.#seen.fill(Number.NaN, slot * ns, (slot + 1) * ns);
  }

  snapshot(): RuleEngineSnapshot {
    const timers = this.#timers;
    const pending = timers.ordered().map((t) => ({
      rule_id: this.rules[timers.rule(t)]!.id,
      slot: timers.slot(t),
      customer_id: timers.customer(t),
      event_id: timers.eventId(t),
      trigger_ts: timers.trigger(t),
      due_ts: timers.due(t),
    }));
    const nc = this.#conditionRules.length;
    const conditions = this.#conditionRules.map((r, c) => {
      const slots: number[] = [];
      for (let s = 0; s < this.#slotCap; s++) if (this.#latched[s * nc + c] === 1) slots.push(s);
      return { rule_id: this.rules[r]!.id, slots };
    });
    const unless_seen: { rule_id: string; slot: number; ts: number[] }[] = [];
    this.rules.forEach((rule, r) => {
      const col = this.#absCol[r]!;
      if (col === NONE) return;
      for (let s = 0; s < this.#slotCap; s++) {
        const base = (s * this.#nAbs + col) * SEEN;
        const ts = Array.from(this.#seen.subarray(base, base + SEEN)).filter((x) => !Number.isNaN(x));
        if (ts.length > 0) unless_seen.push({ rule_id: rule.id, slot: s, ts: ts.sort((a, b) => a - b) });
      }
    });
    return { version: 1, timers: pending, conditions, unless_seen };
  }

  /**
   * Replaces the state with a snapshot. State of rules no longer configured (or whose kind
   * changed) is dropped; a timer's due time follows the rule's current `within`.
   */
  restore(snap: RuleEngineSnapshot): void {
    if (snap?.version !== 1 || !Array.isArray(snap.timers) || !Array.isArray(snap.conditions)) {
      throw new BellwetherError('BW_ERR_CHECKPOINT_CORRUPT', 'rule engine snapshot has an unknown shape');
    }
    for (let s = 0; s < this.#slotCap; s++) this.removeSlot(s);
    const byId = new Map(this.rules.map((rule, r) => [rule.id, r]));
    for (const timer of snap.timers) {
      const r = byId.get(timer.rule_id);
      const rule = r === undefined ? undefined : this.rules[r];
      if (r === undefined || rule?.kind !== 'absence' || rule.unless === null) continue;
      this.#ensureSlot(timer.slot);
      if (this.#timers.find(timer.slot, r, timer.event_id) !== NO_TIMER) continue;
      const due = timer.trigger_ts + rule.unless.withinMs;
      this.#timers.add(timer.slot, r, timer.customer_id, timer.event_id, timer.trigger_ts, due);
    }
    const nc = this.#conditionRules.length;
    for (const entry of snap.conditions) {
      const r = byId.get(entry.rule_id);
      const col = r === undefined ? NONE : this.#condCol[r]!;
      if (col === NONE) continue;
      for (const s of entry.slots) {
        this.#ensureSlot(s);
        this.#latched[s * nc + col] = 1;
      }
    }
    for (const entry of snap.unless_seen ?? []) {
      const r = byId.get(entry.rule_id);
      if (r === undefined || this.#absCol[r] === NONE) continue;
      this.#ensureSlot(entry.slot);
      for (const ts of entry.ts) this.#recordSeen(entry.slot, r, ts);
    }
  }

  #conditions(
    slot: number,
    customerId: string,
    at: number,
    cause: string,
    lookup: ExpressionLookup,
    out: Firing[],
    only?: readonly number[],
  ): void {
    const nc = this.#conditionRules.length;
    const count = only ? only.length : nc;
    for (let k = 0; k < count; k++) {
      const c = only ? only[k]! : k;
      const rule = this.rules[this.#conditionRules[c]!]!;
      const i = slot * nc + c;
      if (!rule.when!.evaluate(lookup)) {
        this.#latched[i] = 0;
      } else if (this.#latched[i] === 0) {
        this.#latched[i] = 1;
        const reason = `${rule.when!.source} became true`;
        out.push({ rule_id: rule.id, customer_id: customerId, slot, kind: 'condition', at, cause, reason });
      }
    }
  }

  #ensureSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0)
      throw new BellwetherError('BW_ERR_INVALID_ARGUMENT', `slot must be an integer ≥ 0, got ${slot}`);
    if (slot < this.#slotCap) return;
    let cap = Math.max(64, this.#slotCap);
    while (cap <= slot) cap *= 2;
    const latched = new Uint8Array(cap * this.#conditionRules.length);
    latched.set(this.#latched);
    this.#latched = latched;
    const seen = new Float64Array(cap * this.#nAbs * SEEN).fill(Number.NaN);
    seen.set(this.#seen);
    this.#seen = seen;
    this.#slotCap = cap;
  }

  #seenWithin(slot: number, r: number, lo: number, hi: number): boolean {
    const base = (slot * this.#nAbs + this.#absCol[r]!) * SEEN;
    for (let i = base; i < base + SEEN; i++) {
      const u = this.#seen[i]!;
      if (u >= lo && u <= hi) return true;
    }
    return false;
  }

  /** Keeps the SEEN latest distinct `unless` times of (slot, rule). */
  #recordSeen(slot: number, r: number, ts: number): void {
    const base = (slot * this.#nAbs + this.#absCol[r]!) * SEEN;
    let low = base;
    for (let i = base; i < base + SEEN; i++) {
      const u = this.#seen[i]!;
      if (u === ts) return;
      if (Number.isNaN(u)) {
        low = i;
        break;
      }
      if (u < this.#seen[low]!) low = i;
    }
    const current = this.#seen[low]!;
    if (Number.isNaN(current) || ts > current) this.#seen[low] = ts;
  }
}
