// Statistics of one layer's inputs X [M, K] gathered over calibration batches: the per-feature squared
// norms Wanda weighs |W| by, and the Hessian XᵀX SparseGPT reconstructs against.

export class InputStats {
  readonly K: number;
  /** Rows (samples or tokens) seen. */
  count = 0;
  /** Σ x_k² over all rows. */
  readonly sumSq: Float64Array;
  /** Σ x xᵀ [K, K] (row-major, symmetric), or null when not asked for. */
  readonly hessian: Float64Array | null;

  constructor(K: number, withHessian: boolean) {
    this.K = K;
    this.sumSq = new Float64Array(K);
    this.hessian = withHessian ? new Float64Array(K * K) : null;
  }

  /** Adds rows X [M, K]. Zero activations (ReLU outputs, blank pixels) are skipped: often most of them. */
  add(X: Float32Array, M: number): void {
    const K = this.K;
    const H = this.hessian;
    const nz = new Int32Array(K);
    const v = new Float64Array(K);
    for (let m = 0; m < M; m++) {
      let count = 0;
      const row = m * K;
      for (let k = 0; k < K; k++) {
        const x = X[row + k];
        if (x !== 0) {
          nz[count] = k;
          v[count++] = x;
          this.sumSq[k] += x * x;
        }
      }
      if (!H) continue;
      // Upper triangle only (i <= j in index order); mirrored once in finishHessian().
      for (let a = 0; a < count; a++) {
        const ia = nz[a] * K;
        const va = v[a];
        for (let b = a; b < count; b++) H[ia + nz[b]] += va * v[b];
      }
    }
    this.count += M;
  }

  /** ‖X_k‖₂ per input feature. */
  inputNorms(): Float64Array {
    return this.sumSq.map(Math.sqrt);
  }

  /** The full symmetric XᵀX (a copy). */
  fullHessian(): Float64Array {
    if (!this.hessian) throw new Error('InputStats was created without a Hessian');
    const K = this.K;
    const H = Float64Array.from(this.hessian);
    for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) H[j * K + i] = H[i * K + j];
    return H;
  }
}
