/**
 * Several engines on one 3-node NATS cluster (streams, KV buckets and object store at 3 replicas):
 * they split the partitions by leases, a dead one's partitions move to the survivors with their
 * checkpoints, an instance paused past its lease is fenced, and any instance answers any customer.
 * Every customer's features are held to the truth; the alert and CRM streams to no duplicate.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_PARTITIONS,
  LEASE_SECONDS,
  publishAcked,
  purchases,
  startClusterEngine,
  waitForExact,
  waitForOwners,
} from '../support/cluster-engines.js';
import { type EngineProcess, waitFor } from '../support/engine-process.js';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';
import { readStream } from '../support/publish.js';
import { strongPiiKey } from '../support/test-keys.js';

let cluster: TestNatsCluster | undefined;
let nc: NatsConnection | undefined;
const engines: EngineProcess[] = [];
const CLUSTER_STREAMS = [
  ...Array.from({ length: CLUSTER_PARTITIONS }, (_, p) => `BW_EVENTS_${p}`),
  'BW_ALERTS',
  'BW_CRM',
  'KV_BW_LEASES',
  'KV_BW_MEMBERS',
  'KV_BW_CHECKPOINT_INDEX',
  'OBJ_BW_CHECKPOINTS',
];

beforeAll(async () => {
  cluster = await startNatsCluster({ partitions: CLUSTER_PARTITIONS });
  nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}, 120_000);

afterAll(async () => {
  for (const e of engines)
    if (e.child.exitCode === null && e.child.signalCode === null) await e.stop('SIGKILL');
  await nc?.close();
  await cluster?.stop();
}, 120_000);

async function start(id: string): Promise<EngineProcess> {
  const engine = await startClusterEngine(cluster!, id);
  engines.push(engine);
  return engine;
}

function truth(expected: Map<string, number>, events: { customer_id: string }[]): void {
  for (const e of events) expected.set(e.customer_id, (expected.get(e.customer_id) ?? 0) + 1);
}

/** Ids of the messages of a stream that occur more than once (read again while the cluster settles). */
async function duplicateIds(stream: string, field: string): Promise<string[]> {
  const seen = new Map<string, number>();
  const messages = await waitFor(() => readStream(nc!, stream), 60_000, `${stream} read`);
  for (const m of messages) {
    const id = String(m.json<Record<string, unknown>>()[field] ?? m.headers['Nats-Msg-Id'] ?? '');
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}

describe('engines sharing a 3-node NATS cluster', () => {
  const expected = new Map<string, number>();

  it('split the partitions, and a kill -9 (with a NATS node) moves them to the survivor, exactly', async () => {
    const a = await start('engine-a');
    const b = await start('engine-b');
    await waitForOwners(b, ['engine-a', 'engine-b']);
    // Any instance answers any customer with the owner's answer.
    const first = purchases('k', 60, 3);
    truth(expected, first);
    await publishAcked(nc!, first);
    await waitForExact(a, expected);
    await waitForExact(b, expected);
    const viaA = (await a.get('/v1/customers/k7')).body;
    const viaB = (await b.get('/v1/customers/k7')).body;
    expect((viaA as { features: unknown }).features).toEqual((viaB as { features: unknown }).features);
    // Either instance aggregates every customer: its own partitions' and the other's (gathered).
    const everyone = '/v1/aggregate?metrics=sum:purchases_lifetime&filter=purchases_lifetime%20%3E%3D%201';
    for (const engine of [a, b])
      expect((await engine.get(everyone)).body).toMatchObject({
        customers: 60,
        groups: [{ key: {}, count: 60, 'sum:purchases_lifetime': 180 }],
      });
    // A model reload asked of one instance reloads every instance.
    const reloadsOfB = () => b.logs.filter((l) => l.includes('"models reloaded"')).length;
    const before = reloadsOfB();
    expect((await fetch(`${a.httpUrl}/v1/models/reload`, { method: 'POST' })).status).toBe(200);
    await waitFor(async () => (reloadsOfB() === before + 1 ? true : undefined), 10_000, 'B reloaded');

    // Mid-stream: engine A and one NATS node die at once.
    const second = purchases('k', 60, 4, 3);
    truth(expected, second);
    const publishing = publishAcked(nc!, second);
    await new Promise((r) => setTimeout(r, 200));
    await Promise.all([a.stop('SIGKILL'), cluster!.kill(2)]);
    await publishing;
    await waitForOwners(b, ['engine-b'], (LEASE_SECONDS + 60) * 1000);
    await waitForExact(b, expected);
    // The killed node back and caught up before the streams are read and the next test runs.
    await cluster!.restart(2);
    await cluster!.waitForStreams(CLUSTER_STREAMS, 120_000);
    expect(await duplicateIds('BW_ALERTS', 'alert_id')).toEqual([]);
    expect(await duplicateIds('BW_CRM', 'action_id')).toEqual([]);
  }, 240_000);

  it('scales 1 → 3 while events flow and back to 1 with SIGTERM, counting nothing twice', async () => {
    const b = engines.find((e) => e.child.exitCode === null && e.child.signalCode === null)!;
    const flowing = purchases('s', 40, 6);
    truth(expected, flowing);
    const publishing = publishAcked(nc!, flowing);
    const c = await start('engine-c');
    const d = await start('engine-d');
    await publishing;
    await waitForOwners(b, ['engine-b', 'engine-c', 'engine-d']);
    await waitForExact(c, expected);
    const more = purchases('s', 40, 3, 6);
    truth(expected, more);
    const publishingMore = publishAcked(nc!, more);
    expect(await c.stop('SIGTERM', { keepDataDir: false })).toBe(0);
    expect(await d.stop('SIGTERM')).toBe(0);
    await publishingMore;
    await waitForOwners(b, ['engine-b'], 30_000);
    await waitForExact(b, expected);
  }, 240_000);

  it('refuses to join with a PII key the other instances do not have', async () => {
    const other = strongPiiKey('other');
    await expect(startClusterEngine(cluster!, 'engine-x', { BW_PII_KEY: other })).rejects.toThrow(
      /exited with 2[\s\S]*BW_ERR_CONFIG_INVALID[\s\S]*PII key/,
    );
  }, 120_000);

  it('fences an instance paused past its lease, and it rejoins without corrupting anything', async () => {
    const b = engines.find((e) => e.child.exitCode === null && e.child.signalCode === null)!;
    const e = await start('engine-e');
    await waitForOwners(b, ['engine-b', 'engine-e']);
    e.child.kill('SIGSTOP');
    const during = purchases('p', 40, 4);
    truth(expected, during);
    await publishAcked(nc!, during);
    // B takes E's partitions once E's lease ran out, and counts every event.
    await waitForOwners(b, ['engine-b'], (LEASE_SECONDS + 60) * 1000);
    await waitForExact(b, expected);
    e.child.kill('SIGCONT');
    const after = purchases('p', 40, 2, 4);
    truth(expected, after);
    await publishAcked(nc!, after);
    await waitForOwners(b, ['engine-b', 'engine-e'], 60_000);
    await waitForExact(e, expected);
    await waitForExact(b, expected);
    const fenced = e.logs.filter((l) => l.includes('lease ran out') || l.includes('partition lease lost'));
    expect(fenced.length).toBeGreaterThan(0);
    expect(await duplicateIds('BW_ALERTS', 'alert_id')).toEqual([]);
  }, 240_000);
});
