import { describe, expect, it } from 'vitest';
import { hyp2f1 } from '../../models/clv/hypergeometric.js';
import { lbeta, lgamma, logAddExp } from '../../models/clv/lgamma.js';

describe('lgamma', () => {
  it('matches known values', () => {
    // ln Γ(n) = ln (n − 1)!, Γ(1/2) = √π, Γ(1/3) = 2.678938534707747633… (DLMF 5.4.iii / OEIS A073005)
    expect(lgamma(1)).toBeCloseTo(0, 14);
    expect(lgamma(2)).toBeCloseTo(0, 14);
    expect(lgamma(3)).toBeCloseTo(Math.log(2), 14);
    expect(lgamma(10)).toBeCloseTo(Math.log(362880), 12);
    expect(lgamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    expect(lgamma(1.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI) / 2), 14);
    expect(lgamma(1 / 3)).toBeCloseTo(Math.log(2.6789385347077475), 13);
    let logFactorial = 0;
    for (let n = 2; n <= 170; n++) logFactorial += Math.log(n);
    expect(lgamma(171) / logFactorial).toBeCloseTo(1, 13);
  });

  it('is accurate near 0 and for large arguments', () => {
    // ln Γ(x) = −ln x − γ x + O(x²) for small x (γ = Euler–Mascheroni).
    const gamma = 0.5772156649015329;
    expect(lgamma(1e-8)).toBeCloseTo(-Math.log(1e-8) - gamma * 1e-8, 12);
    // Stirling series with three correction terms: error < 1e-20 at x = 1e4.
    for (const x of [1e4, 1e6, 1e9]) {
      const stirling =
        (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3);
      expect(Math.abs(lgamma(x) - stirling) / stirling).toBeLessThan(1e-14);
    }
  });

  it('satisfies the recurrence and the duplication formula', () => {
    for (const x of [0.01, 0.243, 0.5, 0.793, 1.7, 2.426, 4.414, 15.44, 123.4]) {
      expect(lgamma(x + 1) - lgamma(x) - Math.log(x)).toBeCloseTo(0, 12);
      // Legendre: Γ(x) Γ(x + ½) = 2^{1−2x} √π Γ(2x)
      const lhs = lgamma(x) + lgamma(x + 0.5);
      const rhs = (1 - 2 * x) * Math.log(2) + 0.5 * Math.log(Math.PI) + lgamma(2 * x);
      expect(lhs - rhs).toBeCloseTo(0, 11);
    }
  });

  it('gives lbeta and rejects x ≤ 0', () => {
    expect(lbeta(2, 3)).toBeCloseTo(Math.log(1 / 12), 14);
    expect(lbeta(0.5, 0.5)).toBeCloseTo(Math.log(Math.PI), 14);
    expect(() => lgamma(0)).toThrow(/x > 0/);
    expect(() => lgamma(-1.5)).toThrow(/x > 0/);
    expect(() => lgamma(Number.NaN)).toThrow(/x > 0/);
  });

  it('adds in log space without overflow', () => {
    expect(logAddExp(1000, 1000)).toBeCloseTo(1000 + Math.log(2), 12);
    expect(logAddExp(-1000, 0)).toBeCloseTo(0, 14);
    expect(logAddExp(Number.NEGATIVE_INFINITY, 3)).toBe(3);
  });
});

describe('hyp2f1', () => {
  it('matches closed forms', () => {
    for (const z of [-0.9, -0.3, 0.01, 0.25, 0.5, 0.9, 0.99]) {
      // 2F1(1, 1; 2; z) = −ln(1 − z)/z; 2F1(a, b; b; z) = (1 − z)^{−a}
      expect(hyp2f1(1, 1, 2, z)).toBeCloseTo(-Math.log(1 - z) / z, 12);
      expect(hyp2f1(2.7, 1.3, 1.3, z) / (1 - z) ** -2.7).toBeCloseTo(1, 12);
    }
    for (const x of [0.1, 0.5, 0.9]) {
      // 2F1(½, ½; 3/2; x²) = arcsin(x)/x
      expect(hyp2f1(0.5, 0.5, 1.5, x * x)).toBeCloseTo(Math.asin(x) / x, 13);
    }
    // a non-positive integer ends the series: 2F1(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1))
    expect(hyp2f1(-2, 3, 4, 0.5)).toBeCloseTo(1 - (2 * 3 * 0.5) / 4 + (3 * 4 * 0.25) / (4 * 5), 14);
  });

  it('handles the BG/NBD regime: large a, b with growing then shrinking terms', () => {
    // Euler's transformation 2F1(a, b; c; z) = (1 − z)^{c−a−b} 2F1(c − a, c − b; c; z) as an independent check.
    const [a, b, c, z] = [80.243, 82.426, 82.219, 0.4];
    const direct = hyp2f1(a, b, c, z);
    const euler = (1 - z) ** (c - a - b) * hyp2f1(c - a, c - b, c, z);
    expect(direct / euler).toBeCloseTo(1, 11);
  });

  it('refuses |z| ≥ 1 and reports non-convergence', () => {
    expect(() => hyp2f1(1, 1, 2, 1)).toThrow(/\|z\| < 1/);
    expect(() => hyp2f1(1, 1, -2, 0.5)).toThrow(/undefined/);
    expect(() => hyp2f1(1, 1, 2, 0.999999, { maxTerms: 100 })).toThrow(/did not converge/);
  });
});
