/**
 * The Gaussian hypergeometric function 2F1(a, b; c; z) by its power series, for |z| < 1:
 *
 *   2F1(a, b; c; z) = Σ_k (a)_k (b)_k / ((c)_k k!) z^k
 *
 * Term k+1 = term k × (a + k)(b + k) z / ((c + k)(k + 1)). The sum stops when a bound on the
 * remaining tail (geometric with the larger of the current term ratio and |z|, valid once the
 * ratio is below 1) is below `tolerance` × |sum|; a series that has not converged after
 * `maxTerms` terms, or that overflows, throws instead of returning a wrong number. BG/NBD needs
 * z = t / (α + T + t) ∈ [0, 1) with positive a, b, c, where every term is positive.
 */
import { BellwetherError } from '../../contract/errors.js';

export interface Hyp2f1Options {
  /** Relative accuracy of the sum (default 1e-15). */
  tolerance?: number;
  /** Give up after this many terms (default 1e6). */
  maxTerms?: number;
}

export function hyp2f1(a: number, b: number, c: number, z: number, options: Hyp2f1Options = {}): number {
  const tolerance = options.tolerance ?? 1e-15;
  const maxTerms = options.maxTerms ?? 1_000_000;
  if (!(Math.abs(z) < 1)) {
    throw new BellwetherError('BW_ERR_INTERNAL', `hyp2f1 series needs |z| < 1, got z = ${z}`);
  }
  if (c <= 0 && Number.isInteger(c)) {
    throw new BellwetherError('BW_ERR_INTERNAL', `hyp2f1 is undefined for c = ${c}`);
  }
  let term = 1;
  let sum = 1;
  const az = Math.abs(z);
  for (let k = 0; k < maxTerms; k++) {
    const ratio = ((a + k) * (b + k) * z) / ((c + k) * (k + 1));
    term *= ratio;
    sum += term;
    if (term === 0) return sum; // a or b a non-positive integer: a polynomial
    if (!Number.isFinite(sum)) {
      throw new BellwetherError('BW_ERR_INTERNAL', `hyp2f1(${a}, ${b}; ${c}; ${z}) overflows`);
    }
    const next = Math.abs(((a + k + 1) * (b + k + 1) * z) / ((c + k + 1) * (k + 2)));
    const q = Math.max(next, az);
    if (q < 1 && (Math.abs(term) * q) / (1 - q) <= tolerance * Math.abs(sum)) return sum;
  }
  throw new BellwetherError(
    'BW_ERR_INTERNAL',
    `hyp2f1(${a}, ${b}; ${c}; ${z}) did not converge in ${maxTerms} terms`,
  );
}
