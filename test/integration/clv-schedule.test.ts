/**
 * The engine's scheduled CLV fit (BW_CLV_FIT_HOURS) and the serving of a degenerate fit: the engine
 * starts with the shipped Online Retail parameters (degenerate: no drop-out) and serves no p_alive
 * or CLV, saying why; the schedule then fits the live stream's own history (a population simulated
 * with drop-out), writes the next version, reloads, and the answers carry its predictions. Two
 * instances with their own models directories: the owner of partition 0 fits, the other copies the
 * fit from the KV bucket BW_CLV_PARAMS and reloads.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { clvFitStatus, type FitToJudge } from '../../models/clv/fit-status.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { writeFixtureModels } from '../support/fixture-models.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { publishCore, type TestEvent } from '../support/publish.js';
import { betaVariate, gammaVariate, mulberry32 } from '../unit/clv-simulate.js';

const PARTITIONS = 4;
const WEEK_MS = 7 * DAY_MS;
const PII_KEY = `test:${randomBytes(32).toString('hex')}`;
const END = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;

let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let other: EngineProcess;
let modelsDir: string;
let otherDir: string;

/**
 * 500 customers from BG/NBD r = 0.6, α = 3 weeks, a = 1, b = 3 (mean drop-out 0.25) over 52 weeks,
 * spend from Gamma-Gamma p = 2, q = 4, v = 30.
 */
function population(): TestEvent[] {
  const random = mulberry32(2026);
  const events: TestEvent[] = [];
  const start = END - 52 * WEEK_MS;
  for (let c = 0; c < 500; c++) {
    const lambda = gammaVariate(random, 0.6) / 3;
    const p = betaVariate(random, 1, 3);
    // Spend per purchase Gamma(2, ν), ν ~ Gamma(4, 30): the Gamma-Gamma model's population.
    const nu = gammaVariate(random, 4) / 30;
    let t = 20 * random();
    let k = 0;
    const buy = () =>
      events.push({
        event_id: `sim-${c}-${k++}`,
        customer_id: `sim${c}`,
        type: 'purchase',
        ts: new Date(start + Math.round(t * WEEK_MS)).toISOString(),
        amount: Math.max(0.01, Math.round((gammaVariate(random, 2) / nu) * 100) / 100),
        currency: 'EUR',
      });
    buy();
    for (;;) {
      t += -Math.log(1 - random()) / lambda;
      if (t >= 52) break;
      buy();
      if (random() < p) break;
    }
  }
  return events;
}

async function answer(id: string): Promise<CustomerAnswer | undefined> {
  const res = await engine.get(`/v1/customers/${id}`);
  return res.status === 200 ? (res.body as CustomerAnswer) : undefined;
}

beforeAll(async () => {
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  const withShipped = async (dir: string) => {
    await mkdir(path.join(dir, 'clv-params'));
    await copyFile(
      path.join(PACKAGE_ROOT, 'models', 'clv-params', '1.json'),
      path.join(dir, 'clv-params', '1.json'),
    );
    return dir;
  };
  modelsDir = await withShipped(await writeFixtureModels());
  otherDir = await withShipped(await writeFixtureModels());
  const start = (id: string, dir: string) =>
    startEngineProcess({
      BW_NATS_URL: nats.url,
      BW_PARTITIONS: String(PARTITIONS),
      BW_WORKERS: '1',
      BW_INSTANCE_ID: id,
      // The instances of a cluster share their PII keys.
      BW_PII_KEY: PII_KEY,
      BW_LEASE_SECONDS: '10',
      BW_MODELS_DIR: dir,
      // 18 s: the first answers come from the shipped parameters, then the stream's own fit.
      BW_CLV_FIT_HOURS: '0.005',
    });
  engine = await start('clv-a', modelsDir);
  other = await start('clv-b', otherDir);
  await publishCore(nc, population());
});

afterAll(async () => {
  const codes = await Promise.all([engine?.stop('SIGTERM'), other?.stop('SIGTERM')]);
  expect(codes).toEqual([0, 0]);
  await nc?.close();
  await nats?.stop();
});

describe('CLV served live', () => {
  it('serves no p_alive or CLV from a degenerate fit, and says why', async () => {
    const a = await waitFor(async () => {
      const got = await answer('sim1');
      return got && got.features['purchases_lifetime']! > 0 ? got : undefined;
    });
    expect(a.scores.clv_version).toBe('1');
    expect(a.scores.clv_status).toMatch(
      /^degenerate_fit: no_dropout \(mean drop-out probability a\/\(a \+ b\) = 0\.00059 < 0\.001\)/,
    );
    expect(a.scores.p_alive).toBeNull();
    expect(a.scores.expected_purchases_90d).toBeNull();
    expect(a.scores.clv_365d).toBeNull();
  });

  it('refits on the stream history on schedule, writes the next version and serves it', async () => {
    // Either instance may own partition 0; both directories end up with the same version 2.
    const read = async (dir: string) => readFile(path.join(dir, 'clv-params', '2.json'), 'utf8');
    const [text, otherText] = await waitFor(
      async () => [await read(modelsDir), await read(otherDir)] as const,
      90_000,
      'the scheduled fit in both models directories',
    );
    expect(otherText).toBe(text);
    const record = JSON.parse(text) as FitToJudge & Record<string, unknown>;
    expect(record).toMatchObject({
      version: '2',
      customers: 500,
      data: { source: 'stream', events: expect.any(Number) },
    });
    expect(record['status']).toBe('ok');
    expect(clvFitStatus(record)).toBe('ok');
    const a = await waitFor(async () => {
      const got = await answer('sim1');
      return got?.scores.clv_version !== '1' ? got : undefined;
    }, 60_000);
    expect(Number(a!.scores.clv_version)).toBeGreaterThanOrEqual(2);
    expect(a!.scores.clv_status).toBe('ok');
    expect(a!.scores.p_alive).toBeGreaterThan(0);
    expect(a!.scores.p_alive).toBeLessThanOrEqual(1);
    expect(a!.scores.clv_365d).toBeGreaterThanOrEqual(0);
    const logs = [...engine.logs, ...other.logs];
    expect(logs.some((l) => l.includes('clv parameters refitted'))).toBe(true);
    expect(logs.some((l) => l.includes('clv parameters copied from the cluster'))).toBe(true);
    // Both instances' workers run version 2 or later.
    for (const e of [engine, other]) {
      const loaded = await waitFor(async () => {
        const { body } = await e.get('/v1/models');
        const versions = (body as { loaded: { clv?: string }[] }).loaded.map((m) => Number(m.clv));
        return versions.every((v) => v >= 2) ? versions : undefined;
      }, 30_000);
      expect(loaded.length).toBeGreaterThan(0);
    }
  });
});
