// Which inputs of a node are weight matrices the session packs ([K, N] fp32 initializers that live in
// packed handles, not in plan slots): a sparq Linear's or conv's weight (conv-layout.ts), a sparq
// recurrent layer's Wᵀ and R_dᵀ.
import type { Node } from './ir.js';
import { SPARQ_DOMAIN } from './fuse.js';
import { PACKED_R_INPUT, RECURRENT_OPS } from './rnn.js';
import { isPackedWeightInput as isLinearOrConvWeight } from './conv-layout.js';

export function packedWeightInputs(node: Node): number[] {
  if (node.domain !== SPARQ_DOMAIN) return [];
  if (isLinearOrConvWeight(node, 1)) return [1];
  if (RECURRENT_OPS.has(node.op)) return [1, ...node.inputs.slice(PACKED_R_INPUT).map((_, i) => PACKED_R_INPUT + i)];
  return [];
}

export function isPackedWeightInput(node: Node, i: number): boolean {
  if (node.domain !== SPARQ_DOMAIN) return false;
  if (isLinearOrConvWeight(node, 1)) return i === 1;
  return RECURRENT_OPS.has(node.op) && (i === 1 || i >= PACKED_R_INPUT);
}
