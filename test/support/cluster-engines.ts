/**
 * Engines sharing a 3-node NATS cluster: each a real `bellwether run` process with its own instance
 * id, short leases and streams at 3 replicas; events published with JetStream (acknowledged, with
 * `Nats-Msg-Id`, retried through a node failure) so the truth of every test is known.
 */
import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { eventSubject } from '../../contract/subjects.js';
import { type EngineProcess, startEngineProcess, waitFor } from './engine-process.js';
import type { TestNatsCluster } from './nats-cluster.js';
import type { TestEvent } from './publish.js';

export const CLUSTER_PARTITIONS = 8;
export const LEASE_SECONDS = 10;
const CLUSTER_PII_KEY = `test:${randomBytes(32).toString('hex')}`;

export function startClusterEngine(
  cluster: TestNatsCluster,
  id: string,
  env: Record<string, string> = {},
): Promise<EngineProcess> {
  return startEngineProcess(
    {
      BW_NATS_URL: cluster.urls.join(','),
      BW_PARTITIONS: String(CLUSTER_PARTITIONS),
      BW_WORKERS: '1',
      BW_REPLICAS: '3',
      BW_INSTANCE_ID: id,
      // The instances of a cluster share their PII keys.
      BW_PII_KEY: CLUSTER_PII_KEY,
      BW_LEASE_SECONDS: String(LEASE_SECONDS),
      BW_CHECKPOINT_SECONDS: '1',
      BW_RESCORE_SECONDS: '0',
      ...env,
    },
    [],
    90_000,
  );
}

/** JetStream-publishes every event (acked by the stream), retrying each until it is stored. */
export async function publishAcked(nc: NatsConnection, events: TestEvent[]): Promise<void> {
  const js = jetstream(nc, { timeout: 5000 });
  for (let i = 0; i < events.length; i += 200) {
    const chunk = events.slice(i, i + 200);
    await Promise.all(
      chunk.map(async (e) => {
        for (let attempt = 0; ; attempt++) {
          try {
            await js.publish(eventSubject(e.type, e.customer_id), JSON.stringify(e), { msgID: e.event_id });
            return;
          } catch (err) {
            if (attempt > 40) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      }),
    );
  }
}

interface ClusterView {
  instance_id: string;
  members: { instance_id: string }[];
  partitions: Record<string, string | null>;
}

async function clusterOf(engine: EngineProcess): Promise<ClusterView> {
  const { body } = await engine.get('/v1/info');
  return (body as { cluster: ClusterView }).cluster;
}

/** Waits until the partitions are split over exactly `ids`, balanced (as `engine` sees the leases). */
export async function waitForOwners(engine: EngineProcess, ids: string[], timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      const owners = Object.values((await clusterOf(engine)).partitions);
      const counts = ids.map((id) => owners.filter((o) => o === id).length);
      const balanced =
        owners.every((o) => o !== null && ids.includes(o)) &&
        Math.max(...counts) - Math.min(...counts) <= 1 &&
        Math.min(...counts) > 0;
      return balanced ? true : undefined;
    },
    timeoutMs,
    `partitions split over ${ids.join(', ')}`,
  );
}

/** Waits until `engine` answers `purchases_lifetime` = `expected[id]` for every customer. */
export async function waitForExact(
  engine: EngineProcess,
  expected: Map<string, number>,
  timeoutMs = 90_000,
): Promise<void> {
  let wrong: string[] = [];
  try {
    await waitFor(
      async () => {
        wrong = [];
        for (const [id, count] of expected) {
          const res = await engine.get(`/v1/customers/${id}`);
          const got =
            res.status === 200
              ? (res.body as { features: Record<string, number | null> }).features['purchases_lifetime']
              : undefined;
          if (got !== count) wrong.push(`${id}: ${String(got ?? res.status)} ≠ ${count}`);
        }
        return wrong.length === 0 ? true : undefined;
      },
      timeoutMs,
      'every customer exact',
    );
  } catch (err) {
    throw new Error(`${String(err)}; ${wrong.length} wrong, e.g. ${wrong.slice(0, 5).join('; ')}`);
  }
}

/** `perCustomer` purchases for each of `customers` customers, ids `<prefix><i>-<n>`, spread over `days`. */
export function purchases(prefix: string, customers: number, perCustomer: number, from = 0): TestEvent[] {
  const events: TestEvent[] = [];
  const end = Date.parse('2026-11-01T00:00:00Z');
  for (let n = from; n < from + perCustomer; n++) {
    for (let i = 0; i < customers; i++) {
      events.push({
        event_id: `${prefix}${i}-${n}`,
        customer_id: `${prefix}${i}`,
        type: 'purchase',
        ts: new Date(end - (n * 7 + (i % 5)) * 86_400_000).toISOString(),
        amount: 10 + (i % 7),
      });
    }
  }
  return events;
}
