/**
 * The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: Using
 * Iso-Value Curves for Customer Base Analysis", J. Marketing Research 42(4):415–430; the form below
 * follows Fader & Hardie's note "The Gamma-Gamma Model of Monetary Value", 2013).
 *
 * The value of each transaction of a customer is Gamma(p, ν) (shape p, rate ν); across customers
 * ν ~ Gamma(q, v) (shape q, rate v; v is the note's γ). Given x transactions with mean value m̄,
 * ln f(m̄ | x) = ln Γ(px + q) − ln Γ(px) − ln Γ(q) + q ln v + (px − 1) ln m̄ + px ln x − (px + q) ln(v + m̄ x).
 * Only customers with x ≥ 1 and m̄ > 0 carry information. As in the literature the model assumes
 * spend is independent of the purchase process.
 */
import { lgamma } from './lgamma.js';

export interface GammaGammaParams {
  p: number;
  q: number;
  v: number;
}

/** Customers with x ≥ 1 transactions of mean value m > 0. */
export interface SpendData {
  x: Float64Array;
  m: Float64Array;
}

export function gammaGammaIndividualLogLikelihood(g: GammaGammaParams, x: number, m: number): number {
  const px = g.p * x;
  return (
    lgamma(px + g.q) -
    lgamma(px) -
    lgamma(g.q) +
    g.q * Math.log(g.v) +
    (px - 1) * Math.log(m) +
    px * Math.log(x) -
    (px + g.q) * Math.log(g.v + m * x)
  );
}

export function gammaGammaLogLikelihood(g: GammaGammaParams, data: SpendData): number {
  const parts = new Map<number, number>();
  const base = g.q * Math.log(g.v) - lgamma(g.q);
  let sum = 0;
  for (let i = 0; i < data.x.length; i++) {
    const x = data.x[i]!;
    const m = data.m[i]!;
    const px = g.p * x;
    let part = parts.get(x);
    if (part === undefined) {
      part = lgamma(px + g.q) - lgamma(px) + px * Math.log(x) + base;
      parts.set(x, part);
    }
    sum += part + (px - 1) * Math.log(m) - (px + g.q) * Math.log(g.v + m * x);
  }
  return sum;
}

/** Mean spend per transaction across customers, E[M] = p v / (q − 1) (infinite when q ≤ 1). */
export function populationMeanSpend(g: GammaGammaParams): number {
  return g.q > 1 ? (g.p * g.v) / (g.q - 1) : Number.POSITIVE_INFINITY;
}

/**
 * E[M | x, m̄] = p (v + m̄ x) / (p x + q − 1): a weighted mean of the population mean and the
 * customer's own mean m̄ (x = 0 gives the population mean).
 */
export function expectedSpend(g: GammaGammaParams, x: number, m: number): number {
  if (x <= 0 || !(m > 0)) return populationMeanSpend(g);
  return (g.p * (g.v + m * x)) / (g.p * x + g.q - 1);
}
