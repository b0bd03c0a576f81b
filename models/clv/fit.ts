/**
 * Maximum-likelihood fits of BG/NBD and Gamma-Gamma on a purchase log.
 *
 * Customer summaries follow the literature (and the `lifetimes` convention): purchases are taken
 * per UTC day, so x = number of distinct purchase days − 1 (repeat purchases), t_x = days from the
 * first to the last purchase day, T = from the start of the first purchase day to the calibration
 * end; t_x and T are in the chosen unit (weeks or days). The spend of a purchase day is the sum of
 * its purchases; m̄ is the mean spend of the repeat days (the first day is left out, as in Fader &
 * Hardie's CDNOW analyses). Refunds and other event types are ignored.
 *
 * Both fits minimise the negative log-likelihood over log-parameters with Nelder–Mead (restarted)
 * and report standard errors from a numerical Hessian at the optimum (delta method to the natural
 * scale) when it is invertible.
 */
import { BellwetherError } from '../../contract/errors.js';
import { DAY_MS } from '../../contract/time.js';
import { type BgNbdParams, bgnbdLogLikelihood, type RfData } from './bgnbd.js';
import { NO_DROPOUT } from './fit-status.js';
import { type GammaGammaParams, gammaGammaLogLikelihood, type SpendData } from './gamma-gamma.js';
import { logParamStandardErrors, minimize } from './optimize.js';

export type ClvUnit = 'weeks' | 'days';

export const UNIT_MS: Record<ClvUnit, number> = { weeks: 7 * DAY_MS, days: DAY_MS };

/** The part of an event the CLV fit reads. */
export interface ClvEvent {
  customer_id: string;
  type: string;
  ts: number;
  amount: number;
}

export interface CustomerRfm {
  customer_id: string;
  /** Repeat purchases: distinct purchase days − 1. */
  x: number;
  /** First to last purchase day, in the unit. */
  t_x: number;
  /** First purchase day to the calibration end, in the unit. */
  T: number;
  /** Mean spend of the repeat purchase days (NaN when x = 0). */
  monetary: number;
  /** Spend of the first purchase day. */
  first_spend: number;
  /** Start (UTC midnight, epoch ms) of the first purchase day. */
  first_day: number;
}

/**
 * Per-customer (x, t_x, T, m̄) with the calibration end on day D (`calibrationEnd`, the UTC midnight
 * starting D): purchases made on day D are in, as BTYD's `end.of.cal.period` and lifetimes'
 * `calibration_period_end` count them, and T is measured to the start of D (a purchase on D has
 * t_x = T). Until 2026-12 purchases on D were left out (docs/models.md, "Calibration end").
 */
export function summarizeCustomers(
  events: readonly ClvEvent[],
  calibrationEnd: number,
  unit: ClvUnit,
): CustomerRfm[] {
  const dayStart = Math.floor(calibrationEnd / DAY_MS) * DAY_MS;
  return summarize(events, dayStart + DAY_MS, calibrationEnd, unit);
}

/**
 * Per-customer summaries as of a point in time: purchases with ts < `cutoff`, T measured to the
 * cutoff (the point-in-time rows of `eval`, whose features see only events before the cutoff).
 */
export function summarizeBefore(events: readonly ClvEvent[], cutoff: number, unit: ClvUnit): CustomerRfm[] {
  return summarize(events, cutoff, cutoff, unit);
}

/** Purchases with ts < `before`, T measured to `ageEnd`. */
function summarize(
  events: readonly ClvEvent[],
  before: number,
  ageEnd: number,
  unit: ClvUnit,
): CustomerRfm[] {
  const days = new Map<string, Map<number, number>>();
  for (const e of events) {
    if (e.type !== 'purchase' || !(e.ts < before)) continue;
    let byDay = days.get(e.customer_id);
    if (!byDay) days.set(e.customer_id, (byDay = new Map()));
    const day = Math.floor(e.ts / DAY_MS);
    byDay.set(day, (byDay.get(day) ?? 0) + (Number.isFinite(e.amount) ? e.amount : 0));
  }
  const unitMs = UNIT_MS[unit];
  const out: CustomerRfm[] = [];
  for (const [customer_id, byDay] of days) {
    const list = [...byDay.keys()].sort((a, b) => a - b);
    const first = list[0]!;
    const last = list.at(-1)!;
    let repeatSpend = 0;
    for (let i = 1; i < list.length; i++) repeatSpend += byDay.get(list[i]!)!;
    const x = list.length - 1;
    out.push({
      customer_id,
      x,
      t_x: ((last - first) * DAY_MS) / unitMs,
      T: (ageEnd - first * DAY_MS) / unitMs,
      monetary: x > 0 ? repeatSpend / x : Number.NaN,
      first_spend: byDay.get(first)!,
      first_day: first * DAY_MS,
    });
  }
  return out;
}

interface FitDiagnostics {
  iterations: number;
  evaluations: number;
  converged: boolean;
}

export interface BgNbdFit extends BgNbdParams {
  log_likelihood: number;
  /** Standard errors of the parameters not at a bound (conditional on those at a bound). */
  se?: Partial<BgNbdParams>;
  /**
   * Parameters that ended at the search bound e^{±LOG_BOUND}: the likelihood keeps rising towards
   * a limit of the model (a → 0 with b → ∞: no drop-out, the NBD). Absent when none did.
   */
  at_bound?: (keyof BgNbdParams)[];
  /** Set when the fit sits on the no-drop-out limit (a/(a + b) below NO_DROPOUT, fit-status.ts). */
  degenerate?: string;
  optimizer: FitDiagnostics;
}

export interface GammaGammaFit extends GammaGammaParams {
  log_likelihood: number;
  se?: Partial<GammaGammaParams>;
  at_bound?: (keyof GammaGammaParams)[];
  /** Customers the fit used (x ≥ 1 and m̄ > 0). */
  customers: number;
  optimizer: FitDiagnostics;
}

export function rfData(customers: readonly Pick<CustomerRfm, 'x' | 't_x' | 'T'>[]): RfData {
  return {
    x: Float64Array.from(customers, (c) => c.x),
    tx: Float64Array.from(customers, (c) => c.t_x),
    T: Float64Array.from(customers, (c) => c.T),
  };
}

function spendData(customers: readonly Pick<CustomerRfm, 'x' | 'monetary'>[]): SpendData {
  const used = customers.filter((c) => c.x > 0 && c.monetary > 0);
  return { x: Float64Array.from(used, (c) => c.x), m: Float64Array.from(used, (c) => c.monetary) };
}

const BG_KEYS = ['r', 'alpha', 'a', 'b'] as const;
const GG_KEYS = ['p', 'q', 'v'] as const;

function toParams<K extends string>(keys: readonly K[], phi: readonly number[]): Record<K, number> {
  return Object.fromEntries(keys.map((k, i) => [k, Math.exp(phi[i]!)])) as Record<K, number>;
}

/** Log-parameters are searched in [−LOG_BOUND, LOG_BOUND] (θ between 6e-6 and 1.6e5). */
const LOG_BOUND = 12;
/** A log-parameter this close to the bound counts as at the bound. */
const AT_BOUND = 0.05;

/**
 * A log-likelihood that is not finite, or a point outside the box, counts as +∞ for the minimiser.
 */
function guarded(f: (phi: readonly number[]) => number): (phi: readonly number[]) => number {
  return (phi) => {
    if (phi.some((x) => Math.abs(x) > LOG_BOUND)) return Number.POSITIVE_INFINITY;
    try {
      const v = f(phi);
      return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  };
}

interface GenericFit<K extends string> {
  params: Record<K, number>;
  log_likelihood: number;
  se?: Partial<Record<K, number>>;
  at_bound?: K[];
  optimizer: FitDiagnostics;
}

/** Standard errors of the parameters `free` (indexes), the others held at `phi`. */
function standardErrorsOf<K extends string>(
  keys: readonly K[],
  nll: (phi: readonly number[]) => number,
  phi: readonly number[],
  free: readonly number[],
): Partial<Record<K, number>> | undefined {
  if (free.length === 0) return undefined;
  const sub = (psi: readonly number[]) => {
    const full = Array.from(phi);
    free.forEach((i, k) => {
      full[i] = psi[k]!;
    });
    return nll(full);
  };
  const values = logParamStandardErrors(
    sub,
    free.map((i) => phi[i]!),
  );
  if (!values) return undefined;
  return Object.fromEntries(free.map((i, k) => [keys[i]!, values[k]!])) as Partial<Record<K, number>>;
}

interface GenericFit<K extends string> {
  params: Record<K, number>;
  phi: number[];
  log_likelihood: number;
  se?: Partial<Record<K, number>>;
  at_bound?: K[];
  optimizer: FitDiagnostics;
}

/**
 * Minimises `nll` over log-parameters from `start`; standard errors from the Hessian over the
 * parameters that are not at a bound (the others held fixed).
 */
function fitLogParams<K extends string>(
  keys: readonly K[],
  nll: (phi: readonly number[]) => number,
  start: number[],
  standardErrors: boolean,
): GenericFit<K> {
  const result = minimize(nll, start);
  const bound = keys.filter((_, i) => Math.abs(result.x[i]!) > LOG_BOUND - AT_BOUND);
  const free = keys.map((_, i) => i).filter((i) => !bound.includes(keys[i]!));
  const se = standardErrors ? standardErrorsOf(keys, nll, result.x, free) : undefined;
  return {
    params: toParams(keys, result.x),
    phi: result.x,
    log_likelihood: -result.value,
    ...(se ? { se } : {}),
    ...(bound.length > 0 ? { at_bound: bound } : {}),
    optimizer: {
      iterations: result.iterations,
      evaluations: result.evaluations,
      converged: result.converged,
    },
  };
}

export function fitBgNbd(data: RfData, options: { standardErrors?: boolean } = {}): BgNbdFit {
  const n = data.x.length;
  if (n === 0) throw new BellwetherError('BW_ERR_INPUT_FORMAT', 'BG/NBD fit needs at least one customer');
  let sumX = 0;
  let sumT = 0;
  for (let i = 0; i < n; i++) {
    sumX += data.x[i]!;
    sumT += data.T[i]!;
  }
  if (sumX === 0) throw new BellwetherError('BW_ERR_INPUT_FORMAT', 'BG/NBD fit needs repeat purchases');
  const nll = guarded((phi) => -bgnbdLogLikelihood(toParams(BG_KEYS, phi), data));
  // Start: r = 1 with α matching the mean repeat rate, a = 1, b = 3.
  const start = [0, Math.log(sumT / sumX), 0, Math.log(3)];
  const { params, phi, ...rest } = fitLogParams(BG_KEYS, nll, start, options.standardErrors !== false);
  const dropout = params.a / (params.a + params.b);
  if (!(dropout < NO_DROPOUT)) return { ...params, ...rest };
  // On the no-drop-out ridge only r and α are identified (the NBD): their errors with a, b held.
  const { se: _se, ...others } = rest;
  const se = options.standardErrors !== false ? standardErrorsOf(BG_KEYS, nll, phi, [0, 1]) : undefined;
  return {
    ...params,
    ...others,
    ...(se ? { se } : {}),
    degenerate: `mean drop-out probability a/(a + b) = ${dropout.toPrecision(2)}: the data show no drop-out, so BG/NBD reduces to the NBD, P(alive) ≈ 1 for everyone, and a, b are not separately identified`,
  };
}

export function fitGammaGamma(data: SpendData, options: { standardErrors?: boolean } = {}): GammaGammaFit {
  const n = data.x.length;
  if (n === 0) {
    throw new BellwetherError('BW_ERR_INPUT_FORMAT', 'Gamma-Gamma fit needs customers with repeat purchases');
  }
  let sumM = 0;
  for (let i = 0; i < n; i++) sumM += data.m[i]!;
  const nll = guarded((phi) => -gammaGammaLogLikelihood(toParams(GG_KEYS, phi), data));
  // Start: p = 1, q = 2, v = mean m̄ (population mean spend p v / (q − 1) = mean m̄).
  const start = [0, Math.log(2), Math.log(sumM / n)];
  const { params, phi: _phi, ...rest } = fitLogParams(GG_KEYS, nll, start, options.standardErrors !== false);
  return { ...params, ...rest, customers: n };
}

export interface ClvFitOptions {
  events: readonly ClvEvent[];
  /** UTC midnight starting day D: purchases up to the end of D are used, T measured to the start of D. */
  calibrationEnd: number;
  unit: ClvUnit;
  /** Numerical-Hessian standard errors (default true). */
  standardErrors?: boolean;
}

export interface ClvFit {
  unit: ClvUnit;
  calibration_end: string;
  bgnbd: BgNbdFit;
  gamma_gamma: GammaGammaFit;
  /** Customers with a purchase up to the calibration end day (included). */
  customers: number;
  /** … of whom made at least one repeat purchase (x ≥ 1). */
  repeat_customers: number;
  /** Per-customer summaries (not part of the JSON output of `clv fit`). */
  summaries: CustomerRfm[];
}

export function fitClv(opts: ClvFitOptions): ClvFit {
  const summaries = summarizeCustomers(opts.events, opts.calibrationEnd, opts.unit);
  if (summaries.length === 0) {
    throw new BellwetherError(
      'BW_ERR_INPUT_FORMAT',
      `no purchases up to the calibration end day ${new Date(opts.calibrationEnd).toISOString().slice(0, 10)}`,
    );
  }
  const se = { standardErrors: opts.standardErrors ?? true };
  return {
    unit: opts.unit,
    calibration_end: new Date(opts.calibrationEnd).toISOString(),
    bgnbd: fitBgNbd(rfData(summaries), se),
    gamma_gamma: fitGammaGamma(spendData(summaries), se),
    customers: summaries.length,
    repeat_customers: summaries.filter((c) => c.x > 0).length,
    summaries,
  };
}
