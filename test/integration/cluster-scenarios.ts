/**
 * Lease and checkpoint scenarios run against a single nats-server (replicas 1) and against the
 * 3-node cluster (replicas 3). They assert order and correctness, never speed: the takeover
 * delays they measure are printed for the record.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { isBellwetherError } from '../../contract/errors.js';
import { CHECKPOINT_INDEX_BUCKET, CHECKPOINTS_BUCKET } from '../../engine/cluster/checkpoint-store.js';
import { monotonicNow } from '../../engine/cluster/freshness.js';
import { LEASES_BUCKET, type LeaseEvent } from '../../engine/cluster/lease-value.js';
import { MEMBERS_BUCKET } from '../../engine/cluster/membership.js';
import { type Instance, leaseEvent, openInstance, waitForBalanced } from './cluster-instances.js';

export interface ScenarioSetup {
  servers: string | string[];
  replicas: number;
  leaseSeconds: number;
  partitions: number;
}

const STREAMS = [
  `KV_${MEMBERS_BUCKET}`,
  `KV_${LEASES_BUCKET}`,
  `KV_${CHECKPOINT_INDEX_BUCKET}`,
  `OBJ_${CHECKPOINTS_BUCKET}`,
];

/**
 * Empties the cluster buckets so each scenario starts from nothing. Purged, not deleted: on a
 * nats-server 2.9 cluster a stream created again right after its deletion can vanish under the
 * deletion still being carried out on its peers.
 */
export async function resetBuckets(servers: string | string[]): Promise<void> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of STREAMS) await jsm.streams.purge(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array | undefined): string | undefined =>
  b ? new TextDecoder().decode(b) : undefined;

async function instances(
  setup: ScenarioSetup,
  ids: string[],
  leaseSeconds = setup.leaseSeconds,
): Promise<Instance[]> {
  await resetBuckets(setup.servers);
  return Promise.all(
    ids.map((id) =>
      openInstance({
        servers: setup.servers,
        id,
        partitions: setup.partitions,
        leaseSeconds,
        replicas: setup.replicas,
      }),
    ),
  );
}

/**
 * For every partition, the spans during which each instance held it (acquired → lost) never
 * overlap: they share one monotonic clock, so this is the no-split-brain check.
 */
function expectNoOverlap(all: Instance[], partitions: number, endAt = monotonicNow()): void {
  for (let p = 0; p < partitions; p += 1) {
    const spans: [number, number, string][] = [];
    for (const instance of all) {
      let from: number | undefined;
      for (const { at, event } of instance.leaseEvents) {
        if (event.partition !== p) continue;
        if (event.type === 'acquired') from = at;
        if (event.type === 'lost' && from !== undefined) {
          spans.push([from, at, instance.id]);
          from = undefined;
        }
      }
      if (from !== undefined) spans.push([from, endAt, instance.id]);
    }
    spans.sort((a, b) => a[0] - b[0]);
    spans.forEach((next, i) => {
      const prev = spans[i - 1];
      if (prev === undefined) return;
      const message = `partition ${p}: ${next[2]} started before ${prev[2]} stopped`;
      expect(next[0], message).toBeGreaterThanOrEqual(prev[1]);
    });
  }
}

const acquiredOf = (p: number) => (e: LeaseEvent) => e.type === 'acquired' && e.partition === p;

/** Two instances acquiring every partition at the same moment: exactly one wins each. */
export async function raceForEachPartition(setup: ScenarioSetup): Promise<void> {
  const [a, b] = (await instances(setup, ['race-a', 'race-b'])) as [Instance, Instance];
  try {
    await Promise.all([a.leases.start(), b.leases.start()]);
    const ps = Array.from({ length: setup.partitions }, (_, p) => p);
    const results = await Promise.all(ps.map((p) => Promise.all([a.leases.acquire(p), b.leases.acquire(p)])));
    results.forEach(([ra, rb], p) => {
      expect([ra.acquired, rb.acquired].filter(Boolean), `partition ${p}`).toHaveLength(1);
      const [winner, loser] = ra.acquired ? [a, rb] : [b, ra];
      expect(winner.leases.epochOf(p)).toBe(1);
      expect(loser.acquired).toBe(false);
      if (!loser.acquired) expect(loser.owner).toBe(winner.id);
    });
    expectNoOverlap([a, b], setup.partitions);
  } finally {
    await Promise.all([a.leases.close(), b.leases.close()]);
    await Promise.all([a.close(), b.close()]);
  }
}

/** Two coordinated instances started together split the partitions evenly, without overlap. */
export async function splitBalanced(setup: ScenarioSetup): Promise<void> {
  const [a, b] = (await instances(setup, ['split-a', 'split-b'])) as [Instance, Instance];
  try {
    await Promise.all([a.start(), b.start()]);
    await waitForBalanced([a, b], setup.partitions);
    expect(a.leases.held().length).toBe(setup.partitions / 2);
    expect(a.coordinator.target()).toEqual(b.coordinator.target());
    expectNoOverlap([a, b], setup.partitions);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

/**
 * One instance stops renewing (killed): the other takes its partitions only after the holder's
 * own deadline has passed, with epoch + 1, starting from the holder's last checkpoint; the
 * stale holder's checkpoint write is then refused. Returns the takeover delays (ms from the kill).
 */
export async function takeoverAfterKill(setup: ScenarioSetup): Promise<number[]> {
  const [a, b] = (await instances(setup, ['kill-a', 'kill-b'])) as [Instance, Instance];
  try {
    await Promise.all([a.start(), b.start()]);
    await waitForBalanced([a, b], setup.partitions);
    const ofA = a.leases.held();
    const epochs = new Map(ofA.map((p) => [p, a.leases.epochOf(p) as number]));
    for (const p of ofA) await a.store.put(p, epochs.get(p) as number, 10, text(`a p${p} s10`));

    const killedAt = monotonicNow();
    a.halt();
    await waitForBalanced([b], setup.partitions, 120_000);
    const delays: number[] = [];
    for (const p of ofA) {
      const taken = await leaseEvent(b, acquiredOf(p));
      const fenced = await leaseEvent(a, (e) => e.type === 'lost' && e.partition === p);
      expect(fenced.event).toMatchObject({ reason: 'expired' });
      // A stopped counting its lease valid (its timer fires after the deadline) before B acquired it.
      expect(taken.at).toBeGreaterThan(fenced.at);
      expect(a.leases.isValid(p)).toBe(false);
      expect(b.leases.epochOf(p)).toBe((epochs.get(p) as number) + 1);
      expect(decode(b.readAtStart.get(p))).toBe(`a p${p} s10`);
      delays.push(taken.at - killedAt);
    }
    expect(b.memberEvents.some(({ event }) => event.type === 'leave' && event.reason === 'expired')).toBe(
      true,
    );

    // The stale holder's write is refused, and the pointer still names its last good checkpoint.
    const p = ofA[0] as number;
    const refused = await a.store
      .put(p, epochs.get(p) as number, 11, text('stale'))
      .catch((err: unknown) => err);
    expect(isBellwetherError(refused) && refused.code).toBe('BW_ERR_CHECKPOINT_FENCED');
    expect(decode(await b.store.get(p))).toBe(`a p${p} s10`);
    await b.store.put(p, b.leases.epochOf(p) as number, 12, text('b s12'));
    expect(decode(await b.store.get(p))).toBe('b s12');
    expectNoOverlap([a, b], setup.partitions);
    return delays;
  } finally {
    await b.stop();
    await a.close();
  }
}

/**
 * A graceful stop: the instance writes a last checkpoint, releases its leases and leaves; the
 * other takes every partition without waiting for the lease to run out. Returns the delays (ms).
 */
export async function takeoverAfterRelease(setup: ScenarioSetup): Promise<number[]> {
  // A lease long enough that a takeover by expiry could not hide inside the waiting time.
  const leaseSeconds = Math.max(setup.leaseSeconds, 20);
  const [a, b] = (await instances(setup, ['release-a', 'release-b'], leaseSeconds)) as [Instance, Instance];
  try {
    await Promise.all([a.start(), b.start()]);
    await waitForBalanced([a, b], setup.partitions);
    const ofA = a.leases.held();
    const epochs = new Map(ofA.map((p) => [p, a.leases.epochOf(p) as number]));
    const stoppedAt = monotonicNow();
    await a.stop();
    await waitForBalanced([b], setup.partitions);
    const delays: number[] = [];
    for (const p of ofA) {
      const taken = await leaseEvent(b, acquiredOf(p));
      expect(taken.at - stoppedAt).toBeLessThan(leaseSeconds * 1000);
      expect(b.leases.epochOf(p)).toBe((epochs.get(p) as number) + 1);
      const epoch = epochs.get(p) as number;
      expect(decode(b.readAtStart.get(p))).toBe(`release-a p${p} e${epoch} last`);
      delays.push(taken.at - stoppedAt);
    }
    expect(b.memberEvents.some(({ event }) => event.type === 'leave' && event.reason === 'left')).toBe(true);
    expectNoOverlap([a, b], setup.partitions);
    return delays;
  } finally {
    await b.stop();
  }
}

export function summary(delays: number[]): string {
  const sorted = [...delays].sort((x, y) => x - y);
  const at = (q: number): number =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return `min ${at(0)} ms, median ${at(0.5)} ms, max ${at(1)} ms over ${sorted.length} partitions`;
}
