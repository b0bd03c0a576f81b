/**
 * The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way: An
 * Alternative to the Pareto/NBD Model", Marketing Science 24(2):275–284).
 *
 * While active, a customer makes repeat purchases as a Poisson process with rate λ; after each
 * repeat purchase they drop out with probability p. Across customers λ ~ Gamma(r, α) (shape r,
 * rate α) and p ~ Beta(a, b). A customer's data are x repeat purchases, the time t_x of the last
 * one and the age T, both measured from the first purchase (t_x = 0 when x = 0).
 *
 * Individual likelihood, written as
 *   L = A1 · (A3 + δ_{x>0} A4),
 *   ln A1 = ln Γ(r + x) − ln Γ(r) + r ln α + ln Γ(a + b) + ln Γ(b + x) − ln Γ(b) − ln Γ(a + b + x)
 *   ln A3 = −(r + x) ln(α + T)
 *   ln A4 = ln a − ln(b + x − 1) − (r + x) ln(α + t_x)
 * with ln(A3 + A4) by log-sum-exp. The parts that depend only on x are computed once per distinct
 * x in a data set.
 */
import { hyp2f1 } from './hypergeometric.js';
import { lgamma, logAddExp } from './lgamma.js';

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/** Repeat-purchase data of n customers (x, t_x and T in one time unit). */
export interface RfData {
  x: Float64Array;
  tx: Float64Array;
  T: Float64Array;
}

function xPart(p: BgNbdParams, x: number): number {
  return (
    lgamma(p.r + x) -
    lgamma(p.r) +
    p.r * Math.log(p.alpha) +
    lgamma(p.a + p.b) +
    lgamma(p.b + x) -
    lgamma(p.b) -
    lgamma(p.a + p.b + x)
  );
}

/** ln L of one customer. */
export function bgnbdIndividualLogLikelihood(p: BgNbdParams, x: number, tx: number, T: number): number {
  const l3 = -(p.r + x) * Math.log(p.alpha + T);
  if (x === 0) return xPart(p, 0) + l3;
  const l4 = Math.log(p.a) - Math.log(p.b + x - 1) - (p.r + x) * Math.log(p.alpha + tx);
  return xPart(p, x) + logAddExp(l3, l4);
}

/** Σ ln L over a data set (x must be non-negative integers). */
export function bgnbdLogLikelihood(p: BgNbdParams, data: RfData): number {
  const parts = new Map<number, { a1: number; a4: number }>();
  const logA = Math.log(p.a);
  let sum = 0;
  for (let i = 0; i < data.x.length; i++) {
    const x = data.x[i]!;
    let part = parts.get(x);
    if (part === undefined) {
      part = { a1: xPart(p, x), a4: x > 0 ? logA - Math.log(p.b + x - 1) : 0 };
      parts.set(x, part);
    }
    const l3 = -(p.r + x) * Math.log(p.alpha + data.T[i]!);
    sum +=
      x === 0 ? part.a1 + l3 : part.a1 + logAddExp(l3, part.a4 - (p.r + x) * Math.log(p.alpha + data.tx[i]!));
  }
  return sum;
}

/** ln of the odds (dead : alive) given x, t_x, T; −∞ when x = 0 (such a customer cannot have dropped out). */
function logDeadOdds(p: BgNbdParams, x: number, tx: number, T: number): number {
  if (x === 0) return Number.NEGATIVE_INFINITY;
  return Math.log(p.a) - Math.log(p.b + x - 1) + (p.r + x) * (Math.log(p.alpha + T) - Math.log(p.alpha + tx));
}

/** P(alive at T | x, t_x, T) = 1 / (1 + δ_{x>0} · a / (b + x − 1) · ((α + T)/(α + t_x))^{r+x}). */
export function pAlive(p: BgNbdParams, x: number, tx: number, T: number): number {
  const lo = logDeadOdds(p, x, tx, T);
  return lo === Number.NEGATIVE_INFINITY ? 1 : 1 / (1 + Math.exp(lo));
}

/** a = 1 makes (a + b + x − 1)/(a − 1) singular: nudge it (the limit is continuous in a). */
function safeA(a: number): number {
  return Math.abs(a - 1) < 1e-9 ? 1 + 1e-9 : a;
}

/** E[X(t)]: expected repeat purchases of a new customer in (0, t]. */
export function expectedPurchases(p: BgNbdParams, t: number): number {
  if (t <= 0) return 0;
  const a = safeA(p.a);
  const z = t / (p.alpha + t);
  const head = Math.exp(p.r * Math.log(p.alpha / (p.alpha + t))) * hyp2f1(p.r, p.b, a + p.b - 1, z);
  return ((a + p.b - 1) / (a - 1)) * (1 - head);
}

/**
 * E[Y(t) | x, t_x, T]: expected purchases in (T, T + t]:
 *   (a + b + x − 1)/(a − 1) · [1 − ((α + T)/(α + T + t))^{r+x} · 2F1(r + x, b + x; a + b + x − 1; t/(α + T + t))]
 *   / (1 + δ_{x>0} · a/(b + x − 1) · ((α + T)/(α + t_x))^{r+x})
 */
export function conditionalExpectedPurchases(
  p: BgNbdParams,
  x: number,
  tx: number,
  T: number,
  t: number,
): number {
  if (t <= 0) return 0;
  const a = safeA(p.a);
  const z = t / (p.alpha + T + t);
  const logHead = (p.r + x) * Math.log((p.alpha + T) / (p.alpha + T + t));
  const head = Math.exp(logHead + Math.log(hyp2f1(p.r + x, p.b + x, a + p.b + x - 1, z)));
  const numerator = ((a + p.b + x - 1) / (a - 1)) * (1 - head);
  return numerator * pAlive(p, x, tx, T);
}

/**
 * P(no purchase in (T, T + t] | x, t_x, T) = 1 − P(alive) + P(alive) · ((α + T)/(α + T + t))^{r+x}:
 * a customer still alive at T has λ ~ Gamma(r + x, α + T) a posteriori and can only drop out right
 * after a purchase, so the next purchase is the first event after T.
 */
export function probNoPurchase(p: BgNbdParams, x: number, tx: number, T: number, t: number): number {
  const alive = pAlive(p, x, tx, T);
  if (t <= 0) return 1;
  return 1 - alive + alive * Math.exp((p.r + x) * Math.log((p.alpha + T) / (p.alpha + T + t)));
}
