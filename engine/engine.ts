/**
 * The engine: NATS (embedded or external), the streams, security, the partition workers and the
 * {@link EngineView} the HTTP layer reads. It knows nothing of HTTP or of feeds: `cli/run.ts` wires
 * the API server and the simulated feed around it. `openEngine` resolves with NATS and the streams
 * ready; `startWorkers` starts the partitions (the caller brings HTTP up first so /healthz answers
 * during catch-up); `stop` shuts everything down in reverse order.
 */
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AggregatorRegistry, Registry } from 'prom-client';
import { BellwetherError } from '../contract/errors.js';
import { partitionOfCustomer } from '../contract/subjects.js';
import { connectNats } from '../lib/nats-connect.js';
import {
  describeNatsSettings,
  externalOnlySettings,
  type NatsConnectSettings,
  natsSettingsOf,
} from '../lib/nats-connect-options.js';
import { PACKAGE_VERSION } from '../lib/paths.js';
import { ShutdownSteps } from '../lib/shutdown-steps.js';
import { registerThreadTime } from '../lib/thread-time.js';
import { describeRegistry } from '../models/listing.js';
import { associationRules } from '../operators/analytics/association-rules.js';
import { type AttributionModel, attributionReport } from '../operators/analytics/attribution-report.js';
import { funnelReport } from '../operators/analytics/funnels.js';
import { EngineSecurity } from '../security/engine-security.js';
import { ProfilePolicy } from '../security/pii-policy.js';
import { createAlertsFeed } from './alerts-feed.js';
import { loadCleansingDefinition, watchCleansingFile } from './cleansing-file.js';
import { clusterJetStream, openKvBucket } from './cluster/buckets.js';
import { EngineMember } from './cluster/engine-member.js';
import { identityBucketSpec } from './cluster/identity-links.js';
import { startClvSchedule } from './clv-schedule.js';
import type { Config } from './config.js';
import { crmFilesOf, loadCrmDefinition } from './crm-files.js';
import { CustomerBudgetStore } from './customer-budget-store.js';
import { readCustomerEvents } from './customer-events.js';
import { prepareDataDir } from './data-dir.js';
import type { Logger } from './log.js';
import { registerMainMetrics } from './main-metrics.js';
import { watchModelDirs } from './model-dir-watch.js';
import { ModelMonitor } from './model-monitor.js';
import { reloadFromRegistry } from './model-reload-audit.js';
import { type EmbeddedNats, startEmbeddedNats } from './nats/embedded-server.js';
import { StreamWatch } from './nats/stream-watch.js';
import { ensureStreams, streamConfigs } from './nats/streams.js';
import type { GatherBody } from './pool/population.js';
import { mergeShadowCounts } from './pool/shadow-comparison.js';
import type { TestHooks, WorkerStatus } from './pool/thread-messages.js';
import { WorkerPool } from './pool/worker-pool.js';
import { RulesFile, ruleTriggers } from './rules-file.js';
import { securityMetrics } from './security-metrics.js';
import type { CustomerAnswer, EngineInfo, EngineView } from './view.js';

export interface OpenEngine {
  view: EngineView;
  natsUrl: string;
  /** How the engine connects (the embedded server: its `engine` user); the simulated feed uses it too. */
  natsSettings: NatsConnectSettings;
  security: EngineSecurity;
  /** Starts the partition workers, the model and CRM file watches. */
  startWorkers(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * How every connection of the engine reaches NATS. An external server (BW_NATS_URL, a server list):
 * the configured credentials and TLS (BW_NATS_CREDS, BW_NATS_USER/_PASSWORD,
 * BW_NATS_NKEY_SEED_FILE, BW_NATS_TLS_*). The embedded server: its `engine` user's seed file;
 * configured credentials are refused there (BW_ERR_NATS_SETTINGS).
 */
function engineNatsSettings(config: Config, natsUrl: string, embedded: EmbeddedNats | undefined) {
  const settings = natsSettingsOf(config, natsUrl);
  if (!embedded) return settings;
  const external = externalOnlySettings(settings);
  if (external.length > 0) {
    throw new BellwetherError(
      'BW_ERR_NATS_SETTINGS',
      `${external.join(', ')} set without BW_NATS_URL: they are for an external server (the embedded nats-server has its own generated users and no TLS)`,
    );
  }
  return { natsUrl, natsNkeySeedFile: embedded.seedFiles.engine };
}

/** The main thread's connection. */
async function connectMain(settings: NatsConnectSettings, log: Logger): Promise<NatsConnection> {
  const described = { component: 'nats', ...describeNatsSettings(settings) };
  try {
    const nc = await connectNats(settings, {
      name: 'bellwether-main',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    log.info(described, 'connected to NATS');
    return nc;
  } catch (err) {
    log.error({ ...described, err }, 'cannot connect to NATS');
    throw err;
  }
}

export interface EngineOptions {
  /** Test hooks: see TestHooks. */
  hooks?: TestHooks;
}

export async function openEngine(
  config: Config,
  log: Logger,
  options: EngineOptions = {},
): Promise<OpenEngine> {
  const cleanups = new ShutdownSteps(log);
  const cleanup = (): Promise<void> => cleanups.run();
  try {
    await prepareDataDir(config, log);
    // Tag, rule and funnel files are validated before anything starts.
    const crm = await loadCrmDefinition(crmFilesOf(config));
    log.info({ component: 'crm', source: crm.source }, 'crm configuration loaded');
    const cleansing = await loadCleansingDefinition(config.cleansingFile);
    log.info({ component: 'cleansing', source: cleansing.source }, 'cleansing rules loaded');
    let embedded: EmbeddedNats | undefined;
    let natsUrl = config.natsUrl;
    if (!natsUrl) {
      embedded = await startEmbeddedNats(
        { dir: path.join(config.dataDir, 'nats'), port: config.natsPort, partitions: config.partitions },
        log,
      );
      cleanups.push('nats-server', () => embedded!.stop());
      natsUrl = embedded.url;
    } else {
      log.warn(
        { component: 'nats', url: natsUrl },
        'external NATS: the server must map bw.events.*.* to bw.part.{{partition(N,2)}}.{{wildcard(1)}} (docs/nats.md; the earlier mapping with .{{wildcard(2)}} still works, slower)',
      );
    }
    const natsSettings = engineNatsSettings(config, natsUrl, embedded);
    const nc = await connectMain(natsSettings, log);
    cleanups.push('nats', () => nc.close());
    let natsConnected = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') natsConnected = false;
        else if (s.type === 'reconnect') natsConnected = true;
      }
    })();
    const streamOptions = {
      partitions: config.partitions,
      eventsMaxAgeDays: config.eventsMaxAgeDays,
      auditRetentionDays: config.auditRetentionDays,
      maxMb: config.streamsMaxMb,
      replicas: config.replicas,
    };
    const jsm = await jetstreamManager(nc);
    const eventsLayout = await ensureStreams(jsm, streamOptions);
    // The link table of identity resolution; the workers open it (engine/worker/identity.ts).
    await openKvBucket(clusterJetStream(nc), identityBucketSpec(config.replicas), log);
    const mainRegistry = new Registry();
    const metrics = securityMetrics(mainRegistry);
    const security = await EngineSecurity.start(config, nc, jetstream(nc), log, metrics.auditCopy);
    cleanups.push('security', () => security.close());
    // Its own streams, watched: one deleted or altered is recreated or set back, and alerted.
    if (config.streamCheckSeconds > 0) {
      const watch = new StreamWatch(
        jsm,
        jetstream(nc),
        streamConfigs(streamOptions, eventsLayout),
        { intervalMs: config.streamCheckSeconds * 1000, onRepair: metrics.streamRepaired },
        log,
      );
      watch.start();
      cleanups.push('stream-watch', () => watch.stop());
    }
    const alerts = createAlertsFeed(nc, log);
    cleanups.push('alerts feed', async () => alerts.close());

    let pool: WorkerPool | undefined;
    const leased = embedded === undefined;
    let member: EngineMember | undefined;
    const startedAt = new Date().toISOString();
    const workers = (): WorkerPool => {
      if (!pool) throw new BellwetherError('BW_ERR_WORKER_FAILED', 'workers are starting');
      return pool;
    };
    let first: WorkerStatus | undefined;

    registerMainMetrics(mainRegistry, () => pool);
    const monitor = new ModelMonitor({ config, nc, alerts, log, registry: mainRegistry, workers });
    // The customer budget of the last hour is read from NATS before the engine answers anything.
    const budgetStore = await CustomerBudgetStore.start(nc, security.customerBudget, {
      replicas: config.replicas,
      log,
      registry: mainRegistry,
    });
    cleanups.push('customer-budget', () => budgetStore.stop());
    // The main thread's times join the workers' series of the same names (thread-time.ts).
    const mainThreadRegistry = new Registry();
    registerThreadTime(mainThreadRegistry, 'main');
    const reload = async (): Promise<Record<string, string>[]> => {
      const versions = await workers().reload();
      log.info({ component: 'models', versions: versions[0] }, 'models reloaded');
      return versions;
    };
    const rulesFile = new RulesFile(config, crm, (next) => workers().reconfigureCrm(next), log);
    const eventsSource = {
      jsm,
      js: jetstream(nc),
      layout: eventsLayout,
      partitions: config.partitions,
      policy: new ProfilePolicy(config.profilePlainFields),
    };
    const view: EngineView = {
      // Any instance reads any partition's stream; "now" as the partition's features see it.
      customerEvents: async (id, limit) => {
        const partition = partitionOfCustomer(id, config.partitions);
        const read = await readCustomerEvents(eventsSource, id, partition, limit, Date.now());
        const status = pool?.owns(partition)
          ? (await pool.status()).flatMap((w) => w.partitions).find((p) => p.partition === partition)
          : undefined;
        const clock = config.clock === 'wall' ? Date.now() : Date.parse(status?.event_clock ?? '');
        return { ...read, partition, now: Number.isFinite(clock) ? clock : null };
      },
      crmRules: async () => rulesFile.listing(ruleTriggers(pool ? await pool.metrics() : [])),
      saveRule: (rule) => rulesFile.save(rule),
      deleteRule: (id) => rulesFile.remove(id),
      models: async () => {
        const statuses = await workers().status();
        return {
          models: await describeRegistry(config.modelsDir),
          loaded: statuses.map((s) => s.models),
          shadow_comparison: mergeShadowCounts(statuses.map((s) => s.shadow)),
        };
      },
      modelMonitor: (name) => monitor.view(name),
      // A reload asked over HTTP is cluster-wide: every instance loads the registry's versions.
      reloadModels: async () => {
        const versions = await reload();
        await member?.reloadOthers();
        return versions;
      },
      customer: async (id, opts) => {
        const partition = partitionOfCustomer(id, config.partitions);
        if (!member || workers().owns(partition)) return workers().customer(id, opts);
        return (await member.forwardCustomer(partition, id, opts ?? {})) as CustomerAnswer | null;
      },
      top: (min, limit, filter) => workers().population.top(min, limit, filter),
      segments: async () => ({ segments: await workers().population.segments() }),
      funnel: async (id) => {
        const counts = (await workers().population.funnels()).find((f) => f.id === id);
        return counts ? funnelReport(counts) : undefined;
      },
      paths: async (from, limit) => {
        const paths = await workers().population.paths();
        return {
          ...(from ? { transitions: paths.next(from) ?? { from, total: 0, next: [] } } : {}),
          top_paths_to_purchase: paths.topPathsToPurchase(limit),
        };
      },
      associationRules: async (level, query) =>
        associationRules(await workers().population.baskets(level), level, query),
      attribution: async (model) =>
        attributionReport(await workers().population.attribution(), model as AttributionModel),
      aggregate: (spec, deadline) => workers().population.aggregate(spec, deadline),
      daily: (spec) => workers().population.daily(spec),
      status: async () => (pool ? pool.status() : []),
      info: async (): Promise<EngineInfo> => ({
        name: 'bellwether',
        version: PACKAGE_VERSION,
        partitions: config.partitions,
        workers: pool?.size ?? 0,
        clock: config.clock,
        nats: { url: natsUrl, embedded: embedded !== undefined },
        tf_backend: first?.tf_backend ?? 'unknown',
        models: first?.models ?? {},
        thresholds: { churn: config.churnAlertThreshold, intent: config.intentAlertThreshold },
        cluster: member
          ? member.info()
          : {
              instance_id: config.instanceId,
              members: [{ instance_id: config.instanceId, started_at: startedAt, lease_seconds: 0 }],
              partitions: Object.fromEntries(
                Array.from({ length: config.partitions }, (_, p) => [String(p), config.instanceId]),
              ),
            },
      }),
      metricsText: async () => {
        const aggregated = AggregatorRegistry.aggregate<typeof mainRegistry.contentType>([
          ...(pool ? await pool.metrics() : []),
          await mainThreadRegistry.getMetricsAsJSON(),
        ]);
        return Registry.merge([mainRegistry, aggregated]).metrics();
      },
      metricsContentType: mainRegistry.contentType,
      natsConnected: () => natsConnected,
      partitionsAwaited: () => (member && pool ? member.awaited(pool) : 0),
      alerts,
    };

    const startWorkers = async (): Promise<void> => {
      const checkpointsDir = path.join(config.dataDir, 'checkpoints');
      const started = await WorkerPool.start(
        config,
        natsSettings,
        log,
        {
          crm: rulesFile.current,
          cleansing,
          pii: security.keyringData,
          eventsLayout,
          // With an external NATS the partitions are leased and their checkpoints kept in NATS, so
          // another instance can take them over; the embedded single node runs them all from files.
          ownership: leased ? 'leased' : 'static',
          checkpoints: leased
            ? { kind: 'nats', replicas: config.replicas, instanceId: config.instanceId, dir: checkpointsDir }
            : { kind: 'file', dir: checkpointsDir },
        },
        options.hooks,
      );
      pool = started;
      monitor.start(cleanups);
      security.watchKeyFile(config, (keyring) => started.rekey(keyring));
      cleanups.push('workers', () => started.stop());
      first = (await started.status())[0];
      if (leased) {
        const reads = {
          customer: (id: string, opts: { bulk?: boolean }) => {
            const partition = partitionOfCustomer(id, config.partitions);
            if (!started.owns(partition))
              throw new BellwetherError('BW_ERR_PARTITION_MOVING', `partition ${partition}`);
            return started.customer(id, opts);
          },
          gather: (body: { op: string }) => started.population.local(body as GatherBody),
          reload,
        };
        const joined = await EngineMember.start(
          nc,
          config,
          started,
          reads,
          log,
          mainRegistry,
          security.keyringData,
        );
        member = joined;
        started.population.setRemote((body) => joined.gatherOthers(body));
        started.rfmCuts.share((local) => joined.populationSketches(local));
        // Cleanups run in reverse: the partitions are handed off (checkpointed, leases released)
        // before the workers stop.
        cleanups.push('cluster', () => joined.stop());
      }

      // A new model version on disk is picked up without a restart (model-dir-watch.ts).
      const before = async () => (await workers().status())[0]?.models;
      const onModelsChange = () =>
        reloadFromRegistry(reload, security, log, before).catch((err: unknown) =>
          log.error({ component: 'models', err }, 'model reload failed'),
        );
      watchModelDirs(config.modelsDir, onModelsChange, log, cleanups);

      watchCleansingFile(config.cleansingFile, (next) => started.reconfigureCleansing(next), log, cleanups);
      await startClvSchedule({ nc, config, log, reload, cleanups, pool: started, leased });

      // Tag, rule and funnel files are reloaded on change; an invalid edit is logged and ignored.
      rulesFile.watch(cleanups);
    };
    return { view, natsUrl, natsSettings, security, startWorkers, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
