/**
 * Scores a batch of customer slots with both models and turns threshold crossings into alerts.
 * Used for the batch of customers touched by events (right after their events are folded) and for
 * the periodic rescore sweep (time passing raises churn risk of customers who stay silent).
 */
import type { ModelSet } from '../../models/model-set.js';
import type { ModelScorer } from '../../models/scorer.js';
import { lastEventAt } from '../../operators/features/recency.js';
import { emptyShadowCounts, type ShadowCounts } from '../pool/shadow-comparison.js';
import type { WorkerSettings } from '../pool/worker-settings.js';
import type { PartitionState } from '../state/partition-state.js';
import { type AlertBody, type AlertKind, alertId, crossing, riskOf } from './alerts.js';
import { counterChildren, type WorkerMetrics } from './metrics.js';

export type ScoreOrigin = 'event' | 'sweep';

/** Publishes one alert (subject `bw.alerts.<kind>`, `Nats-Msg-Id` = alert_id). */
export type AlertPublisher = (body: AlertBody) => Promise<unknown>;

export class BatchScorer {
  readonly models: ModelSet;
  readonly churn: ModelScorer;
  readonly intent: ModelScorer;
  readonly #config: WorkerSettings;
  readonly #metrics: WorkerMetrics;
  readonly #width: number;
  /**
   * Feature vectors of the last batch per feature view (index = view, FeatureTable.viewOf): view 0
   * (every event type) always, and the view of each model, which reads the features computed over
   * the event types it was trained on.
   */
  readonly #vectors: Float64Array[] = [];
  /** The views the models read, besides 0. */
  readonly #views: number[];
  #churnOut = new Float32Array(1024);
  #intentOut = new Float32Array(1024);
  #shadowOut = new Float32Array(1024);
  readonly #alertCount: ReturnType<typeof counterChildren>;
  /** The shadow comparison of each model with a challenger, since these models were loaded. */
  readonly #shadowCounts: Partial<Record<AlertKind, ShadowCounts>> = {};

  constructor(models: ModelSet, width: number, config: WorkerSettings, metrics: WorkerMetrics) {
    this.models = models;
    this.churn = models.churn;
    this.intent = models.intent;
    this.#width = width;
    this.#config = config;
    this.#metrics = metrics;
    this.#alertCount = counterChildren(metrics.alerts);
    const scorers = [models.churn, models.intent, models.shadow.churn, models.shadow.intent];
    this.#views = [...new Set(scorers.flatMap((m) => (m && m.view > 0 ? [m.view] : [])))];
    for (const v of [0, ...this.#views]) this.#vectors[v] = new Float64Array(0);
    for (const kind of ['churn', 'intent'] as const) {
      const candidate = models.shadow[kind];
      if (candidate)
        this.#shadowCounts[kind] = emptyShadowCounts(kind, models[kind].version, candidate.version);
    }
  }

  /** The shadow comparisons counted so far (copies). */
  shadowCounts(): ShadowCounts[] {
    return Object.values(this.#shadowCounts).map((c) => ({ ...c }));
  }

  /**
   * The feature vectors (over every event type) of the last `score` call, row i at i × width
   * (valid until the next call): what tags and rules read.
   */
  get features(): Float64Array {
    return this.#vectors[0]!;
  }

  /** The vectors model `model` reads: its view's. */
  #vectorsOf(model: ModelScorer): Float64Array {
    return this.#vectors[model.view]!;
  }

  /**
   * Scores `n` slots (`states[i]` owns `slots[i]`), stores the scores, and appends the publishes of
   * the alerts that fire to `publishes`. `replayUntil` (event origin only) is the stream sequence at
   * or below which alerts were already published by a previous run.
   */
  score(
    states: readonly PartitionState[],
    slots: Int32Array,
    n: number,
    origin: ScoreOrigin,
    publish: AlertPublisher,
    publishes: Promise<unknown>[],
    replayUntil: (partition: number) => number,
  ): void {
    if (n === 0) return;
    const width = this.#width;
    const vectors = this.#vectors;
    if (vectors[0]!.length < n * width) {
      const size = Math.max(n * width, vectors[0]!.length * 2);
      for (const v of [0, ...this.#views]) vectors[v] = new Float64Array(size);
    }
    if (this.#churnOut.length < n) {
      this.#churnOut = new Float32Array(n * 2);
      this.#intentOut = new Float32Array(n * 2);
      this.#shadowOut = new Float32Array(n * 2);
    }
    const features = vectors[0]!;
    for (let i = 0; i < n; i++) {
      const state = states[i]!;
      const now = state.now(this.#config.clock);
      state.table.features(slots[i]!, now, features, i * width);
      for (const v of this.#views) state.table.features(slots[i]!, now, vectors[v]!, i * width, v);
    }
    this.churn.score(this.#vectorsOf(this.churn), width, n, this.#churnOut);
    this.intent.score(this.#vectorsOf(this.intent), width, n, this.#intentOut);
    const scoredAt = Date.now();
    for (let i = 0; i < n; i++) {
      const state = states[i]!;
      const slot = slots[i]!;
      const churn = this.#churnOut[i]!;
      const intent = this.#intentOut[i]!;
      state.churn.data[slot] = churn;
      state.intent.data[slot] = intent;
      state.scoredAt.data[slot] = scoredAt;
      const suppressed = origin === 'event' && state.lastSeq.data[slot]! <= replayUntil(state.partition);
      const c = this.#alert('churn', state, slot, churn, i * width, scoredAt, suppressed);
      if (c) publishes.push(publish(c));
      const p = this.#alert('intent', state, slot, intent, i * width, scoredAt, suppressed);
      if (p) publishes.push(publish(p));
    }
    this.#metrics.predictions.labels('churn').inc(n);
    this.#metrics.predictions.labels('intent').inc(n);
    this.#shadow('churn', this.models.shadow.churn, this.#churnOut, n);
    this.#shadow('intent', this.models.shadow.intent, this.#intentOut, n);
  }

  /** Scores the batch with a shadow candidate and records how far it is from the live model. */
  #shadow(kind: AlertKind, candidate: ModelScorer | undefined, live: Float32Array, n: number): void {
    if (!candidate) return;
    candidate.score(this.#vectorsOf(candidate), this.#width, n, this.#shadowOut);
    const threshold = kind === 'churn' ? this.#config.churnAlertThreshold : this.#config.intentAlertThreshold;
    const diff = this.#metrics.shadowDiff.labels(kind, candidate.version);
    const counts = this.#shadowCounts[kind]!;
    let above = 0;
    for (let i = 0; i < n; i++) {
      const s = this.#shadowOut[i]!;
      if (Number.isNaN(s)) continue;
      const shadowRisk = riskOf(s);
      diff.observe(Math.abs(shadowRisk - riskOf(live[i]!)));
      if (shadowRisk >= threshold) above++;
      if (Number.isNaN(live[i]!)) continue;
      const liveRisk = riskOf(live[i]!);
      counts.scored++;
      counts.risk_diff_sum += Math.abs(shadowRisk - liveRisk);
      if (liveRisk >= threshold) counts.live_alerting++;
      if (shadowRisk >= threshold) counts.shadow_alerting++;
      if (liveRisk >= threshold && shadowRisk >= threshold) counts.both_alerting++;
    }
    this.#metrics.shadowPredictions.labels(kind, candidate.version).inc(n);
    this.#metrics.shadowAboveThreshold.labels(kind, candidate.version).inc(above);
  }

  #alert(
    kind: AlertKind,
    state: PartitionState,
    slot: number,
    probability: number,
    offset: number,
    scoredAt: number,
    suppressed: boolean,
  ): AlertBody | undefined {
    if (Number.isNaN(probability)) return undefined; // outside the model's population: no score
    const armedCol = kind === 'churn' ? state.churnArmed.data : state.intentArmed.data;
    const riskCol = kind === 'churn' ? state.churnRisk.data : state.intentRisk.data;
    const threshold = kind === 'churn' ? this.#config.churnAlertThreshold : this.#config.intentAlertThreshold;
    const model = kind === 'churn' ? this.churn : this.intent;
    const risk = riskOf(probability);
    const previous = riskCol[slot]!;
    riskCol[slot] = risk;
    const [fire, armedAfter] = crossing(armedCol[slot] === 1, risk, threshold);
    armedCol[slot] = armedAfter ? 1 : 0;
    if (!fire) return undefined;
    // The customer's n-th crossing names the alert: the same after a crash and a replay whatever
    // the batch boundaries (a suppressed replay of an already published crossing counts too).
    const crossings = kind === 'churn' ? state.churnCrossings.data : state.intentCrossings.data;
    const n = ++crossings[slot]!;
    if (suppressed) return undefined;
    this.#alertCount(kind).inc();
    const customerId = state.table.idOf(slot);
    const id = alertId(kind, customerId, n);
    return {
      alert_id: id,
      crossing: n,
      kind,
      customer_id: customerId,
      risk,
      previous_risk: previous === 255 ? null : previous,
      threshold,
      model_version: model.version,
      event_time: new Date(lastEventAt(state.table.store, slot)).toISOString(),
      emitted_at: new Date(scoredAt).toISOString(),
      reasons: model.explain(this.#vectorsOf(model), offset, probability),
    };
  }
}
