import { describe, expect, it } from 'vitest';

import { native } from '../src/native.js';
import { isaLabel, randomFloats } from './helpers.js';

// The addon's strided fp32 GEMM (native gemm), used by training: C = alpha·op(A)·op(B) + beta·C.
function refGemm(tA: boolean, tB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array | null, alpha: number, beta: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += (tA ? A[k * M + m] : A[m * K + k]) * (tB ? B[n * K + k] : B[k * N + n]);
      out[m * N + n] = alpha * acc + (C ? beta * C[m * N + n] : 0);
    }
  return out;
}

describe(`native gemm (${isaLabel})`, () => {
  it('matches the reference for every transpose combination on odd shapes', () => {
    const gemm = native().gemm;
    let seed = 1;
    for (const tA of [false, true])
      for (const tB of [false, true])
        for (const [M, N, K] of [[1, 1, 1], [3, 17, 5], [13, 33, 37], [40, 7, 300]]) {
          const A = randomFloats(M * K, seed++);
          const B = randomFloats(K * N, seed++);
          const C = randomFloats(M * N, seed++);
          const want = refGemm(tA, tB, M, N, K, A, B, C, 0.5, 2);
          const got = gemm(tA, tB, M, N, K, A, B, C, 0.5, 2, 1);
          expect(got).toBe(C); // updated in place
          for (let i = 0; i < M * N; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * (K + 2));
          const fresh = gemm(tA, tB, M, N, K, A, B, null, 1, 7, 2);
          const want2 = refGemm(tA, tB, M, N, K, A, B, null, 1, 0);
          for (let i = 0; i < M * N; i++) expect(Math.abs(fresh[i] - want2[i])).toBeLessThan(1e-5 * (K + 2));
        }
  });

  it('rejects bad arguments with the house message', () => {
    const gemm = native().gemm;
    const a = new Float32Array(6);
    expect(() => gemm(false, false, 2, 3, 3, new Float32Array(5), new Float32Array(9), null, 1, 0, 1)).toThrow('Expected a Float32Array of M·K = 6 values for A but received 5');
    expect(() => gemm(false, false, 2, 3, 4, a, new Float32Array(12), null, 1, 0, 1)).toThrow(RangeError);
    expect(() => gemm(false, false, 2, 3, 3, a, new Float32Array(9), new Float32Array(5), 1, 0, 1)).toThrow(/values for C/);
    expect(() => gemm(1 as unknown as boolean, false, 2, 3, 3, a, a, null, 1, 0, 1)).toThrow(TypeError);
    expect(() => gemm(false, false, -1, 3, 3, a, a, null, 1, 0, 1)).toThrow(RangeError);
    expect(() => gemm(false, false, 2, 3, 3, a, new Float32Array(9), null, NaN, 0, 1)).toThrow(/finite number for alpha/);
  });
});
