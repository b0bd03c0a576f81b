/**
 * The shadow comparison: a challenger (`<modelsDir>/<name>/SHADOW`) scored beside the live model on
 * the same customers, never alerting. Each worker counts, per model, since its models were last
 * loaded: customers both scored, the summed |risk difference|, and how many each would alert on;
 * `/v1/models` shows them merged over the instance's workers (docs/models.md, "Shadow").
 */

/** One worker's counts for one model and one live/challenger pair. */
export interface ShadowCounts {
  model: string;
  live: string;
  shadow: string;
  /** Customers both models scored (in the population of both). */
  scored: number;
  /** Sum over them of |shadow risk − live risk| (risk points, 0–100). */
  risk_diff_sum: number;
  /** Of those, the customers at or above the alert threshold by each model, and by both. */
  live_alerting: number;
  shadow_alerting: number;
  both_alerting: number;
}

/** The counts merged over workers, with the means a reader wants. */
export interface ShadowComparison extends ShadowCounts {
  /** Mean |risk difference| per customer scored by both (null before any). */
  mean_abs_risk_diff: number | null;
  /** Share of customers on whom the two agree about alerting (null before any). */
  alert_agreement: number | null;
}

export function emptyShadowCounts(model: string, live: string, shadow: string): ShadowCounts {
  return {
    model,
    live,
    shadow,
    scored: 0,
    risk_diff_sum: 0,
    live_alerting: 0,
    shadow_alerting: 0,
    both_alerting: 0,
  };
}

/** Sums the workers' counts of the same model and version pair. */
export function mergeShadowCounts(workers: readonly (readonly ShadowCounts[])[]): ShadowComparison[] {
  const merged = new Map<string, ShadowCounts>();
  for (const counts of workers)
    for (const c of counts) {
      const key = `${c.model}\u0000${c.live}\u0000${c.shadow}`;
      const into = merged.get(key) ?? emptyShadowCounts(c.model, c.live, c.shadow);
      into.scored += c.scored;
      into.risk_diff_sum += c.risk_diff_sum;
      into.live_alerting += c.live_alerting;
      into.shadow_alerting += c.shadow_alerting;
      into.both_alerting += c.both_alerting;
      merged.set(key, into);
    }
  return [...merged.values()].map((c) => {
    const disagree = c.live_alerting + c.shadow_alerting - 2 * c.both_alerting;
    return {
      ...c,
      mean_abs_risk_diff: c.scored > 0 ? c.risk_diff_sum / c.scored : null,
      alert_agreement: c.scored > 0 ? 1 - disagree / c.scored : null,
    };
  });
}
