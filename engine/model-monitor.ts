/**
 * The main thread's model monitor (docs/models.md, "Monitoring"): answers
 * `GET /v1/models/:name/monitor` from every partition's snapshots (gathered over the workers and,
 * in a cluster, the other instances: pool/population.ts), and every BW_MONITOR_CHECK_SECONDS sets
 * `bellwether_model_realized_auc{model,version}` and `bellwether_feature_drift_psi{model,feature}`
 * and publishes each breach once on `bw.alerts.model`.
 *
 * Exactly-once effect: a breach's alert id is a hash of (breach, model, version, cutoff), sent as
 * `Nats-Msg-Id` through the effect publisher, so the alerts stream drops a repeat within its
 * duplicate window (one hour), whichever instance sends it; the ids already in the stream are read
 * back at start and never sent again, so a restart after the window does not repeat them either.
 */
import { hash } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Gauge, type Registry } from 'prom-client';
import { BellwetherError } from '../contract/errors.js';
import { MODEL_ALERTS_SUBJECT } from '../contract/subjects.js';
import type { ShutdownSteps } from '../lib/shutdown-steps.js';
import { MODEL_NAMES } from '../models/registry.js';
import type { AlertsView } from './alerts-feed.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { EffectPublisher } from './nats/effect-publisher.js';
import { type ModelMonitorView, type MonitorBreach, MonitorMerge } from './pool/monitor-merge.js';
import type { MonitorReport } from './state/partition-monitor.js';

/** Alerts read back from the stream at start to learn which breaches were already published. */
const PUBLISHED_SCAN = 10_000;

/** The body published on `bw.alerts.model`. */
export interface ModelAlertBody extends MonitorBreach {
  alert_id: string;
  kind: 'model';
  emitted_at: string;
}

function modelAlertId(b: Pick<MonitorBreach, 'breach' | 'model' | 'version' | 'cutoff'>): string {
  return hash('sha256', `model\n${b.breach}\n${b.model}\n${b.version}\n${b.cutoff}`, 'hex').slice(0, 32);
}

export interface ModelMonitorDeps {
  config: Pick<
    Config,
    | 'partitions'
    | 'monitorEpoch'
    | 'monitorSnapshotDays'
    | 'monitorPsiThreshold'
    | 'monitorEceThreshold'
    | 'monitorCheckSeconds'
  >;
  nc: NatsConnection;
  alerts: AlertsView;
  registry: Registry;
  log: Logger;
  /** The workers: every partition's monitor state is gathered through them (PopulationReads.monitor). */
  workers(): { population: { monitor(): Promise<MonitorReport[]> } };
}

export class ModelMonitor {
  readonly #deps: ModelMonitorDeps;
  readonly #effects: EffectPublisher;
  readonly #auc: Gauge<'model' | 'version'>;
  readonly #psi: Gauge<'model' | 'feature'>;
  #published: Set<string> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(deps: ModelMonitorDeps) {
    // The pattern admits 2011-13-45; the workers anchor the cutoffs on it, so it must read as a date.
    if (Number.isNaN(Date.parse(`${deps.config.monitorEpoch}T00:00:00Z`)))
      throw new BellwetherError(
        'BW_ERR_CONFIG_INVALID',
        `BW_MONITOR_EPOCH ${deps.config.monitorEpoch} is not a date`,
      );
    this.#deps = deps;
    const js = jetstream(deps.nc);
    this.#effects = new EffectPublisher(
      () => deps.nc,
      () => js,
    );
    this.#auc = new Gauge({
      name: 'bellwether_model_realized_auc',
      help: 'ROC AUC of the newest labelled monitor snapshot of a model version: its scores at the cutoff against the labels the stream gave after it',
      labelNames: ['model', 'version'],
      registers: [deps.registry],
    });
    this.#psi = new Gauge({
      name: 'bellwether_feature_drift_psi',
      help: "Population stability index of a model input at the newest snapshot every partition has passed, against the training distribution in the live version's card",
      labelNames: ['model', 'feature'],
      registers: [deps.registry],
    });
  }

  /** The route's answer; BW_ERR_MODEL_NOT_FOUND for a model the engine does not run. */
  async view(model: string): Promise<ModelMonitorView> {
    if (!(MODEL_NAMES as readonly string[]).includes(model))
      throw new BellwetherError(
        'BW_ERR_MODEL_NOT_FOUND',
        `model ${model}: the monitored models are ${MODEL_NAMES.join(', ')}`,
      );
    const merge = new MonitorMerge(
      await this.#deps.workers().population.monitor(),
      this.#deps.config.partitions,
    );
    return merge.view(model, this.#deps.config.monitorSnapshotDays);
  }

  /** Checks every BW_MONITOR_CHECK_SECONDS (0: never) from now on, until the engine's shutdown steps stop it. */
  start(steps: Pick<ShutdownSteps, 'push'>): void {
    const seconds = this.#deps.config.monitorCheckSeconds;
    if (!(seconds > 0)) return;
    this.#timer = setInterval(() => void this.check(), seconds * 1000);
    this.#timer.unref();
    steps.push('model monitor', async () => clearInterval(this.#timer));
  }

  /** Gathers, sets the gauges and publishes new breaches; resolves with the breaches published. */
  async check(): Promise<ModelAlertBody[]> {
    if (this.#running) return [];
    this.#running = true;
    const { config, log } = this.#deps;
    try {
      const merge = new MonitorMerge(await this.#deps.workers().population.monitor(), config.partitions);
      const complete = Number.isFinite(merge.completeUntil)
        ? new Date(merge.completeUntil).toISOString().slice(0, 10)
        : '';
      for (const model of merge.models())
        this.#gauges(merge.view(model, config.monitorSnapshotDays), complete);
      const published = await this.#alreadyPublished();
      const sent: ModelAlertBody[] = [];
      for (const breach of merge.breaches(config.monitorPsiThreshold, config.monitorEceThreshold)) {
        const alertId = modelAlertId(breach);
        if (published.has(alertId)) continue;
        const body: ModelAlertBody = {
          alert_id: alertId,
          kind: 'model',
          ...breach,
          emitted_at: new Date().toISOString(),
        };
        const stored = this.#effects.publish(MODEL_ALERTS_SUBJECT, JSON.stringify(body), alertId);
        this.#effects.commit();
        await stored;
        published.add(alertId);
        sent.push(body);
        log.warn(
          {
            component: 'model-monitor',
            breach: breach.breach,
            model: breach.model,
            version: breach.version,
            cutoff: breach.cutoff,
          },
          'model monitor breach published',
        );
      }
      return sent;
    } catch (err) {
      log.warn({ component: 'model-monitor', err }, 'model monitor check failed');
      return [];
    } finally {
      this.#running = false;
    }
  }

  /** Alert ids of `bw.alerts.model` already in the stream (read once), then kept up to date here. */
  async #alreadyPublished(): Promise<Set<string>> {
    if (this.#published) return this.#published;
    const ids = new Set<string>();
    for (const r of await this.#deps.alerts.recent('model', PUBLISHED_SCAN)) {
      const id = (r.body as { alert_id?: unknown } | null)?.alert_id;
      if (typeof id === 'string') ids.add(id);
    }
    this.#published = ids;
    return ids;
  }

  /** Sets the gauges from a model's answer; drift at the newest window at or before `complete` (YYYY-MM-DD). */
  #gauges(view: ModelMonitorView, complete: string): void {
    for (const v of view.versions) {
      const labelled = v.snapshots.filter((s) => s.roc_auc !== null).at(-1);
      if (labelled?.roc_auc != null) this.#auc.labels(view.model, v.version).set(labelled.roc_auc);
    }
    const live = view.versions[0];
    if (!live || live.drift.length === 0) return;
    const newest = live.drift.reduce(
      (w, d) => (d.window_end > w && d.window_end <= complete ? d.window_end : w),
      '',
    );
    for (const d of live.drift)
      if (d.window_end === newest && d.psi !== null) this.#psi.labels(view.model, d.feature).set(d.psi);
  }
}
