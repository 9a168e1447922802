// Einsum equations: parsed against the operands' ranks (the ellipsis expanded to letters of its own,
// right-aligned across operands as numpy broadcasts it), and the shape rule. The planner lowers the
// parsed form to transposes, sums and one batched GEMM (src/runtime/plan-einsum.ts).
import { SparqError } from '../errors.js';
import { type Dim, type Node, attrString } from './ir.js';
import { type ValueMeta, shapeError } from './shapes.js';

export interface ParsedEinsum {
  /** Per operand, the index letter of each of its dims. */
  inputs: string[][];
  output: string[];
}

/** Letters the ellipsis dims get: outside a-z / A-Z, so never a user's index. */
const ELLIPSIS_LETTERS = '0123456789';

export function parseEinsum(node: Node, ranks: readonly number[]): ParsedEinsum {
  const eq = attrString(node, 'equation', '').replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) throw shapeError(node, `equation "${eq}" has ${terms.length} operands but the node has ${ranks.length} inputs`);
  const valid = /^[a-zA-Z]*(\.\.\.)?[a-zA-Z]*$/;
  const ellipsisRank = terms.map((t, i) => {
    if (!valid.test(t)) throw shapeError(node, `equation "${eq}" has a malformed term "${t}"`);
    const letters = t.replace('...', '').length;
    const e = ranks[i] - letters;
    if (e < 0 || (e > 0 && !t.includes('...'))) throw shapeError(node, `term "${t}" does not fit an input of rank ${ranks[i]}`);
    return e;
  });
  const E = Math.max(0, ...ellipsisRank);
  if (E > ELLIPSIS_LETTERS.length) throw shapeError(node, 'the ellipsis covers too many dims');
  const ell = ELLIPSIS_LETTERS.slice(0, E).split('');
  const expand = (t: string, e: number) => {
    const [a, b] = t.includes('...') ? t.split('...') : [t, ''];
    return [...a.split(''), ...ell.slice(E - e), ...b.split('')].filter((c) => c !== '');
  };
  const inputs = terms.map((t, i) => expand(t, ellipsisRank[i]));
  let output: string[];
  if (arrow >= 0) {
    const rhs = eq.slice(arrow + 2);
    if (!valid.test(rhs)) throw shapeError(node, `equation "${eq}" has a malformed output "${rhs}"`);
    output = expand(rhs, E);
    const all = new Set(inputs.flat());
    for (const c of output) if (!all.has(c)) throw shapeError(node, `output index "${c}" appears in no input`);
    if (new Set(output).size !== output.length) throw shapeError(node, `output "${rhs}" repeats an index`);
  } else {
    const count = new Map<string, number>();
    for (const c of inputs.flat()) count.set(c, (count.get(c) ?? 0) + 1);
    output = [...ell, ...[...count].filter(([c, n]) => n === 1 && !ell.includes(c)).map(([c]) => c).sort()];
  }
  return { inputs, output };
}

export function inferEinsum(node: Node, ins: (ValueMeta | undefined)[]): ValueMeta[] {
  if (node.inputs.length < 1) throw shapeError(node, 'has no inputs');
  const metas = node.inputs.map((_, i) => {
    const m = ins[i];
    if (!m) throw shapeError(node, `input ${i} is missing`);
    return m;
  });
  if (metas.some((m) => m.dtype !== 'float32')) throw new SparqError('ERR_UNSUPPORTED_OP', `Einsum node "${node.name}" has non-float32 operands; sparq runs float32 Einsum`);
  const p = parseEinsum(node, metas.map((m) => m.dims.length));
  const size = new Map<string, Dim>();
  p.inputs.forEach((letters, i) => letters.forEach((c, d) => {
    const v = metas[i].dims[d];
    const had = size.get(c);
    if (had === undefined || had === 1) size.set(c, v);
  }));
  return [{ dtype: 'float32', dims: p.output.map((c) => size.get(c) as Dim) }];
}
