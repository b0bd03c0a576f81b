/**
 * A restart with no new events republishes nothing: the RFM cuts the segments were classified with
 * come back with the checkpoints, so the first sweeps after the restart find every customer in the
 * segment it was in (before, one worker's customers had `rfm: null` until the first sweep's cuts
 * arrived and their segments flapped, republishing segment changes and the rules they trigger).
 */
import type { Subscription } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, publishCore, purchaseRun, type TestEvent } from '../support/publish.js';

const PARTITIONS = 4;
const CUSTOMERS = 120;
const END = Date.parse('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

let nats: TestNats | undefined;
let engine: EngineProcess | undefined;

afterAll(async () => {
  if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
  await nats?.stop();
});

function history(): TestEvent[] {
  const events: TestEvent[] = [];
  for (let i = 0; i < CUSTOMERS; i++) {
    // Spread recency, frequency and spend so that every RFM quintile and several segments are used.
    const count = 1 + (i % 9);
    const step = (3 + (i % 40)) * DAY;
    events.push(...purchaseRun(`r${i}`, i % 5, count, { end: END, stepMs: step, amount: 5 + (i % 13) * 20 }));
  }
  return [...events, ...anchorEvents(PARTITIONS, END)];
}

interface SegmentsAnswer {
  segments: { segment: string; customers: number }[];
}

async function segmentSizes(e: EngineProcess): Promise<Record<string, number>> {
  const { body } = await e.get('/v1/segments');
  return Object.fromEntries((body as SegmentsAnswer).segments.map((s) => [s.segment, s.customers]));
}

describe('restart with no new events', () => {
  it('publishes no segment change or action again and answers with RFM at once', async () => {
    nats = await startNats(PARTITIONS);
    const env = {
      BW_NATS_URL: nats.url,
      BW_PARTITIONS: String(PARTITIONS),
      BW_WORKERS: '2',
      BW_CLOCK: 'event',
      BW_RESCORE_SECONDS: '1',
      BW_CHECKPOINT_SECONDS: '1',
    };
    engine = await startEngineProcess(env);
    const dataDir = engine.dataDir;
    const nc = await connect({ servers: nats.url });
    await publishCore(nc, history());
    // Caught up, swept at least twice (cuts from the population), checkpointed.
    await waitFor(async () => {
      const r = await engine!.get('/v1/customers/r7');
      const rfm = (r.body as { rfm: unknown }).rfm;
      return r.status === 200 && rfm !== null ? true : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    const before = await segmentSizes(engine);
    expect(Object.values(before).filter((n) => n > 0).length).toBeGreaterThan(2);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await segmentSizes(engine)).toEqual(before);
    await engine.stop('SIGTERM', { keepDataDir: true });

    const seen: string[] = [];
    const subs: Subscription[] = ['bw.segments.changed', 'bw.actions.>'].map((subject) =>
      nc.subscribe(subject, {
        callback: (_err, m) => {
          seen.push(`${m.subject} ${m.string()}`);
        },
      }),
    );
    engine = await startEngineProcess({ ...env, BW_DATA_DIR: dataDir });
    await waitFor(async () => ((await engine!.get('/readyz')).status === 200 ? true : undefined), 30_000);
    // Straight after the restart, before any sweep of this run could send cuts: RFM is there.
    const answer = (await engine.get('/v1/customers/r7')).body as { rfm: unknown; segment: string };
    expect(answer.rfm).not.toBeNull();
    // Several sweeps later nothing moved and nothing was published again.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await segmentSizes(engine)).toEqual(before);
    await nc.flush();
    expect(seen).toEqual([]);
    for (const s of subs) s.unsubscribe();
    await nc.close();
  });
});
