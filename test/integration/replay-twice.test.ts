/**
 * Replays and backfills on the event-time clock: `bellwether replay` of the same file twice leaves
 * exactly the state of replaying it once.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS } from '../../contract/time.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { distPath } from '../../lib/paths.js';
import { FeatureTable } from '../../operators/features/feature-table.js';
import { type EngineProcess, waitFor } from '../support/engine-process.js';
import type { TestNats } from '../support/nats-server.js';
import type { TestEvent } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';

const T = Date.UTC(2026, 1, 1);
const TYPES = ['purchase', 'page_view', 'add_to_cart', 'refund', 'login', 'complaint'];
let nats: TestNats;
let engine: EngineProcess;
let dir: string;
let stack: TestStack;

function events(): TestEvent[] {
  let seed = 99;
  const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  return Array.from({ length: 3000 }, (_, i) => {
    const type = TYPES[Math.floor(rand() * TYPES.length)]!;
    const e: TestEvent = {
      event_id: `f-${i}`,
      customer_id: `r${Math.floor(rand() * 150)}`,
      type,
      ts: T - Math.floor(rand() * 100 * DAY_MS),
    };
    if (type === 'purchase' || type === 'refund') e.amount = Math.round(rand() * 9000) / 100;
    return e;
  });
}

function replay(file: string): void {
  const res = spawnSync(
    process.execPath,
    [distPath('cli', 'main.js'), 'replay', file, '--format', 'ndjson', '--nats-url', nats.url],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  expect(res.status, res.stderr).toBe(0);
  expect(res.stderr).toContain('3000 events published');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-replay-'));
  stack = await startStack(4, { BW_CLOCK: 'event' });
  ({ nats, engine } = stack);
});

afterAll(async () => {
  await stack?.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('replay', () => {
  it('gives the same state when the same file is replayed twice', async () => {
    const all = events();
    const file = path.join(dir, 'events.ndjson');
    await writeFile(file, `${all.map((e) => JSON.stringify(e)).join('\n')}\n`);
    replay(file);
    replay(file);
    const truth = new FeatureTable();
    for (const e of all) {
      truth.fold(truth.slotFor(e.customer_id), {
        typeIndex: eventTypeIndex(e.type),
        ts: Number(e.ts),
        amount: e.amount ?? 0,
      });
    }
    const ids = [...new Set(all.map((e) => e.customer_id))];
    await waitFor(async () => {
      const lifetimes = await Promise.all(
        ids.map(
          async (id) =>
            ((await engine.get(`/v1/customers/${id}`)).body as CustomerAnswer).features?.['events_lifetime'],
        ),
      );
      return lifetimes.reduce<number>((a, b) => a + (b ?? 0), 0) === all.length ? true : undefined;
    });
    const info = (await engine.get('/v1/info')).body as {
      partition_status: { partition: number; event_clock: string }[];
    };
    for (const id of ids) {
      const answer = (await engine.get(`/v1/customers/${id}`)).body as CustomerAnswer;
      // The partition's "now": its watermark, which events this far out of order can hold back and
      // the other partitions' can cap (docs/features.md, Watermark).
      const now = Date.parse(
        info.partition_status.find((p) => p.partition === answer.partition)!.event_clock,
      );
      expect(answer.features, id).toEqual(truth.featureRecord(truth.slotOf(id)!, now));
    }
  });
});
