/**
 * Trigger accuracy of the absence rule `first_purchase_nudge` (signup, unless purchase within 7d)
 * on a generated population whose right answer is known: customers who buy within 7 days of
 * signing up (some exactly at the 7-day edge or at the signup instant), who first buy later (some
 * 1 ms after the edge), who bought only before signing up, who never buy; page views and logins
 * around them; every event delivered up to `maxDelayMs` late (so out of order), 1% delivered
 * twice, and the rule engine restarted from a JSON snapshot halfway through. The engine's clock
 * is the watermark (highest event time seen) minus `graceMs`. Figures: docs/crm.md.
 */
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import { mulberry32 } from '../../lib/random.js';
import { defaultCrmConfig } from './config.js';
import { type Firing, RuleEngine, type RuleEngineSnapshot } from './rule-engine.js';

export interface TriggerAccuracy {
  readonly seed: number;
  readonly customers: number;
  /** Deliveries, redeliveries included. */
  readonly deliveries: number;
  /** Customers for whom the nudge must fire. */
  readonly expected: number;
  /** Distinct (customer, cause) firings. */
  readonly fired: number;
  /** Firings for an expected customer, with the right cause and due time. */
  readonly true_positives: number;
  readonly false_positives: number;
  readonly false_negatives: number;
  /** Firings beyond the first for the same (customer, cause). */
  readonly duplicates: number;
  readonly precision: number;
  readonly recall: number;
  readonly max_delay_ms: number;
  readonly grace_ms: number;
  readonly restarted: boolean;
}

export interface TriggerAccuracyOptions {
  /** Longest delivery delay after the event time (default 3 h). */
  readonly maxDelayMs?: number;
  /** How far the rule clock stays behind the watermark (default: maxDelayMs). */
  readonly graceMs?: number;
  /** Restart from a snapshot after this fraction of deliveries; null: no restart (default 0.5). */
  readonly restartAt?: number | null;
}

interface Delivery {
  readonly slot: number;
  readonly customer: string;
  readonly typeIndex: number;
  readonly ts: number;
  readonly eventId: string;
  readonly arrival: number;
}

const SIGNUP = eventTypeIndex('signup');
const PURCHASE = eventTypeIndex('purchase');
const PAGE_VIEW = eventTypeIndex('page_view');
const LOGIN = eventTypeIndex('login');
const RULE_ID = 'first_purchase_nudge';
const WITHIN = 7 * DAY_MS;
const START = Date.UTC(2026, 0, 1);

interface Population {
  readonly deliveries: Delivery[];
  /** customer id → the due time the nudge must fire at, for customers who must get it. */
  readonly truth: Map<string, { due: number; cause: string }>;
}

function generate(seed: number, customers: number, maxDelayMs: number): Population {
  const rand = mulberry32(seed);
  const events: Omit<Delivery, 'arrival'>[] = [];
  const truth = new Map<string, { due: number; cause: string }>();
  for (let slot = 0; slot < customers; slot++) {
    const customer = `c${String(slot).padStart(6, '0')}`;
    let n = 0;
    const add = (typeIndex: number, ts: number): string => {
      const eventId = `${customer}-e${n++}`;
      events.push({ slot, customer, typeIndex, ts: Math.round(ts), eventId });
      return eventId;
    };
    const signup = Math.round(START + rand() * 60 * DAY_MS);
    const signupId = add(SIGNUP, signup);
    const purchases: number[] = [];
    const kind = rand();
    if (kind < 0.35) {
      const edge = rand();
      purchases.push(
        edge < 0.03 ? signup + WITHIN : edge < 0.06 ? signup : signup + 1 + rand() * (WITHIN - 2),
      );
      if (rand() < 0.2) purchases.push(signup + WITHIN + rand() * 60 * DAY_MS);
    } else if (kind < 0.6) {
      purchases.push(rand() < 0.04 ? signup + WITHIN + 1 : signup + WITHIN + 1 + rand() * 30 * DAY_MS);
    } else if (kind < 0.7) {
      purchases.push(signup - 1 - rand() * 10 * DAY_MS);
    }
    for (const ts of purchases) add(PURCHASE, ts);
    const noise = Math.floor(rand() * 6);
    for (let i = 0; i < noise; i++)
      add(rand() < 0.5 ? PAGE_VIEW : LOGIN, signup - DAY_MS + rand() * 20 * DAY_MS);
    const rounded = purchases.map(Math.round);
    if (!rounded.some((p) => p >= signup && p <= signup + WITHIN)) {
      truth.set(customer, { due: signup + WITHIN, cause: `absence:${signupId}` });
    }
  }
  const deliveries: Delivery[] = [];
  for (const e of events) {
    const arrival = e.ts + rand() * maxDelayMs;
    deliveries.push({ ...e, arrival });
    if (rand() < 0.01) deliveries.push({ ...e, arrival: arrival + rand() * maxDelayMs });
  }
  deliveries.sort((a, b) => a.arrival - b.arrival || (a.eventId < b.eventId ? -1 : 1));
  return { deliveries, truth };
}

/**
 * Runs the default rules over a generated population of `customers` (seeded) and compares the
 * firings of `first_purchase_nudge` with the known answer.
 */
export function measureTriggerAccuracy(
  seed: number,
  customers: number,
  options: TriggerAccuracyOptions = {},
): TriggerAccuracy {
  const maxDelayMs = options.maxDelayMs ?? 3 * HOUR_MS;
  const graceMs = options.graceMs ?? maxDelayMs;
  const restartAt = options.restartAt === undefined ? 0.5 : options.restartAt;
  const { deliveries, truth } = generate(seed, customers, maxDelayMs);
  const rules = defaultCrmConfig().rules;
  let engine = new RuleEngine(rules);
  const lookup = (): null => null;
  const firings: Firing[] = [];
  const restartIndex = restartAt === null ? -1 : Math.floor(deliveries.length * restartAt);
  let watermark = Number.NEGATIVE_INFINITY;
  deliveries.forEach((d, i) => {
    if (i === restartIndex) {
      const snap = JSON.parse(JSON.stringify(engine.snapshot())) as RuleEngineSnapshot;
      engine = new RuleEngine(rules);
      engine.restore(snap);
    }
    firings.push(...engine.onEvent(d.slot, d.customer, d.typeIndex, d.ts, d.eventId, lookup));
    watermark = Math.max(watermark, d.ts);
    firings.push(...engine.advance(watermark - graceMs));
  });
  firings.push(...engine.advance(Number.POSITIVE_INFINITY));

  const seen = new Set<string>();
  let duplicates = 0;
  let tp = 0;
  let fp = 0;
  const hit = new Set<string>();
  for (const f of firings) {
    if (f.rule_id !== RULE_ID) continue;
    const key = `${f.customer_id}\u0000${f.cause}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    const want = truth.get(f.customer_id);
    if (want !== undefined && want.cause === f.cause && want.due === f.at) {
      tp++;
      hit.add(f.customer_id);
    } else {
      fp++;
    }
  }
  const fn = [...truth.keys()].filter((c) => !hit.has(c)).length;
  return {
    seed,
    customers,
    deliveries: deliveries.length,
    expected: truth.size,
    fired: seen.size,
    true_positives: tp,
    false_positives: fp,
    false_negatives: fn,
    duplicates,
    precision: seen.size === 0 ? 1 : tp / seen.size,
    recall: truth.size === 0 ? 1 : tp / truth.size,
    max_delay_ms: maxDelayMs,
    grace_ms: graceMs,
    restarted: restartIndex >= 0,
  };
}
