/**
 * A partition's model-monitor state (docs/models.md, "Monitoring"), kept beside its other state and
 * checkpointed with it (`extra.monitor`), so a restart or a takeover resumes it without losing or
 * counting anything twice.
 *
 * At each snapshot cutoff the live models' scores of the partition's population (customers with a
 * purchase before the cutoff, features at now = cutoff) are kept per customer (an id reference and a
 * float32 score per model) with the drift counts of each model input. Once the label horizon of a
 * model has passed in event time, each kept customer's label is read from the stream's own state
 * (last purchase at or after the cutoff) and the scores are folded into a fixed-size labelled
 * histogram (models/monitor-metrics.ts); the per-customer scores are then dropped.
 *
 * Bound: open snapshots ≤ ceil(longest horizon / cadence) + 1 (14 at 90 days and 7), each ≤
 * BW_MONITOR_SAMPLE customers × (8 + 4 per model) bytes; finished entries ≤ {@link RETAINED_CUTOFFS}
 * per model, each 2 × 1,000 histogram counts and the drift counts (≤ 11 per input).
 */
import {
  addScore,
  emptyHistogram,
  histogramFromJSON,
  histogramToJSON,
  type ScoreHistogram,
  type ScoreHistogramJSON,
} from '../../models/monitor-metrics.js';
import type { FeatureTable } from '../../operators/features/feature-table.js';

/** Labelled cutoffs kept per model (half a year of weekly snapshots). */
const RETAINED_CUTOFFS = 26;

/** Live counts of one model input over the reference bins of its card. */
interface DriftCounts {
  feature: string;
  counts: number[];
  /** The card's reference shares of the same bins (reference_distribution). */
  fractions: number[];
}

/** One model version at one cutoff, in one partition. */
export interface MonitorEntry {
  model: string;
  version: string;
  /** Epoch ms (UTC midnight when the epoch and cadence are whole days). */
  cutoff: number;
  horizonDays: number;
  /** Customers of the population that got a score. */
  scored: number;
  drift: DriftCounts[];
  /** The labelled histogram; null until the horizon has passed. */
  hist: ScoreHistogram | null;
}

/** Scores kept per customer until their labels are known. */
export interface OpenSnapshot {
  cutoff: number;
  /** Customers, in the order of the score arrays. */
  ids: string[];
  models: { entry: MonitorEntry; scores: Float32Array }[];
}

export interface MonitorEntryJSON {
  model: string;
  version: string;
  cutoff: number;
  horizon_days: number;
  scored: number;
  drift: DriftCounts[];
  hist: ScoreHistogramJSON | null;
}

/** What a worker answers to the monitor gather: its partitions' last cutoffs and their entries. */
export interface MonitorReport {
  partitions: { partition: number; last_cutoff: number | null }[];
  entries: MonitorEntryJSON[];
}

export interface PartitionMonitorJSON {
  last_cutoff: number | null;
  entries: MonitorEntryJSON[];
  /** Open snapshots: customers as slots of the checkpoint's table (-1: forgotten since). */
  open: { cutoff: number; slots: string; scores: { model: string; version: string; data: string }[] }[];
}

export function entryToJSON(e: MonitorEntry): MonitorEntryJSON {
  return {
    model: e.model,
    version: e.version,
    cutoff: e.cutoff,
    horizon_days: e.horizonDays,
    scored: e.scored,
    drift: e.drift,
    hist: e.hist ? histogramToJSON(e.hist) : null,
  };
}

function entryFromJSON(j: MonitorEntryJSON): MonitorEntry {
  return {
    model: j.model,
    version: j.version,
    cutoff: j.cutoff,
    horizonDays: j.horizon_days,
    scored: j.scored,
    drift: j.drift,
    hist: j.hist ? histogramFromJSON(j.hist) : null,
  };
}

const toBase64 = (a: Int32Array | Float32Array): string =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function fromBase64<T extends Int32Array | Float32Array>(text: string, make: (b: ArrayBuffer) => T): T {
  const bytes = Buffer.from(text, 'base64');
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

export class PartitionMonitor {
  /** The latest cutoff snapshotted (or passed before the first event); -Infinity when none. */
  lastCutoff = Number.NEGATIVE_INFINITY;
  /** Event time at which `advance` has something to do (a cutoff, a label horizon). */
  nextDue = Number.NEGATIVE_INFINITY;
  entries: MonitorEntry[] = [];
  open: OpenSnapshot[] = [];

  /** Labels what is due at `now`: for each customer, `bought(id, cutoff)` says whether it purchased since. */
  label(now: number, bought: (id: string, cutoff: number) => boolean): void {
    for (const snap of this.open) {
      for (const { entry, scores } of snap.models) {
        if (entry.hist !== null || snap.cutoff + entry.horizonDays * 86_400_000 > now) continue;
        const hist = emptyHistogram();
        const purchase = entry.model !== 'churn';
        snap.ids.forEach((id, i) => {
          const p = scores[i]!;
          if (Number.isNaN(p)) return;
          const b = bought(id, snap.cutoff);
          // churn is 1 without a purchase in the window, intent 1 with one (models/train/dataset.ts)
          addScore(hist, p, b === purchase ? 1 : 0);
        });
        entry.hist = hist;
      }
      snap.models = snap.models.filter((m) => m.entry.hist === null);
    }
    this.open = this.open.filter((s) => s.models.length > 0);
  }

  /** Earliest label horizon still to pass, Infinity when none. */
  nextLabelDue(): number {
    let due = Number.POSITIVE_INFINITY;
    for (const snap of this.open)
      for (const { entry } of snap.models) due = Math.min(due, snap.cutoff + entry.horizonDays * 86_400_000);
    return due;
  }

  /** Keeps the newest {@link RETAINED_CUTOFFS} labelled entries per model (open ones always). */
  trim(): void {
    const labelled = new Map<string, number[]>();
    for (const e of this.entries) {
      if (e.hist === null) continue;
      const list = labelled.get(e.model) ?? [];
      list.push(e.cutoff);
      labelled.set(e.model, list);
    }
    const oldest = new Map<string, number>();
    for (const [model, cutoffs] of labelled) {
      const distinct = [...new Set(cutoffs)].sort((a, b) => b - a);
      if (distinct.length > RETAINED_CUTOFFS) oldest.set(model, distinct[RETAINED_CUTOFFS - 1]!);
    }
    if (oldest.size === 0) return;
    this.entries = this.entries.filter(
      (e) => e.hist === null || e.cutoff >= (oldest.get(e.model) ?? -Infinity),
    );
  }

  toJSON(table: FeatureTable): PartitionMonitorJSON {
    return {
      last_cutoff: Number.isFinite(this.lastCutoff) ? this.lastCutoff : null,
      entries: this.entries.map(entryToJSON),
      open: this.open.map((snap) => ({
        cutoff: snap.cutoff,
        slots: toBase64(Int32Array.from(snap.ids, (id) => table.slotOf(id) ?? -1)),
        scores: snap.models.map(({ entry, scores }) => ({
          model: entry.model,
          version: entry.version,
          data: toBase64(scores),
        })),
      })),
    };
  }

  /** Restores the state of a checkpoint; call after the partition's table was restored. */
  restore(j: PartitionMonitorJSON, table: FeatureTable): void {
    this.lastCutoff = j.last_cutoff ?? Number.NEGATIVE_INFINITY;
    this.entries = j.entries.map(entryFromJSON);
    const byKey = new Map(this.entries.map((e) => [`${e.model}\n${e.version}\n${e.cutoff}`, e]));
    this.open = j.open.map((o) => {
      const slots = fromBase64(o.slots, (b) => new Int32Array(b));
      return {
        cutoff: o.cutoff,
        ids: Array.from(slots, (s) => (s >= 0 && s < table.size ? table.idOf(s) : '')),
        models: o.scores.flatMap((s) => {
          const entry = byKey.get(`${s.model}\n${s.version}\n${o.cutoff}`);
          return entry ? [{ entry, scores: fromBase64(s.data, (b) => new Float32Array(b)) }] : [];
        }),
      };
    });
    this.nextDue = Number.NEGATIVE_INFINITY;
  }
}
