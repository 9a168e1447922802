import { describe, expect, it } from 'vitest';

import { backend, kernels } from '../src/index.js';
import { isaLabel, maxScaledError, randomFloats, refMatmul } from './helpers.js';

// The gelu reference above (Numerical Recipes erfc) is good to ~1e-7, so 1e-5 scaled still binds.
const SHAPES: [number, number, number][] = [];
for (const M of [1, 2, 7, 13, 37]) for (const K of [1, 5, 32, 37]) for (const N of [1, 3, 16, 17, 33, 37]) SHAPES.push([M, K, N]);
SHAPES.push([1, 1031, 1003], [37, 1029, 77], [3, 200, 1100]);

describe(`dense fp32 matmul (${isaLabel})`, () => {
  it('reports the backend', () => {
    const b = backend();
    expect(b.available).toContain('scalar');
    expect(b.formats).toContain('dense');
    expect(b.threads).toBeGreaterThanOrEqual(1);
    if (process.env.SPARQ_ISA) expect(b.isa.startsWith(process.env.SPARQ_ISA)).toBe(true);
  });

  it('matches the double-precision reference on odd shapes, every epilogue', async () => {
    let seed = 1;
    for (const [M, K, N] of SHAPES) {
      const W = randomFloats(K * N, seed++);
      const x = randomFloats(M * K, seed++);
      const bias = randomFloats(N, seed++);
      const w = kernels.pack(W, K, N, { format: 'dense' });
      expect(w.format).toBe('dense');
      expect(w.bytes).toBeGreaterThanOrEqual(K * N * 4);
      for (const activation of ['none', 'relu', 'gelu'] as const) {
        const { y, scale } = refMatmul(x, M, W, K, N, bias, activation);
        const got = kernels.matmulSync(x, M, w, { bias, activation });
        expect(maxScaledError(got, y, scale), `M=${M} K=${K} N=${N} ${activation}`).toBeLessThan(1e-5);
        const gotAsync = await kernels.matmul(x, M, w, { bias, activation, threads: 2 });
        expect(maxScaledError(gotAsync, y, scale)).toBeLessThan(1e-5);
      }
      w.release();
    }
  });

  it('writes into options.out (sync and async), every format, NaN-prefilled', async () => {
    const [M, K, N] = [13, 37, 33];
    const W = randomFloats(K * N, 5).map((v, i) => (i % 3 === 0 ? 0 : v));
    const x = randomFloats(M * K, 6);
    for (const format of ['dense', 'int8', 'sparse', 'sparse-int8', 'auto'] as const) {
      const w = kernels.pack(W, K, N, { format });
      const want = kernels.matmulSync(x, M, w, { activation: 'relu' });
      const out = new Float32Array(M * N).fill(NaN);
      expect(kernels.matmulSync(x, M, w, { activation: 'relu', out })).toBe(out);
      expect(out).toEqual(want);
      out.fill(NaN);
      expect(await kernels.matmul(x, M, w, { activation: 'relu', out })).toBe(out);
      expect(out).toEqual(want);
      w.release();
    }
  });

  it('runs concurrent async calls on one handle', async () => {
    const K = 300, N = 200, M = 64;
    const W = randomFloats(K * N, 7);
    const w = kernels.pack(W, K, N);
    const xs = [0, 1, 2, 3, 4, 5].map((i) => randomFloats(M * K, 100 + i));
    const outs = await Promise.all(xs.map((x) => kernels.matmul(x, M, w)));
    xs.forEach((x, i) => {
      const { y, scale } = refMatmul(x, M, W, K, N);
      expect(maxScaledError(outs[i], y, scale)).toBeLessThan(1e-5);
    });
  });

  it('releasing during a run keeps the weights alive until it ends', async () => {
    const K = 512, N = 512, M = 128;
    const W = randomFloats(K * N, 9);
    const x = randomFloats(M * K, 10);
    const w = kernels.pack(W, K, N);
    const pending = kernels.matmul(x, M, w);
    w.release();
    const y = await pending;
    const ref = refMatmul(x, M, W, K, N);
    expect(maxScaledError(y, ref.y, ref.scale)).toBeLessThan(1e-5);
  });
});
