import { describe, expect, it } from 'vitest';
import { compileCrmConfig, defaultCrmConfig } from '../../operators/crm/config.js';
import { recordLookup } from '../../operators/crm/expression.js';
import { TagEvaluator } from '../../operators/crm/tags.js';

/** An error with code `code` whose message matches `message`. */
const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

describe('tag evaluator', () => {
  const tags = new TagEvaluator(defaultCrmConfig().tags);

  it('evaluates the default tags into one 32-bit word, bit i = i-th tag', () => {
    expect(tags.words).toBe(1);
    const customer = recordLookup({
      spend_90d: 600,
      cart_adds_24h: 2,
      purchases_7d: 0,
      'churn.risk': null,
      email_clicks_30d: 1,
      tenure_days: 10,
    });
    const bits = tags.evaluate(customer);
    expect(bits[0]).toBe(0b11011);
    expect(tags.names(bits)).toEqual(['high_value', 'cart_abandoner', 'email_engaged', 'new_customer']);
    expect(tags.has(bits, 'churn_risk_high')).toBe(false);
    expect(tags.has(bits, 'high_value')).toBe(true);
    expect(tags.has(bits, 'no_such_tag')).toBe(false);
    expect(tags.indexOf('email_engaged')).toBe(3);
    expect(tags.names(tags.evaluate(recordLookup({})))).toEqual([]);
  });

  it('writes into per-slot storage at an offset and says whether the set changed', () => {
    const store = new Uint32Array(4 * tags.words);
    const risky = recordLookup({ 'churn.risk': 91, tenure_days: 400 });
    expect(tags.evaluateInto(risky, store, 2 * tags.words)).toBe(true);
    expect(tags.evaluateInto(risky, store, 2 * tags.words)).toBe(false);
    expect([...store]).toEqual([0, 0, 0b00100, 0]);
    expect(tags.names(store, 2)).toEqual(['churn_risk_high']);
    const calmer = recordLookup({ 'churn.risk': 20, email_clicks_30d: 3, tenure_days: 400 });
    const before = store.slice(2, 3);
    expect(tags.evaluateInto(calmer, store, 2)).toBe(true);
    expect(tags.diff(before, store, 0, 2)).toEqual({
      added: ['email_engaged'],
      removed: ['churn_risk_high'],
    });
  });

  it('supports 64 tags in two words and refuses more', () => {
    const many = Array.from({ length: 64 }, (_, i) => ({
      id: `t${i}`,
      kind: 'basic',
      when: `events_lifetime >= ${i}`,
    }));
    const evaluator = new TagEvaluator(compileCrmConfig({ tags: many }).tags);
    expect(evaluator.words).toBe(2);
    const bits = evaluator.evaluate(recordLookup({ events_lifetime: 40 }));
    expect(bits[0]).toBe(0xffffffff);
    expect(bits[1]).toBe(0x1ff);
    expect(evaluator.names(bits)).toHaveLength(41);
    expect(evaluator.has(bits, 't40')).toBe(true);
    expect(evaluator.has(bits, 't41')).toBe(false);
    const all = evaluator.evaluate(recordLookup({ events_lifetime: 100 }));
    expect([...all]).toEqual([0xffffffff, 0xffffffff]);
    expect(evaluator.names(all).at(-1)).toBe('t63');
    const tags65 = [...evaluator.tags, { ...evaluator.tags[0]!, id: 't64', index: 64 }];
    expect(() => new TagEvaluator(tags65)).toThrow(coded('BW_ERR_CRM_CONFIG', /at most 64 tags, got 65/));
    expect(() => compileCrmConfig({ tags: [...many, { id: 't64', kind: 'basic', when: 'true' }] })).toThrow(
      'tags: must NOT have more than 64 items',
    );
  });
});
