/**
 * The checkpoint store and membership on one real nats-server: objects and pointer, fencing by
 * claim, the last two objects kept, orphans pruned; members joining, leaving at once on a
 * graceful leave and expiring only after the lease when they go silent.
 */

import { Objm } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBellwetherError } from '../../contract/errors.js';
import { CheckpointStore, checkpointObjectName } from '../../engine/cluster/checkpoint-store.js';
import { monotonicNow } from '../../engine/cluster/freshness.js';
import { Membership, type MembershipEvent } from '../../engine/cluster/membership.js';
import { waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { log } from './cluster-instances.js';
import { resetBuckets } from './cluster-scenarios.js';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats(4);
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const codeOf = (err: unknown): string | undefined => (isBellwetherError(err) ? err.code : undefined);

async function objectNames(): Promise<string[]> {
  const store = await new Objm(nc).open('BW_CHECKPOINTS');
  return (await store.list())
    .filter((i) => !i.deleted)
    .map((i) => i.name)
    .sort();
}

describe('checkpoint store', () => {
  it('reads back what was written, in one piece or in chunks, and nothing for a partition without one', async () => {
    await resetBuckets(nats.url);
    const store = await CheckpointStore.open(nc, { log });
    expect(await store.get(0)).toBeUndefined();
    await store.claim(0, 1);
    expect(await store.get(0)).toBeUndefined();
    const big = [bytes(200_000, 1), bytes(1, 2), bytes(300_000, 3)];
    const pointer = await store.put(0, 1, 42, big);
    expect(pointer).toMatchObject({
      object: checkpointObjectName(0, 1, 42),
      epoch: 1,
      sequence: 42,
      previous: null,
    });
    const read = (await store.get(0)) ?? new Uint8Array(0);
    // Compared as one buffer: an element-wise deep equal of 500 kB takes seconds.
    expect(read.length).toBe(500_001);
    expect(Buffer.compare(read, Buffer.concat(big))).toBe(0);
    await store.put(1, 1, 7, bytes(10, 9));
    expect(await store.latest(1)).toMatchObject({ bytes: bytes(10, 9), pointer: { sequence: 7 } });
  });

  it('keeps the latest two objects of a partition and deletes older ones', async () => {
    await resetBuckets(nats.url);
    const store = await CheckpointStore.open(nc, { log });
    for (let s = 1; s <= 5; s += 1) await store.put(3, 1, s, bytes(100, s));
    expect(await objectNames()).toEqual([checkpointObjectName(3, 1, 4), checkpointObjectName(3, 1, 5)]);
    expect(await store.pointer(3)).toMatchObject({ object: 'p0003-e1-s5', previous: 'p0003-e1-s4' });
    // The same sequence again replaces the object and keeps the one before.
    await store.put(3, 1, 5, bytes(100, 55));
    expect(await store.pointer(3)).toMatchObject({ object: 'p0003-e1-s5', previous: 'p0003-e1-s4' });
    expect(await store.get(3)).toEqual(bytes(100, 55));
  });

  it('refuses a stale owner’s write once a newer epoch has claimed the partition, and deletes its object', async () => {
    await resetBuckets(nats.url);
    const stale = await CheckpointStore.open(nc, { log, instanceId: 'old-owner' });
    const fresh = await CheckpointStore.open(nc, { log, instanceId: 'new-owner' });
    await stale.put(2, 4, 100, bytes(50, 1));
    const claimed = await fresh.claim(2, 5);
    expect(claimed).toMatchObject({ object: 'p0002-e4-s100', epoch: 5, sequence: 100 });
    const refused = await stale.put(2, 4, 101, bytes(50, 2)).catch((err: unknown) => err);
    expect(codeOf(refused)).toBe('BW_ERR_CHECKPOINT_FENCED');
    expect(await objectNames()).toEqual(['p0002-e4-s100']);
    expect(await fresh.get(2)).toEqual(bytes(50, 1));
    // Refused again without a claim of its own: the pointer's epoch is newer.
    expect(codeOf(await stale.put(2, 4, 102, bytes(1, 1)).catch((e: unknown) => e))).toBe(
      'BW_ERR_CHECKPOINT_FENCED',
    );
    expect(codeOf(await stale.claim(2, 4).catch((e: unknown) => e))).toBe('BW_ERR_CHECKPOINT_FENCED');
    await fresh.put(2, 5, 103, bytes(50, 3));
    expect(await fresh.get(2)).toEqual(bytes(50, 3));
  });

  it('ends two claims made at once with the newer epoch on the pointer, refusing the older one’s writes', async () => {
    await resetBuckets(nats.url);
    const one = await CheckpointStore.open(nc, { log });
    const two = await CheckpointStore.open(nc, { log });
    await one.put(1, 1, 1, bytes(5, 1));
    // Whichever lands first, the newer epoch ends on the pointer.
    await Promise.all([one.claim(1, 2), two.claim(1, 3)].map((p) => p.catch((e: unknown) => e)));
    expect((await one.pointer(1))?.epoch).toBe(3);
    expect(codeOf(await one.put(1, 2, 2, bytes(5, 2)).catch((e: unknown) => e))).toBe(
      'BW_ERR_CHECKPOINT_FENCED',
    );
    await two.put(1, 3, 3, bytes(5, 3));
    expect(await one.get(1)).toEqual(bytes(5, 3));
  });

  it('prunes objects the pointer no longer names', async () => {
    await resetBuckets(nats.url);
    const store = await CheckpointStore.open(nc, { log });
    await store.put(0, 1, 1, bytes(5, 1));
    const objects = await new Objm(nc).open('BW_CHECKPOINTS');
    await objects.putBlob({ name: checkpointObjectName(0, 1, 99) }, bytes(5, 99)); // a writer died before moving the pointer
    await objects.putBlob({ name: checkpointObjectName(1, 1, 1) }, bytes(5, 1)); // another partition's
    expect(await store.prune(0)).toBe(1);
    expect(await objectNames()).toEqual(['p0000-e1-s1', 'p0001-e1-s1']);
  });
});

describe('cluster membership', () => {
  it('sees a graceful leave at once and a silent member only after the lease', async () => {
    await resetBuckets(nats.url);
    const leaseSeconds = 2;
    const [a, b, c] = (await Promise.all(
      ['m-a', 'm-b', 'm-c'].map((id) =>
        Membership.open(nc, { instanceId: id, leaseSeconds, log, httpUrl: `http://${id}` }),
      ),
    )) as [Membership, Membership, Membership];
    const seen: { at: number; event: MembershipEvent }[] = [];
    await a.start();
    a.on((event) => seen.push({ at: monotonicNow(), event }));
    await Promise.all([b.start(), c.start()]);
    await waitFor(async () => (a.liveIds().length === 3 ? true : undefined), 10_000, 'three members');
    expect(a.live().map((m) => m.http_url)).toEqual(['http://m-a', 'http://m-b', 'http://m-c']);

    const leftAt = monotonicNow();
    await b.leave();
    const left = await waitFor(async () =>
      seen.find((s) => s.event.type === 'leave' && s.event.instanceId === 'm-b'),
    );
    expect(left.event).toMatchObject({ reason: 'left' });
    expect(left.at - leftAt).toBeLessThan(leaseSeconds * 1000);

    const haltedAt = monotonicNow();
    c.halt();
    const expired = await waitFor(async () =>
      seen.find((s) => s.event.type === 'leave' && s.event.instanceId === 'm-c'),
    );
    expect(expired.event).toMatchObject({ reason: 'expired' });
    // Silent for a full lease from the last heartbeat a saw, which is at most a third of a lease before the halt.
    expect(expired.at - haltedAt).toBeGreaterThan((leaseSeconds * 1000 * 2) / 3);
    expect(a.liveIds()).toEqual(['m-a']);
    await a.leave();
  });
});
