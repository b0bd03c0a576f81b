/**
 * Rule edits on a real rules file: a YAML file keeps its comments and other sections, an edit is
 * validated whole before the file changes (every violation, coded), the write replaces the file
 * in one rename, and the new definition is applied once; a JSON file is rewritten as JSON. Also the
 * windows an event counts in at a given now (the timeline's labels).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BellwetherError } from '../../contract/errors.js';
import { type Config, defaultConfig } from '../../engine/config.js';
import { loadCrmDefinition } from '../../engine/crm-files.js';
import { RulesFile, ruleTriggers } from '../../engine/rules-file.js';
import { ShutdownSteps } from '../../lib/shutdown-steps.js';
import type { CrmFile } from '../../operators/crm/config.js';
import { windowsCounting } from '../../operators/features/window-membership.js';

const YAML = `# Our rules: reviewed by the CRM team
version: 1
rules:
  - id: big_order # the thank-you text
    on: purchase
    when: spend_7d > 200
    action: { channel: sms, template: thanks }
segments:
  dormant_days: 120
`;

let dir: string;
const log = pino({ level: 'silent' });

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-rules-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function rulesFile(name: string, text: string) {
  const file = path.join(dir, name);
  await writeFile(file, text);
  const config = { ...defaultConfig(dir), rulesFile: file } as Config;
  const applied: CrmFile[] = [];
  const rules = new RulesFile(
    config,
    await loadCrmDefinition({ rules: file }),
    async (next) => {
      applied.push(next.definition);
    },
    log,
  );
  return { file, rules, applied };
}

describe('RulesFile', () => {
  it('replaces a rule in a YAML file, keeping its comments and segments, and applies it', async () => {
    const { file, rules, applied } = await rulesFile('rules.yaml', YAML);
    await rules.save({
      id: 'big_order',
      on: 'purchase',
      when: 'spend_7d > 300',
      action: { channel: 'email' },
    });
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# Our rules: reviewed by the CRM team');
    expect(text).toContain('spend_7d > 300');
    expect(text).toContain('dormant_days: 120');
    expect(applied).toHaveLength(1);
    expect(applied[0]?.rules).toEqual([
      { id: 'big_order', on: 'purchase', when: 'spend_7d > 300', action: { channel: 'email' } },
    ]);
    expect(rules.listing(new Map([['big_order', 4]])).rules[0]).toMatchObject({ kind: 'event', triggers: 4 });
    await rules.save({ id: 'intent_high', when: 'intent.risk >= 80' });
    expect(rules.current.definition.rules?.map((r) => r.id)).toEqual(['big_order', 'intent_high']);
    expect(rules.listing(new Map()).rules[1]).toMatchObject({ kind: 'condition', triggers: 0 });
    // Only the file itself is left in the directory: the temporary file was renamed.
    expect(await readdir(dir)).toEqual(['rules.yaml']);
  });

  it('refuses an invalid rule with every violation, leaving the file and the rules in force', async () => {
    const { file, rules, applied } = await rulesFile('rules.yaml', YAML);
    const err = await rules
      .save({ id: 'big_order', on: 'signin', when: 'spend_7d >', max_age: '2 days' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BellwetherError);
    expect((err as BellwetherError).code).toBe('BW_ERR_CRM_CONFIG');
    expect((err as BellwetherError).status).toBe(422);
    const violations = ((err as BellwetherError).data as { violations: string[] }).violations;
    expect(violations).toEqual([
      `${file}:rules.big_order.on: unknown event type 'signin' (docs/events.md)`,
      `${file}:rules.big_order.when: at column 11: unexpected end of expression`,
      `${file}:rules.big_order.max_age: '2 days' is not a duration such as 30m, 24h or 7d`,
    ]);
    expect(await readFile(file, 'utf8')).toBe(YAML);
    expect(applied).toEqual([]);
  });

  it('removes a rule, and refuses to remove one the file does not have', async () => {
    const { rules } = await rulesFile('rules.yaml', YAML);
    await rules.remove('big_order');
    expect(rules.current.definition.rules).toEqual([]);
    await expect(rules.remove('big_order')).rejects.toMatchObject({ code: 'BW_ERR_RULE_NOT_FOUND' });
  });

  it('rewrites a JSON rules file as JSON', async () => {
    const { file, rules } = await rulesFile('rules.json', JSON.stringify({ rules: [] }));
    await rules.save({ id: 'welcome', on: 'signup', action: { template: 'welcome' } });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      rules: [{ id: 'welcome', on: 'signup', action: { template: 'welcome' } }],
    });
  });

  it('cannot edit the built-in rules', async () => {
    const rules = new RulesFile(
      defaultConfig(dir) as Config,
      await loadCrmDefinition({}),
      async () => {},
      log,
    );
    await expect(rules.save({ id: 'x', when: 'spend_7d > 1' })).rejects.toMatchObject({
      code: 'BW_ERR_RULES_NOT_WRITABLE',
    });
    expect(rules.listing(new Map()).file).toBeNull();
  });

  it('applies its own write once, and a hand edit of the file through the watch', async () => {
    const { file, rules, applied } = await rulesFile('rules.yaml', YAML);
    const steps = new ShutdownSteps(log);
    rules.watch(steps);
    try {
      await rules.save({ id: 'big_order', on: 'purchase', when: 'spend_7d > 300' });
      // The watch's debounce (300 ms) has passed: the write was applied once, by the edit.
      await new Promise((r) => setTimeout(r, 1000));
      expect(applied).toHaveLength(1);
      await writeFile(file, YAML.replace('spend_7d > 200', 'spend_7d > 400'));
      await vi.waitFor(() => expect(applied).toHaveLength(2), { timeout: 5000 });
      expect(applied[1]?.rules?.[0]?.when).toBe('spend_7d > 400');
      expect(rules.current.definition.rules?.[0]?.when).toBe('spend_7d > 400');
    } finally {
      await steps.run();
    }
  });

  it('sums each rule’s firings over the workers’ metrics', () => {
    const worker = (n: number) => [
      { name: 'bellwether_actions_total', values: [{ labels: { rule: 'big_order' }, value: n }] },
      { name: 'bellwether_alerts_total', values: [{ labels: { kind: 'churn' }, value: 9 }] },
    ];
    expect(ruleTriggers([worker(2), worker(5)])).toEqual(new Map([['big_order', 7]]));
  });
});

describe('windowsCounting', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  it.each([
    ['2026-03-10T11:58:00Z', ['1h', '24h', '7d', '30d', '90d']],
    ['2026-03-10T10:00:00Z', ['24h', '7d', '30d', '90d']],
    // The 24-hour window starts at the bucket 23 hours before now's: 2026-03-09T13:00Z.
    ['2026-03-09T13:00:00Z', ['24h', '7d', '30d', '90d']],
    ['2026-03-09T12:59:59Z', ['7d', '30d', '90d']],
    // 7 days: from 2026-03-04T00:00Z (docs/features.md's example).
    ['2026-03-04T00:00:00Z', ['7d', '30d', '90d']],
    // 90 days: 2025-12-11 is the first day in, 2025-12-10 the last day out.
    ['2025-12-11T00:00:00Z', ['90d']],
    ['2026-03-03T23:59:59Z', ['30d', '90d']],
    ['2025-12-10T00:00:00Z', []],
    // A bucket after now's counts once now reaches it.
    ['2026-03-11T01:00:00Z', []],
  ])('an event at %s counts in %j', (at, windows) => {
    expect(windowsCounting(Date.parse(at), now)).toEqual(windows);
  });
});
