/**
 * The LR + boosted-trees fusion in the running engine: a fusion directory written beside a layers
 * model is picked up by hot reload, scores through the TF.js GEMM form in the workers exactly as
 * the trees' own evaluation, answers carry reasons from the fusion's attribution, and switching
 * between a layers model and the fusion leaves the workers' tensor count flat.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { fusionContributions } from '../../models/tree-ensemble.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import {
  FIXTURE_FUSION,
  fixtureChurn,
  fixtureFusionChurn,
  writeFixtureFusion,
  writeFixtureModels,
} from '../support/fixture-models.js';
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
      event_id: `f-${++n}`,
      customer_id: customer,
      type: 'purchase',
      ts: new Date(T - daysAgo * DAY).toISOString(),
      amount: 5,
    },
  ]);
}

async function info(): Promise<{
  worker_status: { models: Record<string, string>; tensors: number; inference?: Record<string, string> }[];
}> {
  return (await engine.get('/v1/info')).body as {
    worker_status: { models: Record<string, string>; tensors: number }[];
  };
}

async function answerWith(customer: string, purchases: number): Promise<CustomerAnswer> {
  return waitFor(async () => {
    const res = await engine.get(`/v1/customers/${customer}`);
    const body = res.body as CustomerAnswer;
    return res.status === 200 && body.features['purchases_lifetime'] === purchases ? body : undefined;
  });
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
    BW_WATERMARK_MAX_JUMP_SECONDS: '0',
    BW_MODELS_DIR: modelsDir,
  });
});

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
});

describe('LR + boosted-trees fusion', () => {
  it('is picked up by hot reload and scores as the trees’ own evaluation, with reasons', async () => {
    await purchase('kai', 40);
    const first = await answerWith('kai', 1);
    expect(first.scores.churn!.model_version).toBe('fixture-1');
    expect(first.scores.churn!.probability).toBeCloseTo(fixtureChurn(0), 5);

    await writeFixtureFusion(modelsDir, 'fixture-2');
    await waitFor(
      async () =>
        (await info()).worker_status.every((w) => w.models['churn'] === 'fixture-2') ? true : undefined,
      20_000,
      'reload by file watch',
    );
    // Event clock: kai's purchases are the partition's only events, so now = the latest one.
    await purchase('kai', 5);
    const second = await answerWith('kai', 2);
    const churn = second.scores.churn!;
    expect(churn.model_version).toBe('fixture-2');
    expect(second.features['days_since_last_purchase']).toBe(0);
    expect(churn.probability).toBeCloseTo(fixtureFusionChurn(0), 5);
    // The only input: its reason is the fusion's attribution (logistic β·z + Saabas) of days = 0.
    const share = fusionContributions(FIXTURE_FUSION, [0])[0]!;
    expect(churn.reasons).toEqual([
      {
        feature: 'days_since_last_purchase',
        value: 0,
        direction: share >= 0 ? 'raises' : 'lowers',
        impact: Math.round(Math.abs(share) * 10000) / 100,
      },
    ]);
    expect(churn.reasons![0]!.impact).toBeGreaterThan(0);
  });

  it('keeps the tensor count flat switching between the layers model and the fusion', async () => {
    const baseline = (await info()).worker_status.map((w) => w.tensors);
    for (let i = 0; i < 20; i++) {
      await writeFile(path.join(modelsDir, 'churn', 'LIVE'), i % 2 === 0 ? 'fixture-1\n' : 'fixture-2\n');
      const res = await fetch(`${engine.httpUrl}/v1/models/reload`, { method: 'POST' });
      expect(res.status).toBe(200);
    }
    const after = await info();
    expect(after.worker_status.map((w) => w.tensors)).toEqual(baseline);
    expect(after.worker_status.every((w) => w.models['churn'] === 'fixture-2')).toBe(true);
  }, 120_000);
});
