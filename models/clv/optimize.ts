/**
 * Derivative-free minimisation (Nelder–Mead, restarted from the best vertex until a restart no
 * longer improves) and a central-difference Hessian with its inverse, for maximum-likelihood fits
 * on log-parameters and their standard errors.
 */

export interface MinimizeOptions {
  /** Initial simplex step along each axis (default 0.5: a factor e^0.5 on log-parameters). */
  step?: number;
  /**
   * Stop when the simplex's function values differ by at most fTolerance × (|f_best| + fTolerance)
   * (relative, as R's optim; default 1e-10). A flat ridge then ends the search even when the
   * simplex is still long along it: points on the ridge fit equally well.
   */
  fTolerance?: number;
  /** Iterations per run (default 4000 × dimension). */
  maxIterations?: number;
  /** Restarts after the first run (default 4). */
  restarts?: number;
}

export interface MinimizeResult {
  x: number[];
  value: number;
  iterations: number;
  evaluations: number;
  /** Whether the last run met the tolerances before its iteration limit. */
  converged: boolean;
}

function nelderMeadRun(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  step: number,
  fTol: number,
  maxIterations: number,
  count: { evaluations: number },
): MinimizeResult {
  const n = x0.length;
  const evaluate = (x: number[]): number => {
    count.evaluations++;
    const v = f(x);
    return Number.isNaN(v) ? Number.POSITIVE_INFINITY : v;
  };
  const simplex: number[][] = [Array.from(x0)];
  for (let i = 0; i < n; i++) {
    const v = Array.from(x0);
    v[i] = v[i]! + step;
    simplex.push(v);
  }
  let values = simplex.map(evaluate);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    const order = values.map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
    const sorted = order.map((i) => simplex[i]!);
    values = order.map((i) => values[i]!);
    simplex.splice(0, simplex.length, ...sorted);
    const best = simplex[0]!;
    if (values[n]! - values[0]! <= fTol * (Math.abs(values[0]!) + fTol)) {
      converged = true;
      break;
    }
    iterations++;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) centroid[k]! += simplex[i]![k]! / n;
    const worst = simplex[n]!;
    const along = (t: number) => centroid.map((c, k) => c + t * (c - worst[k]!));
    const reflected = along(1);
    const fr = evaluate(reflected);
    if (fr < values[0]!) {
      const expanded = along(2);
      const fe = evaluate(expanded);
      if (fe < fr) {
        simplex[n] = expanded;
        values[n] = fe;
      } else {
        simplex[n] = reflected;
        values[n] = fr;
      }
      continue;
    }
    if (fr < values[n - 1]!) {
      simplex[n] = reflected;
      values[n] = fr;
      continue;
    }
    const outside = fr < values[n]!;
    const contracted = along(outside ? 0.5 : -0.5);
    const fc = evaluate(contracted);
    if (fc < (outside ? fr : values[n]!)) {
      simplex[n] = contracted;
      values[n] = fc;
      continue;
    }
    for (let i = 1; i <= n; i++) {
      simplex[i] = simplex[i]!.map((v, k) => best[k]! + 0.5 * (v - best[k]!));
      values[i] = evaluate(simplex[i]!);
    }
  }
  let at = 0;
  for (let i = 1; i <= n; i++) if (values[i]! < values[at]!) at = i;
  return { x: simplex[at]!, value: values[at]!, iterations, evaluations: count.evaluations, converged };
}

/** Minimises `f` from `x0` with Nelder–Mead, restarting from the best point found. */
export function minimize(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  options: MinimizeOptions = {},
): MinimizeResult {
  const step = options.step ?? 0.5;
  const fTol = options.fTolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? 4000 * x0.length;
  const count = { evaluations: 0 };
  let result = nelderMeadRun(f, x0, step, fTol, maxIterations, count);
  let iterations = result.iterations;
  for (let r = 0; r < (options.restarts ?? 4); r++) {
    const again = nelderMeadRun(f, result.x, step / 4, fTol, maxIterations, count);
    iterations += again.iterations;
    const improved = again.value < result.value - fTol * (Math.abs(result.value) + fTol);
    if (again.value <= result.value) result = again;
    if (!improved) break;
  }
  return { ...result, iterations, evaluations: count.evaluations };
}

/** Central-difference Hessian of `f` at `x` with step `h` in every coordinate. */
export function numericHessian(
  f: (x: readonly number[]) => number,
  x: readonly number[],
  h = 1e-3,
): number[][] {
  const n = x.length;
  const at = (di: number, dj: number, i: number, j: number): number => {
    const y = Array.from(x);
    y[i] = y[i]! + di;
    y[j] = y[j]! + dj;
    return f(y);
  };
  const f0 = f(x);
  const H: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    H[i]![i] = (at(h, 0, i, i) - 2 * f0 + at(-h, 0, i, i)) / (h * h);
    for (let j = 0; j < i; j++) {
      const v = (at(h, h, i, j) - at(h, -h, i, j) - at(-h, h, i, j) + at(-h, -h, i, j)) / (4 * h * h);
      H[i]![j] = v;
      H[j]![i] = v;
    }
  }
  return H;
}

/** Inverse of a square matrix by Gauss–Jordan elimination with partial pivoting; undefined when singular. */
export function invert(matrix: readonly (readonly number[])[]): number[][] | undefined {
  const n = matrix.length;
  const a = matrix.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    const p = a[pivot]![col]!;
    if (!(Math.abs(p) > 1e-300)) return undefined;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const row = a[col]!;
    for (let k = 0; k < 2 * n; k++) row[k] = row[k]! / p;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const factor = a[r]![col]!;
      if (factor === 0) continue;
      const target = a[r]!;
      for (let k = 0; k < 2 * n; k++) target[k] = target[k]! - factor * row[k]!;
    }
  }
  return a.map((row) => row.slice(n));
}

/**
 * Standard errors of θ = exp(φ) from the Hessian of the negative log-likelihood in φ = ln θ at its
 * minimum: Cov(θ) = diag(θ) H⁻¹ diag(θ) (exact at a stationary point). Undefined when the Hessian
 * is singular or not positive definite on the diagonal of its inverse.
 */
export function logParamStandardErrors(
  negLogLik: (phi: readonly number[]) => number,
  phi: readonly number[],
  h = 1e-3,
): number[] | undefined {
  const inverse = invert(numericHessian(negLogLik, phi, h));
  if (!inverse) return undefined;
  const se = phi.map((p, i) => Math.exp(p) * Math.sqrt(inverse[i]![i]!));
  return se.every((v) => Number.isFinite(v) && v > 0) ? se : undefined;
}
