/**
 * Train and serve see the same thing, one version everywhere, promote and shadow, on a real engine
 * with nats-server and the shipped Online Retail models (trained on purchases and refunds only):
 *
 * - customers who browse, add to carts and open emails between purchases get from the live worker
 *   the scores the offline rows (models/train/dataset.ts over the model's event types) give, not
 *   those of features counting every event type;
 * - `bellwether models shadow` runs a challenger beside the live model, compared in /v1/models;
 * - `bellwether models promote` switches the running engine to a new folder version whose
 *   features.json says another version: the folder's name is the version in /v1/models, answers,
 *   metrics, logs and the audit log;
 * - a version without semantics is refused by promote and, forced in by hand, by the engine.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { distPath, PACKAGE_ROOT } from '../../lib/paths.js';
import type { FeatureSpec } from '../../models/feature-spec.js';
import { loadModelDir } from '../../models/model-files.js';
import { ModelScorer } from '../../models/scorer.js';
import { loadTf, type Tf } from '../../models/tf-backend.js';
import { buildDataset, type DatasetEvent } from '../../models/train/dataset.js';
import { FeatureTable } from '../../operators/features/feature-table.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';
import { publishCore, type TestEvent } from '../support/publish.js';

const NOW = Date.UTC(2011, 10, 1);
const CUSTOMERS = ['mia', 'noah', 'olga'];
let nats: TestNats;
let nc: NatsConnection;
let engine: EngineProcess;
let modelsDir: string;
let tf: Tf;
const events: DatasetEvent[] = [];

function cli(args: string[]) {
  return spawnSync(
    process.execPath,
    [distPath('cli', 'main.js'), 'models', ...args, '--models-dir', modelsDir],
    {
      env: { PATH: process.env['PATH'] ?? '' },
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
}

/** Purchases, refunds and a lot of browsing over 60 days; six page views in the last six hours. */
function history(): DatasetEvent[] {
  const out: DatasetEvent[] = [];
  let seed = 5;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const browsing = ['page_view', 'add_to_cart', 'session_start', 'email_open', 'search', 'page_view'];
  CUSTOMERS.forEach((id, c) => {
    for (let i = 0; i < 4 + 3 * c; i++)
      out.push({
        customer_id: id,
        type: 'purchase',
        ts: NOW - (2 + i * 9 + c) * DAY_MS,
        amount: 12.5 + 7 * i,
      });
    out.push({ customer_id: id, type: 'refund', ts: NOW - (5 + c) * DAY_MS - HOUR_MS, amount: 9.99 });
    for (let i = 0; i < 40; i++)
      out.push({
        customer_id: id,
        type: browsing[Math.floor(rand() * browsing.length)]!,
        ts: NOW - Math.floor((1 + rand() * 59) * DAY_MS),
        amount: 0,
      });
    for (let h = 1; h <= 6; h++)
      out.push({ customer_id: id, type: 'page_view', ts: NOW - h * HOUR_MS - c, amount: 0 });
  });
  return out.sort((a, b) => a.ts - b.ts);
}

const asTest = (e: DatasetEvent, i: number): TestEvent => ({
  event_id: `s-${i}`,
  customer_id: e.customer_id,
  type: e.type,
  ts: new Date(e.ts).toISOString(),
  ...(e.type === 'purchase' || e.type === 'refund' ? { amount: e.amount } : {}),
});

async function answer(id: string): Promise<CustomerAnswer | undefined> {
  const res = await engine.get(`/v1/customers/${id}`);
  return res.status === 200 ? (res.body as CustomerAnswer) : undefined;
}

async function workerModels(): Promise<Record<string, string>[]> {
  return (
    (await engine.get('/v1/info')).body as { worker_status: { models: Record<string, string> }[] }
  ).worker_status.map((w) => w.models);
}

interface Listing {
  models: {
    name: string;
    live: string | null;
    shadow: string | null;
    versions: { version: string; card: Record<string, unknown> }[];
  }[];
  loaded: Record<string, string>[];
  shadow_comparison: {
    model: string;
    live: string;
    shadow: string;
    scored: number;
    mean_abs_risk_diff: number | null;
    alert_agreement: number | null;
  }[];
}

beforeAll(async () => {
  tf = (await loadTf('wasm')).tf;
  modelsDir = await mkdtemp(path.join(tmpdir(), 'bw-semantics-models-'));
  for (const [name, version] of [
    ['churn', '2'],
    ['intent', '3'],
  ])
    await cp(path.join(PACKAGE_ROOT, 'models', name!, version!), path.join(modelsDir, name!, version!), {
      recursive: true,
    });
  nats = await startNats(1);
  nc = await connect({ servers: nats.url });
  engine = await startEngineProcess({
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: '1',
    BW_WORKERS: '1',
    BW_CLOCK: 'event',
    BW_WATERMARK_MAX_JUMP_SECONDS: '0',
    BW_RESCORE_SECONDS: '1',
    BW_MODELS_DIR: modelsDir,
  });
  events.push(...history());
  // The last event, someone else's, sets the partition's clock (its "now") to NOW.
  await publishCore(nc, [
    ...events.map(asTest),
    asTest({ customer_id: 'zz-clock', type: 'login', ts: NOW, amount: 0 }, 9999),
  ]);
}, 120_000);

afterAll(async () => {
  await engine?.stop('SIGKILL');
  await nc?.close();
  await nats?.stop();
  if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
});

describe('train and serve see the same features', () => {
  it('scores each customer as the offline rows over the trained event types do, not as every event would', async () => {
    await waitFor(answer.bind(null, 'zz-clock'), 30_000, 'the clock event');
    const folded = Date.now();
    const live = new Map<string, CustomerAnswer>();
    for (const id of CUSTOMERS)
      live.set(
        id,
        await waitFor(
          async () => {
            const a = await answer(id);
            return a?.scores.churn && Date.parse(a.scores.churn.scored_at) > folded + 1000 ? a : undefined;
          },
          30_000,
          `${id} rescored at the clock`,
        ),
      );
    for (const [name, version, score] of [
      ['churn', '2', 'churn'],
      ['intent', '3', 'purchase_intent'],
    ] as const) {
      const loaded = await loadModelDir(tf, path.join(modelsDir, name, version));
      const spec: FeatureSpec = loaded.spec;
      expect(spec.semantics?.event_types).toEqual(['purchase', 'refund']);
      const table = new FeatureTable(undefined, undefined, undefined, [spec.semantics!.event_types]);
      const scorer = new ModelScorer(tf, loaded, table);
      const offline = buildDataset(events, [NOW], { eventTypes: spec.semantics!.event_types });
      const everything = buildDataset(events, [NOW]);
      const width = table.names.length;
      for (const id of CUSTOMERS) {
        const row = offline.find((r) => r.customer_id === id)!;
        const full = everything.find((r) => r.customer_id === id)!;
        const out = new Float32Array(2);
        scorer.score(Float64Array.from([...row.features, ...full.features]), width, 2, out);
        const got = live.get(id)!.scores[score]!;
        expect(got.model_version).toBe(version);
        // The answer's probability is rounded to 1e-6.
        expect(Math.abs(got.probability - out[0]!)).toBeLessThanOrEqual(1e-6);
        // Features counting every event type would have given another score.
        expect(Math.abs(got.probability - out[1]!)).toBeGreaterThan(1e-4);
        // Each reason shows the value the model read: the offline row's, not the answer's full feature.
        for (const reason of got.reasons ?? [])
          expect(reason.value).toBe(row.features[table.names.indexOf(reason.feature)]);
        const at = table.names.indexOf('events_24h');
        expect(row.features[at]).toBe(0);
        expect(live.get(id)!.features['events_24h']).toBe(6);
      }
      scorer.dispose();
    }
  }, 90_000);
});

describe('shadow, promote and one version', () => {
  it('runs a challenger in shadow beside the live model, compared in /v1/models', async () => {
    // Version 7 is churn 2's files under another folder; its features.json and card say version 1.
    // Pinned first: a new highest folder would otherwise go live by itself.
    await writeFile(path.join(modelsDir, 'churn', 'LIVE'), '2\n');
    const seven = path.join(modelsDir, 'churn', '7');
    await cp(path.join(modelsDir, 'churn', '2'), seven, { recursive: true });
    for (const file of ['features.json', 'card.json']) {
      const json = JSON.parse(await readFile(path.join(seven, file), 'utf8')) as Record<string, unknown>;
      await writeFile(path.join(seven, file), JSON.stringify({ ...json, version: '1' }));
    }
    const shadow = cli(['shadow', 'churn', '7']);
    expect(shadow.stderr).toBe('');
    expect(shadow.stdout).toBe('churn: shadow 7 beside live 2\n');
    expect(shadow.status).toBe(0);
    await waitFor(
      async () => ((await workerModels()).every((m) => m['churn_shadow'] === '7') ? true : undefined),
      20_000,
      'shadow loaded',
    );
    const listing = await waitFor(async () => {
      const body = (await engine.get('/v1/models')).body as Listing;
      return (body.shadow_comparison[0]?.scored ?? 0) >= CUSTOMERS.length ? body : undefined;
    });
    expect(listing.models.find((m) => m.name === 'churn')).toMatchObject({ live: '2', shadow: '7' });
    const comparison = listing.shadow_comparison[0]!;
    expect(comparison).toMatchObject({
      model: 'churn',
      live: '2',
      shadow: '7',
      mean_abs_risk_diff: 0,
      alert_agreement: 1,
    });
  }, 60_000);

  it('promotes the challenger: the running engine switches, and the folder name is the version everywhere', async () => {
    const promoted = cli(['promote', 'churn', '7']);
    expect(promoted.stdout).toBe('churn: live 7 (was 2), shadow cleared\n');
    expect(promoted.status).toBe(0);
    expect((await readFile(path.join(modelsDir, 'churn', 'LIVE'), 'utf8')).trim()).toBe('7');
    await waitFor(
      async () => {
        const models = await workerModels();
        return models.every((m) => m['churn'] === '7' && m['churn_shadow'] === undefined) ? true : undefined;
      },
      20_000,
      'promoted version loaded',
    );
    const listing = (await engine.get('/v1/models')).body as Listing;
    const churn = listing.models.find((m) => m.name === 'churn')!;
    expect(churn).toMatchObject({ live: '7', shadow: null });
    expect(churn.versions.find((v) => v.version === '7')!.card['version']).toBe('7');
    expect(listing.loaded).toEqual([{ churn: '7', intent: '3' }]);
    expect(listing.shadow_comparison).toEqual([]);
    const rescored = await waitFor(async () => {
      const a = await answer('mia');
      return a?.scores.churn?.model_version === '7' ? a : undefined;
    });
    expect(rescored.scores.purchase_intent!.model_version).toBe('3');
    const metrics = (await engine.get('/metrics')).text;
    expect(metrics).toMatch(/bellwether_model_info\{model="churn",version="7"\} 1/);
    expect(metrics).not.toMatch(/bellwether_model_info\{model="churn",version="(1|2)"\}/);
    expect(engine.logs.some((l) => l.includes('"models reloaded"') && l.includes('"churn":"7"'))).toBe(true);
    const audit = await waitFor(async () => {
      const text = await readFile(path.join(engine.dataDir, 'audit', 'audit.ndjson'), 'utf8').catch(() => '');
      return text.includes('churn=7') ? text : undefined;
    });
    const record = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => String(r['detail']).includes('churn=7'))!;
    expect(record).toMatchObject({ actor: 'registry', outcome: 'ok' });
    expect(record['detail']).toContain('(were churn=2, churn_shadow=7');
  }, 60_000);

  it('refuses a version without semantics: promote says what is missing, and the engine keeps the live one', async () => {
    const eight = path.join(modelsDir, 'churn', '8');
    await cp(path.join(modelsDir, 'churn', '2'), eight, { recursive: true });
    const spec = JSON.parse(await readFile(path.join(eight, 'features.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    delete spec['semantics'];
    await writeFile(path.join(eight, 'features.json'), JSON.stringify(spec));
    const refused = cli(['promote', 'churn', '8']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('BW_ERR_MODEL_SEMANTICS');
    expect(refused.stderr).toContain('model churn version 8: features.json records no semantics');
    // Forced in by hand: the reload fails, the engine keeps 7, and the audit log says why.
    await writeFile(path.join(modelsDir, 'churn', 'LIVE'), '8\n');
    const audit = await waitFor(async () => {
      const text = await readFile(path.join(engine.dataDir, 'audit', 'audit.ndjson'), 'utf8').catch(() => '');
      return text.includes('BW_ERR_MODEL_SEMANTICS') ? text : undefined;
    }, 20_000);
    expect(audit).toContain('model reload from the registry failed (BW_ERR_MODEL_SEMANTICS)');
    expect(await workerModels()).toEqual([{ churn: '7', intent: '3' }]);
  }, 60_000);
});
