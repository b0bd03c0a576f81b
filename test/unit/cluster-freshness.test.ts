import type { KvEntry } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { FreshnessTable } from '../../engine/cluster/freshness.js';
import { KeyedQueue, leaseKey, leaseOf, partitionOfKey } from '../../engine/cluster/lease-value.js';
import { checkInstanceId, leaseTimings } from '../../engine/cluster/settings.js';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('freshness table', () => {
  it('ages a key from the moment its revision last changed here', () => {
    const c = clock();
    const table = new FreshnessTable<string>(c.now);
    expect(table.ageMs('k')).toBe(Number.POSITIVE_INFINITY);
    expect(table.observe('k', 5, 'a')).toBe('new');
    c.advance(300);
    expect(table.observe('k', 5, 'a')).toBe('same');
    expect(table.ageMs('k')).toBe(300);
    expect(table.observe('k', 6, 'b')).toBe('changed');
    expect(table.ageMs('k')).toBe(0);
    c.advance(100);
    expect(table.get('k')).toMatchObject({ revision: 6, value: 'b', seenAt: 1_300 });
    expect(table.ageMs('k')).toBe(100);
  });

  it('ignores an older revision arriving late and forgets deleted keys', () => {
    const c = clock();
    const table = new FreshnessTable<string>(c.now);
    table.observe('k', 9, 'new');
    c.advance(50);
    expect(table.observe('k', 7, 'old')).toBe('older');
    expect(table.get('k')?.value).toBe('new');
    expect(table.ageMs('k')).toBe(50);
    expect(table.forget('k')).toBe(true);
    expect(table.ageMs('k')).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('lease values and settings', () => {
  const entry = (value: string): KvEntry =>
    ({ key: 'p.3', value: new TextEncoder().encode(value), revision: 1, operation: 'PUT' }) as KvEntry;

  it('maps partitions to keys and back', () => {
    expect(leaseKey(12)).toBe('p.12');
    expect(partitionOfKey('p.12')).toBe(12);
    expect(partitionOfKey('q.12')).toBeUndefined();
    expect(partitionOfKey('p.x')).toBeUndefined();
  });

  it('reads a lease value, and counts anything else as held by an unknown owner', () => {
    expect(leaseOf(entry('{"owner":"a","epoch":3,"lease_seconds":10}'))).toEqual({
      owner: 'a',
      epoch: 3,
      lease_seconds: 10,
    });
    expect(leaseOf(entry('{"owner":null,"epoch":3}'))).toEqual({ owner: null, epoch: 3, lease_seconds: 0 });
    expect(leaseOf(entry('not json'))).toEqual({ owner: '?', epoch: 0, lease_seconds: 0 });
    expect(leaseOf(entry(''))).toEqual({ owner: '?', epoch: 0, lease_seconds: 0 });
  });

  it('checks instance ids and lease timings', () => {
    expect(() => checkInstanceId('engine-1.host_a')).not.toThrow();
    for (const bad of ['', 'a b', 'a..b', '.a', 'a*', 'a>']) {
      expect(() => checkInstanceId(bad), bad).toThrow(/BW_ERR_CONFIG_INVALID|not a valid key/);
    }
    expect(leaseTimings(9)).toEqual({ leaseMs: 9000, marginMs: 1800, renewMs: 3000 });
    expect(leaseTimings(9, 0.5).marginMs).toBe(500);
    expect(() => leaseTimings(0.1)).toThrow(/at least 0.3 s/);
    expect(() => leaseTimings(9, 6)).toThrow(/below 2\/3/);
    expect(() => leaseTimings(9, 0)).toThrow(/above 0/);
  });
});

describe('keyed queue', () => {
  it('runs the tasks of one key one after another, even after a failure, and other keys alongside', async () => {
    const queue = new KeyedQueue<number>();
    const order: string[] = [];
    const step =
      (name: string, ms: number, fail = false) =>
      async () => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`${name}-`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      queue.run(1, step('a', 30, true)),
      queue.run(1, step('b', 1)),
      queue.run(2, step('c', 5)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(order.indexOf('b+')).toBeGreaterThan(order.indexOf('a-'));
    expect(order.indexOf('c+')).toBeLessThan(order.indexOf('a-'));
  });
});
