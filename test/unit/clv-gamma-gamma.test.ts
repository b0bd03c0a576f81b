/**
 * Gamma-Gamma against the textbook, without the CDNOW data: the closed-form density of a
 * customer's mean spend against direct integration over the gamma(ν) mixing distribution (all
 * normalisers, Γ(px) included, integrated numerically), E[M | x, m̄] against the posterior mean
 * by integration, and recovery of the published CDNOW estimates p = 6.25, q = 3.74, γ = 15.44
 * (Fader & Hardie, "The Gamma-Gamma Model of Monetary Value", 2013, brucehardie.com/notes/025)
 * from a seeded simulation.
 */
import { describe, expect, it } from 'vitest';
import { fitGammaGamma } from '../../models/clv/fit.js';
import {
  expectedSpend,
  type GammaGammaParams,
  gammaGammaIndividualLogLikelihood,
  gammaGammaLogLikelihood,
  populationMeanSpend,
} from '../../models/clv/gamma-gamma.js';
import { integrateHalfLine } from './clv-quadrature.js';
import { simulateBgNbd, simulateGammaGamma } from './clv-simulate.js';

const CDNOW: GammaGammaParams = { p: 6.25, q: 3.74, v: 15.44 };

/** f(m̄ | x) and E[M | x, m̄] by integration over ν ~ Gamma(q, v). */
function numeric(g: GammaGammaParams, x: number, m: number) {
  const shape = g.p * x;
  // Γ(px) numerically; the mean of x Gamma(p, ν) values is Gamma(px, rate νx).
  const gammaPx = integrateHalfLine((u) => Math.exp((shape - 1) * Math.log(u) - u), shape);
  const nuKernel = (nu: number) => Math.exp((g.q - 1) * Math.log(nu) - g.v * nu);
  const nuNorm = integrateHalfLine(nuKernel, g.q / g.v);
  const given = (nu: number) =>
    Math.exp(shape * Math.log(nu * x) + (shape - 1) * Math.log(m) - nu * x * m) / gammaPx;
  const scale = (shape + g.q) / (g.v + m * x);
  const density = integrateHalfLine((nu) => given(nu) * nuKernel(nu), scale) / nuNorm;
  // E[M | data] = E[p / ν | data]: the mean of one transaction's Gamma(p, ν) value.
  const mean = integrateHalfLine((nu) => (g.p / nu) * given(nu) * nuKernel(nu), scale) / nuNorm / density;
  return { logDensity: Math.log(density), mean };
}

describe('Gamma-Gamma closed forms against numerical integration', () => {
  for (const params of [CDNOW, { p: 0.8, q: 1.6, v: 4 }]) {
    it(`density and conditional mean (p ${params.p}, q ${params.q}, v ${params.v})`, () => {
      for (const [x, m] of [
        [1, 12.5],
        [2, 35.17],
        [5, 3.2],
        [17, 80],
      ] as const) {
        const n = numeric(params, x, m);
        const ll = gammaGammaIndividualLogLikelihood(params, x, m);
        expect(Math.abs(ll - n.logDensity) / Math.abs(n.logDensity)).toBeLessThan(1e-6);
        expect(Math.abs(expectedSpend(params, x, m) - n.mean) / n.mean).toBeLessThan(1e-6);
      }
    });
  }

  it('sums the individual terms and shrinks towards the population mean', () => {
    const x = Float64Array.of(1, 2, 2, 9);
    const m = Float64Array.of(10, 20.5, 33, 41);
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += gammaGammaIndividualLogLikelihood(CDNOW, x[i]!, m[i]!);
    expect(gammaGammaLogLikelihood(CDNOW, { x, m })).toBeCloseTo(sum, 10);
    const mean = populationMeanSpend(CDNOW);
    expect(mean).toBeCloseTo((6.25 * 15.44) / 2.74, 10);
    expect(expectedSpend(CDNOW, 0, Number.NaN)).toBe(mean);
    // More transactions → closer to the customer's own mean.
    expect(Math.abs(expectedSpend(CDNOW, 20, 100) - 100)).toBeLessThan(
      Math.abs(expectedSpend(CDNOW, 1, 100) - 100),
    );
    expect(populationMeanSpend({ p: 1, q: 0.9, v: 1 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('fitGammaGamma', () => {
  it('recovers the CDNOW parameters from a simulated population', () => {
    // Repeat-purchase counts from a simulated BG/NBD population at the CDNOW estimates, 8 000 repeaters.
    const bg = simulateBgNbd({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, 20_000, 7);
    const xs = bg.filter((c) => c.x > 0).map((c) => c.x);
    const sim = simulateGammaGamma(CDNOW, xs, 2013);
    const data = { x: Float64Array.from(sim, (c) => c.x), m: Float64Array.from(sim, (c) => c.m) };
    const fit = fitGammaGamma(data);
    expect(fit.customers).toBe(xs.length);
    expect(fit.optimizer.converged).toBe(true);
    expect(fit.log_likelihood).toBeGreaterThanOrEqual(gammaGammaLogLikelihood(CDNOW, data));
    for (const k of ['p', 'q', 'v'] as const) {
      const se = fit.se![k]!;
      expect(Math.abs(fit[k] - CDNOW[k])).toBeLessThan(3.5 * se);
      expect(Math.abs(fit[k] - CDNOW[k]) / CDNOW[k]).toBeLessThan(0.15);
    }
    // The fitted population mean spend is close to the true one.
    expect(populationMeanSpend(fit) / populationMeanSpend(CDNOW)).toBeCloseTo(1, 1);
  });

  it('refuses an empty data set', () => {
    expect(() => fitGammaGamma({ x: new Float64Array(0), m: new Float64Array(0) })).toThrow(
      /repeat purchases/,
    );
  });
});
