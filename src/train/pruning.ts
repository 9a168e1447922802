// Magnitude pruning masks for training: each update keeps the largest-magnitude weights of every
// prunable matrix (or of all of them together, scope 'global') and zeroes the rest. Masks only ever
// shrink: a weight pruned once stays pruned, and zeros already in the model stay zero.
import type { Param } from './graph.js';

export type PrunePattern = 'unstructured' | '2:4' | 'block';
/** Block shapes of sparq's 'block' kernels: C columns (outputs n) x L consecutive k, aligned. */
export const PRUNE_BLOCKS = ['1x4', '4x1', '8x1', '16x1'] as const;
export type PruneBlock = (typeof PRUNE_BLOCKS)[number];

export interface PruneConfig {
  sparsity: number;
  pattern: PrunePattern;
  scope: 'layer' | 'global';
  /** pattern 'block': the block shape. */
  block: PruneBlock;
}

/** Masks holding the zeros a model already has (a pruned model keeps them through fine-tuning). */
export function maskExistingZeros(params: Param[]): void {
  for (const p of params) {
    if (!p.prunable) continue;
    const w = p.value;
    let zeros = 0;
    for (let i = 0; i < w.length; i++) if (w[i] === 0) zeros++;
    if (zeros === 0) continue;
    const mask = p.mask ?? new Uint8Array(w.length).fill(1);
    for (let i = 0; i < w.length; i++) if (w[i] === 0) mask[i] = 0;
    p.mask = mask;
  }
}

/** Zeroes every masked weight (after a mask update). */
export function applyMasks(params: Param[]): void {
  for (const p of params) {
    const mask = p.mask;
    if (!mask) continue;
    const w = p.value;
    for (let i = 0; i < w.length; i++) if (mask[i] === 0) w[i] = 0;
  }
}

/** Pruned share of the prunable weights (0 when there are none). */
export function measuredSparsity(params: Param[]): number {
  let zeros = 0;
  let total = 0;
  for (const p of params) {
    if (!p.prunable) continue;
    total += p.value.length;
    const w = p.value;
    for (let i = 0; i < w.length; i++) if (w[i] === 0) zeros++;
  }
  return total === 0 ? 0 : zeros / total;
}

/** The magnitude below which `count` of `values` fall (the count-th smallest |v|), by sorting a copy. */
function magnitudeThreshold(mags: Float32Array, count: number): number {
  if (count <= 0) return -1;
  const sorted = Float32Array.from(mags).sort();
  return sorted[Math.min(count, sorted.length) - 1];
}

/**
 * Prunes exactly `count` entries of the smallest magnitude (ties broken by position) on top of `mask`.
 * Entries already masked have magnitude 0 and go first.
 */
function pruneSmallest(mags: Float32Array, count: number, mask: Uint8Array): void {
  const threshold = magnitudeThreshold(mags, count);
  if (threshold < 0) return;
  let below = 0;
  for (let i = 0; i < mags.length; i++) if (mags[i] < threshold) below++;
  let ties = count - below;
  for (let i = 0; i < mags.length; i++) {
    if (mags[i] < threshold) mask[i] = 0;
    else if (mags[i] === threshold && ties > 0) {
      mask[i] = 0;
      ties--;
    }
  }
}

function magnitudes(p: Param): Float32Array {
  const w = p.value;
  const mask = p.mask;
  const m = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) m[i] = mask !== null && mask[i] === 0 ? 0 : Math.abs(w[i]);
  return m;
}

/**
 * What pruning ranks in a matrix: single weights (unstructured) or aligned blocks of C outputs x L
 * consecutive k scored by their L2 norm (pruned weights count as zero, so pruned blocks stay pruned).
 */
interface Units {
  scores: Float32Array;
  /** Zeroes in p.mask the weights of every unit whose unitMask is 0. */
  apply(unitMask: Uint8Array): void;
}

function unitsOf(p: Param, config: PruneConfig): Units {
  const mask = p.mask as Uint8Array;
  if (config.pattern !== 'block') {
    return {
      scores: magnitudes(p),
      apply: (unitMask) => {
        for (let i = 0; i < mask.length; i++) mask[i] &= unitMask[i];
      },
    };
  }
  const [C, L] = config.block.split('x').map(Number);
  const K = p.rows;
  const N = p.cols;
  const nb = Math.ceil(N / C);
  const kb = Math.ceil(K / L);
  const w = p.value;
  const scores = new Float32Array(nb * kb);
  const each = (b: number, fn: (i: number) => void): void => {
    const k0 = Math.floor(b / nb) * L;
    const n0 = (b % nb) * C;
    for (let k = k0; k < Math.min(k0 + L, K); k++) for (let n = n0; n < Math.min(n0 + C, N); n++) fn(k * N + n);
  };
  for (let b = 0; b < scores.length; b++) {
    let s = 0;
    each(b, (i) => {
      if (mask[i] !== 0) s += w[i] * w[i];
    });
    scores[b] = Math.sqrt(s);
  }
  return {
    scores,
    apply: (unitMask) => {
      for (let b = 0; b < unitMask.length; b++) if (unitMask[b] === 0) each(b, (i) => (mask[i] = 0));
    },
  };
}

/** Updates the masks of the prunable params to `sparsity` and zeroes the pruned weights. */
export function updateMasks(params: Param[], sparsity: number, config: PruneConfig): void {
  const prunable = params.filter((p) => p.prunable);
  for (const p of prunable) p.mask ??= new Uint8Array(p.value.length).fill(1);
  if (config.pattern === '2:4') {
    for (const p of prunable) pruneGroupsAlongK(p, sparsity, 4);
  } else if (config.scope === 'global') {
    const units = prunable.map((p) => unitsOf(p, config));
    const all = new Float32Array(units.reduce((a, u) => a + u.scores.length, 0));
    let o = 0;
    for (const u of units) {
      all.set(u.scores, o);
      o += u.scores.length;
    }
    const keep = new Uint8Array(all.length).fill(1);
    pruneSmallest(all, Math.round(sparsity * all.length), keep);
    o = 0;
    for (const u of units) {
      u.apply(keep.subarray(o, o + u.scores.length));
      o += u.scores.length;
    }
  } else {
    for (const p of prunable) {
      const u = unitsOf(p, config);
      const keep = new Uint8Array(u.scores.length).fill(1);
      pruneSmallest(u.scores, Math.round(sparsity * u.scores.length), keep);
      u.apply(keep);
    }
  }
  applyMasks(prunable);
}

/**
 * N:M pruning along K (the layout sparq's 2:4 kernels use: groups of `m` consecutive k of one output
 * column): each group keeps its m − round(sparsity·m) largest weights, so the target 0.5 gives 2:4.
 */
function pruneGroupsAlongK(p: Param, sparsity: number, m: number): void {
  const K = p.rows;
  const N = p.cols;
  const w = p.value;
  const mask = p.mask as Uint8Array;
  const mag = new Float64Array(m);
  const idx = new Int32Array(m);
  for (let n = 0; n < N; n++) {
    for (let k0 = 0; k0 < K; k0 += m) {
      const g = Math.min(m, K - k0);
      const drop = Math.min(g, Math.round(sparsity * g));
      if (drop === 0) continue;
      for (let j = 0; j < g; j++) {
        const i = (k0 + j) * N + n;
        mag[j] = mask[i] === 0 ? -1 : Math.abs(w[i]);
        idx[j] = i;
      }
      for (let r = 0; r < drop; r++) {
        let best = -1;
        for (let j = 0; j < g; j++) if (mag[j] !== Infinity && (best < 0 || mag[j] < mag[best])) best = j;
        mask[idx[best]] = 0;
        mag[best] = Infinity;
      }
    }
  }
}
