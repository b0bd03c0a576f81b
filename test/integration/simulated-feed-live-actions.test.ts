/**
 * The quickstart stays alive after the simulated feed reaches the present (issue 21): the engine
 * (dist/, embedded nats-server, built-in rules) runs the simulated feed over a history longer than
 * the start's own sign-up period (so, as with the quickstart's 180 days, the customers of the start
 * have all signed up before the present), and rule actions keep arriving in the live phase, caused
 * by what the simulated customers do there: newcomers arriving after the present sign up and get
 * the built-in `welcome`. A count over a window, no timing asserted.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lib/ports.js';
import {
  connectEmbedded,
  type EngineProcess,
  startEngineProcess,
  waitFor,
} from '../support/engine-process.js';

const CUSTOMERS = 300;

let engine: EngineProcess;
let nc: NatsConnection;
let started = 0;

interface Action {
  rule_id: string;
  customer_id: string;
  kind: string;
  at: string;
}

beforeAll(async () => {
  const natsPort = await freePort();
  started = Date.now();
  engine = await startEngineProcess(
    { BW_NATS_PORT: String(natsPort), BW_PARTITIONS: '4', BW_WORKERS: '2' },
    [
      '--embedded',
      '--simulate',
      '5000',
      '--simulate-live',
      '500',
      '--simulate-customers',
      String(CUSTOMERS),
      // Past the start's 90-day sign-up period: the live phase has only newcomers arriving later.
      '--simulate-days',
      '100',
      '--clock',
      'event',
      '--rescore-seconds',
      '5',
    ],
    120_000,
  );
  nc = await connectEmbedded(engine.dataDir, natsPort, 'tail');
}, 180_000);

afterAll(async () => {
  await nc?.close();
  if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
});

describe('simulated feed, live phase, through the engine', () => {
  it('keeps publishing rule actions caused by live behaviour after reaching the present', async () => {
    const live: Action[] = [];
    let before = 0;
    const sub = nc.subscribe('bw.actions.>', {
      callback: (_err, msg) => {
        const a = msg.json<Action>();
        // Triggered by an event stamped after the engine started: the feed's live phase.
        if (Date.parse(a.at) >= started) live.push(a);
        else before++;
      },
    });
    try {
      await waitFor(
        async () => (live.filter((a) => a.rule_id === 'welcome').length >= 5 ? true : undefined),
        300_000,
        '5 welcome actions in the live phase',
      );
      const welcomes = live.filter((a) => a.rule_id === 'welcome');
      expect(welcomes.length).toBeGreaterThanOrEqual(5);
      for (const a of welcomes) {
        expect(a.kind).toBe('event');
        // Newcomers who arrived after the present (ids past the start's population), one welcome each.
        expect(Number(a.customer_id.slice(1))).toBeGreaterThanOrEqual(CUSTOMERS);
      }
      expect(new Set(welcomes.map((a) => a.customer_id)).size).toBe(welcomes.length);
      // The engine also relived the simulated past (the event-time clock): actions before the present.
      expect(before).toBeGreaterThan(0);
    } finally {
      sub.unsubscribe();
    }
  }, 360_000);
});
