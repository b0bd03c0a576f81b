import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  customerToken,
  eventSubject,
  parsePartitionedSubject,
  partitionOfCustomer,
} from '../../contract/subjects.js';
import { startNats, type TestNats } from '../support/nats-server.js';

const PARTITIONS = 16;
let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe('partition mapping in nats-server', () => {
  it('routes every customer to the partition the engine computes, and drops the customer token', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `cust-${i}`);
    ids.push('jane.doe@example.com', '客户 42', 'x'.repeat(80));
    const seen = new Map<string, number>();
    const subjects = new Set<string>();
    const sub = nc.subscribe('bw.part.>', {
      callback: (_err, msg) => {
        subjects.add(msg.subject);
        const parsed = parsePartitionedSubject(msg.subject);
        if (parsed && parsed.token === undefined && parsed.type === 'page_view')
          seen.set(customerToken(msg.string()), parsed.partition);
      },
    });
    for (const id of ids) nc.publish(eventSubject('page_view', id), id);
    await nc.flush();
    const deadline = Date.now() + 5000;
    while (seen.size < ids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    sub.unsubscribe();
    expect(seen.size).toBe(ids.length);
    for (const id of ids) expect(seen.get(customerToken(id))).toBe(partitionOfCustomer(id, PARTITIONS));
    expect(new Set(seen.values()).size).toBe(PARTITIONS);
    // One stored subject per partition and type, not one per customer (subjects.ts).
    expect(subjects.size).toBe(PARTITIONS);
  });
});
