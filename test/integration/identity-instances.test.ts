/**
 * Identity resolution across engine instances: two engines share one nats-server and split the
 * partitions by leases; a device whose partition one instance runs signs up as a customer whose
 * partition the other runs. The link goes through the BW_IDENTITY bucket and the history through
 * the streams, and either instance answers for both ids.
 */
import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject, partitionOfCustomer } from '../../contract/subjects.js';
import { MINUTE_MS } from '../../contract/time.js';
import { waitForOwners } from '../support/cluster-engines.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';

const PARTITIONS = 4;
const VIEWS = 40;
const PII_KEY = `test:${randomBytes(32).toString('hex')}`;

let nats: TestNats;
let nc: NatsConnection;
const engines: EngineProcess[] = [];

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  for (const engine of engines) await engine.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
});

/** The first id `<prefix><n>` whose partition `owners` gives to `instance`. */
function idRunBy(prefix: string, owners: Record<string, string | null>, instance: string): string {
  for (let n = 0; ; n++) {
    const id = `${prefix}${n}`;
    if (owners[String(partitionOfCustomer(id, PARTITIONS))] === instance) return id;
  }
}

describe('identity across instances', () => {
  it('links a device run by one instance to a customer run by the other, and both answer', async () => {
    const modelsDir = await writeFixtureModels();
    for (const id of ['ia', 'ib'])
      engines.push(
        await startEngineProcess({
          BW_NATS_URL: nats.url,
          BW_PARTITIONS: String(PARTITIONS),
          BW_WORKERS: '1',
          BW_INSTANCE_ID: id,
          // The instances of a cluster share their PII keys.
          BW_PII_KEY: PII_KEY,
          BW_LEASE_SECONDS: '3',
          BW_MODELS_DIR: modelsDir,
          BW_RESCORE_SECONDS: '0',
        }),
      );
    const [a, b] = engines as [EngineProcess, EngineProcess];
    await waitForOwners(a, ['ia', 'ib']);
    const owners = (
      (await a.get('/v1/info')).body as { cluster: { partitions: Record<string, string | null> } }
    ).cluster.partitions;
    const device = idRunBy('dev-', owners, 'ia');
    const customer = idRunBy('cust-', owners, 'ib');

    const js = jetstream(nc);
    const now = Date.now();
    for (let i = 0; i < VIEWS; i++) {
      const e = {
        event_id: `v-${i}`,
        anonymous_id: device,
        type: 'page_view',
        ts: now - (VIEWS - i) * MINUTE_MS,
      };
      await js.publish(eventSubject(e.type, device), JSON.stringify(e), { msgID: e.event_id });
    }
    const views = async (engine: EngineProcess, id: string): Promise<number | undefined> => {
      const res = await engine.get(`/v1/customers/${id}`);
      return res.status === 200
        ? ((res.body as { features: Record<string, number | null> }).features['page_views_7d'] ?? undefined)
        : undefined;
    };
    // Read through the instance that does not run the device: the read is forwarded to its owner.
    await waitFor(async () => ((await views(b, device)) === VIEWS ? true : undefined), 60_000, 'the device');

    const signup = { event_id: 's-1', customer_id: customer, anonymous_id: device, type: 'signup', ts: now };
    await js.publish(eventSubject('signup', customer), JSON.stringify(signup), { msgID: signup.event_id });
    await waitFor(async () => ((await views(a, customer)) === VIEWS ? true : undefined), 60_000, 'the merge');
    for (const engine of [a, b]) {
      const res = await fetch(`${engine.httpUrl}/v1/customers/${device}`, { redirect: 'manual' });
      expect(res.status).toBe(308);
      expect(res.headers.get('location')).toBe(`/v1/customers/${customer}`);
      const answer = (await engine.get(`/v1/customers/${customer}`)).body as { identities: string[] };
      expect(answer.identities).toEqual([device]);
      expect(await views(engine, customer)).toBe(VIEWS);
    }
  }, 240_000);
});
