/**
 * Identity resolution against a real nats-server and engine processes: a device browses for three
 * days and signs up, and the engine process is killed (SIGKILL, by its test hook) in the middle of
 * forwarding that history to the customer's partition; a second device logs in to the same
 * customer; a third device, claimed by a second customer, is dead-lettered. Anonymous ids and
 * customers sit in different partitions. Every count must come out exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject, partitionOfCustomer } from '../../contract/subjects.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/time.js';
import { ORIGIN_SEQ_HEADER } from '../../engine/cluster/identity-links.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { anchorEvents, openDeadLetter, readStream } from '../support/publish.js';

const PARTITIONS = 4;
const T = Date.UTC(2026, 4, 1, 12);
const PER_DAY = 100;
const KILL_AFTER = 120;

let nats: TestNats;
let nc: NatsConnection;
let dataDir: string;
let modelsDir: string;
let engine: EngineProcess | undefined;

interface Ev {
  event_id: string;
  type: string;
  ts: string;
  customer_id?: string;
  anonymous_id?: string;
}

/** The first id `<prefix><n>` whose partition is not in `avoid`. */
function idOutside(prefix: string, avoid: number[]): string {
  for (let n = 0; ; n++) {
    const id = `${prefix}${n}`;
    if (!avoid.includes(partitionOfCustomer(id, PARTITIONS))) return id;
  }
}

const ALICE = idOutside('alice-', []);
const P_ALICE = partitionOfCustomer(ALICE, PARTITIONS);
const DEVICE_A = idOutside('dev-a-', [P_ALICE]);
const DEVICE_B = idOutside('dev-b-', [P_ALICE]);
const BOB = idOutside('bob-', []);
const CAROL = idOutside('carol-', []);
const DEVICE_C = idOutside('dev-c-', [partitionOfCustomer(BOB, PARTITIONS)]);

const at = (ms: number) => new Date(ms).toISOString();

async function publish(events: Ev[]): Promise<void> {
  const js = jetstream(nc);
  for (const e of events)
    await js.publish(eventSubject(e.type, e.customer_id ?? e.anonymous_id!), JSON.stringify(e), {
      msgID: e.event_id,
    });
}

/** `count` page views of an anonymous id only, a minute apart, ending at `end`. */
function browsing(anonymousId: string, prefix: string, count: number, end: number): Ev[] {
  return Array.from({ length: count }, (_, i) => ({
    event_id: `${prefix}-${i}`,
    anonymous_id: anonymousId,
    type: 'page_view',
    ts: at(end - (count - 1 - i) * MINUTE_MS),
  }));
}

function engineEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: String(PARTITIONS),
    BW_WORKERS: '2',
    BW_CLOCK: 'event',
    BW_DATA_DIR: dataDir,
    BW_MODELS_DIR: modelsDir,
    BW_CHECKPOINT_SECONDS: '0.5',
    BW_LEASE_SECONDS: '2',
    ...extra,
  };
}

async function answer(
  id: string,
): Promise<{ status: number; body: CustomerAnswer; location: string | null }> {
  const res = await fetch(`${engine!.httpUrl}/v1/customers/${encodeURIComponent(id)}`, {
    redirect: 'manual',
  });
  return {
    status: res.status,
    body: (await res.json()) as CustomerAnswer,
    location: res.headers.get('location'),
  };
}

async function pageViews(id: string): Promise<number | undefined> {
  const res = await answer(id);
  return res.status === 200 ? (res.body.features['page_views_7d'] ?? undefined) : undefined;
}

/** Waits until every partition is run here, attached, caught up and acked. */
async function caughtUp(): Promise<void> {
  const live = engine!;
  await waitFor(
    async () => {
      if ((await live.get('/readyz')).status !== 200) return undefined;
      const parts = (
        (await live.get('/v1/info')).body as {
          partition_status: { pending: number; ack_pending: number; caught_up: boolean }[];
        }
      ).partition_status;
      return parts.every((p) => p.caught_up && p.pending === 0 && p.ack_pending === 0) ? true : undefined;
    },
    60_000,
    'caught up',
  );
}

/** The engine's counter `name` (summed over its label sets). */
async function counter(name: string): Promise<number> {
  const text = (await engine!.get('/metrics')).text;
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  return sum;
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'bw-identity-'));
  modelsDir = await writeFixtureModels();
});

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('identity resolution', () => {
  it('merges anonymous histories into their customer exactly once, across a kill -9 in the merge', async () => {
    expect(partitionOfCustomer(DEVICE_A, PARTITIONS)).not.toBe(P_ALICE);
    // Three days of anonymous browsing, a session a day, the last page view 10 minutes before T.
    const days = [2, 1, 0].flatMap((d) =>
      browsing(DEVICE_A, `a-day${d}`, PER_DAY, T - d * DAY_MS - 10 * MINUTE_MS),
    );
    engine = await startEngineProcess(
      engineEnv({ BW_TEST_KILL_AFTER_FORWARDS: String(KILL_AFTER) }),
      [],
      60_000,
    );
    await publish([...anchorEvents(PARTITIONS, T).map((e) => ({ ...e, ts: String(e.ts) })), ...days]);
    const anonymous = await waitFor(
      async () => {
        const res = await answer(DEVICE_A);
        return res.status === 200 && res.body.features['page_views_7d'] === 3 * PER_DAY
          ? res.body
          : undefined;
      },
      60_000,
      'the anonymous profile',
    );
    expect(anonymous.anonymous).toBe(true);

    // The sign-up links the device; the engine kills itself after KILL_AFTER of the 300 forwards.
    const killed = engine;
    const exited = new Promise((resolve) => killed.child.once('exit', (_code, signal) => resolve(signal)));
    await publish([
      {
        event_id: 'alice-signup',
        customer_id: ALICE,
        anonymous_id: DEVICE_A,
        type: 'signup',
        ts: at(T - 8 * MINUTE_MS),
      },
    ]);
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`not killed:\n${killed.logs.slice(-30).join('\n')}`)), 60_000),
    );
    expect(await Promise.race([exited, timeout])).toBe('SIGKILL');
    const customerStream = `BW_EVENTS_${P_ALICE}`;
    const forwardedAtKill = (await readStream(nc, customerStream)).filter(
      (m) => m.headers[ORIGIN_SEQ_HEADER],
    ).length;
    expect(forwardedAtKill).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(forwardedAtKill).toBeLessThan(3 * PER_DAY);
    await killed.stop('SIGKILL', { keepDataDir: true });

    engine = await startEngineProcess(engineEnv(), [], 60_000);
    await caughtUp();
    // The anonymous profile came back from its checkpoint (or, rebuilt, answers for its link).
    expect([200, 308]).toContain((await answer(DEVICE_A)).status);
    await waitFor(
      async () => ((await pageViews(ALICE)) === 3 * PER_DAY ? true : undefined),
      60_000,
      'the merge',
    );
    // The customer's own journey goes on from the anonymous page views (within the funnel's hour).
    await publish([
      { event_id: 'alice-cart', customer_id: ALICE, type: 'add_to_cart', ts: at(T - 6 * MINUTE_MS) },
      { event_id: 'alice-checkout', customer_id: ALICE, type: 'checkout_start', ts: at(T - 4 * MINUTE_MS) },
      {
        event_id: 'alice-buy',
        customer_id: ALICE,
        type: 'purchase',
        ts: at(T - 2 * MINUTE_MS),
        amount: 40,
      } as Ev,
    ]);
    // A later anonymous-only event of the linked device counts for the customer.
    await publish([{ event_id: 'a-late', anonymous_id: DEVICE_A, type: 'page_view', ts: at(T - MINUTE_MS) }]);

    // A second device browses and logs in to the same customer.
    await publish(browsing(DEVICE_B, 'b', 50, T - 3 * HOUR_MS));
    await waitFor(async () => ((await pageViews(DEVICE_B)) === 50 ? true : undefined), 60_000, 'device B');
    await publish([
      { event_id: 'alice-login', customer_id: ALICE, anonymous_id: DEVICE_B, type: 'login', ts: at(T) },
    ]);

    // A third device signs up as bob, then carol claims it: first link wins, carol's is dead-lettered.
    await publish(browsing(DEVICE_C, 'c', 5, T - 5 * HOUR_MS));
    await waitFor(async () => ((await pageViews(DEVICE_C)) === 5 ? true : undefined), 60_000, 'device C');
    await publish([
      { event_id: 'bob-signup', customer_id: BOB, anonymous_id: DEVICE_C, type: 'signup', ts: at(T) },
    ]);
    await waitFor(async () => ((await pageViews(BOB)) === 5 ? true : undefined), 60_000, 'bob merged');
    await publish([
      { event_id: 'carol-signup', customer_id: CAROL, anonymous_id: DEVICE_C, type: 'signup', ts: at(T) },
    ]);

    const letters = await waitFor(
      async () => {
        const found = (await readStream(nc, 'BW_DLQ')).filter(
          (m) => m.subject === 'bw.dlq.identity_conflict',
        );
        return found.length > 0 ? found : undefined;
      },
      60_000,
      'the conflict letter',
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]!.headers['Bw-Error-Code']).toBe('BW_ERR_IDENTITY_CONFLICT');
    expect(JSON.parse(await openDeadLetter(letters[0]!, dataDir))).toMatchObject({
      event_id: 'carol-signup',
    });

    await waitFor(
      async () => ((await pageViews(ALICE)) === 3 * PER_DAY + 1 + 50 ? true : undefined),
      60_000,
      'device B merged',
    );
    await caughtUp();
    // Settled: exact counts, nothing forwarded twice.
    const alice = await answer(ALICE);
    expect(alice.status).toBe(200);
    expect(alice.body.features['page_views_7d']).toBe(3 * PER_DAY + 1 + 50);
    expect(alice.body.features['purchases_30d']).toBe(1);
    expect([...alice.body.identities].sort()).toEqual([DEVICE_A, DEVICE_B].sort());
    const bob = await answer(BOB);
    expect(bob.body.identities).toEqual([DEVICE_C]);
    const carol = await answer(CAROL);
    expect(carol.status).toBe(200);
    expect(carol.body.identities).toEqual([]);
    expect(carol.body.features['page_views_7d'] ?? 0).toBe(0);

    for (const [device, customer] of [
      [DEVICE_A, ALICE],
      [DEVICE_B, ALICE],
      [DEVICE_C, BOB],
    ] as const) {
      const res = await answer(device);
      expect(res.status, `${device}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(308);
      expect(res.location).toBe(`/v1/customers/${customer}`);
    }

    // Funnel: three anonymous sessions, then alice's cart, checkout and purchase; the late page view
    // of device A (after the purchase) restarts her journey, device B's repeat its first step; bob's
    // device makes one journey. The anonymous profiles count nothing themselves.
    const funnel = (await engine.get('/v1/funnels/checkout')).body as {
      steps: { type: string; entered: number }[];
    };
    expect(funnel.steps.map((s) => s.entered)).toEqual([3 + 1 + 1, 1, 1, 1]);

    const kv = await new Kvm(nc).open('BW_IDENTITY');
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys).toHaveLength(3);
    expect(await counter('bellwether_identity_links_total')).toBe(2);
    expect(await counter('bellwether_identity_merges_total')).toBeGreaterThanOrEqual(2);
  }, 300_000);
});
