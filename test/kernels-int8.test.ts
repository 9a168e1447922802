import { describe, expect, it } from 'vitest';

import { backend, kernels, SparqError } from '../src/index.js';
import { isaLabel, randomFloats, refMatmul } from './helpers.js';

type Act = 'none' | 'relu' | 'gelu';

const SHAPES: [number, number, number][] = [];
for (const M of [1, 2, 7, 13, 37]) for (const K of [1, 3, 5, 32, 37]) for (const N of [1, 3, 16, 17, 33, 37]) SHAPES.push([M, K, N]);
SHAPES.push([1, 1031, 1003], [37, 1029, 77], [3, 200, 1100], [130, 300, 129]);

/**
 * The documented bound of the int8 format against the exact product, per output (a = the row's u8
 * scale, b = the column's s8 scale, wm = 127 or 63): a/2·Σ|W[:,n]| + b/2·Σ|x[m,:]| + K·a·b/4, times
 * gelu's Lipschitz constant 1.13, plus 1e-5 of the magnitude for fp32 rounding.
 */
function int8Bound(x: Float32Array, M: number, W: Float32Array, K: number, N: number, wm: number, perChannel: boolean, act: Act, scale: Float64Array): Float64Array {
  const sa = new Float64Array(M), rowAbs = new Float64Array(M), sb = new Float64Array(N), colAbs = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    let lo = 0, hi = 0;
    for (let k = 0; k < K; k++) {
      const v = x[m * K + k];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      rowAbs[m] += Math.abs(v);
    }
    sa[m] = (hi - lo) / 255;
  }
  let all = 0;
  for (let n = 0; n < N; n++) {
    let mx = 0;
    for (let k = 0; k < K; k++) {
      mx = Math.max(mx, Math.abs(W[k * N + n]));
      colAbs[n] += Math.abs(W[k * N + n]);
    }
    sb[n] = mx / wm;
    all = Math.max(all, mx);
  }
  if (!perChannel) sb.fill(all / wm);
  const out = new Float64Array(M * N);
  const lip = act === 'gelu' ? 1.13 : 1;
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++)
      out[m * N + n] = lip * (sa[m] / 2 * colAbs[n] + sb[n] / 2 * rowAbs[m] + K * sa[m] * sb[n] / 4) * 1.0001 + 1e-5 * scale[m * N + n];
  return out;
}

function worstRatio(got: Float32Array, want: Float64Array, bound: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    if (Number.isNaN(got[i])) return Infinity;
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / bound[i]);
  }
  return worst;
}

describe(`int8 matmul (${isaLabel})`, () => {
  it('is registered and reports its kernel, bytes and weight error', () => {
    expect(backend().formats).toContain('int8');
    const K = 768, N = 3072;
    const w = kernels.pack(randomFloats(K * N, 1), K, N, { format: 'int8' });
    expect(w.format).toBe('int8');
    expect(w.bytes).toBeGreaterThanOrEqual(K * N);
    expect(w.bytes).toBeLessThan(K * N * 1.02);
    expect(typeof w.info.kernel).toBe('string');
    expect(w.info.perChannel).toBe(1);
    const step = 1 / (w.info.weightBits === 8 ? 127 : 63);
    expect(w.info.weightMaxAbsError as number).toBeLessThanOrEqual((step / 2) * 1.001);
    expect(w.info.weightRelRmsError as number).toBeGreaterThan(0.4 * step);
    expect(w.info.weightRelRmsError as number).toBeLessThan(0.6 * step);
    w.release();
  });

  it('stays within the documented quantization bound on odd shapes, every epilogue, both weight scalings', async () => {
    let seed = 10;
    for (const [M, K, N] of SHAPES) {
      const W = randomFloats(K * N, seed++);
      const x = randomFloats(M * K, seed++, -1.5, 1);
      const bias = randomFloats(N, seed++);
      for (const perChannel of [true, false]) {
        const w = kernels.pack(W, K, N, { format: 'int8', perChannel });
        const wm = w.info.weightBits === 8 ? 127 : 63;
        for (const activation of ['none', 'relu', 'gelu'] as const) {
          const { y, scale } = refMatmul(x, M, W, K, N, bias, activation);
          const bound = int8Bound(x, M, W, K, N, wm, perChannel, activation, scale);
          const got = kernels.matmulSync(x, M, w, { bias, activation, threads: 1 });
          expect(worstRatio(got, y, bound), `M=${M} K=${K} N=${N} ${activation} perChannel=${perChannel}`).toBeLessThanOrEqual(1);
          const gotAsync = await kernels.matmul(x, M, w, { bias, activation, threads: 2 });
          expect(Array.from(gotAsync)).toEqual(Array.from(got)); // threads change nothing: exact integer accumulation
        }
        w.release();
      }
    }
  });

  it('is far more accurate than the bound suggests on typical data (relative error ~1%)', () => {
    const M = 16, K = 512, N = 256;
    const W = randomFloats(K * N, 5);
    const x = randomFloats(M * K, 6);
    const w = kernels.pack(W, K, N, { format: 'int8' });
    const { y } = refMatmul(x, M, W, K, N);
    const got = kernels.matmulSync(x, M, w);
    let num = 0, den = 0;
    for (let i = 0; i < got.length; i++) {
      num += (got[i] - y[i]) ** 2;
      den += y[i] ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(0.02);
  });

  it('NaN/Inf in x gives a NaN row, in W a NaN column (every output with perChannel: false)', () => {
    const M = 4, K = 9, N = 20;
    const W = randomFloats(K * N, 7);
    W[3 * N + 4] = Infinity;
    W[8 * N + 19] = NaN;
    const x = randomFloats(M * K, 8);
    x[1 * K + 8] = NaN;
    x[2 * K] = -Infinity;
    for (const perChannel of [true, false]) {
      const w = kernels.pack(W, K, N, { format: 'int8', perChannel });
      expect(w.info.nonFiniteColumns).toBe(perChannel ? 2 : N);
      const y = kernels.matmulSync(x, M, w, { activation: 'relu' });
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          const bad = !perChannel || m === 1 || m === 2 || n === 4 || n === 19;
          expect(Number.isNaN(y[m * N + n]), `m=${m} n=${n} perChannel=${perChannel}`).toBe(bad);
        }
      w.release();
    }
  });

  it('all-zero rows and columns give exactly the bias; K % 4 != 0 and N = 1 work', () => {
    const M = 3, K = 7, N = 1;
    const W = randomFloats(K * N, 9);
    const x = randomFloats(M * K, 10);
    x.fill(0, K, 2 * K);
    const bias = new Float32Array([0.25]);
    const w = kernels.pack(W, K, N, { format: 'int8' });
    const y = kernels.matmulSync(x, M, w, { bias });
    expect(y[1]).toBe(0.25);
    const { y: ref } = refMatmul(x, M, W, K, N, bias);
    expect(Math.abs(y[0] - ref[0])).toBeLessThan(0.05);
    const z = kernels.pack(new Float32Array(K * 5), K, 5, { format: 'int8' });
    expect(Array.from(kernels.matmulSync(x, M, z, { bias: new Float32Array(5).fill(-2) }))).toEqual(new Array(M * 5).fill(-2));
    w.release();
    z.release();
  });

  it('packs for every instruction set this CPU has', () => {
    const K = 37, N = 45, M = 5;
    const W = randomFloats(K * N, 11);
    const x = randomFloats(M * K, 12);
    const { y, scale } = refMatmul(x, M, W, K, N);
    for (const isa of backend().available as ('scalar' | 'avx2' | 'avx512')[]) {
      const w = kernels.pack(W, K, N, { format: 'int8', isa });
      const bound = int8Bound(x, M, W, K, N, w.info.weightBits === 8 ? 127 : 63, true, 'none', scale);
      expect(worstRatio(kernels.matmulSync(x, M, w), y, bound), `${isa} ${String(w.info.kernel)}`).toBeLessThanOrEqual(1);
      w.release();
    }
  });

  it('bad input: options, K beyond exact accumulation, released handles', async () => {
    const W = new Float32Array(6).fill(1);
    expect(() => kernels.pack(W, 2, 3, { format: 'int8', perChannel: 'yes' as never })).toThrow(TypeError);
    expect(() => kernels.pack(W, 2, 3, { format: 'int8', perChannel: 'yes' as never })).toThrow(/options.perChannel/);
    expect(() => kernels.pack(W, 2, 3, { format: 'int8', isa: 'avx9' as never })).toThrow(/options.isa/);
    const K = 65537;
    const big = new Float32Array(K);
    let err: unknown;
    try {
      kernels.pack(big, K, 1, { format: 'int8' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect((err as { code?: string }).code).toBe('ERR_INVALID_ARGUMENT');
    expect((err as Error).message).toMatch(/for K but received 65537/);
    const w = kernels.pack(W, 2, 3, { format: 'int8' });
    expect(() => kernels.matmulSync(new Float32Array(3), 1, w)).toThrow(/M·K = 2 values for x/);
    expect(() => kernels.matmulSync(new Float32Array(2), 1, w, { bias: new Float32Array(1) })).toThrow(/options.bias/);
    w.release();
    await expect(kernels.matmul(new Float32Array(2), 1, w)).rejects.toBeInstanceOf(SparqError);
  });
});
