/**
 * Log-gamma and log-beta for positive arguments, for the closed-form likelihoods of the CLV models.
 *
 * `lgamma` is the Lanczos approximation with g = 7 and 9 coefficients (the set published by
 * Godfrey and used in Numerical Recipes / Wikipedia), about 15 significant digits of Γ(x) for
 * x ≥ 0.5; below 0.5 the reflection formula Γ(x) Γ(1 − x) = π / sin(πx) is used. Everything stays in
 * log space, so large arguments (thousands of purchases) do not overflow.
 */
import { BellwetherError } from '../../contract/errors.js';

const G = 7;
const COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (finite); throws for x ≤ 0 or NaN. */
export function lgamma(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) {
    throw new BellwetherError('BW_ERR_INTERNAL', `lgamma needs a finite x > 0, got ${x}`);
  }
  if (x < 0.5) {
    // Reflection: ln Γ(x) = ln(π / sin(πx)) − ln Γ(1 − x); sin(πx) > 0 on (0, 0.5).
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  }
  const z = x - 1;
  let sum = COEFFICIENTS[0]!;
  for (let i = 1; i < COEFFICIENTS.length; i++) sum += COEFFICIENTS[i]! / (z + i);
  const t = z + G + 0.5;
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b). */
export function lbeta(a: number, b: number): number {
  return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/** ln(e^u + e^v) without overflow; −∞ inputs are allowed. */
export function logAddExp(u: number, v: number): number {
  if (u === Number.NEGATIVE_INFINITY) return v;
  if (v === Number.NEGATIVE_INFINITY) return u;
  return u > v ? u + Math.log1p(Math.exp(v - u)) : v + Math.log1p(Math.exp(u - v));
}
