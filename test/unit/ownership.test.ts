import { describe, expect, it } from 'vitest';
import { Ownership } from '../../engine/pool/ownership.js';
import { ingestFixture } from './worker-fixture.js';

/**
 * The lease deadlines the main thread shares with the workers, through the steps the worker pool
 * takes (worker-pool.ts `own`, `disown`, `setLeaseUntil`) in the order a process resumed past its
 * lease sees them: the lease lost, acquired again under a newer epoch while the worker is still
 * stopping the old run, then the old run's stop done.
 */
describe('partition ownership and lease deadlines', () => {
  it('a partition owned again before the stop of its lost run is done keeps its new lease deadline', () => {
    const ownership = new Ownership(8, 'leased');
    const until = Date.now() + 60_000;
    ownership.add(4, 6);
    ownership.leaseUntil[4] = until;
    // The lease of epoch 6 is lost: fenced at once, the worker asked to stop the run.
    ownership.remove(4);
    ownership.leaseUntil[4] = 0;
    // Acquired again (epoch 8) before the worker answered: deadline first, then the partition.
    ownership.leaseUntil[4] = until + 1000;
    ownership.add(4, 8);
    // The worker is done stopping the epoch-6 run.
    ownership.disowned(4);
    expect(ownership.leaseUntil[4]).toBe(until + 1000);
    // The worker's new run of the partition is not fenced by a deadline meant for the old one.
    const f = ingestFixture({
      settings: { partitions: 8 },
      partitions: [4],
      leaseUntil: ownership.leaseUntil,
    });
    const feed = f.feed(4);
    feed.epoch = 8;
    expect(f.ctx.leaseValid(feed)).toBe(true);
    expect(feed.fenced).toBe(false);
  });

  it('a partition not owned again when its stop is done is fenced (deadline 0)', () => {
    const ownership = new Ownership(8, 'leased');
    ownership.add(2, 3);
    ownership.leaseUntil[2] = Date.now() + 60_000;
    ownership.remove(2);
    ownership.disowned(2);
    expect(ownership.leaseUntil[2]).toBe(0);
    expect(ownership.partitions()).toEqual([]);
  });
});
