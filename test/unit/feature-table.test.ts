import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/time.js';
import { PartitionState } from '../../engine/state/partition-state.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { FeatureTable } from '../../operators/features/feature-table.js';
import { FEATURE_NAMES } from '../../operators/features/registry.js';

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
const REQUIRED = [
  'purchases_7d',
  'purchases_30d',
  'purchases_90d',
  'spend_30d',
  'spend_90d',
  'refunds_90d',
  'sessions_7d',
  'sessions_30d',
  'page_views_24h',
  'page_views_7d',
  'cart_adds_24h',
  'cart_adds_7d',
  'support_tickets_30d',
  'complaints_90d',
  'days_since_last_purchase',
  'days_since_last_event',
  'tenure_days',
  'purchases_lifetime',
  'spend_lifetime',
];

function fold(table: FeatureTable, id: string, type: string, ts: number, amount = 0): void {
  table.fold(table.slotFor(id), { typeIndex: eventTypeIndex(type), ts, amount });
}

describe('feature table', () => {
  it('exposes every feature name the contract requires', () => {
    for (const name of REQUIRED) expect(FEATURE_NAMES).toContain(name);
    expect(new FeatureTable().names).toEqual(FEATURE_NAMES);
  });

  it('computes a customer history into the documented features', () => {
    const t = new FeatureTable();
    fold(t, 'a', 'signup', NOW - 100 * DAY_MS);
    fold(t, 'a', 'purchase', NOW - 95 * DAY_MS, 100); // lifetime only
    fold(t, 'a', 'purchase', NOW - 40 * DAY_MS, 50);
    fold(t, 'a', 'purchase', NOW - 2 * DAY_MS, 25.5);
    fold(t, 'a', 'refund', NOW - 1 * DAY_MS, 25.5);
    fold(t, 'a', 'session_start', NOW - 3 * HOUR_MS);
    fold(t, 'a', 'page_view', NOW - 2 * HOUR_MS);
    fold(t, 'a', 'page_view', NOW - 30 * MINUTE_MS);
    fold(t, 'a', 'page_view', NOW - 3 * DAY_MS);
    fold(t, 'a', 'add_to_cart', NOW - 20 * MINUTE_MS);
    fold(t, 'a', 'support_ticket', NOW - 10 * DAY_MS);
    fold(t, 'a', 'complaint', NOW - 60 * DAY_MS);
    fold(t, 'b', 'login', NOW - DAY_MS);
    const f = t.featureRecord(t.slotOf('a')!, NOW);
    expect(f).toMatchObject({
      purchases_7d: 1,
      purchases_30d: 1,
      purchases_90d: 2,
      spend_7d: 25.5,
      spend_30d: 25.5,
      spend_90d: 75.5,
      refunds_90d: 1,
      sessions_7d: 1,
      sessions_30d: 1,
      page_views_24h: 2,
      page_views_7d: 3,
      cart_adds_24h: 1,
      cart_adds_7d: 1,
      support_tickets_30d: 1,
      complaints_90d: 1,
      days_since_last_purchase: 2,
      days_since_last_event: 20 / (24 * 60),
      tenure_days: 100,
      purchases_lifetime: 3,
      spend_lifetime: 175.5,
      refunds_lifetime: 1,
      events_lifetime: 12,
      events_1h: 2,
      avg_order_value_90d: 37.75,
      refund_rate_90d: 0.5,
    });
    const b = t.featureRecord(t.slotOf('b')!, NOW);
    expect(b['days_since_last_purchase']).toBeNull();
    expect(b['purchases_lifetime']).toBe(0);
    expect(b['events_lifetime']).toBe(1);
  });

  it('gives the same features whatever order the events arrive in', () => {
    const events: [string, number, number][] = [
      ['purchase', NOW - 5 * DAY_MS, 10],
      ['page_view', NOW - HOUR_MS, 0],
      ['purchase', NOW - 50 * DAY_MS, 20],
      ['complaint', NOW - 2 * DAY_MS, 0],
      ['subscription_renew', NOW - 9 * DAY_MS, 0],
      ['subscription_cancel', NOW - 4 * DAY_MS, 0],
      ['email_open', NOW - 6 * DAY_MS, 0],
    ];
    const forward = new FeatureTable();
    const backward = new FeatureTable();
    for (const [type, ts, amount] of events) fold(forward, 'x', type, ts, amount);
    for (const [type, ts, amount] of [...events].reverse()) fold(backward, 'x', type, ts, amount);
    const f = forward.featureRecord(0, NOW);
    expect(backward.featureRecord(0, NOW)).toEqual(f);
    expect(f['subscription_cancelled']).toBe(1);
    expect(f['email_opens_30d']).toBe(1);
  });
});

describe('feature documentation', () => {
  it('answers null for a value that is not finite, never Infinity (issue 22)', () => {
    const table = new FeatureTable();
    const vector = new Float64Array(table.names.length).fill(1);
    vector[0] = Number.POSITIVE_INFINITY;
    vector[1] = Number.NEGATIVE_INFINITY;
    vector[2] = Number.NaN;
    const record = table.recordOf(vector);
    expect([record[table.names[0]!], record[table.names[1]!], record[table.names[2]!]]).toEqual([
      null,
      null,
      null,
    ]);
    expect(record[table.names[3]!]).toBe(1);
    expect(() => JSON.stringify(record)).not.toThrow();
  });

  it('lists every feature in docs/features.md, in vector order', () => {
    const doc = readFileSync(path.join(PACKAGE_ROOT, 'docs', 'features.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z0-9_]+)` \| [a-z-]+\.ts \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(FEATURE_NAMES);
  });
});

describe('state lifetime', () => {
  it('forgets customers inactive past the TTL and keeps the others intact', () => {
    const state = new PartitionState(0, 100);
    const t = state.table;
    fold(t, 'old-1', 'purchase', NOW - 500 * DAY_MS, 10);
    fold(t, 'keep-1', 'purchase', NOW - 2 * DAY_MS, 20);
    fold(t, 'old-2', 'login', NOW - 401 * DAY_MS);
    fold(t, 'keep-2', 'page_view', NOW - HOUR_MS);
    state.lastEventId.push('e1', 'e2', 'e3', 'e4');
    const before = {
      k1: t.featureRecord(t.slotOf('keep-1')!, NOW),
      k2: t.featureRecord(t.slotOf('keep-2')!, NOW),
    };
    expect(state.evictInactive(NOW, 400 * DAY_MS)).toBe(2);
    expect(t.size).toBe(2);
    expect(t.slotOf('old-1')).toBeUndefined();
    expect(t.slotOf('old-2')).toBeUndefined();
    expect(t.featureRecord(t.slotOf('keep-1')!, NOW)).toEqual(before.k1);
    expect(t.featureRecord(t.slotOf('keep-2')!, NOW)).toEqual(before.k2);
    expect(state.lastEventId[t.slotOf('keep-1')!]).toBe('e2');
    expect(state.lastEventId[t.slotOf('keep-2')!]).toBe('e4');
    // A returning customer starts from a clean slot.
    fold(t, 'old-1', 'login', NOW);
    expect(t.featureRecord(t.slotOf('old-1')!, NOW)['purchases_lifetime']).toBe(0);
  });
});

describe('feature plans', () => {
  it('compute the named features (derived ones with their inputs) exactly as the full vector does', () => {
    const t = new FeatureTable();
    fold(t, 'p', 'purchase', NOW - 3 * DAY_MS, 40);
    fold(t, 'p', 'purchase', NOW - 40 * DAY_MS, 10);
    fold(t, 'p', 'page_view', NOW - HOUR_MS);
    const slot = t.slotOf('p')!;
    const full = new Float64Array(t.names.length);
    t.features(slot, NOW, full);
    const names = ['days_since_last_purchase', 'avg_order_value_90d', 'purchase_overdue_ratio'];
    const planned = new Float64Array(t.names.length).fill(-1);
    t.planned(t.plan([...names, 'no_such_feature']), slot, NOW, planned);
    for (const name of names) expect(planned[t.names.indexOf(name)]).toBe(full[t.names.indexOf(name)]);
    // Features of operators the plan does not name are not computed.
    expect(planned[t.names.indexOf('sessions_7d')]).toBe(-1);
  });
});
