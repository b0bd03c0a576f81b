/**
 * Whether a BG/NBD + Gamma-Gamma fit may be served. A fit is DEGENERATE, and the engine then serves
 * no `p_alive`, `expected_purchases_90d` or `clv_365d` (the customer answer's `clv_status` says
 * why), when any of these holds:
 *
 * - `no_dropout`: the mean drop-out probability after a purchase E[p] = a/(a + b) is below
 *   NO_DROPOUT (1e-3, i.e. b/a above 999): the data show no drop-out, BG/NBD has collapsed to the
 *   NBD, P(alive) ≈ 1 for everyone (and exactly 1 for one-time buyers) and CLV is the NBD's
 *   ever-buying customer's;
 * - `bgnbd_at_bound` / `gamma_gamma_at_bound`: a parameter ended at the optimiser's search bound
 *   e^{±12} (the likelihood keeps rising towards a limit of the model: the estimate is that limit,
 *   not a maximum);
 * - `bgnbd_not_converged` / `gamma_gamma_not_converged`: Nelder–Mead stopped on its iteration limit;
 * - `infinite_mean_spend`: Gamma-Gamma q ≤ 1, so the population mean spend p v / (q − 1) and
 *   E[M | x, m̄] for small x do not exist.
 *
 * The rule reads only fields every parameter file has had (parameters, `at_bound`, `optimizer`),
 * so files written before it (models/clv-params/1.json) are judged by it too.
 */

/** Below this mean drop-out probability a/(a + b) a BG/NBD fit is degenerate (no drop-out). */
export const NO_DROPOUT = 1e-3;

/** The parts of a fit (or of a parameter file) the rule reads. */
export interface FitToJudge {
  bgnbd: {
    a: number;
    b: number;
    at_bound?: readonly string[] | undefined;
    optimizer?: { converged?: boolean } | undefined;
  };
  gamma_gamma: {
    q: number;
    at_bound?: readonly string[] | undefined;
    optimizer?: { converged?: boolean } | undefined;
  };
}

/** The reasons a fit is degenerate, each `<code> (<detail>)`; empty when it may be served. */
export function degenerateReasons(fit: FitToJudge): string[] {
  const reasons: string[] = [];
  const { a, b } = fit.bgnbd;
  const dropout = a / (a + b);
  if (!(dropout >= NO_DROPOUT))
    reasons.push(
      `no_dropout (mean drop-out probability a/(a + b) = ${dropout.toPrecision(2)} < ${NO_DROPOUT})`,
    );
  if (fit.bgnbd.at_bound?.length) reasons.push(`bgnbd_at_bound (${fit.bgnbd.at_bound.join(', ')})`);
  if (fit.gamma_gamma.at_bound?.length)
    reasons.push(`gamma_gamma_at_bound (${fit.gamma_gamma.at_bound.join(', ')})`);
  if (fit.bgnbd.optimizer?.converged === false) reasons.push('bgnbd_not_converged');
  if (fit.gamma_gamma.optimizer?.converged === false) reasons.push('gamma_gamma_not_converged');
  if (!(fit.gamma_gamma.q > 1))
    reasons.push(`infinite_mean_spend (q = ${fit.gamma_gamma.q.toPrecision(3)} ≤ 1)`);
  return reasons;
}

/** `ok`, or `degenerate_fit: <reason>; <reason>…`: the customer answer's `clv_status` for a fit. */
export function clvFitStatus(fit: FitToJudge): string {
  const reasons = degenerateReasons(fit);
  return reasons.length === 0 ? 'ok' : `degenerate_fit: ${reasons.join('; ')}`;
}
