import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BellwetherError } from '../../contract/errors.js';
import { loadCrmDefinition } from '../../engine/crm-files.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import {
  compileCrmConfig,
  DEFAULT_CRM_FILE,
  DEFAULT_SEGMENTS,
  defaultCrmConfig,
  loadCrmConfig,
} from '../../operators/crm/config.js';
import { formatDuration, parseDuration } from '../../operators/crm/duration.js';
import { recordLookup } from '../../operators/crm/expression.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'bw-crm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function violationsOf(promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BellwetherError);
  expect((err as BellwetherError).code).toBe('BW_ERR_CRM_CONFIG');
  return ((err as BellwetherError).data as { violations: string[] }).violations;
}

const YAML_FILE = `
version: 1
tags:
  - id: vip
    kind: value
    when: spend_90d > 1000 and rfm.m >= 4
    description: Big spenders
rules:
  - id: big_order
    on: purchase
    when: spend_7d > 200
    action: { channel: sms, template: thanks, priority: 2 }
  - id: no_return
    on: login
    unless: { type: login, within: 30d }
  - id: intent_high
    when: intent.risk >= 80
funnels:
  - id: search_to_buy
    steps: [search, add_to_cart, purchase]
    max_gap: 30m
    restart: always
segments:
  dormant_days: 120
  core: { r_min: 5 }
  at_risk_rfm: { r_max: 2, fm_min: 4 }
`;

describe('CRM file loader', () => {
  it('loads YAML and compiles tags, rules of each kind, funnels and segments with defaults filled', async () => {
    const config = await loadCrmConfig(write('crm.yaml', YAML_FILE));
    expect(config.tags.map((t) => [t.id, t.kind, t.index])).toEqual([['vip', 'value', 0]]);
    expect(config.tags[0]!.when.evaluate(recordLookup({ spend_90d: 1200, 'rfm.m': 5 }))).toBe(true);
    expect(config.rules.map((r) => [r.id, r.kind, r.on, r.unless?.withinMs ?? null])).toEqual([
      ['big_order', 'event', 'purchase', null],
      ['no_return', 'absence', 'login', 30 * 86_400_000],
      ['intent_high', 'condition', null, null],
    ]);
    expect(config.rules[0]!.action).toEqual({ channel: 'sms', template: 'thanks', priority: 2 });
    expect(config.funnels[0]).toMatchObject({
      id: 'search_to_buy',
      stepIndexes: [5, 6, 9],
      maxGapMs: 1_800_000,
    });
    expect(config.segments).toEqual({
      ...DEFAULT_SEGMENTS,
      dormant_days: 120,
      core: { ...DEFAULT_SEGMENTS.core, r_min: 5 },
      at_risk_rfm: { r_max: 2, fm_min: 4 },
    });
    expect(config.names).toEqual(['spend_90d', 'rfm.m', 'spend_7d', 'intent.risk']);
    // The plain definition crosses threads and compiles to the same config.
    const again = compileCrmConfig(structuredClone(config.definition), 'worker');
    expect(again.rules.map((r) => r.id)).toEqual(config.rules.map((r) => r.id));
    expect(again.segments).toEqual(config.segments);
  });

  it('loads the same file as JSON', async () => {
    const json = write('crm.json', JSON.stringify(DEFAULT_CRM_FILE));
    const config = await loadCrmConfig(json);
    expect(config.source).toBe(json);
    expect(config.rules.map((r) => r.id)).toEqual(defaultCrmConfig().rules.map((r) => r.id));
  });

  it('keeps the built-in at_risk_rfm test in a file that does not set it, and turns it off only on null', async () => {
    const builtIn = { r_max: 2, fm_min: 4 };
    const rulesOnly = write(
      'rules-only.yaml',
      'rules:\n  - { id: big_order, on: purchase, when: spend_7d > 200 }\n',
    );
    const otherSegments = write('dormant-only.yaml', 'segments:\n  dormant_days: 120\n');
    const off = write('at-risk-off.yaml', 'segments:\n  at_risk_rfm: null\n');
    for (const file of [rulesOnly, otherSegments]) {
      const config = await loadCrmConfig(file);
      expect(config.segments.at_risk_rfm).toEqual(builtIn);
      expect(compileCrmConfig(structuredClone(config.definition), 'worker').segments.at_risk_rfm).toEqual(
        builtIn,
      );
    }
    const config = await loadCrmConfig(off);
    expect(config.segments.at_risk_rfm).toBeNull();
    expect(compileCrmConfig(structuredClone(config.definition), 'worker').segments.at_risk_rfm).toBeNull();
    // As BW_RULES_FILE: the engine takes its segment settings from the rules file.
    expect((await loadCrmDefinition({ rules: rulesOnly })).definition.segments?.at_risk_rfm).toEqual(builtIn);
    expect((await loadCrmDefinition({ rules: off })).definition.segments?.at_risk_rfm).toBeNull();
  });

  it('reports every violation of a file at once, each with file and place', async () => {
    const file = write(
      'bad.yaml',
      `
tags:
  - { id: ok_tag, kind: value, when: spend_90d > 1 }
  - { id: ok_tag, kind: value, when: spend_90d > 2 }
  - { id: Bad-Id, kind: value, when: spend_90d > 3 }
  - { id: typo, kind: valuable, when: spend_9d > 3 }
  - { id: syntax, kind: basic, when: "spend_90d > > 3" }
rules:
  - { id: r1, on: signin }
  - { id: r2, on: signup, unless: { type: purchase, within: 7 days } }
  - { id: r3, when: "churn.risk >= 80", unless: { type: purchase, within: 7d } }
  - { id: r4, action: { channel: email } }
  - { id: r5, on: signup, colour: red }
funnels:
  - { id: f1, steps: [page_view], max_gap: 1h }
  - { id: f2, steps: [page_view, checkout], max_gap: 0h }
segments:
  core: { r_min: 7 }
  dormant: 90
`,
    );
    const violations = await violationsOf(loadCrmConfig(file));
    const expected = [
      'tags.ok_tag: duplicate id (items 0 and 1)',
      'tags[2].id: must match pattern',
      "tags.typo.kind: must be one of 'basic', 'behaviour', 'value', 'predictive'",
      "tags.typo.when: unknown name 'spend_9d'",
      "tags.syntax.when: at column 13: expected a value, found '>'",
      "rules.r1.on: unknown event type 'signin'",
      "rules.r2.unless.within: '7 days' is not a duration",
      "rules.r3: 'unless' needs 'on'",
      "rules.r4: needs 'on' (event or absence rule) or 'when' (condition rule)",
      "rules.r5: unknown field 'colour'",
      'funnels.f1.steps: must NOT have fewer than 2 items',
      "funnels.f2.steps[1]: unknown event type 'checkout'",
      "funnels.f2.max_gap: '0h' is not a duration",
      'segments.core.r_min: must be <= 5',
      "segments: unknown field 'dormant'",
    ];
    for (const fragment of expected) {
      expect(
        violations.some((v) => v.startsWith(`${file}:`) && v.includes(fragment)),
        fragment,
      ).toBe(true);
    }
    expect(violations.every((v) => v.startsWith(`${file}:`))).toBe(true);
  });

  it('accepts any name when knownNames is null, and only the given names otherwise', () => {
    const file = { tags: [{ id: 'x', kind: 'basic', when: 'custom.score > 1' }] };
    expect(compileCrmConfig(file, 'f', { knownNames: null }).tags).toHaveLength(1);
    expect(compileCrmConfig(file, 'f', { knownNames: ['custom.score'] }).tags).toHaveLength(1);
    expect(() => compileCrmConfig(file, 'f')).toThrow("f:tags.x.when: unknown name 'custom.score'");
  });

  it('rejects unreadable files, unknown extensions and YAML or JSON syntax errors', async () => {
    expect((await violationsOf(loadCrmConfig(path.join(dir, 'nope.yaml'))))[0]).toContain('cannot be read');
    expect((await violationsOf(loadCrmConfig(write('crm.toml', 'x = 1'))))[0]).toContain(
      "unknown extension '.toml'",
    );
    const yaml = await violationsOf(loadCrmConfig(write('broken.yaml', 'tags:\n  - id: a\n   kind: [\n')));
    expect(yaml[0]).toMatch(/broken\.yaml:\d+:\d+: /);
    const dup = await violationsOf(loadCrmConfig(write('dup.yaml', 'tags: []\ntags: []\n')));
    expect(dup[0]).toContain('dup.yaml:2:1: Map keys must be unique');
    expect((await violationsOf(loadCrmConfig(write('broken.json', '{"tags": ['))))[0]).toContain(
      'not valid JSON',
    );
    expect((await violationsOf(loadCrmConfig(write('empty.yaml', ''))))[0]).toContain('expected a mapping');
  });
});

describe('default CRM config', () => {
  const config = defaultCrmConfig();

  it('has the tags, rules, funnel and segments of docs/crm.md', () => {
    expect(config.source).toBe('<default>');
    expect(config.tags.map((t) => [t.id, t.kind, t.when.source])).toEqual([
      ['high_value', 'value', 'spend_90d > 500'],
      ['cart_abandoner', 'behaviour', 'cart_adds_24h > 0 and purchases_7d == 0'],
      ['churn_risk_high', 'predictive', 'churn.risk >= 80'],
      ['email_engaged', 'behaviour', 'email_clicks_30d > 0'],
      ['new_customer', 'basic', 'tenure_days < 30'],
    ]);
    expect(
      config.rules.map((r) => [r.id, r.kind, r.on, r.when?.source ?? null, r.unless?.within ?? null]),
    ).toEqual([
      ['welcome', 'event', 'signup', null, null],
      ['first_purchase_nudge', 'absence', 'signup', null, '7d'],
      ['checkout_reminder', 'absence', 'checkout_start', null, '10m'],
      ['churn_intervention', 'condition', null, 'churn.risk >= 80', null],
      ['win_back', 'condition', null, "segment == 'at_risk'", null],
    ]);
    expect(config.rules[1]!.unless).toMatchObject({ type: 'purchase', withinMs: 7 * 86_400_000 });
    expect(config.funnels).toMatchObject([
      {
        id: 'checkout',
        steps: ['page_view', 'add_to_cart', 'checkout_start', 'purchase'],
        maxGapMs: 3_600_000,
      },
    ]);
    expect(config.segments).toEqual({
      new_days: 30,
      dormant_days: 180,
      at_risk_churn_risk: 80,
      core: { r_min: 4, f_min: 4, m_min: 4 },
      potential: { r_min: 4, m_max: 3 },
      at_risk_rfm: { r_max: 2, fm_min: 4 },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('durations', () => {
  it.each([
    ['30m', 1_800_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['1d12h', 129_600_000],
    ['90s', 90_000],
    ['500ms', 500],
    ['1m30s', 90_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '7', 'd', '7x', '-1d', '0d', '7 d', '1.5h', '7D', 'd7'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it('formats in the largest whole unit up to days', () => {
    expect([604_800_000, 5_400_000, 90_000, 1_500].map(formatDuration)).toEqual([
      '7d',
      '90m',
      '90s',
      '1500ms',
    ]);
  });
});

describe('docs/crm.md', () => {
  it('shows the built-in set as it is in the code', () => {
    const doc = readFileSync(path.join(PACKAGE_ROOT, 'docs', 'crm.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## The built-in set'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(parse(block ?? '')).toEqual(DEFAULT_CRM_FILE);
  });
});
