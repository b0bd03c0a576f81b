/**
 * The effect publisher against a real nats-server: a batch of effects over several streams is
 * stored whole, in order, with its message ids; the same batch committed again adds nothing
 * (the ids dedupe), and promises settle only once the stream has the messages.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EffectPublisher } from '../../engine/nats/effect-publisher.js';
import { ensureStreams } from '../../engine/nats/streams.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { readStream } from '../support/publish.js';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats(2);
  nc = await connect({ servers: nats.url });
  await ensureStreams(await jetstreamManager(nc), {
    partitions: 2,
    eventsMaxAgeDays: 1,
    auditRetentionDays: 1,
  });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe('effect publisher', () => {
  it('stores a batch over several streams whole and in order, and a repeat of it not at all', async () => {
    const js = jetstream(nc);
    const effects = new EffectPublisher(
      () => nc,
      () => js,
    );
    const batch = () => {
      const promises: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        promises.push(effects.publish('bw.alerts.churn', JSON.stringify({ i }), `alert-${i}`));
        promises.push(effects.publish(`bw.actions.rule${i % 3}`, JSON.stringify({ i }), `action-${i}`));
        if (i % 10 === 0) {
          const h = headers();
          h.set('Bw-Reason', 'not_json');
          promises.push(effects.publish('bw.dlq.not_json', `letter ${i}`, `dlq-${i}`, h));
        }
      }
      return promises;
    };
    const first = batch();
    expect(effects.pending).toBe(105);
    // One promise for everything the next commit sends.
    expect(new Set(first).size).toBe(1);
    effects.commit();
    expect(effects.pending).toBe(0);
    await Promise.all(first);

    const alerts = await readStream(nc, 'BW_ALERTS');
    expect(alerts.map((m) => m.json<{ i: number }>().i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(alerts.map((m) => m.headers['Nats-Msg-Id'])).toEqual(
      Array.from({ length: 50 }, (_, i) => `alert-${i}`),
    );
    const actions = await readStream(nc, 'BW_CRM');
    expect(actions).toHaveLength(50);
    const letters = await readStream(nc, 'BW_DLQ');
    expect(letters.map((m) => m.headers['Bw-Reason'])).toEqual(Array(5).fill('not_json'));

    // A replay publishes the same effects again: stored once.
    const again = batch();
    expect(again[0]).not.toBe(first[0]);
    effects.commit();
    await Promise.all(again);
    expect(await readStream(nc, 'BW_ALERTS')).toHaveLength(50);
    expect(await readStream(nc, 'BW_CRM')).toHaveLength(50);
    expect(await readStream(nc, 'BW_DLQ')).toHaveLength(5);
  });

  it('sends nothing until commit', async () => {
    const js = jetstream(nc);
    const effects = new EffectPublisher(
      () => nc,
      () => js,
    );
    let settled = false;
    const p = effects.publish('bw.alerts.intent', '{}', 'late-1').then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    expect((await readStream(nc, 'BW_ALERTS')).filter((m) => m.subject === 'bw.alerts.intent')).toHaveLength(
      0,
    );
    effects.commit();
    await p;
    expect((await readStream(nc, 'BW_ALERTS')).filter((m) => m.subject === 'bw.alerts.intent')).toHaveLength(
      1,
    );
  });
});
