// The points along the straight path from the baseline to the input where integrated gradients evaluates
// the gradient, and their weights: the same rules as Captum's approximation_methods.py, so attributions
// compare one to one. Gauss-Legendre (Captum's default) is exact for polynomials of degree 2n - 1 and
// needs far fewer steps than a Riemann sum for the same completeness gap.

export const IG_METHODS = ['gausslegendre', 'riemann_trapezoid', 'riemann_left', 'riemann_right', 'riemann_middle'] as const;
export type IgMethod = (typeof IG_METHODS)[number];

export interface PathRule {
  /** Where on the path (0 = baseline, 1 = input). */
  alphas: Float64Array;
  /** The weight of each point's gradient (they sum to 1). */
  weights: Float64Array;
}

/**
 * Gauss-Legendre nodes and weights on [-1, 1] (numpy.polynomial.legendre.leggauss): Newton's method on
 * P_n from Chebyshev starting points, P_n and P_n' by the three-term recurrence, in float64.
 */
export function leggauss(n: number): { nodes: Float64Array; weights: Float64Array } {
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const pn = n === 1 ? x : p1;
      const pn1 = n === 1 ? 1 : p0;
      dp = (n * (x * pn - pn1)) / (x * x - 1);
      const dx = pn / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    const w = 2 / ((1 - x * x) * dp * dp);
    // Ascending order, as numpy returns them.
    nodes[i] = -x;
    nodes[n - 1 - i] = x;
    weights[i] = w;
    weights[n - 1 - i] = w;
  }
  if (n % 2 === 1) nodes[(n - 1) / 2] = 0;
  return { nodes, weights };
}

/** The path points and weights for `steps` evaluations by `method`. */
export function pathRule(method: IgMethod, steps: number): PathRule {
  const alphas = new Float64Array(steps);
  const weights = new Float64Array(steps);
  if (method === 'gausslegendre') {
    const g = leggauss(steps);
    for (let i = 0; i < steps; i++) {
      alphas[i] = 0.5 * (1 + g.nodes[i]);
      weights[i] = 0.5 * g.weights[i];
    }
    return { alphas, weights };
  }
  if (method === 'riemann_trapezoid') {
    if (steps < 2) throw new RangeError(`Expected at least 2 steps for options.steps with 'riemann_trapezoid' but received ${steps}`);
    for (let i = 0; i < steps; i++) {
      alphas[i] = i / (steps - 1);
      weights[i] = (i === 0 || i === steps - 1 ? 0.5 : 1) / (steps - 1);
    }
    return { alphas, weights };
  }
  const offset = { riemann_left: 0, riemann_right: 1, riemann_middle: 0.5 }[method];
  for (let i = 0; i < steps; i++) {
    alphas[i] = (i + offset) / steps;
    weights[i] = 1 / steps;
  }
  return { alphas, weights };
}
