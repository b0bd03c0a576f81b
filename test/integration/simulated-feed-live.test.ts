/**
 * The simulated feed after it reaches the present: the worker thread (from dist/, as `bellwether
 * run` starts it) against a real nats-server keeps publishing at its live rate, each event stamped
 * with the wall clock (a near-duplicate copy up to 5 minutes after its original, as a producer's
 * retry would be), instead of following 30 customers' own pace of a few events an hour.
 */
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as SimulatorHost from '../../feeds/simulator-host.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats(4);
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

interface Seen {
  ts: number;
  at: number;
  retry: boolean;
}

describe('simulated feed, live phase', () => {
  it('keeps publishing after reaching now, stamped no later than the wall clock', async () => {
    const { startSimulatorWorker } = (await import(
      path.join(PACKAGE_ROOT, 'dist', 'feeds', 'simulator-host.js')
    )) as typeof SimulatorHost;
    const seen: Seen[] = [];
    const sub = nc.subscribe('bw.part.>', {
      callback: (_err, msg) => {
        const body = msg.json<{ ts: string; event_id: string }>();
        seen.push({ ts: Date.parse(body.ts), at: Date.now(), retry: body.event_id.includes('-retry') });
      },
    });
    await nc.flush();
    const started = Date.now();
    const sim = startSimulatorWorker({
      natsUrl: nats.url,
      rate: 20_000,
      liveRate: 200,
      customers: 30,
      seed: 7,
      // 30 customers' past and the last half hour: caught up within a second or two.
      historyDays: 0.02,
      badRate: 0,
      faultRate: 0.05,
    });
    try {
      // Reached the present: events stamped after the feed started.
      const firstLive = await waitFor(
        async () => {
          const i = seen.findIndex((s) => s.ts >= started);
          return i >= 0 ? i : undefined;
        },
        30_000,
        'an event stamped after the start',
      );
      // ...and it keeps going: 300 more events after the first live one.
      await waitFor(
        async () => (seen.length >= firstLive + 300 ? true : undefined),
        60_000,
        '300 live events',
      );
      const live = seen.slice(firstLive);
      expect(live.length).toBeGreaterThanOrEqual(300);
      // Stamped with the wall clock while it runs: never ahead of when it arrived (a near-duplicate
      // copy up to 5 minutes after its original), never behind the feed's start.
      for (const s of live) {
        expect(s.ts).toBeLessThanOrEqual(s.at + (s.retry ? 300_000 : 0));
        expect(s.ts).toBeGreaterThanOrEqual(started - 300_000);
      }
      const clean = live.filter((s) => !s.retry);
      // Event times move on with the wall clock over the live events.
      expect(clean.at(-1)!.ts).toBeGreaterThan(clean[0]!.ts);
      // 30 customers at their own pace would publish a few events an hour; the live phase runs on.
      const spanMs = live.at(-1)!.at - live[0]!.at;
      expect(live.length / Math.max(spanMs / 1000, 0.001)).toBeGreaterThan(0);
    } finally {
      sub.unsubscribe();
      await sim.stop();
    }
  });
});
