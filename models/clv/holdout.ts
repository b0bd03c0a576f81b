/**
 * Out-of-sample check of a CLV fit: for the customers of the calibration period, purchases (distinct
 * purchase days) and spend in the holdout period — the days after the calibration end day D up to
 * the holdout end (excluded): [start of D + 1 day, holdout end), of length holdout end − (D + 1 day),
 * as lifetimes' `calibration_and_holdout_data` counts it — against the
 * predictions of the fitted BG/NBD and Gamma-Gamma models — the checks of Fader, Hardie & Lee
 * (2005): totals, the conditional expectation by calibration frequency, and the ranking of
 * who buys again.
 */
import { DAY_MS } from '../../contract/time.js';
import { rocAuc } from '../metrics.js';
import { conditionalExpectedPurchases, probNoPurchase } from './bgnbd.js';
import { type ClvEvent, type ClvFit, UNIT_MS } from './fit.js';
import { expectedSpend } from './gamma-gamma.js';

interface FrequencyRow {
  /** Calibration repeat purchases ("7+" groups the rest). */
  x: string;
  customers: number;
  actual_mean: number;
  predicted_mean: number;
}

export interface HoldoutReport {
  holdout_end: string;
  /** Holdout length in the fit's unit. */
  length: number;
  customers: number;
  purchases: {
    actual_total: number;
    predicted_total: number;
    mae: number;
    rmse: number;
    correlation: number;
    /** ROC AUC of P(at least one purchase in the holdout) against whether the customer bought. */
    buy_again_roc_auc: number;
  };
  by_frequency: FrequencyRow[];
  /** Customers with x ≥ 1 who bought in the holdout: mean spend per purchase day vs E[M | x, m̄]. */
  spend: { customers: number; actual_mean: number; predicted_mean: number; mae: number; correlation: number };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n;
    mb += b[i]! / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}

export function holdoutCheck(fit: ClvFit, events: readonly ClvEvent[], holdoutEnd: number): HoldoutReport {
  // The calibration includes day D (fit.ts): the holdout starts the day after.
  const holdoutStart = Math.floor(Date.parse(fit.calibration_end) / DAY_MS) * DAY_MS + DAY_MS;
  const length = (holdoutEnd - holdoutStart) / UNIT_MS[fit.unit];
  const days = new Map<string, Map<number, number>>();
  for (const e of events) {
    if (e.type !== 'purchase' || e.ts < holdoutStart || e.ts >= holdoutEnd) continue;
    let byDay = days.get(e.customer_id);
    if (!byDay) days.set(e.customer_id, (byDay = new Map()));
    const day = Math.floor(e.ts / DAY_MS);
    byDay.set(day, (byDay.get(day) ?? 0) + (Number.isFinite(e.amount) ? e.amount : 0));
  }
  const n = fit.summaries.length;
  const actual = new Float64Array(n);
  const predicted = new Float64Array(n);
  const buy = new Float64Array(n);
  const bought = new Float64Array(n);
  const spendActual: number[] = [];
  const spendPredicted: number[] = [];
  const groups = new Map<string, { customers: number; actual: number; predicted: number }>();
  fit.summaries.forEach((c, i) => {
    const byDay = days.get(c.customer_id);
    actual[i] = byDay?.size ?? 0;
    predicted[i] = conditionalExpectedPurchases(fit.bgnbd, c.x, c.t_x, c.T, length);
    buy[i] = 1 - probNoPurchase(fit.bgnbd, c.x, c.t_x, c.T, length);
    bought[i] = actual[i]! > 0 ? 1 : 0;
    const key = c.x >= 7 ? '7+' : String(c.x);
    const g = groups.get(key) ?? { customers: 0, actual: 0, predicted: 0 };
    g.customers++;
    g.actual += actual[i]!;
    g.predicted += predicted[i]!;
    groups.set(key, g);
    if (byDay && c.x > 0 && c.monetary > 0) {
      let total = 0;
      for (const v of byDay.values()) total += v;
      spendActual.push(total / byDay.size);
      spendPredicted.push(expectedSpend(fit.gamma_gamma, c.x, c.monetary));
    }
  });
  let actualTotal = 0;
  let predictedTotal = 0;
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    actualTotal += actual[i]!;
    predictedTotal += predicted[i]!;
    abs += Math.abs(actual[i]! - predicted[i]!);
    sq += (actual[i]! - predicted[i]!) ** 2;
  }
  const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const order = ['0', '1', '2', '3', '4', '5', '6', '7+'];
  return {
    holdout_end: new Date(holdoutEnd).toISOString(),
    length,
    customers: n,
    purchases: {
      actual_total: actualTotal,
      predicted_total: predictedTotal,
      mae: abs / n,
      rmse: Math.sqrt(sq / n),
      correlation: correlation(actual, predicted),
      buy_again_roc_auc: rocAuc(buy, bought),
    },
    by_frequency: order
      .filter((k) => groups.has(k))
      .map((k) => {
        const g = groups.get(k)!;
        return {
          x: k,
          customers: g.customers,
          actual_mean: g.actual / g.customers,
          predicted_mean: g.predicted / g.customers,
        };
      }),
    spend: {
      customers: spendActual.length,
      actual_mean: mean(spendActual),
      predicted_mean: mean(spendPredicted),
      mae: mean(spendActual.map((v, i) => Math.abs(v - spendPredicted[i]!))),
      correlation: correlation(spendActual, spendPredicted),
    },
  };
}
