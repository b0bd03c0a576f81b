/**
 * deploy/prometheus and deploy/grafana against a live engine (a cluster member on a real nats-server,
 * with the simulated feed, as in deploy/docker-compose.yml): every metric the dashboard's queries and the rules' expressions name is one
 * /metrics really exports; `promtool check metrics` finds nothing to lint in what it exports;
 * `promtool check rules` and `promtool test rules` pass; `promtool check config` accepts the
 * Prometheus configuration of deploy/docker-compose.yml. promtool is Debian's `prometheus` package
 * (.ci/run installs it when missing).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { type EngineProcess, startEngineProcess, waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';

const deploy = (...parts: string[]): string => path.join(PACKAGE_ROOT, 'deploy', ...parts);

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', input, cwd: deploy('prometheus') });
  if (run.error)
    throw new Error(
      `promtool is needed (Debian package prometheus; .ci/run installs it): ${run.error.message}`,
    );
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

/** Metric names a PromQL expression refers to: identifiers that start with bellwether_ or are `up`. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(bellwether_[a-z0-9_]+|up)\b(?!\s*\()/g)].map((m) => m[1]!);
}

/** The family a series name belongs to (histograms export _bucket, _sum and _count). */
const family = (name: string): string => name.replace(/_(bucket|sum|count)$/, '');

let nats: TestNats;
let engine: EngineProcess;
let metricsText = '';

beforeAll(async () => {
  // A NATS URL makes the engine a cluster member (its cluster series exist), as in deploy/docker-compose.yml.
  nats = await startNats(8);
  engine = await startEngineProcess({ BW_NATS_URL: nats.url, BW_PARTITIONS: '8' }, [
    '--simulate',
    '2000',
    '--clock',
    'event',
    '--rescore-seconds',
    '5',
    '--checkpoint-seconds',
    '5',
  ]);
  // Until events, segments, predictions and a checkpoint have shown up in the series.
  metricsText = await waitFor(
    async () => {
      await engine.get('/v1/customers?limit=1');
      const res = await engine.get('/metrics');
      return /bellwether_segment_customers\{segment="\w+"\} [1-9]/.test(res.text) &&
        /bellwether_checkpoint_age_seconds\{partition="\d+"\}/.test(res.text) &&
        /bellwether_http_request_duration_seconds_count\{method="GET",route="\/v1\/customers"/.test(res.text)
        ? res.text
        : undefined;
    },
    90_000,
    'segments, checkpoint ages and HTTP latency in /metrics',
  );
}, 120_000);

afterAll(async () => {
  if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
  await nats?.stop();
});

describe('deploy/prometheus and deploy/grafana against a live engine', () => {
  it('exports series a dashboard can use', () => {
    expect(metricsText).toMatch(/bellwether_model_info\{model="churn",version="\w+"\} 1\n/);
    // Route patterns, not URLs: no customer id becomes a label value.
    expect(metricsText).not.toMatch(/route="\/v1\/customers\/[^:]/);
  });

  it('names only metrics the engine exports, in the dashboard and the rules', async () => {
    const exported = new Set([...metricsText.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    exported.add('up'); // Prometheus's own series per target
    const dashboard = JSON.parse(
      await readFile(deploy('grafana', 'dashboards', 'bellwether.json'), 'utf8'),
    ) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { query: { query: string } }[] };
    };
    const exprs = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => v.query.query),
    ];
    const rules = await readFile(deploy('prometheus', 'rules.yml'), 'utf8');
    exprs.push(...[...rules.matchAll(/expr: (>\n(?:\s{10}.*\n)+|.*)/g)].map((m) => m[1]!));
    expect(exprs.length).toBeGreaterThan(30);
    const named = new Set(exprs.flatMap(metricNames).map(family));
    const missing = [...named].filter((name) => !exported.has(name));
    expect(missing).toEqual([]);
    // The dashboard covers what the issue lists.
    for (const name of [
      'bellwether_events_processed_total',
      'bellwether_events_rejected_total',
      'bellwether_consumer_pending',
      'bellwether_event_to_score_seconds',
      'bellwether_alerts_total',
      'bellwether_segment_customers',
      'bellwether_model_info',
      'bellwether_predictions_total',
      'bellwether_thread_cpu_seconds_total',
      'bellwether_thread_runqueue_seconds_total',
      'bellwether_http_request_duration_seconds',
      'bellwether_cluster_members',
      'bellwether_checkpoint_age_seconds',
    ])
      expect(named.has(name), name).toBe(true);
  });

  it('passes promtool check metrics with no lint findings', () => {
    const run = promtool(['check', 'metrics'], metricsText);
    expect(run.out.trim()).toBe('');
    expect(run.status).toBe(0);
  });

  it('passes promtool check rules and the rules unit tests', () => {
    const check = promtool(['check', 'rules', 'rules.yml']);
    expect(check.out).toContain('SUCCESS');
    expect(check.out).not.toMatch(/WARNING|FAILED/);
    expect(check.status).toBe(0);
    const test = promtool(['test', 'rules', 'rules.test.yml']);
    expect(test.out).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });

  it('accepts the Prometheus configuration of deploy/docker-compose.yml', async () => {
    // The container paths, pointed at this checkout's files.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-prom-'));
    try {
      const token = path.join(dir, 'token');
      await writeFile(token, 'bw_test');
      const config = (await readFile(deploy('prometheus', 'prometheus.yml'), 'utf8'))
        .replace('/etc/prometheus/rules.yml', deploy('prometheus', 'rules.yml'))
        .replace('/run/secrets/prometheus-token', token);
      await writeFile(path.join(dir, 'prometheus.yml'), config);
      const run = promtool(['check', 'config', path.join(dir, 'prometheus.yml')]);
      expect(run.out).toContain('SUCCESS');
      expect(run.status).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
