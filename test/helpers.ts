// Test helpers: seeded data, the double-precision reference matmul, and error measures.

// Seeded data comes from sparq's own generator (src/random.ts).
export { mulberry32 as rng, randomFloats } from '../src/random.js';
import { mulberry32 as rng } from '../src/random.js';

/** Zeroes a random `sparsity` share of w (a pruned matrix). */
export function prune(w: Float32Array, sparsity: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = Float32Array.from(w);
  for (let i = 0; i < out.length; i++) if (r() < sparsity) out[i] = 0;
  return out;
}

export function erf(x: number): number {
  // erf(x) = sign(x)·(1 − erfc(|x|)), erfc by Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7):
  // independent of the kernels' rational approximation, and close enough for 1e-5 comparisons.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

export function activate(v: number, act: 'none' | 'relu' | 'gelu'): number {
  if (act === 'relu') return v < 0 ? 0 : v;
  if (act === 'gelu') return 0.5 * v * (1 + erf(v / Math.SQRT2));
  return v;
}

/** y = act(x·W + b) in double precision; also the per-output error scale sum|x||w| + |b| + 1. */
export function refMatmul(
  x: Float32Array,
  M: number,
  W: Float32Array,
  K: number,
  N: number,
  bias?: Float32Array,
  act: 'none' | 'relu' | 'gelu' = 'none',
): { y: Float64Array; scale: Float64Array } {
  const y = new Float64Array(M * N);
  const scale = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const xv = x[i * K + k];
      if (xv === 0) continue;
      for (let j = 0; j < N; j++) {
        const w = W[k * N + j];
        y[i * N + j] += xv * w;
        scale[i * N + j] += Math.abs(xv * w);
      }
    }
    for (let j = 0; j < N; j++) {
      const b = bias ? bias[j] : 0;
      y[i * N + j] = activate(y[i * N + j] + b, act);
      scale[i * N + j] += Math.abs(b) + 1;
    }
  }
  return { y, scale };
}

/** max_i |got_i - want_i| / scale_i; Infinity on a NaN mismatch. */
export function maxScaledError(got: ArrayLike<number>, want: ArrayLike<number>, scale?: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    if (Number.isNaN(got[i]) !== Number.isNaN(want[i])) return Infinity;
    if (Number.isNaN(got[i])) continue;
    const e = Math.abs(got[i] - want[i]) / (scale ? scale[i] : Math.max(1, Math.abs(want[i])));
    if (e > worst) worst = e;
  }
  return worst;
}

/** The ISA the test process runs (SPARQ_ISA), for test names. */
export const isaLabel = process.env.SPARQ_ISA ?? 'default';

/** Largest |a - b| / (|b| + 1e-2·max|b|): relative per element, with a floor for values near zero. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let maxAbs = 0;
  for (let i = 0; i < b.length; i++) maxAbs = Math.max(maxAbs, Math.abs(b[i]));
  const floor = 1e-2 * maxAbs + 1e-30;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor);
    if (!(e <= err)) err = Number.isNaN(e) ? Infinity : e;
  }
  return err;
}
