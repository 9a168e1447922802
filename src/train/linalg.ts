// The three products of a dense layer's training step, all on sparq's native kernels:
//   forward   Y[M,N]  = X[M,K] · W[K,N]
//   backward  dX[M,K] = dY[M,N] · Wᵀ
//   gradient  dW[K,N] = Xᵀ · dY
// With the native general GEMM (sgemm with transposes) these are single calls; without it, W (or dY) is
// packed as the weights of the dense kernel each step, and the one transpose the kernel cannot express
// is done here (O(K·N) or O(M·K) copies per step, not O(M·K·N) arithmetic).
import { native } from '../native.js';
import * as kernels from '../kernels.js';
import { rethrowNative } from '../errors.js';

type NativeGemm = (
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array | null,
  alpha: number,
  beta: number,
  threads: number,
) => Float32Array;

let gemmFn: NativeGemm | null | undefined;

/** The addon's general GEMM when this build has one. */
function nativeGemm(): NativeGemm | null {
  if (gemmFn === undefined) {
    const g = native().gemm;
    gemmFn = typeof g === 'function' ? (g as NativeGemm) : null;
  }
  return gemmFn;
}

/** Which path the products take (for reports and tests). */
export function linalgPath(): 'gemm' | 'packed-dense' {
  return nativeGemm() ? 'gemm' : 'packed-dense';
}

export function transpose(a: Float32Array, rows: number, cols: number, out = new Float32Array(rows * cols)): Float32Array {
  // Blocked so both sides stay in cache for the big matrices.
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = a[base + c];
      }
    }
  }
  return out;
}

function packedProduct(x: Float32Array, M: number, W: Float32Array, K: number, N: number, threads: number): Float32Array {
  const w = kernels.pack(W, K, N);
  try {
    return kernels.matmulSync(x, M, w, threads > 0 ? { threads } : {});
  } finally {
    w.release();
  }
}

function gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, alpha: number, threads: number): Float32Array {
  try {
    return (nativeGemm() as NativeGemm)(transA, transB, M, N, K, A, B, null, alpha, 0, threads);
  } catch (e) {
    rethrowNative(e);
  }
}

function scale(a: Float32Array, alpha: number): Float32Array {
  if (alpha !== 1) for (let i = 0; i < a.length; i++) a[i] *= alpha;
  return a;
}

/** alpha · X[M,K] · W[K,N]. */
export function matmulNN(X: Float32Array, M: number, K: number, W: Float32Array, N: number, alpha = 1, threads = 0): Float32Array {
  if (nativeGemm()) return gemm(false, false, M, N, K, X, W, alpha, threads);
  return scale(packedProduct(X, M, W, K, N, threads), alpha);
}

/** alpha · dY[M,N] · W[K,N]ᵀ → [M,K]. */
export function matmulNT(dY: Float32Array, M: number, N: number, W: Float32Array, K: number, alpha = 1, threads = 0): Float32Array {
  if (nativeGemm()) return gemm(false, true, M, K, N, dY, W, alpha, threads);
  return scale(packedProduct(dY, M, transpose(W, K, N), N, K, threads), alpha);
}

/** alpha · X[M,K]ᵀ · dY[M,N] → [K,N]. */
export function matmulTN(X: Float32Array, M: number, K: number, dY: Float32Array, N: number, alpha = 1, threads = 0): Float32Array {
  if (nativeGemm()) return gemm(true, false, K, N, M, X, dY, alpha, threads);
  return scale(packedProduct(transpose(X, M, K), K, dY, M, N, threads), alpha);
}
