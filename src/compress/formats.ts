// Which kernel format a compressed weight should run on, among those compiled into this addon.
// Sparse kernels pay from about 60-70% sparsity (the sparse issue's crossover); below that the dense
// kernels win, so the weight stays dense (fp32 or int8).
import { backend } from '../backend.js';
import type { WeightFormatSpec } from '../model.js';
import type { Pattern } from './masks.js';

/** Sparsity from which a pruned fp32 weight runs on a sparse format. */
export const SPARSE_F32_FROM = 0.6;
/**
 * Sparsity from which a pruned int8 weight runs on 'sparse-int8' instead of dense 'int8': 70% where the
 * zeros come in 1x4 blocks along K (the kernel then does a quarter of the multiply-adds per stored
 * block), 88% for scattered zeros, where each nonzero costs a block's work at M >= 32 (measured at
 * M = 32: 0.45-0.7x onnxruntime's dense int8 at 70-80% random sparsity, 1.1-1.2x at 90%).
 */
export const SPARSE_INT8_FROM = 0.7;
export const SPARSE_INT8_SCATTERED_FROM = 0.88;

let cached: readonly string[] | undefined;
/** Formats compiled into the addon ([] where it cannot load: then every weight stays dense). */
export function availableFormats(): readonly string[] {
  if (!cached) {
    try {
      cached = backend().formats;
    } catch {
      cached = [];
    }
  }
  return cached;
}

/**
 * The format for a weight of this sparsity and pattern, fp32 or int8; null = the session's default
 * (dense fp32). Blocks along K keep their block shape so the kernel can use it. int8: `blockFill` is
 * how full the weight's nonzero 1x4 blocks along K are (masks.blockFill; >= 0.5: blocky).
 */
export function chooseFormat(sparsity: number, pattern: Pattern | null, int8: boolean, perChannel = true, available = availableFormats(), blockFill = 1): WeightFormatSpec | null {
  const has = (f: string) => available.includes(f);
  if (int8) {
    const from = blockFill >= 0.5 ? SPARSE_INT8_FROM : SPARSE_INT8_SCATTERED_FROM;
    if (sparsity >= from && has('sparse-int8')) return { format: 'sparse-int8', options: { perChannel } };
    return has('int8') ? { format: 'int8', options: { perChannel } } : null;
  }
  // 2:4 is 50% by construction, below SPARSE_F32_FROM: its kernel does half the multiply-adds over a
  // fixed index structure, so it pays where scattered zeros at that sparsity would not.
  if (pattern?.kind === 'nm' && pattern.n === 2 && pattern.m === 4 && has('2:4')) return { format: '2:4' };
  if (sparsity < SPARSE_F32_FROM || !pattern || pattern.kind === 'structured') return null;
  if (pattern.kind === 'block' && has('block')) return { format: 'block', options: { block: `${pattern.bn}x${pattern.bk}` } };
  if (has('sparse')) return { format: 'sparse' };
  return null;
}
