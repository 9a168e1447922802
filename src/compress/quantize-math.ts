// Quantization arithmetic: s8 symmetric weights (per output channel or per tensor) and u8 asymmetric
// activations with ranges observed on calibration data (min-max or percentile). The rounding follows ONNX
// QuantizeLinear (round half to even, saturate) so sparq's numbers and an exported Q/DQ graph agree.
import { rangeError } from '../errors.js';
import { seededRandom } from './masks.js';

/** Round half to even, as ONNX QuantizeLinear and DynamicQuantizeLinear do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantizedWeights {
  /** s8 values [K, N] in [-127, 127]; a pruned (zero) weight stays exactly 0. */
  values: Int8Array;
  /** One scale per output column (perChannel) or one for the tensor. w ≈ values · scale. */
  scales: Float32Array;
  perChannel: boolean;
}

/**
 * Symmetric s8 quantization of W [K, N]: scale = max|w| / 127 per column (or over the tensor), zero point 0
 * so zeros stay zeros and sparsity survives. -128 is never produced (keeps the int8 kernels' sums safe).
 */
export function quantizeWeights(W: Float32Array, K: number, N: number, perChannel = true): QuantizedWeights {
  const maxAbs = new Float32Array(perChannel ? N : 1);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      const a = Math.abs(W[k * N + n]);
      const c = perChannel ? n : 0;
      if (a > maxAbs[c]) maxAbs[c] = a;
    }
  const scales = new Float32Array(maxAbs.length);
  for (let c = 0; c < scales.length; c++) scales[c] = maxAbs[c] > 0 && Number.isFinite(maxAbs[c]) ? maxAbs[c] / 127 : 1;
  const values = new Int8Array(K * N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      const q = roundHalfEven(W[k * N + n] / scales[perChannel ? n : 0]);
      values[k * N + n] = Number.isNaN(q) ? 0 : Math.max(-127, Math.min(127, q));
    }
  return { values, scales, perChannel };
}

/** values · scale as fp32 [K, N]: the weights an int8 layer effectively computes with. */
export function dequantizeWeights(q: QuantizedWeights, K: number, N: number): Float32Array {
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) out[k * N + n] = q.values[k * N + n] * q.scales[q.perChannel ? n : 0];
  return out;
}

export interface ActivationParams {
  /** x ≈ (q − zeroPoint) · scale, q in [0, 255]. */
  scale: number;
  zeroPoint: number;
}

/**
 * u8 parameters for a range, widened to include 0 (so zero padding and ReLU zeros are exact), as
 * DynamicQuantizeLinear computes them at run time.
 */
export function activationParams(min: number, max: number): ActivationParams {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw rangeError('a finite activation range', 'range', `[${min}, ${max}]`);
  if (hi === lo) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.max(0, Math.min(255, roundHalfEven(-lo / scale)));
  return { scale, zeroPoint };
}

export function quantizeU8(x: ArrayLike<number>, p: ActivationParams): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(0, Math.min(255, roundHalfEven(x[i] / p.scale) + p.zeroPoint));
  return out;
}

export type RangeMethod = 'minmax' | 'percentile';

/**
 * Watches the values one activation takes over calibration batches. 'minmax' keeps the extremes;
 * 'percentile' keeps a seeded reservoir sample (up to `sampleSize` values) and clips to the given
 * percentile at both ends, so a few outliers don't waste the 256 levels.
 */
export class RangeObserver {
  min = Infinity;
  max = -Infinity;
  seen = 0;
  readonly #sample: Float32Array;
  #filled = 0;
  readonly #random: () => number;

  constructor(
    readonly method: RangeMethod = 'minmax',
    readonly percentile = 99.99,
    sampleSize = 1 << 18,
    seed = 0,
  ) {
    if (!(percentile > 50 && percentile <= 100)) throw rangeError('a percentile in (50, 100]', 'percentile', percentile);
    this.#sample = new Float32Array(method === 'percentile' ? sampleSize : 0);
    this.#random = seededRandom(seed);
  }

  observe(values: ArrayLike<number>): void {
    const cap = this.#sample.length;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (Number.isNaN(v)) continue;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      this.seen++;
      if (cap === 0) continue;
      if (this.#filled < cap) this.#sample[this.#filled++] = v;
      else {
        const j = Math.floor(this.#random() * this.seen);
        if (j < cap) this.#sample[j] = v;
      }
    }
  }

  /** The observed range ([0, 0] before any value). */
  range(): { min: number; max: number } {
    if (this.seen === 0) return { min: 0, max: 0 };
    if (this.method === 'minmax' || this.percentile === 100) return { min: this.min, max: this.max };
    const sorted = this.#sample.slice(0, this.#filled).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
    return { min: at(1 - this.percentile / 100), max: at(this.percentile / 100) };
  }

  params(): ActivationParams {
    const r = this.range();
    return activationParams(r.min, r.max);
  }
}
