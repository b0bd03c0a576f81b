/**
 * A customer's recent events read from its partition's stream on a real nats-server: the stream's
 * tail is read backwards chunk by chunk (6,000 messages: three chunks), the customer's events come
 * newest first, a redelivered duplicate once, a body the engine would reject not at all, another
 * customer whose id starts the same never; `limit` stops the read early (`complete: false`), and
 * personal properties are set apart from those declared plain.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject } from '../../contract/subjects.js';
import { type CustomerEventsSource, readCustomerEvents } from '../../engine/customer-events.js';
import { ensureStreams } from '../../engine/nats/streams.js';
import { ProfilePolicy } from '../../security/pii-policy.js';
import { startNats, type TestNats } from '../support/nats-server.js';

let nats: TestNats;
let nc: NatsConnection;
let source: CustomerEventsSource;
const NOW = Date.now();
const TOTAL = 6_000;

/** The body published at position i of the stream (1-based), others' purchases in between. */
function bodyAt(i: number): unknown {
  const ts = NOW - (TOTAL - i) * 1000;
  if (i === 1) return { event_id: 't-signup', customer_id: 'target', type: 'signup', ts };
  if (i === 2500)
    return {
      event_id: 't-profile',
      customer_id: 'target',
      type: 'profile',
      ts,
      props: { email: 'li.na@example.com', tier: 'gold' },
    };
  if (i === 4000 || i === 5990)
    return {
      event_id: 't-buy',
      customer_id: 'target',
      type: 'purchase',
      ts: NOW - 10_000,
      amount: 12.5,
      channel: 'app',
    };
  // Missing event_id: the engine rejects it, the timeline does not show it.
  if (i === 5000) return { customer_id: 'target', type: 'purchase', ts, amount: 1 };
  if (i === 5500) return { event_id: 'x-1', customer_id: 'target-x', type: 'login', ts };
  if (i === 5995) return { event_id: 'u-1', customer_id: '客户 7', type: 'login', ts };
  return { event_id: `o-${i}`, customer_id: `other-${i % 97}`, type: 'page_view', ts };
}

beforeAll(async () => {
  nats = await startNats(1);
  nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const layout = await ensureStreams(jsm, { partitions: 1, eventsMaxAgeDays: 1, auditRetentionDays: 1 });
  const js = jetstream(nc);
  for (let from = 1; from <= TOTAL; from += 500) {
    const acks: Promise<unknown>[] = [];
    // Published in order, acknowledged a batch at a time.
    for (let i = from; i < from + 500; i++) {
      const body = bodyAt(i) as { type: string; customer_id: string };
      acks.push(js.publish(eventSubject(body.type, body.customer_id), JSON.stringify(body)));
      if (i % 50 === 0) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
  }
  source = { jsm, js, layout, partitions: 1, policy: new ProfilePolicy() };
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe('readCustomerEvents', () => {
  it('reads the whole stream back to its start for a customer with few events, newest first', async () => {
    const read = await readCustomerEvents(source, 'target', 0, 10, Date.now());
    expect(read.events.map((e) => e.event_id)).toEqual(['t-buy', 't-profile', 't-signup']);
    expect(read.events[0]).toMatchObject({ type: 'purchase', amount: 12.5, channel: 'app', seq: 5990 });
    expect(read.scanned).toBe(TOTAL);
    expect(read.complete).toBe(true);
    const profile = read.events[1]!;
    expect(profile.props).toEqual({ tier: 'gold' });
    expect({ ...profile.personal }).toEqual({ email: 'li.na@example.com' });
  });

  it('stops once it has `limit` events, saying older ones may exist', async () => {
    const read = await readCustomerEvents(source, 'target', 0, 1, Date.now());
    expect(read.events.map((e) => e.event_id)).toEqual(['t-buy']);
    expect(read.scanned).toBe(2_000);
    expect(read.complete).toBe(false);
  });

  it('finds an id that is not a plain token, and nothing for an unknown one', async () => {
    const read = await readCustomerEvents(source, '客户 7', 0, 5, Date.now());
    expect(read.events.map((e) => e.event_id)).toEqual(['u-1']);
    const none = await readCustomerEvents(source, 'nobody', 0, 5, Date.now());
    expect(none).toEqual({ events: [], scanned: TOTAL, complete: true });
  });
});
