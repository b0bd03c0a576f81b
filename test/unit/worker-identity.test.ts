import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ORIGIN_SEQ_HEADER, ORIGIN_STREAM_HEADER } from '../../engine/cluster/identity-links.js';
import { featuresOf, ingestFixture, message, T } from './worker-fixture.js';

const view = (id: string, eventId: string, more: Record<string, unknown> = {}) => ({
  event_id: eventId,
  type: 'page_view',
  ts: new Date(T).toISOString(),
  ...more,
  ...(more['customer_id'] === undefined ? { anonymous_id: id } : {}),
});

function forwarded(originSeq: number) {
  const h = headers();
  h.set(ORIGIN_STREAM_HEADER, 'BW_EVENTS_0');
  h.set(ORIGIN_SEQ_HEADER, String(originSeq));
  return { headers: h };
}

describe('worker identity on the hot path', () => {
  it('folds anonymous events into their profile, asks a link at signup, folds a forward once', async () => {
    const f = ingestFixture();
    const identity = f.feed().state.identity;
    f.ingest.onMessage(f.feed(), message(0, 1, view('dev', 'a1')));
    expect(featuresOf(f.feed(), 'dev')!['page_views_7d']).toBe(1);
    expect(identity.isAnonymous('dev')).toBe(true);

    f.ingest.onMessage(
      f.feed(),
      message(0, 2, { event_id: 's1', customer_id: 'ann', anonymous_id: 'dev', type: 'signup', ts: T }),
    );
    expect(identity.pendingLinks()).toEqual([{ anonymousId: 'dev', customerId: 'ann', seq: 2 }]);
    // A purchase with both ids counts for the customer and asks nothing.
    f.ingest.onMessage(
      f.feed(),
      message(0, 3, {
        event_id: 'p1',
        customer_id: 'ann',
        anonymous_id: 'dev',
        type: 'purchase',
        ts: T,
        amount: 5,
      }),
    );
    expect(identity.pendingLinks()).toHaveLength(1);

    // The forward of origin sequence 1 folds for ann; a repeat (another copy of it) does not.
    f.ingest.onMessage(
      f.feed(),
      message(0, 4, view('dev', 'a1', { customer_id: 'ann', anonymous_id: 'dev' }), forwarded(1)),
    );
    f.ingest.onMessage(
      f.feed(),
      message(0, 5, view('dev', 'a1-copy', { customer_id: 'ann', anonymous_id: 'dev' }), forwarded(1)),
    );
    expect(featuresOf(f.feed(), 'ann')!['page_views_7d']).toBe(1);
    expect(featuresOf(f.feed(), 'ann')!['purchases_lifetime']).toBe(1);
    // The anonymous profile is not a customer's journey: no funnel entry from it.
    const funnel = f.feed().crm.funnels.counts()[0]!;
    expect(funnel.entered[0]).toBe(1);
  });

  it('forwards the history and later events of a linked anonymous id, in order, to its customer', async () => {
    const f = ingestFixture();
    const identity = f.feed().state.identity;
    const first = message(0, 1, view('dev', 'a1'));
    f.nats.stored.set('BW_EVENTS_0:1', first.data);
    f.ingest.onMessage(f.feed(), first);
    identity.learn('dev', 'ann', Date.now());
    f.ingest.onMessage(f.feed(), message(0, 2, view('dev', 'a2')));
    // Not folded into the anonymous profile: forwarded.
    expect(featuresOf(f.feed(), 'dev')!['page_views_7d']).toBe(1);
    for (let i = 0; i < 20 && f.nats.published.length < 2; i++) await new Promise((r) => setImmediate(r));
    const forwards = f.nats.published.map((p) => ({
      subject: p.subject,
      msgID: p.msgID,
      origin: p.headers?.get(ORIGIN_SEQ_HEADER),
      body: JSON.parse(p.data) as Record<string, unknown>,
    }));
    expect(forwards.map((x) => [x.subject, x.msgID, x.origin])).toEqual([
      ['bw.events.page_view.ann', 'fwd-BW_EVENTS_0-1', '1'],
      ['bw.events.page_view.ann', 'fwd-BW_EVENTS_0-2', '2'],
    ]);
    expect(forwards.map((x) => [x.body['event_id'], x.body['customer_id'], x.body['anonymous_id']])).toEqual([
      ['a1', 'ann', 'dev'],
      ['a2', 'ann', 'dev'],
    ]);
    expect([...identity.toForward()]).toEqual([]);
    const merges = (await f.ctx.metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'bellwether_identity_merges_total',
    );
    expect(merges?.values[0]?.value).toBe(1);
  });
});
