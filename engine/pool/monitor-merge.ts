/**
 * The model monitor's answer from every partition's state (docs/models.md, "Monitoring"): entries
 * of the same model, version and cutoff are merged across workers and instances (score histograms
 * and drift counts add), then ROC AUC, PR AUC, Brier, the reliability table and PSI are computed
 * on the union. Also says which snapshots breach the drift and calibration thresholds.
 */
import {
  type CalibrationRow,
  emptyHistogram,
  histogramFromJSON,
  histogramMetrics,
  mergeHistogram,
  psi,
  type ScoreHistogram,
} from '../../models/monitor-metrics.js';
import type { MonitorReport } from '../state/partition-monitor.js';

/** One cutoff of one version, as `GET /v1/models/:name/monitor` shows it. */
interface MonitorSnapshotView {
  /** YYYY-MM-DD (UTC). */
  cutoff: string;
  scored: number;
  labelled: number;
  positives: number | null;
  roc_auc: number | null;
  pr_auc: number | null;
  brier: number | null;
  calibration: CalibrationRow[];
}

interface MonitorDriftView {
  feature: string;
  psi: number | null;
  /** The cutoff whose population was compared with the training one (YYYY-MM-DD). */
  window_end: string;
}

export interface ModelMonitorView {
  model: string;
  label_horizon_days: number | null;
  snapshot_every_days: number;
  versions: { version: string; snapshots: MonitorSnapshotView[]; drift: MonitorDriftView[] }[];
}

/** A snapshot past a threshold: one alert on `bw.alerts.model` each. */
export interface MonitorBreach {
  breach: 'drift' | 'calibration';
  model: string;
  version: string;
  cutoff: string;
  threshold: number;
  /** Drift: the inputs above the threshold with their PSI; calibration: none. */
  features: { feature: string; psi: number }[];
  /** Calibration: the snapshot's expected calibration error; drift: null. */
  ece: number | null;
}

interface Merged {
  cutoff: number;
  horizonDays: number;
  scored: number;
  labelled: number;
  hist: ScoreHistogram;
  drift: Map<string, { counts: number[]; fractions: number[] }>;
}

const day = (t: number): string => new Date(t).toISOString().slice(0, 10);

/** Versions sorted newest first: numerically when both are numbers, else as text. */
function byVersionDesc(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) ? y - x : b.localeCompare(a);
}

export class MonitorMerge {
  /** model → version → cutoff → merged entry. */
  readonly #models = new Map<string, Map<string, Map<number, Merged>>>();
  /** Cutoffs every partition has passed: at or before the lowest partition's last cutoff. */
  readonly completeUntil: number;

  constructor(reports: readonly MonitorReport[], partitions: number) {
    const last = new Map<number, number>();
    for (const r of reports) {
      for (const p of r.partitions) last.set(p.partition, p.last_cutoff ?? Number.NEGATIVE_INFINITY);
      for (const e of r.entries) {
        const versions = this.#models.get(e.model) ?? new Map<string, Map<number, Merged>>();
        this.#models.set(e.model, versions);
        const cutoffs = versions.get(e.version) ?? new Map<number, Merged>();
        versions.set(e.version, cutoffs);
        let m = cutoffs.get(e.cutoff);
        if (!m) {
          m = {
            cutoff: e.cutoff,
            horizonDays: e.horizon_days,
            scored: 0,
            labelled: 0,
            hist: emptyHistogram(),
            drift: new Map(),
          };
          cutoffs.set(e.cutoff, m);
        }
        m.scored += e.scored;
        if (e.hist) {
          m.labelled += e.scored;
          mergeHistogram(m.hist, histogramFromJSON(e.hist));
        }
        for (const d of e.drift) {
          const into = m.drift.get(d.feature);
          if (!into) m.drift.set(d.feature, { counts: [...d.counts], fractions: d.fractions });
          else
            d.counts.forEach((c, i) => {
              into.counts[i] = (into.counts[i] ?? 0) + c;
            });
        }
      }
    }
    let until = Number.POSITIVE_INFINITY;
    for (let p = 0; p < partitions; p++) until = Math.min(until, last.get(p) ?? Number.NEGATIVE_INFINITY);
    this.completeUntil = until;
  }

  /** The route's answer for `model` (no versions before its first snapshot). */
  view(model: string, snapshotDays: number): ModelMonitorView {
    const versions = [...(this.#models.get(model) ?? new Map<string, Map<number, Merged>>())].sort((a, b) =>
      byVersionDesc(a[0], b[0]),
    );
    let horizon: number | null = null;
    let newest = Number.NEGATIVE_INFINITY;
    const out = versions.map(([version, cutoffs]) => {
      const merged = [...cutoffs.values()].sort((a, b) => a.cutoff - b.cutoff);
      const snapshots = merged.map((m): MonitorSnapshotView => {
        if (m.cutoff > newest) {
          newest = m.cutoff;
          horizon = m.horizonDays;
        }
        const metrics = histogramMetrics(m.hist);
        const labelled = m.labelled > 0;
        return {
          cutoff: day(m.cutoff),
          scored: m.scored,
          labelled: m.labelled,
          positives: labelled ? metrics.positives : null,
          roc_auc: labelled ? metrics.roc_auc : null,
          pr_auc: labelled ? metrics.pr_auc : null,
          brier: labelled ? metrics.brier : null,
          calibration: labelled ? metrics.calibration : [],
        };
      });
      const drift = merged.flatMap((m) =>
        [...m.drift].map(([feature, d]) => {
          const value = psi(d.counts, d.fractions);
          return { feature, psi: Number.isFinite(value) ? value : null, window_end: day(m.cutoff) };
        }),
      );
      return { version, snapshots, drift };
    });
    return { model, label_horizon_days: horizon, snapshot_every_days: snapshotDays, versions: out };
  }

  /** Model names with at least one snapshot. */
  models(): string[] {
    return [...this.#models.keys()];
  }

  /**
   * Breaches among the snapshots every partition has passed: inputs whose PSI is above
   * `psiThreshold`, and snapshots labelled in every partition whose ECE is above `eceThreshold`.
   */
  breaches(psiThreshold: number, eceThreshold: number): MonitorBreach[] {
    const out: MonitorBreach[] = [];
    for (const [model, versions] of this.#models) {
      for (const [version, cutoffs] of versions) {
        for (const m of cutoffs.values()) {
          if (m.cutoff > this.completeUntil) continue;
          const features = [...m.drift]
            .map(([feature, d]) => ({ feature, psi: psi(d.counts, d.fractions) }))
            .filter((f) => f.psi > psiThreshold);
          const cutoff = day(m.cutoff);
          if (features.length > 0)
            out.push({
              breach: 'drift',
              model,
              version,
              cutoff,
              threshold: psiThreshold,
              features,
              ece: null,
            });
          if (m.labelled === m.scored && m.labelled > 0) {
            const ece = histogramMetrics(m.hist).ece;
            if (ece !== null && ece > eceThreshold)
              out.push({
                breach: 'calibration',
                model,
                version,
                cutoff,
                threshold: eceThreshold,
                features: [],
                ece,
              });
          }
        }
      }
    }
    return out;
  }
}
