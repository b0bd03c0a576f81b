/**
 * Seeded simulation of customer bases from known BG/NBD and Gamma-Gamma parameters, for the
 * parameter-recovery tests (helper, not a test file).
 */
import { mulberry32 } from '../../lib/random.js';
import type { BgNbdParams } from '../../models/clv/bgnbd.js';
import type { GammaGammaParams } from '../../models/clv/gamma-gamma.js';

export { mulberry32 };

function normal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, rate = 1) by Marsaglia & Tsang (2000), with the U^{1/k} boost for shape < 1. */
export function gammaVariate(random: () => number, shape: number): number {
  if (shape < 1) return gammaVariate(random, shape + 1) * (1 - random()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function betaVariate(random: () => number, a: number, b: number): number {
  const x = gammaVariate(random, a);
  return x / (x + gammaVariate(random, b));
}

export interface SimulatedCustomer {
  x: number;
  tx: number;
  T: number;
}

/**
 * One BG/NBD customer observed for T: exponential gaps at rate λ while alive, and after each repeat
 * purchase a drop-out with probability p.
 */
function simulateBgNbdCustomer(
  random: () => number,
  lambda: number,
  p: number,
  T: number,
): SimulatedCustomer {
  let t = 0;
  let x = 0;
  let tx = 0;
  for (;;) {
    t += -Math.log(1 - random()) / lambda;
    if (t > T) break;
    x++;
    tx = t;
    if (random() < p) break;
  }
  return { x, tx, T };
}

/** n customers with T uniform in [tMin, tMax] (CDNOW: first purchases over 12 weeks, 39-week calibration). */
export function simulateBgNbd(
  params: BgNbdParams,
  n: number,
  seed: number,
  tMin = 27,
  tMax = 39,
): SimulatedCustomer[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const lambda = gammaVariate(random, params.r) / params.alpha;
    const p = betaVariate(random, params.a, params.b);
    return simulateBgNbdCustomer(random, lambda, p, tMin + (tMax - tMin) * random());
  });
}

/** Mean spend of x transactions for n customers: ν ~ Gamma(q, v), each value ~ Gamma(p, ν). */
export function simulateGammaGamma(
  params: GammaGammaParams,
  xs: readonly number[],
  seed: number,
): { x: number; m: number }[] {
  const random = mulberry32(seed);
  return xs.map((x) => {
    const nu = gammaVariate(random, params.q) / params.v;
    let sum = 0;
    for (let k = 0; k < x; k++) sum += gammaVariate(random, params.p) / nu;
    return { x, m: sum / x };
  });
}
