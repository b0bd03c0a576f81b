/**
 * Measured, not claimed: the simulated feed with every kind of data-quality fault injected at a
 * known rate (feeds/simulator-faults.ts), run through the real cleansing rules (the built-in ones)
 * per partition as the engine runs them (parse, judge, learn what is admitted). Precision and recall
 * per rule are printed and must each be at least 0.98. The figures are in docs/cleansing.md.
 */
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../contract/event-parse.js';
import { partitionOfCustomer } from '../../contract/subjects.js';
import { EventSimulator } from '../../feeds/simulator.js';
import { FAULT_KINDS, type FaultKind } from '../../feeds/simulator-faults.js';
import {
  CLEANSING_ACTIONS,
  CLEANSING_RULES,
  EventCleanser,
  newCleansingCounts,
  VERDICT_ACCEPT,
} from '../../operators/cleansing/cleanser.js';
import { defaultCleansingRules } from '../../operators/cleansing/rules.js';

const START = Date.UTC(2026, 0, 1);
const EVENTS = 600_000;
const PARTITIONS = 8;
const FAULT_RATE = 0.02;

interface Tally {
  tp: number;
  fp: number;
  fn: number;
}

/** Runs the feed; per rule, events it acted on against events that carried its fault. */
function measure(): { tallies: Map<string, Tally>; faults: number; events: number } {
  const sim = new EventSimulator({ customers: 4000, seed: 11, startMs: START, faultRate: FAULT_RATE });
  const rules = defaultCleansingRules();
  const counts = newCleansingCounts();
  const before = newCleansingCounts();
  const cleansers = Array.from({ length: PARTITIONS }, () => new EventCleanser(rules, counts));
  const tallies = new Map<string, Tally>(CLEANSING_RULES.map((r) => [r, { tp: 0, fp: 0, fn: 0 }]));
  const encoder = new TextEncoder();
  const now = START + 400 * 86_400_000;
  let faults = 0;
  for (let i = 0; i < EVENTS; i++) {
    const e = sim.next();
    const [, , type = '', token = ''] = e.subject.split('.');
    const data = typeof e.body === 'string' ? encoder.encode(e.body) : e.body;
    const parsed = parseEvent(data, type, token, now);
    if (!parsed.ok) throw new Error(`simulated event rejected: ${parsed.reason} ${parsed.detail}`);
    const event = parsed.event;
    const cleanser = cleansers[partitionOfCustomer(event.body.customer_id, PARTITIONS)]!;
    before.set(counts);
    const verdict = cleanser.judge(event);
    const acted = new Set<string>();
    for (let k = 0; k < counts.length; k++)
      if (counts[k]! > before[k]!) acted.add(CLEANSING_RULES[Math.floor(k / CLEANSING_ACTIONS.length)]!);
    if (verdict !== VERDICT_ACCEPT) acted.add(CLEANSING_RULES[cleanser.lastRule]!);
    else cleanser.learn(event, verdict);
    const truth: FaultKind | undefined = e.fault;
    if (truth !== undefined) faults++;
    for (const rule of CLEANSING_RULES) {
      const t = tallies.get(rule)!;
      const hit = acted.has(rule);
      if (hit && truth === rule) t.tp++;
      else if (hit) t.fp++;
      else if (truth === rule) t.fn++;
    }
  }
  return { tallies, faults, events: EVENTS };
}

describe('cleansing accuracy on the simulated feed with known faults', () => {
  it('every rule catches its faults with precision and recall of at least 0.98', () => {
    const { tallies, faults, events } = measure();
    const rows = FAULT_KINDS.map((rule) => {
      const t = tallies.get(rule)!;
      const precision = t.tp / (t.tp + t.fp);
      const recall = t.tp / (t.tp + t.fn);
      return { rule, injected: t.tp + t.fn, caught: t.tp, false_alarms: t.fp, precision, recall };
    });
    process.stdout.write(
      `cleansing accuracy: ${events} events, ${faults} faults injected (rate ${FAULT_RATE}), ${PARTITIONS} partitions\n` +
        `${rows.map((r) => `  ${r.rule.padEnd(17)} injected ${String(r.injected).padStart(5)}  caught ${String(r.caught).padStart(5)}  false ${String(r.false_alarms).padStart(3)}  precision ${r.precision.toFixed(4)}  recall ${r.recall.toFixed(4)}`).join('\n')}\n`,
    );
    for (const r of rows) {
      expect(r.injected, r.rule).toBeGreaterThan(100);
      expect(r.precision, `${r.rule} precision`).toBeGreaterThanOrEqual(0.98);
      expect(r.recall, `${r.rule} recall`).toBeGreaterThanOrEqual(0.98);
    }
  }, 120_000);
});
