/**
 * The audit log's stream copy against a real nats-server: acknowledged by BW_AUDIT; while the
 * stream is missing every attempt fails (counted), the records wait and reach the stream once it
 * is back, in order and once each; past the queue bound the oldest are dropped (counted).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditStreamCopy } from '../../security/audit-copy.js';
import { waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { readStream } from '../support/publish.js';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats(1);
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const record = (seq: number) => `{"seq":${seq},"actor":"a"}\n`;

describe('audit stream copy', () => {
  it('retries while BW_AUDIT is missing, then delivers every record once, in order', async () => {
    const counts = { failures: 0, dropped: 0 };
    const copy = new AuditStreamCopy(
      jetstream(nc),
      {
        subject: 'bw.audit.test',
        instance: 'test',
        maxPending: 100,
        onFailure: () => counts.failures++,
        onDrop: (n) => {
          counts.dropped += n;
        },
      },
      pino({ level: 'silent' }),
    );
    for (let seq = 1; seq <= 3; seq++) copy.push(record(seq));
    await waitFor(async () => (counts.failures >= 2 ? true : undefined), 10_000, 'failed attempts');
    expect(copy.pending).toBe(3);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'BW_AUDIT', subjects: ['bw.audit.>'] });
    await waitFor(async () => (copy.pending === 0 ? true : undefined), 15_000, 'the queue acknowledged');
    copy.push(record(4));
    await copy.close(5_000);
    const stored = (await readStream(nc, 'BW_AUDIT')).map((m) => Buffer.from(m.data).toString('utf8'));
    expect(stored).toEqual([record(1), record(2), record(3), record(4)]);
    expect(copy.stats).toMatchObject({ acked: 4, dropped: 0 });
    expect(copy.stats.failures).toBe(counts.failures);
    expect(counts.dropped).toBe(0);
  });

  it('drops the oldest messages past its bound, and counts them', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete('BW_AUDIT');
    let dropped = 0;
    const copy = new AuditStreamCopy(
      jetstream(nc),
      {
        subject: 'bw.audit.test',
        instance: 'bound',
        maxPending: 2,
        onDrop: (n) => {
          dropped += n;
        },
      },
      pino({ level: 'silent' }),
    );
    for (let seq = 1; seq <= 5; seq++) copy.push(record(seq));
    expect(dropped).toBe(3);
    expect(copy.pending).toBe(2);
    await copy.close(200);
    // Nothing was acknowledged: what was left is dropped too at close.
    expect(dropped).toBe(5);
    expect(copy.stats.acked).toBe(0);
  });
});
