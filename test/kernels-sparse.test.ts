import { describe, expect, it } from 'vitest';

import { backend, kernels, SparqError } from '../src/index.js';
import { isaLabel, maxScaledError, prune, randomFloats, refMatmul, rng } from './helpers.js';

// Zeroes whole blocks (`rows` consecutive k x `cols` consecutive outputs) with probability s.
function blockPrune(W: Float32Array, K: number, N: number, rows: number, cols: number, s: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = Float32Array.from(W);
  for (let k0 = 0; k0 < K; k0 += rows)
    for (let n0 = 0; n0 < N; n0 += cols)
      if (r() < s) for (let k = k0; k < Math.min(K, k0 + rows); k++) for (let n = n0; n < Math.min(N, n0 + cols); n++) out[k * N + n] = 0;
  return out;
}

// Keeps at most 2 of every 4 consecutive k per output.
function prune24(W: Float32Array, K: number, N: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = Float32Array.from(W);
  for (let k0 = 0; k0 < K; k0 += 4)
    for (let n = 0; n < N; n++) {
      let kept = 0;
      for (let k = k0; k < Math.min(K, k0 + 4); k++)
        if (kept === 2 || r() < 0.3) out[k * N + n] = 0;
        else kept++;
    }
  return out;
}

const SHAPES: [number, number, number][] = [];
for (const M of [1, 2, 3, 17, 37, 70]) for (const K of [1, 5, 37]) for (const N of [1, 16, 17, 33]) SHAPES.push([M, K, N]);
SHAPES.push([1, 1031, 300], [37, 520, 77], [130, 97, 45]);

type Case = { format: kernels.PackOptions['format']; block?: kernels.PackOptions['block']; weights: (W: Float32Array, K: number, N: number, seed: number) => Float32Array };
const FP32_CASES: Case[] = [
  { format: 'sparse', weights: (W, _K, _N, seed) => prune(W, 0.9, seed) },
  { format: 'sparse', weights: (W, _K, _N, seed) => prune(W, 0.5, seed) },
  { format: 'block', block: '1x4', weights: (W, K, N, seed) => blockPrune(W, K, N, 4, 1, 0.8, seed) },
  { format: 'block', block: '4x1', weights: (W, K, N, seed) => blockPrune(W, K, N, 1, 4, 0.8, seed) },
  { format: 'block', block: '8x1', weights: (W, K, N, seed) => blockPrune(W, K, N, 1, 8, 0.8, seed) },
  { format: 'block', block: '16x1', weights: (W, _K, _N, seed) => prune(W, 0.6, seed) },
  { format: '2:4', weights: (W, K, N, seed) => prune24(W, K, N, seed) },
  { format: 'auto', weights: (W, _K, _N, seed) => prune(W, 0.9, seed) },
];

describe(`sparse fp32 formats (${isaLabel})`, () => {
  it('are compiled in', () => {
    for (const f of ['sparse', 'block', '2:4', 'sparse-int8', 'auto']) expect(backend().formats).toContain(f);
  });

  for (const c of FP32_CASES) {
    it(`${c.format}${c.block ? ' ' + c.block : ''} matches the double-precision reference on odd shapes, every epilogue`, async () => {
      let seed = 11;
      for (const [M, K, N] of SHAPES) {
        const W = c.weights(randomFloats(K * N, seed++), K, N, seed++);
        const x = randomFloats(M * K, seed++);
        const bias = randomFloats(N, seed++);
        const w = kernels.pack(W, K, N, { format: c.format, block: c.block });
        if (c.format !== 'auto') expect(w.format).toBe(c.format);
        for (const activation of ['none', 'relu', 'gelu'] as const) {
          const { y, scale } = refMatmul(x, M, W, K, N, bias, activation);
          const got = kernels.matmulSync(x, M, w, { bias, activation });
          expect(maxScaledError(got, y, scale), `${c.format} M=${M} K=${K} N=${N} ${activation}`).toBeLessThan(1e-5);
        }
        const gotAsync = await kernels.matmul(x, M, w, { threads: 2 });
        const ref = refMatmul(x, M, W, K, N);
        expect(maxScaledError(gotAsync, ref.y, ref.scale)).toBeLessThan(1e-5);
        w.release();
      }
    });
  }

  it('reports format, bytes and density', () => {
    const K = 256, N = 512;
    const W = prune(randomFloats(K * N, 3), 0.9, 4);
    const nonzeros = W.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
    const s = kernels.pack(W, K, N, { format: 'sparse' });
    expect(s.format).toBe('sparse');
    expect(s.density).toBeCloseTo(nonzeros / (K * N), 12);
    expect(s.bytes).toBeLessThan(0.2 * K * N * 4);
    expect(s.info.nonzeros).toBe(nonzeros);
    const b = kernels.pack(blockPrune(randomFloats(K * N, 5), K, N, 1, 8, 0.9, 6), K, N, { format: 'block', block: '8x1' });
    expect(b.info.block).toBe('8x1');
    expect(b.density).toBeGreaterThan(0.05);
    expect(b.density).toBeLessThan(0.15);
    const two = kernels.pack(prune24(randomFloats(K * N, 7), K, N, 8), K, N, { format: '2:4' });
    expect(two.density).toBe(0.5);
    expect(two.bytes).toBeLessThan(0.6 * K * N * 4);
  });

  it("'auto' reports the chosen format and why; dense when density is high", () => {
    const K = 512, N = 512;
    const sparse = kernels.pack(prune(randomFloats(K * N, 9), 0.95, 10), K, N, { format: 'auto' });
    expect(['sparse', 'block', '2:4', 'dense']).toContain(sparse.format);
    expect(sparse.info.requested).toBe('auto');
    expect(String(sparse.info.reason)).toMatch(/measured time vs dense/);
    const dense = kernels.pack(randomFloats(K * N, 11), K, N, { format: 'auto' });
    expect(dense.format).toBe('dense');
    expect(String(dense.info.reason)).toMatch(/^dense: density 1\.00/);
  });

  it('handles degenerate weights: all zero, dense, empty rows and columns, K or N = 1', () => {
    for (const format of ['sparse', 'block', '2:4', 'auto'] as const)
      for (const [M, K, N] of [[1, 1, 1], [4, 1, 40], [40, 40, 1], [33, 64, 48]] as [number, number, number][]) {
        const zeros = new Float32Array(K * N);
        const x = randomFloats(M * K, 1);
        const bias = randomFloats(N, 2);
        const z = kernels.pack(zeros, K, N, { format });
        expect(Array.from(kernels.matmulSync(x, M, z, { bias }))).toEqual(Array.from({ length: M * N }, (_, i) => bias[i % N]));
        const W = format === '2:4' ? prune24(randomFloats(K * N, 3), K, N, 4) : randomFloats(K * N, 3);
        for (let n = 0; n < N; n++) W[n] = 0; // a dead input
        for (let k = 0; k < K; k++) W[k * N + (N >> 1)] = 0; // a dead output
        const w = kernels.pack(W, K, N, { format });
        const { y, scale } = refMatmul(x, M, W, K, N);
        expect(maxScaledError(kernels.matmulSync(x, M, w), y, scale)).toBeLessThan(1e-5);
      }
  });
});

describe(`sparse-int8 (${isaLabel})`, () => {
  it('stays within the quantization bound of the fp32 reference', async () => {
    let seed = 50;
    for (const [M, K, N] of SHAPES) {
      for (const W of [prune(randomFloats(K * N, seed++), 0.9, seed++), blockPrune(randomFloats(K * N, seed++), K, N, 4, 1, 0.9, seed++)]) {
        const x = randomFloats(M * K, seed++);
        const bias = randomFloats(N, seed++);
        const w = kernels.pack(W, K, N, { format: 'sparse-int8' });
        expect(w.format).toBe('sparse-int8');
        const weightMax = w.info.weightBits === 8 ? 127 : 63;
        const got = kernels.matmulSync(x, M, w, { bias });
        const gotAsync = await kernels.matmul(x, M, w, { bias, threads: 2 });
        expect(Array.from(gotAsync)).toEqual(Array.from(got));
        const { y } = refMatmul(x, M, W, K, N, bias);
        // |y − x·W| <= a/2·Σ|W| + b/2·Σ|x| + K·a·b/4 per output (a: row scale, b: column scale) + rounding
        for (let m = 0; m < M; m++) {
          let lo = 0, hi = 0, sumX = 0;
          for (let k = 0; k < K; k++) {
            lo = Math.min(lo, x[m * K + k]);
            hi = Math.max(hi, x[m * K + k]);
            sumX += Math.abs(x[m * K + k]);
          }
          const a = (hi - lo) / 255;
          for (let n = 0; n < N; n++) {
            let maxW = 0, sumW = 0;
            for (let k = 0; k < K; k++) {
              maxW = Math.max(maxW, Math.abs(W[k * N + n]));
              sumW += Math.abs(W[k * N + n]);
            }
            const b = maxW / weightMax;
            const bound = (a / 2) * sumW + (b / 2) * sumX + (K * a * b) / 4 + 1e-5 * (1 + Math.abs(y[m * N + n]));
            expect(Math.abs(got[m * N + n] - y[m * N + n]), `M=${M} K=${K} N=${N} m=${m} n=${n}`).toBeLessThanOrEqual(bound * 1.001);
          }
        }
        w.release();
      }
    }
  });

  it('stores 1x4 block-pruned weights in a small fraction of dense memory', () => {
    const K = 768, N = 512;
    const W = blockPrune(randomFloats(K * N, 1), K, N, 4, 1, 0.9, 2);
    const w = kernels.pack(W, K, N, { format: 'sparse-int8' });
    expect(w.bytes).toBeLessThan(0.08 * K * N * 4);
    expect(w.info.block).toBe('1x4');
    expect(w.info.activations).toMatch(/u8/);
  });
});

describe('sparse formats: bad input', () => {
  it("'2:4' rejects weights that are not 2:4 with a RangeError naming where", () => {
    const W = new Float32Array(8 * 3).fill(1);
    let err: unknown;
    try {
      kernels.pack(W, 8, 3, { format: '2:4' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect((err as { code: string }).code).toBe('ERR_INVALID_ARGUMENT');
    expect(String((err as Error).message)).toMatch(/at most 2 nonzeros in every 4 consecutive k .* k 0\.\.3 of output 0/);
    expect(String((err as Error).stack)).toMatch(/kernels-sparse\.test/);
  });

  it('rejects unknown block shapes and K beyond the 16-bit indices', () => {
    const W = new Float32Array(12);
    expect(() => kernels.pack(W, 3, 4, { format: 'block', block: '3x3' as never })).toThrow(RangeError);
    expect(() => kernels.pack(W, 3, 4, { format: 'block', block: '3x3' as never })).toThrow(/Expected one of '1x4', '4x1', '8x1', '16x1' for options.block but received "3x3"/);
    expect(() => kernels.pack(W, 3, 4, { format: 'block', block: 4 as never })).toThrow(TypeError);
    const tall = new Float32Array(70000);
    expect(() => kernels.pack(tall, 70000, 1, { format: 'sparse' })).toThrow(/K <= 65536/);
    expect(kernels.pack(tall, 70000, 1, { format: 'auto' }).format).toBe('dense');
  });

  it('validates matmul arguments and released handles like every format', async () => {
    const w = kernels.pack(prune(randomFloats(40, 1), 0.5, 2), 8, 5, { format: 'sparse' });
    expect(() => kernels.matmulSync(new Float32Array(7), 1, w)).toThrow(RangeError);
    expect(() => kernels.matmulSync(new Float32Array(8), 1, w, { bias: new Float32Array(4) })).toThrow(/options.bias/);
    const q = kernels.pack(randomFloats(40, 3), 8, 5, { format: 'sparse-int8' });
    await expect(kernels.matmul(new Float32Array(9), 1, q)).rejects.toThrow(RangeError);
    q.release();
    expect(() => kernels.matmulSync(new Float32Array(8), 1, q)).toThrow(SparqError);
    w.release();
  });

  it('propagates NaN: a non-finite row of x gives a NaN output row in sparse-int8', () => {
    const K = 16, N = 4;
    const w = kernels.pack(randomFloats(K * N, 5), K, N, { format: 'sparse-int8' });
    const x = randomFloats(2 * K, 6);
    x[3] = NaN;
    const y = kernels.matmulSync(x, 2, w);
    expect(Array.from(y.subarray(0, N)).every(Number.isNaN)).toBe(true);
    expect(Array.from(y.subarray(N)).some(Number.isNaN)).toBe(false);
  });
});
