/**
 * The personal data policy in a worker: profile properties are sealed unless allow-listed, rules
 * read allow-listed ones only (own properties: no prototype reach), and a checkpoint of an earlier
 * version that holds personal fields in the clear is sealed when it is loaded.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointFile, snapshotPartition, writeCheckpoint } from '../../engine/state/checkpoint.js';
import { fileCheckpoints } from '../../engine/worker/checkpoint-backends.js';
import { WorkerCheckpoints } from '../../engine/worker/checkpoints.js';
import { compileExpression } from '../../operators/crm/expression.js';
import { ingestFixture, message, purchase, T } from './worker-fixture.js';

const PERSONAL = {
  Phone: '13800000001',
  EMAIL: 'wei.muller@example.com',
  mobile: '13900000002',
  full_name: 'Wei Muller',
  first_name: 'Weiwei',
  idNumber: '110101199003074514',
  'Date of Birth': '1990-03-07',
  contact: { wechat: 'weimuller88' },
};

function profile(customer: string, eventId: string, props: Record<string, unknown>) {
  return { event_id: eventId, customer_id: customer, type: 'profile', ts: new Date(T).toISOString(), props };
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('profile properties in a worker', () => {
  it('are sealed unless allow-listed; rules read the allow-listed ones and nothing of the others', () => {
    const f = ingestFixture();
    f.ingest.onMessage(
      f.feed(),
      message(0, 1, profile('ann', 'p-1', { ...PERSONAL, tier: 'gold', city: 'Berlin' })),
    );
    const feed = f.feed();
    const slot = feed.state.table.slotOf('ann')!;
    feed.crm.prepare(slot, T);
    const read = (source: string) => compileExpression(source).value(feed.crm.lookup);
    expect(read('profile.tier')).toBe('gold');
    expect(read('profile.city')).toBe('Berlin');
    for (const name of Object.keys(PERSONAL).filter((n) => /^\w+$/.test(n)))
      expect(read(`profile.${name}`)).toBeNull();
    const snapshot = JSON.stringify(feed.crm.snapshot());
    for (const value of ['13800000001', 'wei.muller@example.com', '13900000002', 'Wei Muller', 'Weiwei'])
      expect(snapshot).not.toContain(value);
    expect(snapshot).not.toContain('110101199003074514');
    expect(snapshot).not.toContain('weimuller88');
    const opened = f.ctx.sealer().openPii('ann', feed.crm.pii.sealed(slot)!);
    expect(opened).toEqual({ ...PERSONAL, contact: '{"wechat":"weimuller88"}' });
  });

  it('give rules no reach into the prototype: profile.constructor, __proto__, toString... are null', () => {
    const f = ingestFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, profile('ann', 'p-1', { tier: 'gold' })));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('bob', 'b-1', T)));
    const feed = f.feed();
    for (const customer of ['ann', 'bob']) {
      feed.crm.prepare(feed.state.table.slotOf(customer)!, T);
      for (const name of [
        'constructor',
        '__proto__',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'isPrototypeOf',
      ]) {
        expect(feed.crm.lookup(`profile.${name}`)).toBeNull();
        expect(compileExpression(`profile.${name}`).evaluate(feed.crm.lookup)).toBe(false);
        expect(compileExpression(`profile.${name} != null`).evaluate(feed.crm.lookup)).toBe(false);
      }
    }
  });

  it('count values refused for length in bellwether_pii_fields_refused_total', async () => {
    const f = ingestFixture();
    f.ingest.onMessage(
      f.feed(),
      message(0, 1, profile('ann', 'p-1', { note: 'x'.repeat(5000), phone: '1' })),
    );
    const refused = await f.ctx.metrics.registry
      .getSingleMetric('bellwether_pii_fields_refused_total')
      ?.get();
    expect(refused?.values[0]?.value).toBe(1);
  });
});

describe('a checkpoint of an earlier version', () => {
  it('has the personal fields it held in the clear sealed on load, counted, and gone from the next checkpoint', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-ckpt-pii-'));
    dirs.push(dir);
    // The old form: profile fields by exact name, so `Phone` or `EMAIL` stayed in `profiles`.
    const old = ingestFixture();
    old.ingest.onMessage(old.feed(), message(0, 1, purchase('ann', 'a-1', T)));
    old.ingest.onMessage(
      old.feed(),
      message(0, 2, profile('ann', 'p-1', { phone: '13812345678', tier: 'gold' })),
    );
    const oldFeed = old.feed();
    const slot = oldFeed.state.table.slotOf('ann')!;
    const crm = oldFeed.crm.snapshot();
    crm.profiles = [
      [slot, { tier: 'gold', Phone: '13800000001', EMAIL: 'ann@example.com', mobile: 13900000002 }],
    ];
    await writeCheckpoint(dir, snapshotPartition(oldFeed.state, { stream: oldFeed.stream }, { crm }));
    const file = checkpointFile(dir, 0);
    expect(await readFile(file, 'latin1')).toContain('ann@example.com');

    const f = ingestFixture();
    const checkpoints = new WorkerCheckpoints(f.ctx, fileCheckpoints(dir), f.crm);
    await checkpoints.load(f.feed(), f.crm);
    const feed = f.feed();
    const at = feed.state.table.slotOf('ann')!;
    feed.crm.prepare(at, T);
    expect(feed.crm.lookup('profile.tier')).toBe('gold');
    expect(feed.crm.lookup('profile.EMAIL')).toBeNull();
    expect(f.ctx.sealer().openPii('ann', feed.crm.pii.sealed(at)!)).toEqual({
      phone: '13812345678',
      Phone: '13800000001',
      EMAIL: 'ann@example.com',
      mobile: '13900000002',
    });
    const migrated = await f.ctx.metrics.registry
      .getSingleMetric('bellwether_pii_fields_migrated_total')
      ?.get();
    expect(migrated?.values[0]?.value).toBe(3);
    // Marked for the next checkpoint, which replaces the file that held them in the clear.
    expect(feed.sweptSinceCheckpoint).toBe(true);
    await checkpoints.writeAll();
    const text = await readFile(file, 'latin1');
    for (const value of ['13800000001', 'ann@example.com', '13900000002', '13812345678'])
      expect(text).not.toContain(value);
    expect(text).toContain('"tier":"gold"');
  });
});
