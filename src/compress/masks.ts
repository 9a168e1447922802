// Pruning masks on one weight matrix W [K, N] (ONNX MatMul layout: row k = input feature, column n = output).
// Pure TypeScript: which weights to remove (scores, patterns, per-group selection). The calibration-aware
// reconstruction lives in sparsegpt.ts; the model-level pass (which layers, global scope) in prune.ts.
import { rangeError, typeError } from '../errors.js';
import { mulberry32 } from '../random.js';

/** Seeded uniforms for the 'random' method (src/random.ts). */
export const seededRandom = mulberry32;

export const PRUNE_METHODS = ['magnitude', 'random', 'wanda', 'sparsegpt'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];

/** 'unstructured', 'N:M' (e.g. '2:4': N kept in every M consecutive k), 'block' (shape in `block`), 'structured'. */
export type PrunePattern = 'unstructured' | 'block' | 'structured' | `${number}:${number}`;

/** A parsed pattern. Block shapes are `${along N}x${along K}` as in kernels.pack: '1x4' = 4 consecutive k. */
export type Pattern =
  | { kind: 'unstructured' }
  | { kind: 'nm'; n: number; m: number }
  | { kind: 'block'; bn: number; bk: number }
  | { kind: 'structured' };

/** The block the sparse-int8 kernel runs fastest: 4 consecutive k of one output (one vpdpbusd lane). */
export const DEFAULT_BLOCK = '1x4';

export function parsePattern(pattern: unknown, block: unknown = DEFAULT_BLOCK, name = 'pattern'): Pattern {
  if (typeof pattern !== 'string') throw typeError("'unstructured', 'block', 'structured' or 'N:M' like '2:4'", name, pattern);
  if (pattern === 'unstructured') return { kind: 'unstructured' };
  if (pattern === 'structured') return { kind: 'structured' };
  if (pattern === 'block') {
    if (typeof block !== 'string' || !/^\d+x\d+$/.test(block)) throw typeError("a block shape like '1x4' or '8x1'", 'block', block);
    const [bn, bk] = block.split('x').map(Number);
    if (bn < 1 || bk < 1 || bn * bk < 2 || bn > 64 || bk > 64) throw rangeError('a block of 2 to 4096 weights, each side in [1, 64]', 'block', block);
    return { kind: 'block', bn, bk };
  }
  const nm = /^(\d+):(\d+)$/.exec(pattern);
  if (nm) {
    const n = Number(nm[1]);
    const m = Number(nm[2]);
    if (m < 2 || m > 64 || n < 1 || n >= m) throw rangeError('an N:M pattern with 1 <= N < M <= 64', name, pattern);
    return { kind: 'nm', n, m };
  }
  throw rangeError("'unstructured', 'block', 'structured' or 'N:M' like '2:4'", name, pattern);
}

/**
 * Importance of every weight (higher = keep): |W| for 'magnitude', |W|·‖X_k‖₂ for 'wanda' (Sun et al.
 * 2023: a weight matters as much as the activations it multiplies), uniform noise for 'random'.
 */
export function weightScores(W: Float32Array, K: number, N: number, method: Exclude<PruneMethod, 'sparsegpt'>, opts: { inputNorms?: ArrayLike<number>; seed?: number } = {}): Float32Array {
  const s = new Float32Array(K * N);
  if (method === 'random') {
    const r = seededRandom(opts.seed ?? 0);
    for (let i = 0; i < s.length; i++) s[i] = r();
    return s;
  }
  if (method === 'wanda') {
    const norms = opts.inputNorms;
    if (!norms || norms.length !== K) throw rangeError(`calibration input norms of length K = ${K}`, 'inputNorms', norms);
    for (let k = 0; k < K; k++) {
      const g = norms[k];
      for (let n = 0; n < N; n++) s[k * N + n] = Math.abs(W[k * N + n]) * g;
    }
    return s;
  }
  for (let i = 0; i < s.length; i++) s[i] = Math.abs(W[i]);
  return s;
}

/**
 * Marks (in `prune`, 1 = remove) the `count` lowest of `scores[idx[0..len)]`; ties broken by position so
 * the result is deterministic and the count exact.
 */
function pruneLowest(scores: Float32Array | Float64Array, idx: Int32Array | null, len: number, count: number, prune: Uint8Array): void {
  if (count <= 0) return;
  const at = (i: number) => (idx ? idx[i] : i);
  if (count >= len) {
    for (let i = 0; i < len; i++) prune[at(i)] = 1;
    return;
  }
  const vals = new Float64Array(len);
  for (let i = 0; i < len; i++) vals[i] = scores[at(i)];
  const sorted = Float64Array.from(vals).sort();
  const t = sorted[count - 1];
  let below = 0;
  for (let i = 0; i < len; i++) if (vals[i] < t) below++;
  let ties = count - below;
  for (let i = 0; i < len; i++) {
    if (vals[i] < t) prune[at(i)] = 1;
    else if (vals[i] === t && ties > 0) {
      prune[at(i)] = 1;
      ties--;
    }
  }
}

/** Number of groups to remove out of `groups` for a sparsity (rounded to nearest). */
export function pruneCount(groups: number, sparsity: number): number {
  return Math.min(groups, Math.max(0, Math.round(groups * sparsity)));
}

export interface MaskOptions {
  sparsity: number;
  pattern: Pattern;
  /**
   * 'layer': all groups of the matrix compete; 'output': each output column keeps its own share (Wanda's
   * per-output comparison). Ignored for N:M (groups of M along K) and structured (whole outputs).
   */
  compare?: 'layer' | 'output';
}

/**
 * The keep-mask (1 = kept) that removes the lowest-scoring groups of the pattern. `sparsity` is ignored
 * for N:M, whose sparsity is 1 - N/M by definition.
 */
export function maskFromScores(scores: Float32Array, K: number, N: number, opts: MaskOptions): Uint8Array {
  const p = opts.pattern;
  const prune = new Uint8Array(K * N);
  if (p.kind === 'nm') {
    const idx = new Int32Array(p.m);
    for (let n = 0; n < N; n++) {
      for (let k0 = 0; k0 < K; k0 += p.m) {
        const len = Math.min(p.m, K - k0);
        for (let j = 0; j < len; j++) idx[j] = (k0 + j) * N + n;
        // A short tail group keeps the same ratio of weights (rounded up), so it never loses more than N:M would.
        const keep = len === p.m ? p.n : Math.ceil((len * p.n) / p.m);
        pruneLowest(scores, idx, len, len - keep, prune);
      }
    }
    return invert(prune);
  }
  if (p.kind === 'structured') {
    const col = new Float64Array(N);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) col[n] += scores[k * N + n];
    const gone = new Uint8Array(N);
    // Never remove every output: a layer with no outputs is a broken graph, not a small one.
    pruneLowest(col, null, N, Math.min(N - 1, pruneCount(N, opts.sparsity)), gone);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) prune[k * N + n] = gone[n];
    return invert(prune);
  }
  const bn = p.kind === 'block' ? p.bn : 1;
  const bk = p.kind === 'block' ? p.bk : 1;
  const GK = Math.ceil(K / bk);
  const GN = Math.ceil(N / bn);
  // Group scores: the sum over each block (for 1x1, the scores themselves).
  let g: Float32Array | Float64Array = scores;
  if (bn > 1 || bk > 1) {
    g = new Float64Array(GK * GN);
    for (let k = 0; k < K; k++) {
      const gk = Math.floor(k / bk);
      for (let n = 0; n < N; n++) g[gk * GN + Math.floor(n / bn)] += scores[k * N + n];
    }
  }
  const gPrune = new Uint8Array(GK * GN);
  if ((opts.compare ?? 'layer') === 'output' && bn === 1) {
    const idx = new Int32Array(GK);
    const count = pruneCount(GK, opts.sparsity);
    for (let gn = 0; gn < GN; gn++) {
      for (let gk = 0; gk < GK; gk++) idx[gk] = gk * GN + gn;
      pruneLowest(g, idx, GK, count, gPrune);
    }
  } else {
    pruneLowest(g, null, GK * GN, pruneCount(GK * GN, opts.sparsity), gPrune);
  }
  if (bn === 1 && bk === 1) return invert(gPrune);
  for (let k = 0; k < K; k++) {
    const gk = Math.floor(k / bk);
    for (let n = 0; n < N; n++) prune[k * N + n] = gPrune[gk * GN + Math.floor(n / bn)];
  }
  return invert(prune);
}

function invert(prune: Uint8Array): Uint8Array {
  for (let i = 0; i < prune.length; i++) prune[i] ^= 1;
  return prune;
}

/** W with the pruned weights zeroed (a copy). */
export function applyMask(W: Float32Array, mask: Uint8Array): Float32Array {
  const out = new Float32Array(W.length);
  for (let i = 0; i < W.length; i++) out[i] = mask[i] ? W[i] : 0;
  return out;
}

/** Share of zeros in W. */
export function sparsityOf(W: ArrayLike<number>): number {
  let zeros = 0;
  for (let i = 0; i < W.length; i++) if (W[i] === 0) zeros++;
  return W.length === 0 ? 0 : zeros / W.length;
}

/**
 * How full W's nonzero 1x4 blocks along K (4 consecutive k of one output, W row-major [K, N]) are:
 * nonzeros / (4 · blocks holding any). 1 for 1x4 block pruning; ~0.29 for 90% random zeros.
 */
export function blockFill(W: ArrayLike<number>, K: number, N: number): number {
  let nonzeros = 0;
  let blocks = 0;
  for (let k0 = 0; k0 < K; k0 += 4)
    for (let n = 0; n < N; n++) {
      let inBlock = 0;
      for (let k = k0; k < Math.min(K, k0 + 4); k++) if (W[k * N + n] !== 0) inBlock++;
      nonzeros += inBlock;
      if (inBlock) blocks++;
    }
  return blocks === 0 ? 1 : nonzeros / (4 * blocks);
}

/** The outputs (columns) of W that are entirely zero: what structured pruning removed. */
export function deadColumns(W: Float32Array, K: number, N: number): Uint8Array {
  const alive = new Uint8Array(N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) if (W[k * N + n] !== 0) alive[n] = 1;
  return invert(alive);
}

/** Whether W fits an N:M pattern (at most N nonzeros in every M consecutive k); true for other patterns. */
export function satisfiesPattern(W: Float32Array, K: number, N: number, p: Pattern): boolean {
  if (p.kind === 'nm') {
    for (let n = 0; n < N; n++)
      for (let k0 = 0; k0 < K; k0 += p.m) {
        let nz = 0;
        const len = Math.min(p.m, K - k0);
        for (let j = 0; j < len; j++) if (W[(k0 + j) * N + n] !== 0) nz++;
        if (nz > (len === p.m ? p.n : Math.ceil((len * p.n) / p.m))) return false;
      }
    return true;
  }
  return true;
}
