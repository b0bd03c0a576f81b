import { describe, expect, it } from 'vitest';
import { type Delivery, readDelivery } from '../../engine/nats/ack-reply.js';

const fresh = (): Delivery => ({ seq: 0, arrivalMs: 0, consumerSeq: 0, pending: 0 });

describe('readDelivery', () => {
  it('reads the sequences, arrival time and pending count of both reply forms, as the client does', () => {
    const out = fresh();
    expect(readDelivery('$JS.ACK.BW_EVENTS.bw-p3.1.123456.789.1763912345678901234.42', out)).toBe(true);
    expect(out).toEqual({ seq: 123456, arrivalMs: 1763912345678, consumerSeq: 789, pending: 42 });
    expect(
      readDelivery('$JS.ACK._.AHASH.BW_EVENTS.bw-p3.2.98765.4321.1763912345999000000.0.tok3n', out),
    ).toBe(true);
    expect(out).toEqual({ seq: 98765, arrivalMs: 1763912345999, consumerSeq: 4321, pending: 0 });
    expect(readDelivery('$JS.ACK.dom.AHASH.BW_EVENTS.bw-p3.1.7.7.1000000.1234567', out)).toBe(true);
    expect(out).toEqual({ seq: 7, arrivalMs: 1, consumerSeq: 7, pending: 1234567 });
  });

  it('refuses what is not a JetStream reply, leaving the output alone', () => {
    const out: Delivery = { seq: 5, arrivalMs: 6, consumerSeq: 7, pending: 8 };
    for (const reply of [
      '',
      '_INBOX.abc',
      '$JS.ACK.S.C.1.2.3',
      '$JS.ACK.S.C.1.x2.3.4.5',
      '$JS.ACK.S.C.1.2.3.4a.5',
      '$JS.ACK.S.C.1.2.x3.4.5',
      '$JS.ACK.a.b.c.d.e.f.g.h.i.j.k.l.m.n',
    ]) {
      expect(readDelivery(reply, out)).toBe(false);
    }
    expect(out).toEqual({ seq: 5, arrivalMs: 6, consumerSeq: 7, pending: 8 });
  });
});
