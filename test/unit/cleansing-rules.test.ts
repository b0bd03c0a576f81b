import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventFields } from '../../contract/event-schema.js';
import { eventTypeIndex } from '../../contract/event-types.js';
import {
  CLEANSING_ACTIONS,
  CLEANSING_RULES,
  type CleansingEvent,
  EventCleanser,
  newCleansingCounts,
  VERDICT_ACCEPT,
  VERDICT_NEAR_DUPLICATE,
  VERDICT_OUTLIER,
} from '../../operators/cleansing/cleanser.js';
import {
  compileCleansingRules,
  defaultCleansingRules,
  loadCleansingRules,
} from '../../operators/cleansing/rules.js';

const T = Date.UTC(2026, 9, 1);
const MIN = 60_000;

let ids = 0;
function event(type: string, fields: Partial<EventFields>, ts = T): CleansingEvent {
  const body = {
    event_id: `e${ids++}`,
    customer_id: 'c1',
    type,
    amount: undefined,
    currency: undefined,
    quantity: undefined,
    sku: undefined,
    category: undefined,
    channel: undefined,
    session_id: undefined,
    campaign: undefined,
    props: undefined,
    ...fields,
  } as EventFields;
  return { body, typeIndex: eventTypeIndex(type), ts, amount: body.amount ?? 0 };
}

function cleanser(file: unknown = {}) {
  const counts = newCleansingCounts();
  const c = new EventCleanser(compileCleansingRules(file, 'test.yaml'), counts);
  const count = (rule: string, action: string) =>
    counts[
      CLEANSING_RULES.indexOf(rule as never) * CLEANSING_ACTIONS.length +
        CLEANSING_ACTIONS.indexOf(action as never)
    ];
  /** Judges, and learns when accepted: what the engine does with an event nobody reviewed. */
  const run = (e: CleansingEvent) => {
    const v = c.judge(e);
    if (v === VERDICT_ACCEPT) c.learn(e, v);
    return v;
  };
  return { c, counts, count, run };
}

/** Purchases of one currency spread around 50 (×0.5 … ×2), deterministic. */
function warm(run: (e: CleansingEvent) => number, n: number, currency = 'EUR', base = 50): void {
  for (let i = 0; i < n; i++) {
    const amount = Math.round(base * 2 ** (((i * 37) % 101) / 50 - 1) * 100) / 100;
    expect(
      run(
        event('purchase', {
          amount,
          currency,
          quantity: 1 + (i % 2),
          category: 'shoes',
          customer_id: `w${i}`,
        }),
      ),
    ).toBe(VERDICT_ACCEPT);
  }
}

describe('cleansing rules file', () => {
  it('compiles the built-in rules and a file laid over them', () => {
    const d = defaultCleansingRules();
    expect(d.source).toBe('<default>');
    expect(d.missingCurrency).toBe('EUR');
    expect(d.nearDuplicates?.windowMs).toBe(10 * MIN);
    const r = compileCleansingRules(
      {
        missing: { currency: 'USD' },
        outliers: { amount: { threshold: 7 } },
        near_duplicates: { window: '90s' },
      },
      'f.yaml',
    );
    expect(r.missingCurrency).toBe('USD');
    expect(r.missingChannel).toBe('unknown');
    expect(r.amount?.threshold).toBe(7);
    expect(r.amount?.minCount).toBe(d.amount?.minCount);
    expect(r.nearDuplicates?.windowMs).toBe(90_000);
    // The merged definition crosses to a worker and compiles to the same rules there.
    expect(compileCleansingRules(r.definition, 'f.yaml').nearDuplicates).toEqual(r.nearDuplicates);
  });

  it('lists every violation of a file at once with BW_ERR_CLEANSING_CONFIG', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bw-cleansing-'));
    const file = path.join(dir, 'cleansing.yaml');
    await writeFile(
      file,
      [
        'missing:',
        '  currency: euro',
        '  channel_types: [login, teleport]',
        'standardise:',
        "  currency_aliases: { '€': eur }",
        'near_duplicates:',
        '  window: soon',
        '  types: [purchased]',
      ].join('\n'),
    );
    const err = await loadCleansingRules(file).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BW_ERR_CLEANSING_CONFIG' });
    const violations = (err as { data: { violations: string[] } }).data.violations;
    expect(violations).toEqual([
      `${file}: missing.currency: must be a 3-letter upper-case code, got 'euro'`,
      `${file}: standardise.currency_aliases.€: must be a 3-letter upper-case code, got 'eur'`,
      `${file}: missing.channel_types: unknown event type 'teleport'`,
      `${file}: near_duplicates.types: unknown event type 'purchased'`,
      `${file}: near_duplicates.window: 'soon' is not a duration (e.g. 10m, 90s, 1h)`,
    ]);
    const schema = (() => {
      try {
        compileCleansingRules({ outliers: { amount: { threshold: -1, limit: 3 } } }, 'x.json');
      } catch (e) {
        return (e as { data: { violations: string[] } }).data.violations;
      }
      return [];
    })();
    expect(schema).toContain("x.json: outliers.amount: unknown field 'limit'");
    expect(schema.some((v) => v.startsWith('x.json: outliers.amount.threshold:'))).toBe(true);
  });

  it('reads JSON, and the built-in rules without a file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bw-cleansing-'));
    const file = path.join(dir, 'cleansing.json');
    await writeFile(file, JSON.stringify({ near_duplicates: { enabled: false } }));
    expect((await loadCleansingRules(file)).nearDuplicates).toBeNull();
    expect((await loadCleansingRules(undefined)).source).toBe('<default>');
    await expect(loadCleansingRules(path.join(dir, 'none.yaml'))).rejects.toMatchObject({
      code: 'BW_ERR_CLEANSING_CONFIG',
    });
  });
});

describe('missing values', () => {
  it('gives an amount without currency the default currency and a device event without channel `unknown`, counted', () => {
    const { run, count } = cleanser();
    const p = event('purchase', { amount: 20 });
    run(p);
    expect(p.body).toMatchObject({ currency: 'EUR', channel: 'unknown' });
    const s = event('session_start', {});
    run(s);
    expect(s.body.channel).toBe('unknown');
    // A refund comes from the back office and a campaign touch falls back to its campaign: left alone.
    const r = event('refund', { amount: 5, currency: 'EUR' });
    const touch = event('campaign_touch', { campaign: 'spring' });
    run(r);
    run(touch);
    expect(r.body.channel).toBeUndefined();
    expect(touch.body.channel).toBeUndefined();
    expect(count('missing_currency', 'repaired')).toBe(1);
    expect(count('missing_channel', 'repaired')).toBe(2);
  });

  it('leaves values missing when the file says null', () => {
    const { run } = cleanser({ missing: { currency: null, channel: null } });
    const p = event('purchase', { amount: 20 });
    run(p);
    expect(p.body.currency).toBeUndefined();
    expect(p.body.channel).toBeUndefined();
  });
});

describe('standardisation', () => {
  it('writes currency codes, channel names and categories one way, counting only what changed', () => {
    const { run, count } = cleanser({ standardise: { category_aliases: { 'home & garden': 'home' } } });
    const cases: [Partial<EventFields>, Partial<EventFields>][] = [
      [{ currency: ' eur' }, { currency: 'EUR' }],
      [{ currency: '€' }, { currency: 'EUR' }],
      [{ currency: 'usd' }, { currency: 'USD' }],
      [{ channel: ' Mobile App ' }, { channel: 'app' }],
      [{ channel: 'E-Mail' }, { channel: 'email' }],
      [{ channel: 'WEB' }, { channel: 'web' }],
      [{ category: 'Home  Garden ' }, { category: 'home garden' }],
      [{ category: 'Home & Garden' }, { category: 'home' }],
    ];
    for (const [given, expected] of cases) {
      const e = event('page_view', { channel: 'web', ...given });
      run(e);
      expect(e.body).toMatchObject(expected);
    }
    const canonical = event('purchase', { amount: 9, currency: 'GBP', channel: 'store', category: 'toys' });
    run(canonical);
    expect(canonical.body).toMatchObject({ currency: 'GBP', channel: 'store', category: 'toys' });
    expect(count('currency_code', 'standardised')).toBe(3);
    expect(count('channel_name', 'standardised')).toBe(3);
    expect(count('category_text', 'standardised')).toBe(2);
  });
});

describe('outliers', () => {
  it('judges nothing during warm-up, then quarantines an amount far from its currency median', () => {
    const { c, run } = cleanser();
    // Warm-up (min_count 50): a wild amount is not judged yet, and not learnt either way here.
    expect(c.judge(event('purchase', { amount: 1e6, currency: 'EUR' }))).toBe(VERDICT_ACCEPT);
    warm(run, 200);
    expect(run(event('purchase', { amount: 60, currency: 'EUR' }))).toBe(VERDICT_ACCEPT);
    expect(run(event('purchase', { amount: 400, currency: 'EUR' }))).toBe(VERDICT_ACCEPT);
    expect(run(event('purchase', { amount: 500_000, currency: 'EUR' }))).toBe(VERDICT_OUTLIER);
    expect(c.lastRule).toBe(CLEANSING_RULES.indexOf('outlier_amount'));
    expect(c.lastDistance).toBeGreaterThan(5);
    expect(run(event('purchase', { amount: 0.02, currency: 'EUR' }))).toBe(VERDICT_OUTLIER);
    // Another currency has its own distribution: 5,000 JPY is not judged against euros.
    warm(run, 60, 'JPY', 6000);
    expect(run(event('purchase', { amount: 5000, currency: 'JPY' }))).toBe(VERDICT_ACCEPT);
  });

  it('judges a quantity against its category, and a new category against the partition', () => {
    const { c, run } = cleanser();
    warm(run, 200);
    expect(run(event('purchase', { amount: 50, currency: 'EUR', quantity: 2, category: 'shoes' }))).toBe(
      VERDICT_ACCEPT,
    );
    expect(run(event('purchase', { amount: 50, currency: 'EUR', quantity: 800, category: 'shoes' }))).toBe(
      VERDICT_OUTLIER,
    );
    expect(c.lastRule).toBe(CLEANSING_RULES.indexOf('outlier_quantity'));
    expect(run(event('purchase', { amount: 50, currency: 'EUR', quantity: 900, category: 'garden' }))).toBe(
      VERDICT_OUTLIER,
    );
    // A reviewed outlier is admitted but kept out of the distribution.
    const reviewed = event('purchase', { amount: 50, currency: 'EUR', quantity: 900, category: 'shoes' });
    expect(c.judge(reviewed)).toBe(VERDICT_OUTLIER);
    c.learn(reviewed, VERDICT_OUTLIER);
    expect(run(event('purchase', { amount: 50, currency: 'EUR', quantity: 900, category: 'shoes' }))).toBe(
      VERDICT_OUTLIER,
    );
  });
});

describe('near-duplicates', () => {
  const buy = (id: string, ts: number, over: Partial<EventFields> = {}) =>
    event('purchase', { event_id: id, amount: 30, currency: 'EUR', sku: 'SHO-1', ...over }, ts);

  it('quarantines the same customer, type, amount and sku under another id within the window', () => {
    const { run } = cleanser();
    expect(run(buy('a', T))).toBe(VERDICT_ACCEPT);
    expect(run(buy('b', T + 4 * MIN))).toBe(VERDICT_NEAR_DUPLICATE);
    // The same id is the exact dedupe's; another sku, amount or customer is another purchase.
    expect(run(buy('a', T + MIN))).toBe(VERDICT_ACCEPT);
    expect(run(buy('c', T + MIN, { sku: 'SHO-2' }))).toBe(VERDICT_ACCEPT);
    expect(run(buy('d', T + MIN, { amount: 31 }))).toBe(VERDICT_ACCEPT);
    expect(run(buy('e', T + MIN, { customer_id: 'c2' }))).toBe(VERDICT_ACCEPT);
    // Out of order within the window counts too; past it, it is a new purchase.
    expect(run(buy('f', T - 5 * MIN, { sku: 'SHO-2' }))).toBe(VERDICT_NEAR_DUPLICATE);
    expect(run(buy('g', T + 11 * MIN + MIN))).toBe(VERDICT_ACCEPT);
  });

  it('leaves events without an sku alone unless require_sku is off', () => {
    const on = cleanser().run;
    expect(on(buy('a', T, { sku: undefined }))).toBe(VERDICT_ACCEPT);
    expect(on(buy('b', T, { sku: undefined }))).toBe(VERDICT_ACCEPT);
    const off = cleanser({ near_duplicates: { require_sku: false } }).run;
    expect(off(buy('a', T, { sku: undefined }))).toBe(VERDICT_ACCEPT);
    expect(off(buy('b', T, { sku: undefined }))).toBe(VERDICT_NEAR_DUPLICATE);
  });

  it('keeps a bounded memory: a full set forgets its oldest entry', () => {
    const { run } = cleanser({ near_duplicates: { max_entries: 64 } });
    for (let i = 0; i < 5000; i++) expect(run(buy(`x${i}`, T + i, { sku: `S${i}` }))).toBe(VERDICT_ACCEPT);
    // The latest ones are remembered; the first were forgotten.
    expect(run(buy('y', T + 5000, { sku: 'S4999' }))).toBe(VERDICT_NEAR_DUPLICATE);
    expect(run(buy('z', T + 5000, { sku: 'S0' }))).toBe(VERDICT_ACCEPT);
  });
});

describe('cleansing state in a checkpoint', () => {
  it('restored from a JSON snapshot, decides every later event the same way', () => {
    const events: CleansingEvent[] = [];
    for (let i = 0; i < 3000; i++) {
      const wild = i % 97 === 0;
      const dup = i % 89 === 0;
      events.push(
        event(
          'purchase',
          {
            event_id: `s${i}`,
            customer_id: `c${i % 40}`,
            amount: wild ? 1e6 : 20 + (i % 13) * 7,
            currency: 'EUR',
            quantity: i % 101 === 0 ? 5000 : 1,
            category: ['shoes', 'toys', 'home'][i % 3]!,
            sku: dup ? `K${i - 40}` : `K${i}`,
          },
          T + i * 1000,
        ),
      );
    }
    const a = cleanser();
    const verdicts: number[] = events.slice(0, 1500).map((e) => a.run(e));
    const snap = JSON.parse(JSON.stringify(a.c.snapshot()));
    const b = cleanser();
    b.c.restore(snap);
    const rest = events.slice(1500);
    const fromA = rest.map((e) => a.run({ ...e, body: { ...e.body } }));
    const fromB = rest.map((e) => b.run({ ...e, body: { ...e.body } }));
    expect(fromB).toEqual(fromA);
    expect([...verdicts, ...fromA].filter((v) => v === VERDICT_OUTLIER).length).toBeGreaterThan(20);
  });
});
