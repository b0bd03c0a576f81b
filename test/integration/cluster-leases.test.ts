/**
 * Partition leases, membership and checkpoints on one real nats-server (replicas 1): racing
 * acquirers, a balanced split, takeover after a kill only once the lease has run out (with the
 * stale owner's checkpoint refused), and an immediate takeover after a graceful release.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNats, type TestNats } from '../support/nats-server.js';
import {
  raceForEachPartition,
  type ScenarioSetup,
  splitBalanced,
  summary,
  takeoverAfterKill,
  takeoverAfterRelease,
} from './cluster-scenarios.js';

let nats: TestNats;
let setup: ScenarioSetup;

beforeAll(async () => {
  nats = await startNats(16);
  setup = { servers: nats.url, replicas: 1, leaseSeconds: 2, partitions: 16 };
});

afterAll(async () => {
  await nats?.stop();
});

describe('partition leases on one nats-server', () => {
  it('gives each partition to exactly one of two instances acquiring at once', async () => {
    await raceForEachPartition(setup);
  });

  it('splits 16 partitions 8 and 8 between two instances started together', async () => {
    await splitBalanced(setup);
  });

  it('hands a killed instance’s partitions over only after its lease ran out, with epoch + 1, refusing its stale checkpoint', async () => {
    const delays = await takeoverAfterKill(setup);
    console.log(`takeover after kill, lease ${setup.leaseSeconds} s: ${summary(delays)}`);
    expect(delays).toHaveLength(8);
  }, 180_000);

  it('hands a stopped instance’s partitions over at once after its graceful release', async () => {
    const delays = await takeoverAfterRelease(setup);
    console.log(`takeover after graceful release: ${summary(delays)}`);
    expect(delays).toHaveLength(8);
  }, 120_000);
});
