/**
 * The simulated feed's baskets carry co-purchase structure: mined with the engine's basket
 * operators, baby → diapers and coffee → filters come out near the planted companion
 * probabilities (0.65 and 0.6) with lift well above 1, and unrelated categories do not pair.
 */
import { describe, expect, it } from 'vitest';
import { EventSimulator } from '../../feeds/simulator.js';
import { associationRules } from '../../operators/analytics/association-rules.js';
import { BasketTracker } from '../../operators/analytics/baskets.js';

const START = Date.UTC(2025, 0, 1);

describe('simulated baskets', () => {
  it('mine to the companion rules the simulator plants', () => {
    const sim = new EventSimulator({ customers: 2000, seed: 7, startMs: START });
    const tracker = new BasketTracker();
    const slots = new Map<string, number>();
    const decoder = new TextDecoder();
    for (let i = 0; i < 300_000; i++) {
      const e = sim.next();
      const body = JSON.parse(typeof e.body === 'string' ? e.body : decoder.decode(e.body)) as {
        customer_id: string;
        type: string;
        session_id?: string;
        sku?: string;
        category?: string;
      };
      let slot = slots.get(body.customer_id);
      if (slot === undefined) slots.set(body.customer_id, (slot = slots.size));
      tracker.onEvent(slot, body.type === 'purchase', e.ts, body.session_id, body.sku, body.category);
    }
    tracker.closeExpired(Number.POSITIVE_INFINITY);
    const rules = associationRules(tracker.stats.category, 'category', {
      minSupport: 0,
      minConfidence: 0,
      limit: 10_000,
    }).rules;
    const rule = (a: string, b: string) => rules.find((r) => r.antecedent === a && r.consequent === b);
    const baby = rule('baby', 'diapers');
    const coffee = rule('coffee', 'filters');
    expect(baby?.confidence).toBeGreaterThan(0.5);
    expect(baby?.confidence).toBeLessThan(0.8);
    expect(baby?.lift).toBeGreaterThan(3);
    expect(coffee?.confidence).toBeGreaterThan(0.45);
    expect(coffee?.lift).toBeGreaterThan(3);
    expect(rule('diapers', 'wipes')?.lift).toBeGreaterThan(3);
    expect(rule('coffee', 'diapers')).toBeUndefined();
  }, 120_000);
});
