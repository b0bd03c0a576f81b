import { afterEach, describe, expect, it, vi } from 'vitest';
import { partitionOfCustomer } from '../../contract/subjects.js';
import { createLogger } from '../../engine/log.js';
import { POISON_CRASHES } from '../../engine/pool/thread-messages.js';
import { CRASH_EXIT_CODE, crashEventId, crashingOn } from '../../engine/worker/crash-hook.js';
import { QUERY_SAFE_POINT } from '../../engine/worker/ingest.js';
import { deadLetterAad, openSealedBytes } from '../../security/pii-cipher.js';
import {
  DAY,
  featuresOf,
  ingestFixture,
  keyring,
  message,
  purchase,
  T,
  type TestMsg,
} from './worker-fixture.js';

async function metricValue(
  f: ReturnType<typeof ingestFixture>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await f.ctx.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('worker ingest', () => {
  it('folds an event id once: a second message with the same event_id is a duplicate', async () => {
    const f = ingestFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T, 10)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('ann', 'e-1', T, 10)));
    f.ingest.onMessage(f.feed(), message(0, 3, purchase('ann', 'e-2', T - DAY, 5)));
    const features = featuresOf(f.feed(), 'ann')!;
    expect(features['purchases_lifetime']).toBe(2);
    expect(features['spend_lifetime']).toBe(15);
    expect(await metricValue(f, 'bellwether_events_duplicate_total')).toBe(1);
    // Touched once in the batch, with two arrivals (the duplicate is not one).
    expect(f.batch.size).toBe(1);
    expect(f.batch.arrivalCount).toBe(2);
    expect(f.feed().state.lastSequence).toBe(3);
    expect(f.counts.scheduled).toBe(3);
    f.batch.countProcessed();
    expect(await metricValue(f, 'bellwether_events_processed_total', { type: 'purchase' })).toBe(2);
    expect(f.nats.published).toEqual([]);
  });

  it('skips a message at or below the sequence the state already holds (a redelivery)', async () => {
    const f = ingestFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('ann', 'e-2', T)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('ann', 'e-3', T)));
    expect(featuresOf(f.feed(), 'ann')!['purchases_lifetime']).toBe(2);
    expect(await metricValue(f, 'bellwether_events_redelivered_total')).toBe(1);
    expect(await metricValue(f, 'bellwether_events_duplicate_total')).toBe(0);
    // Still flushed: the redelivered message is the partition's latest to ack.
    expect(f.counts.scheduled).toBe(3);
    expect((f.feed().lastMsg as TestMsg | undefined)?.reply).toContain('.2.2.');
  });

  it('dead-letters a malformed message with its reason, sealed, and leaves the state alone', async () => {
    const f = ingestFixture();
    const bad = message(0, 7, '{"event_id": "x", "customer_id": ', { type: 'purchase' });
    f.ingest.onMessage(f.feed(), bad);
    const state = f.feed().state;
    expect(state.table.size).toBe(0);
    expect(f.batch.size).toBe(0);
    expect(f.batch.arrivalCount).toBe(0);
    expect(state.lastSequence).toBe(7);
    expect(f.inflight[0]).toBe(0);
    // Queued for the batch's commit; the partition's ack waits for it.
    expect(f.ctx.effects.pending).toBe(1);
    expect(f.feed().publishes).toHaveLength(1);
    f.ctx.effects.commit();
    expect(f.nats.published).toHaveLength(1);
    const letter = f.nats.published[0]!;
    expect(letter.subject).toBe('bw.dlq.not_json');
    expect(letter.msgID).toBe('dlq-BW_EVENTS_0-7');
    expect(letter.headers!.get('Bw-Reason')).toBe('not_json');
    expect(letter.headers!.get('Bw-Error-Code')).toBe('BW_ERR_EVENT_SCHEMA');
    expect(letter.headers!.get('Bw-Subject')).toBe('bw.part.0.purchase');
    expect(openSealedBytes(keyring, letter.data, deadLetterAad(7, 'BW_EVENTS_0')).toString('utf8')).toBe(
      '{"event_id": "x", "customer_id": ',
    );
    expect(await metricValue(f, 'bellwether_events_rejected_total', { reason: 'not_json' })).toBe(1);
  });

  it('dead-letters an event missing a required field with reason missing_field', () => {
    const f = ingestFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, { event_id: 'e-1', customer_id: 'ann', type: 'purchase' }));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.missing_field']);
    expect(f.nats.published[0]!.headers!.get('Bw-Error')).toMatch(/ts/);
    expect(f.feed().state.table.size).toBe(0);
  });

  it('dead-letters a poison message unprocessed, with reason poison', async () => {
    const f = ingestFixture({ poison: ['0:2'] });
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('bob', 'e-2', T)));
    f.ingest.onMessage(f.feed(), message(0, 3, purchase('ann', 'e-3', T)));
    expect(f.feed().state.table.slotOf('bob')).toBeUndefined();
    expect(featuresOf(f.feed(), 'ann')!['purchases_lifetime']).toBe(2);
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.poison']);
    const letter = f.nats.published[0]!;
    expect(letter.headers!.get('Bw-Error')).toBe(`crashed the worker thread ${POISON_CRASHES} times`);
    expect(letter.headers!.get('Bw-Error-Code')).toBe('BW_ERR_WORKER_FAILED');
    expect(await metricValue(f, 'bellwether_events_rejected_total', { reason: 'poison' })).toBe(1);
  });

  it('publishes no dead letter again for a message a previous run already handled', () => {
    const f = ingestFixture();
    f.feed().replayUntil = 5;
    f.ingest.onMessage(f.feed(), message(0, 5, 'not json'));
    f.ingest.onMessage(f.feed(), message(0, 6, 'not json either'));
    f.ctx.effects.commit();
    expect(f.nats.published.map((p) => p.msgID)).toEqual(['dlq-BW_EVENTS_0-6']);
  });

  it('dead-letters an event whose processing throws, the customer still touched for the flush', () => {
    const f = ingestFixture();
    f.feed().crm.onEvent = () => {
      throw new Error('boom');
    };
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T)));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.processing_error']);
    expect(f.nats.published[0]!.headers!.get('Bw-Error')).toBe('boom');
    // Its state moved before the CRM threw: it is scored (and its cached answer voided) at the flush.
    expect(f.batch.size).toBe(1);
    expect(f.batch.arrivalCount).toBe(0);
    expect(f.inflight[0]).toBe(0);
  });

  it('rejects an event stored in a partition its customer does not map to', () => {
    const f = ingestFixture({ settings: { partitions: 2 }, partitions: [0, 1] });
    const customer = ['ann', 'bob', 'cat', 'dan'].find((c) => partitionOfCustomer(c, 2) === 1)!;
    f.ingest.onMessage(f.feed(0), message(0, 1, purchase(customer, 'e-1', T)));
    f.ctx.effects.commit();
    expect(f.nats.subjects()).toEqual(['bw.dlq.subject_mismatch']);
    expect(f.feed(0).state.table.size).toBe(0);
  });

  it('moves the watermark, and on the event clock voids every cached answer of the partition', () => {
    const f = ingestFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T - DAY)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('bob', 'e-2', T)));
    f.ingest.onMessage(f.feed(), message(0, 3, purchase('ann', 'e-3', T - 2 * DAY)));
    expect(f.feed().state.watermark).toBe(T);
    expect(f.versions.epochs[0]).toBe(2);
    const wall = ingestFixture({ settings: { clock: 'wall' } });
    wall.ingest.onMessage(wall.feed(), message(0, 1, purchase('ann', 'e-1', T)));
    expect(wall.versions.epochs[0]).toBe(0);
  });

  it('reads the lag and the consumer sequence of each delivery', () => {
    const f = ingestFixture();
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T), { pending: 41 }));
    expect(f.feed().pending).toBe(41);
    expect(f.feed().delivered).toBe(1);
  });

  it(`answers waiting queries every ${QUERY_SAFE_POINT} messages processed`, () => {
    const f = ingestFixture();
    for (let i = 1; i < QUERY_SAFE_POINT; i++)
      f.ingest.onMessage(f.feed(), message(0, i, purchase('ann', `e-${i}`, T)));
    // Redeliveries are not counted.
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T)));
    expect(f.counts.polled).toBe(0);
    f.ingest.onMessage(f.feed(), message(0, QUERY_SAFE_POINT, purchase('ann', 'e-last', T)));
    expect(f.counts.polled).toBe(1);
  });
});

describe('worker crash hook', () => {
  it('is set for the first generation, and for every one with crashAlways', () => {
    expect(crashEventId({}, 0)).toBeUndefined();
    expect(crashEventId({ crashOnEventId: 'x' }, 0)).toBe('x');
    expect(crashEventId({ crashOnEventId: 'x' }, 1)).toBeUndefined();
    expect(crashEventId({ crashOnEventId: 'x', crashAlways: true }, 3)).toBe('x');
  });

  it('exits before the event is folded, while the partition names the message in flight', () => {
    const f = ingestFixture({ crashOnEventId: 'pill' });
    const seen: { code: number; inflight: number }[] = [];
    vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      seen.push({ code, inflight: f.inflight[0]! });
    }) as typeof process.exit);
    f.ingest.onMessage(f.feed(), message(0, 1, purchase('ann', 'e-1', T)));
    f.ingest.onMessage(f.feed(), message(0, 2, purchase('ann', 'pill', T)));
    expect(seen).toEqual([{ code: CRASH_EXIT_CODE, inflight: 2 }]);
    expect(featuresOf(f.feed(), 'ann')!['purchases_lifetime']).toBe(1);
  });

  it('passes every other event to the step it wraps', () => {
    const admitted: string[] = [];
    const exits: number[] = [];
    const step = crashingOn(
      'pill',
      (_feed, _msg, event) => admitted.push(event.body.event_id),
      createLogger('silent'),
      (code) => exits.push(code),
    );
    const f = ingestFixture();
    const event = (id: string) =>
      ({ body: { event_id: id, customer_id: 'ann' }, typeIndex: 0, ts: T, amount: 0 }) as never;
    step(f.feed(), message(0, 1, 'x'), event('a'), 1, 0);
    step(f.feed(), message(0, 2, 'x'), event('pill'), 2, 0);
    step(f.feed(), message(0, 3, 'x'), event('b'), 3, 0);
    expect(admitted).toEqual(['a', 'b']);
    expect(exits).toEqual([CRASH_EXIT_CODE]);
  });
});
