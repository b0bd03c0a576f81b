/**
 * The cleansing of one partition's events, between parse and admit: missing values repaired and
 * values standardised in place (the event's fields), then the event judged (an outlier amount or
 * quantity, a near-duplicate), and once it is admitted, learnt from (its values join the
 * distributions, it joins the near-duplicate memory).
 *
 * Pure and synchronous: no I/O, no clock (event time only); judging allocates nothing beyond a
 * standardised string when a value changes. Counts go into a shared Float64Array indexed by
 * `rule * CLEANSING_ACTIONS.length + action` (the worker's metric reads it). The state that decides
 * quarantine (distributions, near-duplicate memory) is snapshot with the partition's checkpoint.
 */
import { CLEANSING_RULES } from '../../contract/cleansing.js';
import type { EventFields } from '../../contract/event-schema.js';
import { NearDuplicates } from './near-duplicates.js';
import { RobustStats, type RobustStatsJSON } from './robust-stats.js';
import { type CleansingRules, foldText } from './rules.js';

export { CLEANSING_RULES };
/** Actions: the `action` label. `reviewed`: would be quarantined, admitted as reviewed (Bw-Reviewed). */
export const CLEANSING_ACTIONS = ['repaired', 'standardised', 'quarantined', 'reviewed'] as const;

const RULE_MISSING_CURRENCY = 0;
const RULE_MISSING_CHANNEL = 1;
const RULE_CURRENCY = 2;
const RULE_CHANNEL = 3;
const RULE_CATEGORY = 4;
export const RULE_OUTLIER_AMOUNT = 5;
const RULE_OUTLIER_QUANTITY = 6;
const RULE_NEAR_DUPLICATE = 7;
const REPAIRED = 0;
const STANDARDISED = 1;
export const ACTION_QUARANTINED = 2;
export const ACTION_REVIEWED = 3;

/** What {@link EventCleanser.judge} decided. */
export const VERDICT_ACCEPT = 0;
export const VERDICT_OUTLIER = 1;
export const VERDICT_NEAR_DUPLICATE = 2;
export type Verdict = 0 | 1 | 2;

/** The parsed event as the cleanser reads it (contract/event-parse.ts ParsedEvent fits). */
export interface CleansingEvent {
  readonly body: EventFields;
  readonly typeIndex: number;
  readonly ts: number;
  readonly amount: number;
}

export interface CleanserSnapshot {
  amounts: RobustStatsJSON;
  quantities: RobustStatsJSON;
  near?: { keys: string; ts: string; window_ms: number; capacity: number };
}

export function newCleansingCounts(): Float64Array {
  return new Float64Array(CLEANSING_RULES.length * CLEANSING_ACTIONS.length);
}

export class EventCleanser {
  #rules: CleansingRules;
  readonly #counts: Float64Array;
  readonly #amounts: RobustStats;
  readonly #quantities: RobustStats;
  #near: NearDuplicates | undefined;
  /** Rule of the last quarantine verdict (RULE_OUTLIER_AMOUNT, …), for the metric and the detail. */
  lastRule = -1;
  /** Robust distance of the last outlier verdict. */
  lastDistance = 0;
  /** The near-duplicate memory was checked for the event last judged (learn remembers it). */
  #checked = false;

  constructor(rules: CleansingRules, counts: Float64Array) {
    this.#rules = rules;
    this.#counts = counts;
    this.#amounts = new RobustStats(rules.maxKeys, rules.refreshEvery);
    // A category still warming up is judged against all the partition's quantities (one scale).
    this.#quantities = new RobustStats(rules.maxKeys, rules.refreshEvery, true);
    this.#near = nearMemory(rules, undefined);
  }

  get rules(): CleansingRules {
    return this.#rules;
  }

  /** New rules from a reloaded file: distributions kept; the near-duplicate memory kept unless its size or window changed. */
  reconfigure(rules: CleansingRules): void {
    this.#rules = rules;
    this.#amounts.configure(rules.maxKeys, rules.refreshEvery);
    this.#quantities.configure(rules.maxKeys, rules.refreshEvery);
    this.#near = nearMemory(rules, this.#near);
  }

  /** Counts an action of a rule (the ingest counts quarantines and reviews: it knows whether they are replays). */
  count(rule: number, action: number): void {
    this.#counts[rule * CLEANSING_ACTIONS.length + action]!++;
  }

  /**
   * Repairs and standardises the event's fields in place, then judges it. Learns nothing: call
   * {@link learn} once the event is admitted.
   */
  judge(event: CleansingEvent): Verdict {
    const rules = this.#rules;
    const body = event.body;
    this.#checked = false;
    if (rules.standardise) this.#standardise(body);
    if (body.currency === undefined && body.amount !== undefined && rules.missingCurrency !== null) {
      body.currency = rules.missingCurrency;
      this.count(RULE_MISSING_CURRENCY, REPAIRED);
    }
    if (
      body.channel === undefined &&
      rules.missingChannel !== null &&
      rules.channelTypes[event.typeIndex] === 1
    ) {
      body.channel = rules.missingChannel;
      this.count(RULE_MISSING_CHANNEL, REPAIRED);
    }
    const amount = rules.amount;
    if (amount !== null && body.amount !== undefined && amount.types[event.typeIndex] === 1) {
      const d = this.#amounts.distance(body.currency ?? '', body.amount, amount.minCount, amount.minScale);
      if (d > amount.threshold) return this.#outlier(RULE_OUTLIER_AMOUNT, d);
    }
    const quantity = rules.quantity;
    if (quantity !== null && body.quantity !== undefined && quantity.types[event.typeIndex] === 1) {
      const d = this.#quantities.distance(
        body.category ?? '',
        body.quantity,
        quantity.minCount,
        quantity.minScale,
      );
      if (d > quantity.threshold) return this.#outlier(RULE_OUTLIER_QUANTITY, d);
    }
    const near = this.#near;
    const nearRule = rules.nearDuplicates;
    if (
      near !== undefined &&
      nearRule !== null &&
      nearRule.types[event.typeIndex] === 1 &&
      (body.sku !== undefined || !nearRule.requireSku)
    ) {
      this.#checked = true;
      if (near.check(body.customer_id, event.typeIndex, event.amount, body.sku, body.event_id, event.ts)) {
        this.lastRule = RULE_NEAR_DUPLICATE;
        return VERDICT_NEAR_DUPLICATE;
      }
    }
    this.lastRule = -1;
    return VERDICT_ACCEPT;
  }

  /**
   * Learns from an admitted event: its amount and quantity join their distributions (not those of
   * an outlier admitted as reviewed), and it joins the near-duplicate memory. Call right after
   * {@link judge} of the same event.
   */
  learn(event: CleansingEvent, verdict: Verdict): void {
    const rules = this.#rules;
    const body = event.body;
    if (verdict !== VERDICT_OUTLIER) {
      if (rules.amount !== null && body.amount !== undefined && rules.amount.types[event.typeIndex] === 1)
        this.#amounts.observe(body.currency ?? '', body.amount);
      if (
        rules.quantity !== null &&
        body.quantity !== undefined &&
        rules.quantity.types[event.typeIndex] === 1
      )
        this.#quantities.observe(body.category ?? '', body.quantity);
    }
    // Remembered only after the memory was checked for this very event (judge).
    if (this.#checked && this.#near !== undefined) this.#near.remember(event.ts);
    this.#checked = false;
  }

  snapshot(): CleanserSnapshot {
    const near = this.#near;
    return {
      amounts: this.#amounts.toJSON(),
      quantities: this.#quantities.toJSON(),
      ...(near ? { near: { ...near.toJSON(), window_ms: near.windowMs, capacity: near.capacity } } : {}),
    };
  }

  restore(snap: CleanserSnapshot): void {
    this.#amounts.restore(snap.amounts);
    this.#quantities.restore(snap.quantities);
    if (snap.near && this.#near) this.#near.restore(snap.near);
  }

  #outlier(rule: number, distance: number): Verdict {
    this.lastRule = rule;
    this.lastDistance = distance;
    return VERDICT_OUTLIER;
  }

  #standardise(body: EventFields): void {
    const rules = this.#rules;
    const currency = body.currency;
    if (currency !== undefined && !isCurrencyCode(currency)) {
      const folded = currency.trim().toLowerCase();
      const next = rules.currencyAliases.get(folded) ?? folded.toUpperCase();
      if (next !== currency) {
        body.currency = next;
        this.count(RULE_CURRENCY, STANDARDISED);
      }
    }
    const channel = body.channel;
    if (channel !== undefined) {
      const next = canonical(channel, rules.channelAliases);
      if (next !== channel) {
        body.channel = next;
        this.count(RULE_CHANNEL, STANDARDISED);
      }
    }
    const category = body.category;
    if (category !== undefined) {
      const next = canonical(category, rules.categoryAliases);
      if (next !== category) {
        body.category = next;
        this.count(RULE_CATEGORY, STANDARDISED);
      }
    }
  }
}

function nearMemory(rules: CleansingRules, current: NearDuplicates | undefined): NearDuplicates | undefined {
  const n = rules.nearDuplicates;
  if (n === null) return undefined;
  if (current !== undefined && current.windowMs === n.windowMs && current.capacity >= n.maxEntries)
    return current;
  return new NearDuplicates(n.maxEntries, n.windowMs);
}

/** Three upper-case ASCII letters: already canonical (checked without allocating). */
function isCurrencyCode(s: string): boolean {
  if (s.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = s.charCodeAt(i);
    if (c < 65 || c > 90) return false;
  }
  return true;
}

/** Already canonical: lower-case, no leading, trailing or double spaces, no other whitespace. */
function isFolded(s: string): boolean {
  let prevSpace = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return false;
    if (c === 32) {
      if (prevSpace) return false;
      prevSpace = true;
    } else if (c < 32 || c === 0xa0 || (c > 127 && /\s/.test(s[i]!))) return false;
    else if (c > 127 && s[i]!.toLowerCase() !== s[i]) return false;
    else prevSpace = false;
  }
  return !prevSpace || s.length === 0;
}

function canonical(value: string, aliases: ReadonlyMap<string, string>): string {
  if (aliases.size === 0 && isFolded(value)) return value;
  if (isFolded(value)) return aliases.get(value) ?? value;
  const folded = foldText(value);
  return aliases.get(folded) ?? folded;
}
