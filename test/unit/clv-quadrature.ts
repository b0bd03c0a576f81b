/**
 * Tanh-sinh (double-exponential) quadrature for the CLV likelihood tests (helper, not a test file).
 * It integrates algebraic endpoint singularities such as p^{a−1} with a < 1 or λ^{r−1} with r < 1
 * to near machine precision, so the tests can integrate the gamma and beta mixing distributions
 * directly instead of using the closed forms under test. Nothing here uses lgamma.
 */

export interface Node {
  /** Abscissa in (0, 1). */
  u: number;
  /** 1 − u, computed without cancellation. */
  v: number;
  /** Weight (includes the step). */
  w: number;
}

/** Nodes on (0, 1): u = 1 / (1 + e^{−2s}), s = (π/2) sinh t, t = k h for |t| ≤ tMax. */
function tanhSinhNodes(h = 1 / 32, tMax = 4.5): Node[] {
  const nodes: Node[] = [];
  for (let t = -tMax; t <= tMax + 1e-12; t += h) {
    const s = (Math.PI / 2) * Math.sinh(t);
    const u = 1 / (1 + Math.exp(-2 * s));
    const v = 1 / (1 + Math.exp(2 * s));
    const c = Math.cosh(s);
    const w = (h * (Math.PI / 4) * Math.cosh(t)) / (c * c);
    if (u > 0 && v > 0 && w > 0 && Number.isFinite(w)) nodes.push({ u, v, w });
  }
  return nodes;
}

const NODES = tanhSinhNodes();

/** ∫_0^1 f(u, 1 − u) du. */
export function integrateUnit(f: (u: number, v: number) => number, nodes: readonly Node[] = NODES): number {
  let sum = 0;
  for (const n of nodes) {
    const value = f(n.u, n.v);
    if (value !== 0) sum += n.w * value;
  }
  return sum;
}

/** ∫_0^∞ f(x) dx with x = scale · u / (1 − u). */
export function integrateHalfLine(
  f: (x: number) => number,
  scale = 1,
  nodes: readonly Node[] = NODES,
): number {
  return integrateUnit((u, v) => {
    const x = (scale * u) / v;
    const value = f(x);
    return value === 0 ? 0 : (value * scale) / (v * v);
  }, nodes);
}

/** ∫_0^∞ ∫_0^1 f(λ, p, 1 − p) dp dλ (product rule). */
export function integrateLambdaP(
  f: (lambda: number, p: number, q: number) => number,
  scale = 1,
  nodes: readonly Node[] = NODES,
): number {
  return integrateHalfLine((lambda) => integrateUnit((p, q) => f(lambda, p, q), nodes), scale, nodes);
}
