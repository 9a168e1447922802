import { describe, expect, it } from 'vitest';
import { applyMask, blockFill, maskFromScores, parsePattern, satisfiesPattern, sparsityOf, weightScores, deadColumns } from '../src/compress/masks.js';
import { chooseFormat } from '../src/compress/formats.js';
import { inverseHessianFactor, sparsegpt } from '../src/compress/sparsegpt.js';
import { InputStats } from '../src/compress/layer-stats.js';
import { randomFloats, rng } from './helpers.js';

const K = 37;
const N = 23;
const W = randomFloats(K * N, 1);

function keptShare(mask: Uint8Array): number {
  let kept = 0;
  for (const m of mask) kept += m;
  return kept / mask.length;
}

describe('sparse-int8 or int8: how blocky the zeros are', () => {
  it('blockFill: 1 for 1x4 blocks along K, ~0.29 for 90% scattered zeros; the format follows', () => {
    const [K, N] = [64, 48];
    const r = rng(3);
    const scattered = randomFloats(K * N, 4).map((v) => (r() < 0.8 ? 0 : v));
    const blocky = randomFloats(K * N, 5);
    for (let k0 = 0; k0 < K; k0 += 4) for (let n = 0; n < N; n++) if (r() < 0.8) for (let k = k0; k < k0 + 4; k++) blocky[k * N + n] = 0;
    expect(blockFill(blocky, K, N)).toBe(1);
    const fill = blockFill(scattered, K, N);
    expect(fill).toBeGreaterThan(0.25);
    expect(fill).toBeLessThan(0.5);
    expect(blockFill(new Float32Array(K * N), K, N)).toBe(1);
    const all = ['int8', 'sparse-int8'];
    expect(chooseFormat(0.8, null, true, true, all, 1)?.format).toBe('sparse-int8');
    expect(chooseFormat(0.8, null, true, true, all, fill)?.format).toBe('int8');
    expect(chooseFormat(0.92, null, true, true, all, fill)?.format).toBe('sparse-int8');
    expect(chooseFormat(0.5, null, true, true, all, 1)?.format).toBe('int8');
  });
});

describe('parsePattern', () => {
  it('parses every pattern and refuses bad ones with the house message', () => {
    expect(parsePattern('unstructured')).toEqual({ kind: 'unstructured' });
    expect(parsePattern('2:4')).toEqual({ kind: 'nm', n: 2, m: 4 });
    expect(parsePattern('1:8')).toEqual({ kind: 'nm', n: 1, m: 8 });
    expect(parsePattern('block')).toEqual({ kind: 'block', bn: 1, bk: 4 });
    expect(parsePattern('block', '8x1')).toEqual({ kind: 'block', bn: 8, bk: 1 });
    expect(parsePattern('structured')).toEqual({ kind: 'structured' });
    expect(() => parsePattern('4:4')).toThrow(RangeError);
    expect(() => parsePattern('dense')).toThrow(/Expected 'unstructured'.* for pattern but received "dense"/);
    expect(() => parsePattern(3)).toThrow(TypeError);
    expect(() => parsePattern('block', '1x1')).toThrow(RangeError);
    expect(() => parsePattern('block', 'big')).toThrow(TypeError);
  });
});

describe('magnitude / random / wanda masks', () => {
  it('unstructured magnitude removes exactly the smallest weights', () => {
    const mask = maskFromScores(weightScores(W, K, N, 'magnitude'), K, N, { sparsity: 0.7, pattern: parsePattern('unstructured') });
    expect(1 - keptShare(mask)).toBeCloseTo(Math.round(0.7 * K * N) / (K * N), 12);
    let maxPruned = 0;
    let minKept = Infinity;
    for (let i = 0; i < W.length; i++) {
      if (mask[i]) minKept = Math.min(minKept, Math.abs(W[i]));
      else maxPruned = Math.max(maxPruned, Math.abs(W[i]));
    }
    expect(maxPruned).toBeLessThanOrEqual(minKept);
  });

  it('random is seeded: same seed same mask, other seed other mask', () => {
    const p = { sparsity: 0.5, pattern: parsePattern('unstructured') };
    const a = maskFromScores(weightScores(W, K, N, 'random', { seed: 3 }), K, N, p);
    const b = maskFromScores(weightScores(W, K, N, 'random', { seed: 3 }), K, N, p);
    const c = maskFromScores(weightScores(W, K, N, 'random', { seed: 4 }), K, N, p);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("wanda weighs |W| by the input norms and compares per output", () => {
    const norms = Array.from({ length: K }, (_, k) => (k < 5 ? 100 : 0.01));
    const mask = maskFromScores(weightScores(W, K, N, 'wanda', { inputNorms: norms }), K, N, { sparsity: 0.5, pattern: parsePattern('unstructured'), compare: 'output' });
    const perOutput = Math.round(0.5 * K);
    for (let n = 0; n < N; n++) {
      let pruned = 0;
      for (let k = 0; k < K; k++) pruned += 1 - mask[k * N + n];
      expect(pruned).toBe(perOutput);
      // Inputs with huge activations are always kept.
      for (let k = 0; k < 5; k++) expect(mask[k * N + n]).toBe(1);
    }
    expect(() => weightScores(W, K, N, 'wanda', { inputNorms: [1, 2] })).toThrow(RangeError);
  });

  it('2:4 keeps the 2 largest of every 4 consecutive k per output (tail group too)', () => {
    const mask = maskFromScores(weightScores(W, K, N, 'magnitude'), K, N, { sparsity: 0, pattern: parsePattern('2:4') });
    const pruned = applyMask(W, mask);
    expect(satisfiesPattern(pruned, K, N, parsePattern('2:4'))).toBe(true);
    expect(satisfiesPattern(W, K, N, parsePattern('2:4'))).toBe(false);
    for (let n = 0; n < N; n++)
      for (let k0 = 0; k0 + 4 <= K; k0 += 4) {
        const g = [0, 1, 2, 3].map((j) => Math.abs(W[(k0 + j) * N + n]));
        const kept = [0, 1, 2, 3].filter((j) => mask[(k0 + j) * N + n]);
        expect(kept.length).toBe(2);
        const sorted = [...g].sort((a, b) => b - a);
        for (const j of kept) expect(g[j]).toBeGreaterThanOrEqual(sorted[1]);
      }
  });

  it('1x4 blocks remove whole groups of 4 consecutive k of one output', () => {
    const mask = maskFromScores(weightScores(W, K, N, 'magnitude'), K, N, { sparsity: 0.75, pattern: parsePattern('block') });
    for (let n = 0; n < N; n++)
      for (let k0 = 0; k0 < K; k0 += 4) {
        const vals = [];
        for (let k = k0; k < Math.min(K, k0 + 4); k++) vals.push(mask[k * N + n]);
        expect(new Set(vals).size).toBe(1);
      }
    expect(1 - keptShare(mask)).toBeGreaterThan(0.7);
    expect(1 - keptShare(mask)).toBeLessThan(0.8);
  });

  it('8x1 blocks remove groups of 8 outputs of one k', () => {
    const mask = maskFromScores(weightScores(W, K, N, 'magnitude'), K, N, { sparsity: 0.5, pattern: parsePattern('block', '8x1') });
    for (let k = 0; k < K; k++)
      for (let n0 = 0; n0 < N; n0 += 8) {
        const vals = [];
        for (let n = n0; n < Math.min(N, n0 + 8); n++) vals.push(mask[k * N + n]);
        expect(new Set(vals).size).toBe(1);
      }
  });

  it('structured removes whole outputs, the weakest first, never all of them', () => {
    const w = Float32Array.from(W);
    for (let k = 0; k < K; k++) w[k * N + 3] *= 0.001; // output 3 is the weakest
    const mask = maskFromScores(weightScores(w, K, N, 'magnitude'), K, N, { sparsity: 0.3, pattern: parsePattern('structured') });
    const dead = deadColumns(applyMask(w, mask), K, N);
    expect(dead[3]).toBe(1);
    expect(dead.reduce((a, b) => a + b, 0)).toBe(Math.round(0.3 * N));
    const all = maskFromScores(weightScores(w, K, N, 'magnitude'), K, N, { sparsity: 1, pattern: parsePattern('structured') });
    expect(deadColumns(applyMask(w, all), K, N).reduce((a, b) => a + b, 0)).toBe(N - 1);
  });

  it('sparsity 0 keeps everything, 1 removes everything (unstructured)', () => {
    const s = weightScores(W, K, N, 'magnitude');
    expect(keptShare(maskFromScores(s, K, N, { sparsity: 0, pattern: parsePattern('unstructured') }))).toBe(1);
    expect(sparsityOf(applyMask(W, maskFromScores(s, K, N, { sparsity: 1, pattern: parsePattern('unstructured') })))).toBe(1);
  });
});

/** Correlated activations X [M, K]: a few latent factors plus noise, as real layer inputs are. */
function correlatedInputs(M: number, k: number, seed: number): Float32Array {
  const r = rng(seed);
  const factors = 4;
  const mix = randomFloats(factors * k, seed + 1);
  const X = new Float32Array(M * k);
  for (let m = 0; m < M; m++) {
    const z = Array.from({ length: factors }, () => r() * 2 - 1);
    for (let j = 0; j < k; j++) {
      let v = 0.1 * (r() * 2 - 1);
      for (let f = 0; f < factors; f++) v += z[f] * mix[f * k + j];
      X[m * k + j] = v;
    }
  }
  return X;
}

/** ‖X W − X Ŵ‖_F / ‖X W‖_F */
function outputError(X: Float32Array, M: number, a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let ya = 0;
      let yb = 0;
      for (let k = 0; k < K; k++) {
        ya += X[m * K + k] * a[k * N + n];
        yb += X[m * K + k] * b[k * N + n];
      }
      num += (ya - yb) ** 2;
      den += ya * ya;
    }
  return Math.sqrt(num / den);
}

describe('sparsegpt', () => {
  const M = 256;
  const X = correlatedInputs(M, K, 7);
  const stats = new InputStats(K, true);
  stats.add(X.subarray(0, 100 * K), 100);
  stats.add(X.subarray(100 * K), M - 100);

  it('InputStats accumulates XᵀX and the squared norms over batches', () => {
    const H = stats.fullHessian();
    for (const [i, j] of [[0, 0], [3, 17], [17, 3], [36, 20]]) {
      let s = 0;
      for (let m = 0; m < M; m++) s += X[m * K + i] * X[m * K + j];
      expect(H[i * K + j]).toBeCloseTo(s, 6);
    }
    expect(stats.sumSq[5]).toBeCloseTo(H[5 * K + 5], 8);
    expect(stats.count).toBe(M);
  });

  it('inverseHessianFactor gives U with UᵀU = (H + λI)⁻¹', () => {
    const H = stats.fullHessian();
    const U = inverseHessianFactor(H, K, 0.01);
    let mean = 0;
    for (let i = 0; i < K; i++) mean += H[i * K + i] / K;
    // (H + λI) · UᵀU = I
    const A = Float64Array.from(H);
    for (let i = 0; i < K; i++) A[i * K + i] += 0.01 * mean;
    let worst = 0;
    for (let i = 0; i < K; i++)
      for (let j = 0; j < K; j++) {
        let s = 0;
        for (let a = 0; a < K; a++) {
          let inv = 0;
          for (let b = 0; b <= Math.min(a, j); b++) inv += U[b * K + a] * U[b * K + j];
          s += A[i * K + a] * inv;
        }
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    expect(worst).toBeLessThan(1e-8);
    for (let i = 1; i < K; i++) expect(U[i * K]).toBe(0); // upper triangular
  });

  it('reconstructs: lower output error than magnitude and wanda at the same sparsity', () => {
    const p = parsePattern('unstructured');
    const sg = sparsegpt(W, K, N, stats.fullHessian(), { sparsity: 0.6, pattern: p, blocksize: 8 });
    expect(sparsityOf(sg.weights)).toBeCloseTo(0.6, 1);
    for (let i = 0; i < W.length; i++) if (!sg.mask[i]) expect(sg.weights[i]).toBe(0);
    const mag = applyMask(W, maskFromScores(weightScores(W, K, N, 'magnitude'), K, N, { sparsity: 0.6, pattern: p }));
    const wanda = applyMask(W, maskFromScores(weightScores(W, K, N, 'wanda', { inputNorms: stats.inputNorms() }), K, N, { sparsity: 0.6, pattern: p, compare: 'output' }));
    const eSg = outputError(X, M, W, sg.weights);
    const eMag = outputError(X, M, W, mag);
    const eWanda = outputError(X, M, W, wanda);
    expect(eSg).toBeLessThan(0.7 * eMag);
    expect(eSg).toBeLessThan(0.7 * eWanda);
  });

  it('sparsity 0 leaves the weights as they are', () => {
    const sg = sparsegpt(W, K, N, stats.fullHessian(), { sparsity: 0, pattern: parsePattern('unstructured') });
    for (let i = 0; i < W.length; i++) expect(sg.weights[i]).toBeCloseTo(W[i], 6);
  });

  it('2:4 and 1x4 blocks hold their pattern', () => {
    const nm = sparsegpt(W, K, N, stats.fullHessian(), { sparsity: 0, pattern: parsePattern('2:4') });
    expect(satisfiesPattern(nm.weights, K, N, parsePattern('2:4'))).toBe(true);
    const blk = sparsegpt(W, K, N, stats.fullHessian(), { sparsity: 0.5, pattern: parsePattern('block'), blocksize: 16 });
    for (let n = 0; n < N; n++)
      for (let k0 = 0; k0 < K; k0 += 4) {
        const vals = new Set<number>();
        for (let k = k0; k < Math.min(K, k0 + 4); k++) vals.add(blk.mask[k * N + n]);
        expect(vals.size).toBe(1);
      }
    expect(() => sparsegpt(W, K, N, stats.fullHessian(), { sparsity: 0.5, pattern: parsePattern('structured') })).toThrow(RangeError);
  });

  it('inputs that are always zero are pruned for free and do not break the factorisation', () => {
    const Xz = Float32Array.from(X);
    for (let m = 0; m < M; m++) Xz[m * K + 2] = 0;
    const s = new InputStats(K, true);
    s.add(Xz, M);
    const sg = sparsegpt(W, K, N, s.fullHessian(), { sparsity: 0.3, pattern: parsePattern('unstructured') });
    for (let n = 0; n < N; n++) expect(sg.weights[2 * N + n]).toBe(0);
    expect(sg.weights.every(Number.isFinite)).toBe(true);
  });
});
