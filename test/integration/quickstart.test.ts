/**
 * The quickstart as a new user runs it: embedded nats-server started by the engine, the simulated
 * feed on, and after a short while scored customers over HTTP and churn alerts on bw.alerts.churn.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distPath, PACKAGE_ROOT } from '../../lib/paths.js';
import { freePort, portOpen } from '../../lib/ports.js';
import {
  connectEmbedded,
  type EngineProcess,
  startEngineProcess,
  waitFor,
} from '../support/engine-process.js';
import { readStream } from '../support/publish.js';

let engine: EngineProcess;
let natsPort: number;

beforeAll(async () => {
  natsPort = await freePort();
  // Exactly the flags of `npm start`, read from package.json.
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const args = pkg.scripts.start.split('main.js run ')[1]!.split(' ');
  expect(args).toContain('--embedded');
  engine = await startEngineProcess({ BW_NATS_PORT: String(natsPort) }, args);
});

afterAll(async () => {
  if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
});

describe('quickstart', () => {
  it('scores simulated customers and raises churn alerts within a minute', async () => {
    const list = await waitFor(
      async () => {
        const res = await engine.get('/v1/customers?min_churn_risk=0&limit=5');
        const body = res.body as {
          count: number;
          customers: { scores: { churn: { risk: number } | null } }[];
        };
        return body.count === 5 && body.customers.every((c) => c.scores.churn !== null) ? body : undefined;
      },
      30_000,
      'five scored customers',
    );
    expect(list.customers).toHaveLength(5);

    const nc = await connectEmbedded(engine.dataDir, natsPort);
    try {
      const alerts = await waitFor(
        async () => {
          const msgs = await readStream(nc, 'BW_ALERTS');
          const churn = msgs.filter((m) => m.subject === 'bw.alerts.churn');
          return churn.length > 0 ? churn : undefined;
        },
        60_000,
        'a churn alert',
      );
      const alert = alerts[0]!.json<{ risk: number; kind: string }>();
      expect(alert.kind).toBe('churn');
      expect(alert.risk).toBeGreaterThanOrEqual(80);
      // Malformed events, and the injected outliers and near-duplicates the cleansing caught (the
      // first alert can come before any of them).
      const dlq = await waitFor(
        async () => {
          const msgs = await readStream(nc, 'BW_DLQ');
          const subjects = new Set(msgs.map((m) => m.subject));
          const malformed = subjects.has('bw.dlq.not_json') || subjects.has('bw.dlq.missing_field');
          return malformed && subjects.has('bw.dlq.outlier') && subjects.has('bw.dlq.near_duplicate')
            ? msgs
            : undefined;
        },
        60_000,
        'a malformed event, an outlier and a near-duplicate dead-lettered',
      );
      expect(dlq.length).toBeGreaterThan(2);
    } finally {
      await nc.close();
    }
    const metrics = await engine.get('/metrics');
    expect(metrics.text).toMatch(/bellwether_events_processed_total\{type="purchase"\} [1-9]/);
    expect(metrics.text).toMatch(
      /bellwether_events_cleansed_total\{rule="missing_channel",action="repaired"\} [1-9]/,
    );
    expect(metrics.text).toMatch(
      /bellwether_events_cleansed_total\{rule="outlier_amount",action="quarantined"\} [1-9]/,
    );
  });

  it('mines the simulated orders into the planted rules and recommends a category', async () => {
    const rules = await waitFor(
      async () => {
        const res = await engine.get('/v1/association-rules?min_support=0.001&min_confidence=0.3&limit=1000');
        const body = res.body as {
          baskets: number;
          rules: { antecedent: string; consequent: string; lift: number }[];
        };
        const found = body.rules.some((r) => r.antecedent === 'baby' && r.consequent === 'diapers');
        return found ? body : undefined;
      },
      60_000,
      'the rule baby → diapers',
    );
    const rule = rules.rules.find((r) => r.antecedent === 'baby' && r.consequent === 'diapers');
    expect(rule?.lift).toBeGreaterThan(1);
    const customer = (await engine.get('/v1/customers?limit=1')).body as {
      customers: { customer_id: string }[];
    };
    const recs = await engine.get(`/v1/customers/${customer.customers[0]!.customer_id}/recommendations`);
    expect(recs.status).toBe(200);
    expect(typeof (recs.body as { next_best_category: unknown }).next_best_category).toBe('string');
  });

  it('shows anonymous browsing that merges into the customers who sign up', async () => {
    // Newcomers browse under a device id, then sign up with both ids (feeds/simulator-identity.ts).
    const metric = (text: string, name: string): number =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    const text = await waitFor(
      async () => {
        const body = (await engine.get('/metrics')).text;
        return metric(body, 'bellwether_identity_merges_total') > 0 ? body : undefined;
      },
      90_000,
      'a merged anonymous history',
    );
    expect(metric(text, 'bellwether_identity_links_total')).toBeGreaterThan(0);
    expect(metric(text, 'bellwether_identity_merge_seconds_count')).toBeGreaterThan(0);
  }, 120_000);

  it('without API keys serves loopback Host names only (no DNS rebinding) and shows masked personal data', async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(`${engine.httpUrl}/v1/info`);
        http
          .get({ hostname: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
    expect(await status('evil.example:8080')).toBe(403);
    expect(await status(`localhost:${new URL(engine.httpUrl).port}`)).toBe(200);
    const list = (await engine.get('/v1/customers?limit=20')).body as {
      customers: { customer_id: string }[];
    };
    const answers = await Promise.all(
      list.customers.map((c) => engine.get(`/v1/customers/${c.customer_id}`)),
    );
    const phones = answers
      .map((a) => (a.body as { pii?: { phone?: string } }).pii?.phone)
      .filter((p): p is string => p !== undefined);
    expect(phones.length).toBeGreaterThan(0);
    for (const phone of phones) expect(phone).toMatch(/^\d{3}\*{4}\d{4}$/);
  });

  it('fits CLV on the stream history of the embedded server as its engine user (clv fit --from-stream)', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'bw-clv-'));
    try {
      const res = spawnSync(
        process.execPath,
        [distPath('cli', 'main.js'), 'clv', 'fit', '--from-stream', '--out', out, '--json'],
        {
          env: {
            PATH: process.env['PATH'] ?? '',
            BW_DATA_DIR: engine.dataDir,
            BW_NATS_PORT: String(natsPort),
          },
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(res.status, res.stderr).toBe(0);
      const fit = JSON.parse(res.stdout) as { customers: number; status: string; written: string };
      expect(fit.customers).toBeGreaterThan(0);
      expect(fit.status).toMatch(/^(ok|degenerate_fit: .+)$/);
      expect(fit.written).toBe(path.join(out, '1.json'));
      expect(res.stderr).toMatch(/clv: BW_EVENTS_0: \d+ messages/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('stops on SIGTERM with exit code 0 and takes its nats-server down with it', async () => {
    expect(await portOpen(natsPort)).toBe(true);
    const code = await engine.stop('SIGTERM');
    expect(code).toBe(0);
    expect(await portOpen(natsPort)).toBe(false);
  });
});
