/**
 * The Online Retail categories (a keyword table, first row wins) and the offline evaluation of the
 * next-best category on a tiny hand-computed split:
 *
 *   before the cutoff: u1 {A, B}, u2 {A, B}, u3 {A, C}, u4 {C}   N = 4, n(A) = 3, n(B) = n(C) = 2,
 *                      n(AB) = 2, n(AC) = 1
 *   after it:          u1 {B} (B was in u1's last basket: no new category), u3 {B} (new)
 *
 * next_best: u1 bought A and B last → only C is left → miss; u3 bought A and C → B
 * (½ · 2/3 + 0.005) → hit. popularity: A, B, C → both hit. bought_together: u1's last basket
 * {A, B} → C (n(AC) + n(BC) = 1) → miss; u3's {A, C} → B (n(AB) + n(CB) = 2) → hit. One sku per
 * category: the sku hits are the same.
 */
import { describe, expect, it } from 'vitest';
import { evaluateBaskets } from '../../models/baskets/evaluate.js';
import type { RetailLine } from '../../models/datasets/online-retail-lines.js';
import { categoryOf, isGoods } from '../../models/datasets/retail-categories.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2011, 0, 3);
const CUTOFF = T0 + 30 * DAY;

function basket(customer: string, invoice: string, ts: number, categories: string[]): RetailLine[] {
  return categories.map((category, i) => ({ invoice, customer, ts: ts + i, sku: `${category}-1`, category }));
}

describe('Online Retail categories', () => {
  it('names a description by the first matching row of the keyword table', () => {
    expect(categoryOf('WHITE HANGING HEART T-LIGHT HOLDER')).toBe('candles & lights');
    expect(categoryOf('JUMBO BAG RED RETROSPOT')).toBe('bags');
    expect(categoryOf('LUNCH BAG RED RETROSPOT')).toBe('lunch');
    expect(categoryOf("PAPER CHAIN KIT 50'S CHRISTMAS ")).toBe('christmas');
    expect(categoryOf('SET OF 3 CAKE TINS PANTRY DESIGN ')).toBe('baking');
    expect(categoryOf('ROSES REGENCY TEACUP AND SAUCER ')).toBe('tea & coffee');
    expect(categoryOf('MIRRORED DISCO BALL')).toBe('other'); // whole words: MIRRORED is not MIRROR
    expect(categoryOf('CAMOUFLAGE LED TORCH')).toBe('other');
    expect(categoryOf('')).toBe('other');
  });

  it('tells goods from postage, fees and manual entries', () => {
    for (const code of ['85123A', '71053', '22423']) expect(isGoods(code)).toBe(true);
    for (const code of ['POST', 'DOT', 'M', 'BANK CHARGES', 'AMAZONFEE', 'gift_0001_20'])
      expect(isGoods(code)).toBe(false);
  });
});

describe('basket evaluation', () => {
  it('scores each method by hand-computed hits on the first basket after the cutoff', () => {
    const lines = [
      ...basket('u1', 'i1', T0, ['A', 'B']),
      ...basket('u2', 'i2', T0 + DAY, ['A', 'B']),
      ...basket('u3', 'i3', T0 + 2 * DAY, ['A', 'C']),
      ...basket('u4', 'i4', T0 + 3 * DAY, ['C']),
      ...basket('u3', 'i6', CUTOFF + 2 * DAY, ['B']),
      ...basket('u1', 'i5', CUTOFF + DAY, ['B']),
      ...basket('u1', 'i7', CUTOFF + 3 * DAY, ['C']), // not the first basket after the cutoff
      ...basket('u9', 'i8', CUTOFF + DAY, ['A']), // no history before the cutoff
    ];
    const report = evaluateBaskets(lines, CUTOFF);
    expect(report.train).toEqual({ lines: 7, baskets: 4, customers: 4 });
    expect(report.categories).toBe(3);
    expect(report.target_categories_mean).toBe(1);
    const all = (hit: number) => ({ customers: 2, hit_at_5: hit, hit_at_10: hit });
    const novel = (hit: number) => ({ customers: 1, hit_at_5: hit, hit_at_10: hit });
    expect(report.methods).toEqual({
      next_best: { all: all(0.5), novel: novel(1) },
      next_best_keep_bought: { all: all(1), novel: novel(1) },
      popularity: { all: all(1), novel: novel(1) },
      bought_together: { all: all(0.5), novel: novel(1) },
    });
    // skus are one per category here (A-1, B-1, C-1), so the sku hits follow the category ones
    expect(report.skus).toEqual({ next_best: all(0.5), popularity: all(1), bought_together: all(0.5) });
  });
});
