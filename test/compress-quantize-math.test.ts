import { describe, expect, it } from 'vitest';
import { activationParams, dequantizeWeights, quantizeU8, quantizeWeights, RangeObserver, roundHalfEven } from '../src/compress/quantize-math.js';
import { prune, randomFloats } from './helpers.js';

describe('weight quantization', () => {
  const K = 33;
  const N = 7;
  const W = prune(randomFloats(K * N, 2), 0.6, 3);
  for (let k = 0; k < K; k++) W[k * N + 2] *= 10; // one column with a larger range

  it('per channel: one scale per output, error at most half a step, zeros stay zeros', () => {
    const q = quantizeWeights(W, K, N, true);
    expect(q.scales.length).toBe(N);
    const back = dequantizeWeights(q, K, N);
    for (let k = 0; k < K; k++)
      for (let n = 0; n < N; n++) {
        const i = k * N + n;
        expect(Math.abs(back[i] - W[i])).toBeLessThanOrEqual(q.scales[n] / 2 + 1e-7);
        if (W[i] === 0) expect(q.values[i]).toBe(0);
        expect(q.values[i]).toBeGreaterThanOrEqual(-127);
      }
    // The column extremes hit ±127 exactly.
    expect(Math.max(...Array.from({ length: K }, (_, k) => Math.abs(q.values[k * N + 2])))).toBe(127);
  });

  it('per tensor: one scale; the small columns lose precision', () => {
    const pt = quantizeWeights(W, K, N, false);
    const pc = quantizeWeights(W, K, N, true);
    expect(pt.scales.length).toBe(1);
    const err = (q: typeof pt) => {
      const b = dequantizeWeights(q, K, N);
      let e = 0;
      for (let k = 0; k < K; k++) e += Math.abs(b[k * N] - W[k * N]);
      return e;
    };
    expect(err(pt)).toBeGreaterThan(err(pc));
  });

  it('all-zero and non-finite weights quantize to 0 without NaN scales', () => {
    const q = quantizeWeights(new Float32Array(6), 2, 3);
    expect(Array.from(q.scales)).toEqual([1, 1, 1]);
    expect(Array.from(q.values)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('activation ranges', () => {
  it('rounds half to even like ONNX', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });

  it('params include zero and map the range onto 0..255 as DynamicQuantizeLinear does', () => {
    const p = activationParams(-1, 3);
    expect(p.scale).toBeCloseTo(4 / 255, 9);
    expect(p.zeroPoint).toBe(64);
    expect(Array.from(quantizeU8([-1, 0, 3, 100, -100], p))).toEqual([0, 64, 255, 255, 0]);
    expect(activationParams(2, 5).zeroPoint).toBe(0); // widened to [0, 5]
    expect(activationParams(0, 0)).toEqual({ scale: 1, zeroPoint: 0 });
    expect(() => activationParams(0, Infinity)).toThrow(RangeError);
  });

  it('min-max sees the extremes; percentile clips rare outliers', () => {
    const values = randomFloats(100_000, 5, -1, 1);
    values[123] = 50;
    values[456] = -40;
    const mm = new RangeObserver('minmax');
    const pc = new RangeObserver('percentile', 99.9);
    for (let i = 0; i < values.length; i += 10_000) {
      mm.observe(values.subarray(i, i + 10_000));
      pc.observe(values.subarray(i, i + 10_000));
    }
    expect(mm.range()).toEqual({ min: -40, max: 50 });
    const r = pc.range();
    expect(r.max).toBeGreaterThan(0.99);
    expect(r.max).toBeLessThan(1.01);
    expect(r.min).toBeLessThan(-0.99);
    expect(r.min).toBeGreaterThan(-1.01);
    expect(new RangeObserver().range()).toEqual({ min: 0, max: 0 });
    expect(() => new RangeObserver('percentile', 20)).toThrow(RangeError);
  });
});
