/**
 * The HTTP API without an engine: `buildServer` (api/server.ts) over a fake EngineView that answers
 * from tables the test fills, with a real EngineSecurity (keyring, API keys of every role, export
 * budget, the hash-chained audit log on disk in a temporary directory). What the security layer
 * would publish on NATS (audit copies, security alerts) is recorded instead of sent.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { vi } from 'vitest';
import { buildServer } from '../../api/server.js';
import { BellwetherError } from '../../contract/errors.js';
import { MonitorMerge } from '../../engine/pool/monitor-merge.js';
import type { MonitorReport } from '../../engine/state/partition-monitor.js';
import type {
  AggregateAnswer,
  AggregateSpec,
  AlertRecord,
  AlertsView,
  CustomerAnswer,
  CustomerSummary,
  DailyGroup,
  DailySpec,
  EngineInfo,
  EngineView,
  ModelListing,
  ModelMonitorView,
  RuleDefinition,
  RulesListing,
  StoredCustomerEvent,
  WorkerStatus,
} from '../../engine/view.js';
import type { AssociationRules, RuleQuery } from '../../operators/analytics/association-rules.js';
import type { BasketLevel } from '../../operators/analytics/basket-stats.js';
import type { AuditRecord } from '../../security/audit-log.js';
import { EngineSecurity, type SecuritySettings } from '../../security/engine-security.js';
import { strongApiKey, strongPiiKey } from './test-keys.js';

const KEYS = {
  viewer: strongApiKey('viewer-key'),
  analyst: strongApiKey('analyst-key'),
  admin: strongApiKey('admin-key'),
  service: strongApiKey('service-key'),
} as const;
export type TestRole = keyof typeof KEYS;

export const auth = (role: TestRole): { authorization: string } => ({
  authorization: `Bearer ${KEYS[role]}`,
});

/** Alice's personal fields, sealed into her answer with the harness's key. */
export const ALICE_PII = { name: '张三丰', phone: '13812345678', email: 'zhang.san@example.com' };

const PII_KEY = strongPiiKey('k1');
const SCORED_AT = '2026-12-01T10:00:00.000Z';

function score(probability: number, version: string) {
  return { probability, risk: Math.round(probability * 100), model_version: version, scored_at: SCORED_AT };
}

/** A customer's answer as a worker gives it (scores, features, CRM state), without personal fields. */
export function customerAnswer(
  id: string,
  churn: number,
  opts: { segment?: string; tags?: string[]; partition?: number } = {},
): CustomerAnswer {
  return {
    customer_id: id,
    partition: opts.partition ?? 0,
    segment: opts.segment ?? 'regular',
    rfm: { r: 3, f: 2, m: 4 },
    tags: opts.tags ?? [],
    features: { purchases_30d: 2, spend_90d: 125.5, days_since_last_purchase: null },
    scores: {
      churn: score(churn, 'churn-v3'),
      purchase_intent: score(1 - churn, 'intent-v2'),
      p_alive: 0.8,
      expected_purchases_90d: 1.7,
      clv_365d: 310.25,
      clv_version: 'clv-v1',
      clv_status: 'ok',
    },
    last_event_at: '2026-11-30T08:15:00.000Z',
    recommendations: {
      next_best_category: 'filters',
      tag: 'likely_to_buy:filters',
      categories: [{ category: 'filters', score: 0.75 }],
      skus: [{ sku: 'FIL-1', category: 'filters', baskets: 3 }],
      recent: [{ category: 'coffee', weight: 5 }],
      just_bought: ['coffee'],
      baskets: 4,
    },
    identities: [],
  };
}

export function summaryOf(answer: CustomerAnswer): CustomerSummary {
  return {
    customer_id: answer.customer_id,
    segment: answer.segment,
    tags: answer.tags,
    scores: { churn: answer.scores.churn, purchase_intent: answer.scores.purchase_intent },
    last_event_at: answer.last_event_at,
  };
}

/**
 * An EngineView over tables: `customers` answers `customer` and (riskiest first, filtered) `top`;
 * the rest return what the test put there. Every call is recorded; `failure` makes every call
 * but `natsConnected` throw it.
 */
export class FakeEngineView implements EngineView {
  readonly customers = new Map<string, CustomerAnswer>();
  readonly calls: { method: string; args: unknown[] }[] = [];
  // The shapes the engine answers (taken from a running engine's answers).
  segmentsReport: unknown = {
    segments: [
      { segment: 'core', customers: 2, share: 0.5, avg_spend_90d: 210, avg_churn_risk: 12 },
      { segment: 'new', customers: 2, share: 0.5, avg_spend_90d: 0, avg_churn_risk: null },
    ],
  };
  funnels: Record<string, unknown> = {
    checkout: {
      id: 'checkout',
      steps: [
        { type: 'page_view', entered: 10 },
        { type: 'purchase', entered: 3 },
      ],
      conversion: 0.3,
      drop_off: [{ from: 'page_view', to: 'purchase', dropped: 7, rate: 0.7 }],
    },
  };
  pathsReport: unknown = {
    top_paths_to_purchase: [{ path: ['page_view', 'add_to_cart'], count: 7, error: 0, share: 1 }],
  };
  attributionReport: unknown = {
    model: 'last_touch',
    lookback_days: 30,
    half_life_days: 7,
    channels: [{ channel: 'email', conversions: 3.5, revenue: 120.5, share: 1 }],
    attributed: { conversions: 3.5, revenue: 120.5 },
    unattributed: { conversions: 1, revenue: 10 },
  };
  rules: AssociationRules = {
    level: 'category',
    baskets: 5,
    exact: true,
    rules: [
      { antecedent: 'coffee', consequent: 'filters', count: 3, support: 0.6, confidence: 0.75, lift: 1.25 },
    ],
  };
  listing: ModelListing = {
    models: [
      {
        name: 'churn',
        live: 'churn-v3',
        shadow: null,
        versions: [{ version: 'churn-v3', card: { roc_auc: 0.81 } }],
      },
    ],
    loaded: [{ churn: 'churn-v3', intent: 'intent-v2' }],
    shadow_comparison: [],
  };
  reloaded: Record<string, string>[] = [{ churn: 'churn-v4', intent: 'intent-v2' }];
  statuses: WorkerStatus[] = [
    {
      index: 0,
      tf_backend: 'wasm',
      models: { churn: 'churn-v3' },
      shadow: [],
      tensors: 12,
      partitions: [partitionStatus(1, 5), partitionStatus(0, 2)],
    },
  ];
  engineInfo: EngineInfo = {
    name: 'bellwether',
    version: '0.1.0',
    partitions: 2,
    workers: 1,
    clock: 'event',
    nats: { url: 'nats://127.0.0.1:4222', embedded: true },
    tf_backend: 'wasm',
    models: { churn: 'churn-v3', intent: 'intent-v2' },
    thresholds: { churn: 0.7, intent: 0.6 },
    cluster: {
      instance_id: 'engine-a',
      members: [{ instance_id: 'engine-a', started_at: '2026-12-07T00:00:00.000Z', lease_seconds: 10 }],
      partitions: { '0': 'engine-a', '1': 'engine-a' },
    },
  };
  metrics =
    '# HELP bellwether_events_total Events\n# TYPE bellwether_events_total counter\nbellwether_events_total{type="purchase"} 42\n';
  readonly metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';
  natsUp = true;
  failure: Error | undefined;
  /** What `alerts.recent` answers from (oldest first); `emitAlert` reaches `alerts.watch` listeners. */
  recentAlerts: AlertRecord[] = [];
  readonly #alertListeners = new Set<(record: AlertRecord) => void>();
  readonly alerts: AlertsView = {
    recent: async (kind, limit) => {
      this.#call('alerts.recent', kind, limit);
      return this.recentAlerts.filter((a) => kind === undefined || a.kind === kind).slice(-limit);
    },
    watch: (listener) => {
      this.#call('alerts.watch');
      this.#alertListeners.add(listener);
      return () => this.#alertListeners.delete(listener);
    },
  };

  emitAlert(record: AlertRecord): void {
    for (const listener of this.#alertListeners) listener(record);
  }

  get alertListeners(): number {
    return this.#alertListeners.size;
  }

  #call(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failure) throw this.failure;
  }

  callsOf(method: string): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  async segments(): Promise<unknown> {
    this.#call('segments');
    return this.segmentsReport;
  }
  async funnel(id: string): Promise<unknown | undefined> {
    this.#call('funnel', id);
    return this.funnels[id];
  }
  async paths(from: string | undefined, limit: number): Promise<unknown> {
    this.#call('paths', from, limit);
    return this.pathsReport;
  }
  async attribution(model: string): Promise<unknown> {
    this.#call('attribution', model);
    return this.attributionReport;
  }
  aggregateAnswer: AggregateAnswer = {
    groups: [{ key: { segment: 'core' }, count: 2, 'avg:spend_90d': 105.25 }],
    customers: 2,
  };
  dailyAnswer: { groups: DailyGroup[]; dropped: number } = {
    groups: [{ key: { day: '2026-10-01' }, events: 3, customers: 2, amount: 42.5 }],
    dropped: 0,
  };
  async aggregate(spec: AggregateSpec, deadline: number): Promise<AggregateAnswer> {
    this.#call('aggregate', spec, deadline);
    return this.aggregateAnswer;
  }
  async daily(spec: DailySpec): Promise<{ groups: DailyGroup[]; dropped: number }> {
    this.#call('daily', spec);
    return this.dailyAnswer;
  }
  async associationRules(level: BasketLevel, query: RuleQuery): Promise<AssociationRules> {
    this.#call('associationRules', level, query);
    return { ...this.rules, level };
  }
  /** Stored events by customer, newest first (what `customerEvents` answers from); `eventsNow` its "now". */
  readonly storedEvents = new Map<string, StoredCustomerEvent[]>();
  eventsNow: number | null = Date.parse('2026-12-01T12:00:00.000Z');
  async customerEvents(id: string, limit: number) {
    this.#call('customerEvents', id, limit);
    const events = (this.storedEvents.get(id) ?? []).slice(0, limit);
    return { events, scanned: events.length, complete: true, partition: 0, now: this.eventsNow };
  }
  /** The rules "file": what `saveRule` and `deleteRule` change and `crmRules` lists. */
  rulesFile: RuleDefinition[] = [
    { id: 'big_order', on: 'purchase', when: 'spend_7d > 200', action: { channel: 'sms' } },
  ];
  async crmRules(): Promise<RulesListing> {
    this.#call('crmRules');
    return {
      file: '/tmp/rules.yaml',
      rules: this.rulesFile.map((r) => ({
        ...r,
        kind: r.on === undefined ? 'condition' : 'event',
        triggers: 3,
      })),
      tags: [{ id: 'vip', kind: 'value', when: 'spend_90d > 1000' }],
    };
  }
  async saveRule(rule: RuleDefinition): Promise<void> {
    this.#call('saveRule', rule);
    this.rulesFile = [...this.rulesFile.filter((r) => r.id !== rule.id), rule];
  }
  async deleteRule(id: string): Promise<void> {
    this.#call('deleteRule', id);
    if (!this.rulesFile.some((r) => r.id === id))
      throw new BellwetherError('BW_ERR_RULE_NOT_FOUND', `no rule '${id}' in /tmp/rules.yaml`);
    this.rulesFile = this.rulesFile.filter((r) => r.id !== id);
  }
  async models(): Promise<ModelListing> {
    this.#call('models');
    return this.listing;
  }
  /** What the fake's workers answer to the model monitor's gather (one partition). */
  monitorReports: MonitorReport[] = [];
  async modelMonitor(name: string): Promise<ModelMonitorView> {
    this.#call('modelMonitor', name);
    if (name !== 'churn' && name !== 'intent')
      throw new BellwetherError('BW_ERR_MODEL_NOT_FOUND', `model ${name}`);
    return new MonitorMerge(this.monitorReports, 1).view(name, 7);
  }
  async reloadModels(): Promise<Record<string, string>[]> {
    this.#call('reloadModels');
    return this.reloaded;
  }
  async customer(id: string, opts?: { bulk?: boolean }): Promise<CustomerAnswer | null> {
    this.#call('customer', id, opts);
    return this.customers.get(id) ?? null;
  }
  async top(
    minChurnRisk: number,
    limit: number,
    filter: { tag?: string | undefined; segment?: string | undefined },
  ): Promise<CustomerSummary[]> {
    this.#call('top', minChurnRisk, limit, filter);
    return [...this.customers.values()]
      .filter((a) => (a.scores.churn?.risk ?? 0) >= minChurnRisk)
      .filter((a) => filter.tag === undefined || a.tags.includes(filter.tag))
      .filter((a) => filter.segment === undefined || a.segment === filter.segment)
      .sort((a, b) => (b.scores.churn?.risk ?? 0) - (a.scores.churn?.risk ?? 0))
      .slice(0, limit)
      .map(summaryOf);
  }
  async status(): Promise<WorkerStatus[]> {
    this.#call('status');
    return this.statuses;
  }
  async info(): Promise<EngineInfo> {
    this.#call('info');
    return this.engineInfo;
  }
  async metricsText(): Promise<string> {
    this.#call('metricsText');
    return this.metrics;
  }
  natsConnected(): boolean {
    return this.natsUp;
  }
  awaited = 0;
  partitionsAwaited(): number {
    return this.awaited;
  }
}

export function partitionStatus(partition: number, pending: number) {
  return {
    partition,
    attached: true,
    caught_up: true,
    pending,
    ack_pending: 0,
    customers: 3,
    last_sequence: 100 + partition,
    watermark: '2026-11-30T08:15:00.000Z',
    event_clock: '2026-11-30T08:15:00.000Z',
  };
}

export interface ApiHarness {
  app: FastifyInstance;
  view: FakeEngineView;
  security: EngineSecurity;
  /** What the security layer published: subject and payload. */
  published: { subject: string; data: string }[];
  /** Puts a customer in the view; `pii` is sealed into the answer as a worker seals it. */
  addCustomer(answer: CustomerAnswer, pii?: Record<string, string>): CustomerAnswer;
  /** Listens on a loopback port (once) and gives its base URL: for what only a real socket shows. */
  url(): Promise<string>;
  /** The audit log's records so far (waits until at least `atLeast` are on disk). */
  auditRecords(atLeast?: number): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** API keys of every role (default); false: no keys, every loopback caller is `local` admin. */
  apiKeys?: boolean;
  exportLimit?: number;
  rateLimit?: number;
  metricsPublic?: boolean;
}

export async function startApi(opts: HarnessOptions = {}): Promise<ApiHarness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-api-'));
  const auditFile = path.join(dir, 'audit', 'audit.ndjson');
  const settings: SecuritySettings = {
    dataDir: dir,
    piiCipher: 'aes-256-gcm',
    piiKey: PII_KEY,
    apiKeys:
      opts.apiKeys === false
        ? undefined
        : Object.entries(KEYS)
            .map(([role, key]) => `${key}:${role}:${role}-key`)
            .join(','),
    metricsPublic: opts.metricsPublic ?? false,
    exportLimit: opts.exportLimit ?? 1000,
    auditFile,
    auditFlushMs: 0,
    auditMaxMb: 64,
  };
  const published: { subject: string; data: string }[] = [];
  // The security layer calls these three methods of its NATS handles, nothing else (the audit copy
  // and the alerts go through `js.publish`).
  const nc = {
    isClosed: () => false,
    publish: (subject: string, data: string) => void published.push({ subject, data }),
  };
  const js = {
    publish: async (subject: string, data: string) => {
      published.push({ subject, data });
      return { stream: 'BW_ALERTS', seq: published.length, duplicate: false };
    },
  };
  const security = await EngineSecurity.start(
    settings,
    nc as unknown as NatsConnection,
    js as unknown as JetStreamClient,
    pino({ level: 'silent' }),
  );
  const view = new FakeEngineView();
  const app = await buildServer(view, { logger: false, security, rateLimit: opts.rateLimit ?? 0 });
  await app.ready();
  let listening: Promise<string> | undefined;
  return {
    app,
    view,
    security,
    published,
    addCustomer(answer, pii) {
      const stored = pii
        ? { ...answer, sealed_pii: security.sealer.sealRecord(answer.customer_id, pii) }
        : answer;
      view.customers.set(answer.customer_id, stored);
      return stored;
    },
    url() {
      listening ??= app.listen({ port: 0, host: '127.0.0.1' });
      return listening;
    },
    async auditRecords(atLeast = 0) {
      let records: AuditRecord[] = [];
      await vi.waitFor(
        async () => {
          security.audit.flush();
          const text = await readFile(auditFile, 'utf8');
          records = text
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as AuditRecord);
          if (records.length < atLeast)
            throw new Error(`${records.length} audit records, waiting for ${atLeast}`);
        },
        { timeout: 2000, interval: 5 },
      );
      return records;
    },
    async close() {
      await app.close();
      await security.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
