/**
 * Where the engine reads events from: a stream per partition (BW_EVENTS_<p>, unfiltered
 * consumers) on a new deployment, the single stream BW_EVENTS of earlier versions when it exists,
 * and a refusal when BW_PARTITIONS no longer matches the streams.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { partitionOfCustomer } from '../../contract/subjects.js';
import { EVENTS_STREAM, eventsStreamOf, partitionsDescription } from '../../engine/nats/streams.js';
import { type EngineProcess, featureOf, startEngineProcess, waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { partitionConsumer, publishCore, purchaseRun } from '../support/publish.js';

const PARTITIONS = 4;
const END = Date.now() - 3_600_000;
const purchases = (id: string, from: number, count: number) =>
  purchaseRun(id, from, count, { end: END, stepMs: 3_600_000, amount: 2 });
let nats: TestNats | undefined;
let engine: EngineProcess | undefined;

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await nats?.stop();
  nats = undefined;
});

/** An engine on the test's nats-server with PARTITIONS partitions. */
function startEngine(env: Record<string, string> = {}): Promise<EngineProcess> {
  return startEngineProcess({ BW_NATS_URL: nats!.url, BW_PARTITIONS: String(PARTITIONS), ...env });
}

/** The single events stream an earlier version created. */
async function addSingleStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: EVENTS_STREAM,
    subjects: ['bw.part.>'],
    description: partitionsDescription(PARTITIONS),
  });
}

async function lifetimeOf(id: string, n: number): Promise<void> {
  await waitFor(
    async () => ((await featureOf(engine!, id, 'purchases_lifetime')) === n ? true : undefined),
    30_000,
    `${id} with ${n} purchases`,
  );
}

describe('events layout', () => {
  it('gives each partition its own stream and an unfiltered consumer', async () => {
    nats = await startNats(PARTITIONS);
    engine = await startEngine();
    const nc = await connect({ servers: nats.url });
    try {
      await publishCore(nc, purchases('ann', 0, 12));
      await lifetimeOf('ann', 12);
      const jsm = await jetstreamManager(nc);
      const names = (await jsm.streams.names().next()).filter((n) => n.startsWith('BW_EVENTS'));
      expect(names.sort()).toEqual(
        Array.from({ length: PARTITIONS }, (_, p) => eventsStreamOf(p, 'partitioned')).sort(),
      );
      const p = partitionOfCustomer('ann', PARTITIONS);
      const stream = await jsm.streams.info(eventsStreamOf(p, 'partitioned'));
      expect(stream.config.subjects).toEqual([`bw.part.${p}.>`]);
      expect(stream.state.messages).toBe(12);
      const consumer = await partitionConsumer(jsm, eventsStreamOf(p, 'partitioned'), p);
      expect(consumer.config.filter_subject ?? '').toBe('');
      expect(consumer.num_pending).toBe(0);
    } finally {
      await nc.close();
    }
    // Another partition count is refused: the customers' partitions would move.
    const refused = await startEngineProcess(
      { BW_NATS_URL: nats.url, BW_PARTITIONS: String(PARTITIONS * 2) },
      [],
      20_000,
    ).then(
      async (e) => {
        await e.stop();
        return '';
      },
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/BW_ERR_PARTITIONS_CHANGED/);
  });

  it('keeps reading the single BW_EVENTS stream of an earlier version', async () => {
    nats = await startNats(PARTITIONS);
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      // What an earlier version created, holding events from before the upgrade.
      await addSingleStream(nc);
      await publishCore(nc, purchases('bo', 0, 7));
      engine = await startEngine();
      await lifetimeOf('bo', 7);
      await publishCore(nc, purchases('bo', 7, 5));
      await lifetimeOf('bo', 12);
      const names = (await jsm.streams.names().next()).filter((n) => n.startsWith('BW_EVENTS'));
      expect(names).toEqual([EVENTS_STREAM]);
      const p = partitionOfCustomer('bo', PARTITIONS);
      const consumer = await partitionConsumer(jsm, EVENTS_STREAM, p);
      expect(consumer.config.filter_subject).toBe(`bw.part.${p}.>`);
    } finally {
      await nc.close();
    }
  });

  it('does not resume a checkpoint of the single stream on a partition stream: rebuilds the partition', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bw-layout-'));
    try {
      // An earlier deployment: the single stream, 30 purchases, checkpoints written at the stop.
      nats = await startNats(PARTITIONS);
      const nc = await connect({ servers: nats.url });
      await addSingleStream(nc);
      engine = await startEngine({ BW_DATA_DIR: dataDir });
      await publishCore(nc, purchases('cy', 0, 30));
      await lifetimeOf('cy', 30);
      expect(await engine.stop('SIGTERM')).toBe(0);
      engine = undefined;
      // The migration: the single stream goes (per-partition streams are made at the next start);
      // the checkpoints (in the server's BW_CHECKPOINTS object store) and the data directory stay.
      await (await jetstreamManager(nc)).streams.delete(EVENTS_STREAM);
      try {
        engine = await startEngine({ BW_DATA_DIR: dataDir });
        await publishCore(nc, purchases('cy', 100, 3));
        // The checkpoint counted sequences of BW_EVENTS (up to 30); the new stream starts at 1.
        // Resuming it would skip these three events; the partition is rebuilt from its stream.
        await lifetimeOf('cy', 3);
        expect(engine.logs.some((l) => l.includes('state is of another stream'))).toBe(true);
        // The old state is kept beside for an operator, not resumed.
        const files = await readdir(path.join(dataDir, 'checkpoints'));
        expect(files.some((f) => /^p\d{4}\.ckpt\.stale-/.test(f))).toBe(true);
      } finally {
        await nc.close();
      }
    } finally {
      await engine?.stop();
      engine = undefined;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
