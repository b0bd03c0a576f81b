/**
 * Models hot reload: a new version on disk is picked up without a restart, answers carry the new
 * model_version, a shadow candidate scores beside the live model without alerting, and 100 reloads
 * leave the workers' TF.js tensor count flat.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { fixtureChurn, writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { publishCore } from '../support/publish.js';

const T = Date.UTC(2026, 3, 1);
const DAY = 86_400_000;
let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let modelsDir: string;
let n = 0;

async function purchase(customer: string, daysAgo: number): Promise<void> {
  await publishCore(nc, [
    {
      event_id: `r-${++n}`,
      customer_id: customer,
      type: 'purchase',
      ts: new Date(T - daysAgo * DAY).toISOString(),
      amount: 5,
    },
  ]);
}

async function post(pathname: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(engine.httpUrl + pathname, { method: 'POST' });
  return { status: res.status, body: await res.json() };
}

async function info(): Promise<{ worker_status: { models: Record<string, string>; tensors: number }[] }> {
  return (await engine.get('/v1/info')).body as {
    worker_status: { models: Record<string, string>; tensors: number }[];
  };
}

beforeAll(async () => {
  nats = await startNats(4);
  nc = await connect({ servers: nats.url });
  modelsDir = await writeFixtureModels();
  engine = await startEngineProcess({
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: '4',
    BW_WORKERS: '2',
    BW_CLOCK: 'event',
    // hana's purchases 10 and 5 days before T are the partition's only events: each moves its
    // clock (no jump bound; the bound has its own tests, event-integrity.test.ts).
    BW_WATERMARK_MAX_JUMP_SECONDS: '0',
    BW_MODELS_DIR: modelsDir,
  });
});

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
});

describe('model registry', () => {
  it('picks up a new version from disk without a restart', async () => {
    await purchase('hana', 10);
    const first = await waitFor(async () => {
      const res = await engine.get('/v1/customers/hana');
      return res.status === 200 ? (res.body as CustomerAnswer) : undefined;
    });
    expect(first.scores.churn!.model_version).toBe('fixture-1');
    // Event clock: the partition's only events are hana's, so now = her latest purchase.
    expect(first.scores.churn!.probability).toBeCloseTo(fixtureChurn(0), 5);

    await writeFixtureModels(modelsDir, 'fixture-2', [
      ['churn', 0.1, -3],
      ['intent', -0.1, 1],
    ]);
    // The file watch reloads by itself; wait until every worker scores with fixture-2.
    await waitFor(
      async () =>
        (await info()).worker_status.every((w) => w.models['churn'] === 'fixture-2') ? true : undefined,
      20_000,
      'reload by file watch',
    );
    await purchase('hana', 5);
    const second = await waitFor(async () => {
      const body = (await engine.get('/v1/customers/hana')).body as CustomerAnswer;
      return body.features['purchases_lifetime'] === 2 ? body : undefined;
    });
    expect(second.scores.churn!.model_version).toBe('fixture-2');
    expect(second.scores.churn!.probability).toBeCloseTo(1 / (1 + Math.exp(3)), 5);

    const listing = (await engine.get('/v1/models')).body as {
      models: { name: string; live: string; versions: { version: string; card: { trained_at: string } }[] }[];
    };
    const churn = listing.models.find((m) => m.name === 'churn')!;
    expect(churn.live).toBe('fixture-2');
    expect(churn.versions.map((v) => v.version)).toEqual(['fixture-1', 'fixture-2']);
    expect(churn.versions[0]!.card.trained_at).toBe(new Date(0).toISOString());
  });

  it('scores a shadow candidate beside the live model without alerting on it', async () => {
    await writeFile(path.join(modelsDir, 'churn', 'SHADOW'), 'fixture-1\n');
    const reloaded = await post('/v1/models/reload');
    expect(reloaded.status).toBe(200);
    expect((reloaded.body as { workers: Record<string, string>[] }).workers[0]).toMatchObject({
      churn: 'fixture-2',
      churn_shadow: 'fixture-1',
    });
    await purchase('ivan', 3);
    const metrics = await waitFor(async () => {
      const text = (await engine.get('/metrics')).text;
      return /bellwether_shadow_predictions_total\{model="churn",version="fixture-1"\} [1-9]/.test(text)
        ? text
        : undefined;
    });
    expect(metrics).toContain('bellwether_shadow_risk_difference_bucket');
    const listing = (await engine.get('/v1/models')).body as {
      models: { name: string; shadow: string | null }[];
    };
    expect(listing.models.find((m) => m.name === 'churn')!.shadow).toBe('fixture-1');
  });

  it('keeps the tensor count flat over 100 reloads', async () => {
    const baseline = (await info()).worker_status.map((w) => w.tensors);
    for (let i = 0; i < 100; i++) {
      await writeFile(path.join(modelsDir, 'churn', 'LIVE'), i % 2 === 0 ? 'fixture-1\n' : 'fixture-2\n');
      const res = await post('/v1/models/reload');
      expect(res.status).toBe(200);
    }
    await writeFile(path.join(modelsDir, 'churn', 'LIVE'), 'fixture-2\n');
    await post('/v1/models/reload');
    const after = await info();
    expect(after.worker_status.map((w) => w.tensors)).toEqual(baseline);
    expect(after.worker_status.every((w) => w.models['churn'] === 'fixture-2')).toBe(true);
  }, 120_000);
});
