/**
 * L2-regularised logistic regression fitted exactly by Newton–Raphson (IRLS), deterministic and
 * without TF.js: the logistic baseline of `bellwether eval`. The intercept is not penalised.
 */
import type { Matrix } from './dataset.js';

export interface LogisticModel {
  weights: Float64Array;
  intercept: number;
  iterations: number;
  converged: boolean;
}

export interface LogisticOptions {
  /** L2 penalty λ on the weights (default 1). */
  l2?: number;
  maxIterations?: number;
  /** Stop when no coefficient moves more than this (default 1e-8). */
  tolerance?: number;
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

function linear(beta: Float64Array, m: Matrix, i: number): number {
  let z = beta[m.d]!;
  for (let k = 0; k < m.d; k++) z += beta[k]! * m.x[i * m.d + k]!;
  return z;
}

function penalisedLogLik(beta: Float64Array, m: Matrix, l2: number): number {
  let ll = 0;
  for (let i = 0; i < m.n; i++) {
    const z = linear(beta, m, i);
    // y z − ln(1 + e^z), stable
    ll += m.y[i]! * z - (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
  }
  let w2 = 0;
  for (let k = 0; k < m.d; k++) w2 += beta[k]! ** 2;
  return ll - 0.5 * l2 * w2;
}

/** Solves the symmetric positive definite system A x = b (Cholesky); undefined when A is not SPD. */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j]!;
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * n + k]! * y[k]!;
    y[i] = s / L[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k]!;
    x[i] = s / L[i * n + i]!;
  }
  return x;
}

export function fitLogistic(m: Matrix, options: LogisticOptions = {}): LogisticModel {
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-8;
  const p = m.d + 1;
  const beta = new Float64Array(p);
  let current = penalisedLogLik(beta, m, l2);
  let iterations = 0;
  let converged = false;
  const row = new Float64Array(p);
  while (iterations < maxIterations) {
    iterations++;
    const H = new Float64Array(p * p);
    const g = new Float64Array(p);
    for (let i = 0; i < m.n; i++) {
      for (let k = 0; k < m.d; k++) row[k] = m.x[i * m.d + k]!;
      row[m.d] = 1;
      const prob = sigmoid(linear(beta, m, i));
      const w = prob * (1 - prob);
      const r = m.y[i]! - prob;
      for (let j = 0; j < p; j++) {
        g[j]! += row[j]! * r;
        const wj = w * row[j]!;
        for (let k = 0; k <= j; k++) H[j * p + k]! += wj * row[k]!;
      }
    }
    for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) H[k * p + j] = H[j * p + k]!;
    for (let k = 0; k < m.d; k++) {
      g[k]! -= l2 * beta[k]!;
      H[k * p + k]! += l2;
    }
    const step = solveSpd(H, g, p);
    if (!step) break;
    // Newton step with halving until the penalised log-likelihood does not decrease.
    let scale = 1;
    let next = beta;
    let value = current;
    for (let h = 0; h < 30; h++, scale /= 2) {
      next = beta.map((b, j) => b + scale * step[j]!);
      value = penalisedLogLik(next, m, l2);
      if (value >= current - 1e-12) break;
    }
    let moved = 0;
    for (let j = 0; j < p; j++) moved = Math.max(moved, Math.abs(next[j]! - beta[j]!));
    beta.set(next);
    current = value;
    if (moved < tolerance) {
      converged = true;
      break;
    }
  }
  return { weights: beta.slice(0, m.d), intercept: beta[m.d]!, iterations, converged };
}

export function predictLogistic(model: LogisticModel, m: Matrix): Float64Array {
  const out = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) {
    let z = model.intercept;
    for (let k = 0; k < m.d; k++) z += model.weights[k]! * m.x[i * m.d + k]!;
    out[i] = sigmoid(z);
  }
  return out;
}
