import { mulberry32 } from '../random.js';

export { mulberry32 };
// Seeded randomness for training: the same seed gives the same shuffles and the same initial weights,
// bit for bit, on every machine (integer PRNG, float32 results, no Math.random).

/** Fisher–Yates shuffle of `order` in place with a seeded uniform source. */
export function shuffleInPlace(order: Int32Array | Uint32Array, uniform: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/** Fills `out` with uniforms in [-limit, limit). */
export function fillUniform(out: Float32Array, limit: number, uniform: () => number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = (2 * uniform() - 1) * limit;
  return out;
}

/** A child seed derived from a seed and a stream number, so streams (init, shuffle) never overlap. */
export function deriveSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A standard normal (Box–Muller on the seeded uniform source). */
export function normal(uniform: () => number): number {
  const u = 1 - uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000), boosted for shape < 1. */
export function gamma(shape: number, uniform: () => number): number {
  if (shape < 1) return gamma(shape + 1, uniform) * Math.pow(1 - uniform(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(uniform);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - uniform();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(a, a): the mixing weight of mixup. */
export function betaSymmetric(a: number, uniform: () => number): number {
  const x = gamma(a, uniform);
  const y = gamma(a, uniform);
  return x / (x + y);
}
