/**
 * The worker's side of the model monitor (docs/models.md, "Monitoring"): in EVENT time, when a
 * partition's watermark reaches a snapshot cutoff (BW_MONITOR_EPOCH + k × BW_MONITOR_SNAPSHOT_DAYS),
 * the live churn and intent models score the partition's population at now = cutoff, before the
 * first event at or past the cutoff is folded, exactly as `bellwether eval` builds its rows
 * (models/train/dataset.ts: customers with a purchase before the cutoff, features from the events
 * before it); the drift counts of each model input are taken from the same rows. When a model's
 * label horizon has passed, the labels are read from the partition's own state
 * (partition-monitor.ts). Called from the hot path only when the watermark reaches `nextDue`.
 */
import { DAY_MS } from '../../contract/time.js';
import { transformValue } from '../../models/feature-spec.js';
import type { ReferenceBins } from '../../models/monitor-metrics.js';
import { referenceBin } from '../../models/monitor-metrics.js';
import type { ModelScorer } from '../../models/scorer.js';
import { CHURN_DAYS, INTENT_DAYS } from '../../models/train/dataset.js';
import type { MonitorEntry, MonitorReport } from '../state/partition-monitor.js';
import { entryToJSON } from '../state/partition-monitor.js';
import type { PartitionState } from '../state/partition-state.js';
import type { BatchScorer } from './batch-scorer.js';
import type { PartitionFeed, WorkerContext } from './context.js';

/** Rows scored at a time while a snapshot is taken. */
const CHUNK = 512;
/** Cutoffs snapshotted at most in one step of the watermark (a leap over months takes the last ones). */
const MAX_CATCH_UP = 16;

/** A model's label horizon in days: from its label name (`churn_90d`), else the dataset defaults. */
function horizonDays(model: ModelScorer): number {
  const m = /_(\d+)d$/.exec(model.spec.label);
  if (m) return Number(m[1]);
  return model.name === 'churn' ? CHURN_DAYS : INTENT_DAYS;
}

/** FNV-1a of a customer id: the order of the uniform sample beyond BW_MONITOR_SAMPLE. */
function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class WorkerMonitor {
  readonly #ctx: WorkerContext;
  readonly #scorer: () => BatchScorer;
  readonly #stepMs: number;
  readonly #epochMs: number;
  readonly #cap: number;
  #rows = new Float64Array(0);
  readonly #out = new Float32Array(CHUNK);

  constructor(ctx: WorkerContext, scorer: () => BatchScorer) {
    this.#ctx = ctx;
    this.#scorer = scorer;
    this.#stepMs = ctx.config.monitorSnapshotDays * DAY_MS;
    this.#epochMs = Date.parse(`${ctx.config.monitorEpoch}T00:00:00Z`);
    this.#cap = ctx.config.monitorSample;
  }

  /** The latest cutoff at or before `t`. */
  cutoffAtOrBefore(t: number): number {
    return this.#epochMs + Math.floor((t - this.#epochMs) / this.#stepMs) * this.#stepMs;
  }

  /**
   * Labels what came due and snapshots the cutoffs reached, at the partition's watermark (the
   * event being handled is not folded yet). Never throws: a failure is logged and the partition
   * goes on (bad input never stops the engine).
   */
  advance(state: PartitionState): void {
    const m = state.monitor;
    const now = state.watermark;
    try {
      if (!Number.isFinite(m.lastCutoff)) m.lastCutoff = this.cutoffAtOrBefore(now);
      const lastPurchase = state.table.store.column({
        name: 'recency.last_purchase',
        kind: 'f64',
        width: 1,
        initial: Number.NaN,
      }).data;
      const bought = (id: string, cutoff: number): boolean => {
        const slot = state.table.slotOf(id);
        return slot !== undefined && lastPurchase[slot]! >= cutoff;
      };
      m.label(now, bought);
      const last = this.cutoffAtOrBefore(now);
      let c = Math.max(m.lastCutoff + this.#stepMs, last - (MAX_CATCH_UP - 1) * this.#stepMs);
      for (; c <= now; c += this.#stepMs) {
        this.#snapshot(state, c);
        m.lastCutoff = c;
      }
      m.label(now, bought);
      m.trim();
    } catch (err) {
      this.#ctx.log.error({ partition: state.partition, err }, 'model monitor step failed');
      m.lastCutoff = Math.max(m.lastCutoff, this.cutoffAtOrBefore(now));
    }
    m.nextDue = Math.min(m.lastCutoff + this.#stepMs, m.nextLabelDue());
  }

  #snapshot(state: PartitionState, cutoff: number): void {
    const table = state.table;
    const purchases = table.store.column({ name: 'lifetime.purchases', kind: 'u32', width: 1 }).data;
    let slots: number[] = [];
    for (let s = 0; s < table.size; s++) if (purchases[s]! >= 1) slots.push(s);
    if (slots.length > this.#cap) {
      const hashes = new Map(slots.map((s) => [s, idHash(table.idOf(s))]));
      slots = slots
        .sort((a, b) => hashes.get(a)! - hashes.get(b)!)
        .slice(0, this.#cap)
        .sort((a, b) => a - b);
    }
    const n = slots.length;
    if (n === 0) return;
    const ids = slots.map((s) => table.idOf(s));
    const scorer = this.#scorer();
    const models = [scorer.churn, scorer.intent];
    const width = table.names.length;
    if (this.#rows.length < CHUNK * width) this.#rows = new Float64Array(CHUNK * width);
    const rows = this.#rows;
    const kept = models.map((model) => ({
      model,
      scores: new Float32Array(n),
      ...this.#driftPlan(model, table.names),
    }));
    for (let from = 0; from < n; from += CHUNK) {
      const k = Math.min(CHUNK, n - from);
      for (const plan of kept) {
        // Each model reads the features over the event types it was trained on (its feature view).
        for (let i = 0; i < k; i++)
          table.features(slots[from + i]!, cutoff, rows, i * width, plan.model.view);
        plan.model.score(rows, width, k, this.#out);
        for (let i = 0; i < k; i++) {
          const p = this.#out[i]!;
          plan.scores[from + i] = p;
          if (Number.isNaN(p)) continue;
          for (const d of plan.drift) {
            const v = Math.fround(transformValue(d.input, rows[i * width + d.at]!));
            d.counts[referenceBin(d.bins.edges, v)]!++;
          }
        }
      }
    }
    const m = state.monitor;
    const open = { cutoff, ids, models: [] as { entry: MonitorEntry; scores: Float32Array }[] };
    for (const plan of kept) {
      let scored = 0;
      for (const p of plan.scores) if (!Number.isNaN(p)) scored++;
      if (scored === 0) continue;
      const entry: MonitorEntry = {
        model: plan.model.name,
        version: plan.model.version,
        cutoff,
        horizonDays: horizonDays(plan.model),
        scored,
        drift: plan.drift.map((d) => ({
          feature: d.input.name,
          counts: d.counts,
          fractions: d.bins.fractions,
        })),
        hist: null,
      };
      m.entries.push(entry);
      open.models.push({ entry, scores: plan.scores });
    }
    if (open.models.length > 0) m.open.push(open);
    this.#ctx.log.debug(
      { partition: state.partition, cutoff: new Date(cutoff).toISOString(), customers: n },
      'model monitor snapshot',
    );
  }

  /** The inputs of `model` that its card gives a reference distribution for, with empty counts. */
  #driftPlan(model: ModelScorer, names: readonly string[]) {
    const reference = model.card?.['reference_distribution'] as Record<string, ReferenceBins> | undefined;
    const drift = model.spec.inputs.flatMap((input) => {
      const bins = reference?.[input.name];
      const at = names.indexOf(input.name);
      if (!bins || at < 0) return [];
      return [{ input, at, bins, counts: new Array<number>(bins.fractions.length).fill(0) }];
    });
    return { drift };
  }

  /** The monitor state of the worker's partitions, for the main thread's gather. */
  report(feeds: Iterable<PartitionFeed>): MonitorReport {
    const out: MonitorReport = { partitions: [], entries: [] };
    for (const feed of feeds) {
      const m = feed.state.monitor;
      out.partitions.push({
        partition: feed.state.partition,
        last_cutoff: Number.isFinite(m.lastCutoff) ? m.lastCutoff : null,
      });
      for (const e of m.entries) out.entries.push(entryToJSON(e));
    }
    return out;
  }
}
