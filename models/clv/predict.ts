/**
 * Per-customer predictions from fitted BG/NBD and Gamma-Gamma parameters: P(alive), expected
 * purchases over a horizon, expected spend per purchase and a simple CLV.
 *
 * CLV over a horizon = Σ over `steps` equal sub-periods of (expected purchases in the sub-period ×
 * expected spend per purchase), each discounted at `annualDiscount` to the end of its sub-period;
 * with no discount this is just E[purchases in the horizon] × E[spend]. It is revenue, not margin.
 */
import { type BgNbdParams, conditionalExpectedPurchases, pAlive } from './bgnbd.js';
import type { ClvUnit } from './fit.js';
import { expectedSpend, type GammaGammaParams } from './gamma-gamma.js';

export interface ClvParams {
  unit: ClvUnit;
  bgnbd: BgNbdParams;
  gamma_gamma: GammaGammaParams;
}

/** A customer's summary in the parameters' unit (see fit.ts). */
export interface CustomerSummary {
  x: number;
  t_x: number;
  T: number;
  /** Mean spend of the repeat purchase days (ignored when x = 0). */
  monetary: number;
}

export interface ClvOptions {
  /** Horizon of the expected-purchases figure in days (default 90). */
  purchaseDays?: number;
  /** CLV horizon in days (default 365). */
  clvDays?: number;
  /** Annual discount rate, e.g. 0.1 (default 0: undiscounted). */
  annualDiscount?: number;
  /** Sub-periods of the CLV sum (default 12). */
  steps?: number;
}

export interface CustomerPrediction {
  p_alive: number;
  expected_purchases: number;
  expected_spend: number;
  clv: number;
}

const DAYS_PER_UNIT: Record<ClvUnit, number> = { weeks: 7, days: 1 };

export function predictCustomer(
  params: ClvParams,
  c: CustomerSummary,
  options: ClvOptions = {},
): CustomerPrediction {
  const perUnit = DAYS_PER_UNIT[params.unit];
  const bg = params.bgnbd;
  const spend = expectedSpend(params.gamma_gamma, c.x, c.monetary);
  const clvDays = options.clvDays ?? 365;
  const steps = Math.max(1, Math.round(options.steps ?? 12));
  const discount = options.annualDiscount ?? 0;
  let clv = 0;
  let before = 0;
  for (let k = 1; k <= steps; k++) {
    const days = (clvDays * k) / steps;
    const upTo = conditionalExpectedPurchases(bg, c.x, c.t_x, c.T, days / perUnit);
    clv += ((upTo - before) * spend) / (1 + discount) ** (days / 365);
    before = upTo;
  }
  return {
    p_alive: pAlive(bg, c.x, c.t_x, c.T),
    expected_purchases: conditionalExpectedPurchases(
      bg,
      c.x,
      c.t_x,
      c.T,
      (options.purchaseDays ?? 90) / perUnit,
    ),
    expected_spend: spend,
    clv,
  };
}
