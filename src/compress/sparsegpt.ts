// SparseGPT (Frantar & Alistarh 2023): one-shot pruning with OBS-style reconstruction. Each output's
// weights are pruned column by column (input feature by feature) and the error of every removed weight is
// spread over the not-yet-visited weights through the inverse Hessian of the layer-wise least-squares
// problem min ‖XW − XŴ‖², H = XᵀX; masks are chosen adaptively per block of columns, and updates to the
// columns right of a block are applied lazily in one product per block (the paper's Algorithm 1).
// Typed-array loops in float64: fine for LeNet-sized layers (K ≤ ~1000: about a second); K in the
// thousands costs O(K³) here and is better served by 'wanda'.
import { rangeError } from '../errors.js';
import type { Pattern } from './masks.js';

export interface SparseGptOptions {
  sparsity: number;
  pattern: Pattern;
  /** Columns per lazy-update block (the paper's B = 128); rounded up to a multiple of the pattern's group. */
  blocksize?: number;
  /** λ = dampening · mean(diag H) added to the diagonal (the paper's 1%). */
  dampening?: number;
}

/** In-place lower Cholesky factor of the SPD matrix A [n, n] (upper part left untouched); false if not PD. */
export function choleskyLower(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = A[rj + j];
    for (let k = 0; k < j; k++) d -= A[rj + k] * A[rj + k];
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const ljj = Math.sqrt(d);
    A[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = A[ri + j];
      for (let k = 0; k < j; k++) s -= A[ri + k] * A[rj + k];
      A[ri + j] = s / ljj;
    }
  }
  return true;
}

/** The inverse of a lower-triangular L [n, n] (lower triangle read and written, upper zeroed). */
function invertLower(L: Float64Array, n: number): Float64Array {
  const X = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    X[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      const ri = i * n;
      for (let k = j; k < i; k++) s += L[ri + k] * X[k * n + j];
      X[ri + j] = -s / L[ri + i];
    }
  }
  return X;
}

/**
 * The upper Cholesky factor U of (H + λI)⁻¹ (so (H + λI)⁻¹ = UᵀU), dampening more where the Hessian is
 * singular. Row i of U from the diagonal on is what removing weight i does to the weights after it.
 */
export function inverseHessianFactor(H: Float64Array, n: number, dampening: number): Float64Array {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += H[i * n + i];
  mean = mean / n || 1;
  for (let damp = dampening; damp < 1e6; damp *= 10) {
    const A = Float64Array.from(H);
    for (let i = 0; i < n; i++) A[i * n + i] += damp * mean;
    if (!choleskyLower(A, n)) continue;
    const Li = invertLower(A, n);
    // (H)⁻¹ = L⁻ᵀ L⁻¹: entry (i, j) = Σ_{k ≥ max(i,j)} Li[k,i] Li[k,j]; lower triangle then Cholesky again.
    const Hinv = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = i; k < n; k++) s += Li[k * n + i] * Li[k * n + j];
        Hinv[i * n + j] = s;
      }
    if (!choleskyLower(Hinv, n)) continue;
    const U = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) U[j * n + i] = Hinv[i * n + j];
    return U;
  }
  throw rangeError('a Hessian that becomes positive definite with dampening', 'hessian', H);
}

/**
 * Prunes W [K, N] against H = XᵀX [K, K] (row-major, symmetric). Returns the reconstructed weights (zeros
 * where pruned) and the keep-mask. Patterns: unstructured, N:M and blocks along K ('1xB').
 */
export function sparsegpt(W: Float32Array, K: number, N: number, H: Float64Array, opts: SparseGptOptions): { weights: Float32Array; mask: Uint8Array } {
  const p = opts.pattern;
  if (p.kind === 'structured' || (p.kind === 'block' && p.bn !== 1))
    throw rangeError("'unstructured', 'N:M' or a block along K ('1xB') for method 'sparsegpt'", 'pattern', p.kind === 'block' ? `block ${p.bn}x${p.bk}` : p.kind);
  if (H.length !== K * K) throw rangeError(`a K·K = ${K * K} Hessian`, 'hessian', H);
  const group = p.kind === 'nm' ? p.m : p.kind === 'block' ? p.bk : 1;
  const bs = Math.max(group, Math.ceil((opts.blocksize ?? 128) / group) * group);

  // Work on Wt [N, K]: one row per output, as the paper's W (rows = outputs, columns = inputs).
  const Wt = new Float64Array(N * K);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) Wt[n * K + k] = W[k * N + n];
  const Hd = Float64Array.from(H);
  for (let i = 0; i < K; i++)
    if (Hd[i * K + i] === 0) {
      // An input that is always zero on the calibration data: its weights cannot matter there.
      Hd[i * K + i] = 1;
      for (let n = 0; n < N; n++) Wt[n * K + i] = 0;
    }
  const U = inverseHessianFactor(Hd, K, opts.dampening ?? 0.01);

  const prune = new Uint8Array(N * K); // [N, K]: 1 = removed
  const err = new Float64Array(N * bs);
  for (let i1 = 0; i1 < K; i1 += bs) {
    const i2 = Math.min(K, i1 + bs);
    const count = i2 - i1;
    err.fill(0);
    if (p.kind !== 'nm') selectBlockMask(Wt, U, K, N, i1, i2, group, opts.sparsity, prune);
    for (let i = i1; i < i2; i++) {
      if (p.kind === 'nm' && (i - i1) % p.m === 0) selectNmMask(Wt, U, K, N, i, Math.min(p.m, K - i), p, prune);
      const d = U[i * K + i];
      for (let r = 0; r < N; r++) {
        const row = r * K;
        const w = Wt[row + i];
        if (!prune[row + i]) continue;
        const e = w / d;
        // W1[r, i:i2] -= e · U[i, i:i2]; Wt[row + i] becomes exactly 0.
        const ui = i * K;
        for (let j = i + 1; j < i2; j++) Wt[row + j] -= e * U[ui + j];
        Wt[row + i] = 0;
        err[r * bs + (i - i1)] = e;
      }
    }
    // Lazy update of everything right of the block: Wt[:, i2:] -= Err · U[i1:i2, i2:].
    if (i2 < K)
      for (let r = 0; r < N; r++) {
        const row = r * K;
        for (let c = 0; c < count; c++) {
          const e = err[r * bs + c];
          if (e === 0) continue;
          const uc = (i1 + c) * K;
          for (let j = i2; j < K; j++) Wt[row + j] -= e * U[uc + j];
        }
      }
  }
  const weights = new Float32Array(K * N);
  const mask = new Uint8Array(K * N);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const keep = prune[n * K + k] ? 0 : 1;
      mask[k * N + n] = keep;
      weights[k * N + n] = keep ? Wt[n * K + k] : 0;
    }
  return { weights, mask };
}

/** OBS saliency w² / [H⁻¹]_ii², summed per group of `group` columns; the lowest share is removed. */
function selectBlockMask(Wt: Float64Array, U: Float64Array, K: number, N: number, i1: number, i2: number, group: number, sparsity: number, prune: Uint8Array): void {
  const groupsPerRow = Math.ceil((i2 - i1) / group);
  const scores = new Float64Array(N * groupsPerRow);
  for (let r = 0; r < N; r++)
    for (let i = i1; i < i2; i++) {
      const d = U[i * K + i];
      const w = Wt[r * K + i];
      scores[r * groupsPerRow + Math.floor((i - i1) / group)] += (w * w) / (d * d);
    }
  const total = scores.length;
  const count = Math.min(total, Math.round(total * sparsity));
  if (count === 0) return;
  const sorted = Float64Array.from(scores).sort();
  const t = sorted[count - 1];
  let ties = count;
  for (let g = 0; g < total; g++) if (scores[g] < t) ties--;
  for (let g = 0; g < total; g++) {
    const take = scores[g] < t || (scores[g] === t && ties-- > 0);
    if (!take) continue;
    const r = Math.floor(g / groupsPerRow);
    const c0 = i1 + (g % groupsPerRow) * group;
    for (let i = c0; i < Math.min(i2, c0 + group); i++) prune[r * K + i] = 1;
  }
}

/** N:M: in each row, the M − N weights of lowest saliency among columns [i, i + len) are removed. */
function selectNmMask(Wt: Float64Array, U: Float64Array, K: number, N: number, i: number, len: number, p: { n: number; m: number }, prune: Uint8Array): void {
  const keep = len === p.m ? p.n : Math.ceil((len * p.n) / p.m);
  const s = new Float64Array(len);
  const order = Array.from({ length: len }, (_, j) => j);
  for (let r = 0; r < N; r++) {
    for (let j = 0; j < len; j++) {
      const d = U[(i + j) * K + i + j];
      const w = Wt[r * K + i + j];
      s[j] = (w * w) / (d * d);
    }
    order.sort((a, b) => s[a] - s[b] || a - b);
    for (let j = 0; j < len - keep; j++) prune[r * K + i + order[j]] = 1;
  }
}
