// Shape and dtype rules of the wider op set (op-families.ts), called by inferNode (shapes.ts) for the
// ops it has no rule of its own for. Shapes that depend on a value the rule does not know get fresh
// symbolic dims (the planner knows the value: value-inputs.ts).
import { SparqError } from '../errors.js';
import { type DType, type Dim, type Node, attrInt, attrInts, attrString, elementAt, toNumbers } from './ir.js';
import { BINARY_FN, BOOL_OUTPUT, REDUCE_FN, UNARY_FN, VARIADIC } from './op-families.js';
import { type ValueMeta, axesOf, broadcastDims, constInts, freshDim, normAxis, shapeError } from './shapes.js';
import { dtypeOfCode } from '../onnx/decode.js';

/** Every op the extended rules cover (model.ts adds them to the supported set). */
export const EXTENDED_OPS: ReadonlySet<string> = new Set([
  ...Object.keys(UNARY_FN), ...Object.keys(BINARY_FN), ...Object.keys(REDUCE_FN), ...VARIADIC,
  'ArgMax', 'ArgMin', 'LogSoftmax', 'Hardmax', 'CastLike', 'Size', 'Tile', 'Pad', 'TopK', 'CumSum', 'Trilu', 'OneHot',
  'NonZero', 'Dropout', 'EyeLike', 'NegativeLogLikelihoodLoss', 'SoftmaxCrossEntropyLoss', 'If', 'Loop', 'Scan',
]);

export function inferExtended(node: Node, ins: (ValueMeta | undefined)[], opset: number): ValueMeta[] | undefined {
  if (node.domain !== '' || !EXTENDED_OPS.has(node.op)) return undefined;
  const need = (i: number): ValueMeta => {
    const m = ins[i];
    if (!m) throw shapeError(node, `input ${i} is missing`);
    return m;
  };
  const x = () => need(0);
  const fresh = (rank: number) => Array.from({ length: rank }, (_, i) => freshDim(node, i));
  const op = node.op;
  if (op in UNARY_FN) return [{ dtype: BOOL_OUTPUT.has(op) ? 'bool' : x().dtype, dims: [...x().dims] }];
  if (op in BINARY_FN || VARIADIC.has(op)) {
    if (node.inputs.length === 0) throw shapeError(node, 'has no inputs');
    if (op in BINARY_FN && !VARIADIC.has(op) && node.inputs.length !== 2) throw shapeError(node, `takes 2 inputs but has ${node.inputs.length}`);
    let dims = [...x().dims];
    for (let i = 1; i < node.inputs.length; i++) {
      if (op !== 'Pow' && op !== 'PRelu' && need(i).dtype !== x().dtype) throw shapeError(node, `input ${i} is ${need(i).dtype}, input 0 ${x().dtype}`);
      dims = broadcastDims(node, dims, need(i).dims);
    }
    return [{ dtype: BOOL_OUTPUT.has(op) ? 'bool' : x().dtype, dims }];
  }
  if (op in REDUCE_FN) {
    const dims = x().dims;
    const axes = axesOf(node, ins, 1);
    const keep = attrInt(node, 'keepdims', 1) !== 0;
    if (axes === null) return [{ dtype: x().dtype, dims: keep ? fresh(dims.length) : [freshDim(node, 0)] }];
    const all = !axes || axes.length === 0;
    if (all && attrInt(node, 'noop_with_empty_axes', 0)) return [{ dtype: x().dtype, dims: [...dims] }];
    const set = new Set(all ? dims.map((_, i) => i) : axes.map((a) => normAxis(node, a, dims.length)));
    const out: Dim[] = [];
    dims.forEach((d, i) => (set.has(i) ? keep && out.push(1) : out.push(d)));
    return [{ dtype: x().dtype, dims: out }];
  }
  switch (op) {
    case 'ArgMax': case 'ArgMin': {
      const dims = x().dims;
      const axis = normAxis(node, attrInt(node, 'axis', 0), dims.length);
      const keep = attrInt(node, 'keepdims', 1) !== 0;
      const out: Dim[] = [];
      dims.forEach((d, i) => (i === axis ? keep && out.push(1) : out.push(d)));
      return [{ dtype: 'int64', dims: out }];
    }
    case 'LogSoftmax': case 'Hardmax':
      return [{ dtype: x().dtype, dims: [...x().dims] }];
    case 'CastLike':
      return [{ dtype: need(1).dtype, dims: [...x().dims] }];
    case 'Size':
      return [{ dtype: 'int64', dims: [] }];
    case 'Tile': {
      const dims = x().dims;
      const reps = constInts(node, need(1), 'repeats');
      if (!reps) return [{ dtype: x().dtype, dims: fresh(dims.length) }];
      if (reps.length !== dims.length) throw shapeError(node, `repeats has ${reps.length} values for rank ${dims.length}`);
      if (reps.some((r) => r < 0)) throw shapeError(node, `repeats [${reps.join(', ')}] has a negative value`);
      return [{ dtype: x().dtype, dims: dims.map((d, i) => (typeof d === 'number' ? d * reps[i] : reps[i] === 1 ? d : `${d}*${reps[i]}`)) }];
    }
    case 'Pad': {
      const dims = x().dims;
      const begin = padBegins(node, dims.length, ins);
      if (!begin) return [{ dtype: x().dtype, dims: fresh(dims.length) }];
      return [{ dtype: x().dtype, dims: dims.map((d, i) => {
        if (typeof d !== 'number') return begin.pads[i] === 0 && begin.pads[i + dims.length] === 0 ? d : freshDim(node, i);
        const n = d + begin.pads[i] + begin.pads[i + dims.length];
        if (n < 0) throw shapeError(node, `pads crop dim ${i} below 0`);
        return n;
      }) }];
    }
    case 'TopK': {
      const dims = x().dims;
      const axis = normAxis(node, attrInt(node, 'axis', -1), dims.length);
      const k = node.inputs[1] ? constInts(node, need(1), 'K')?.[0] : attrInt(node, 'k', -1);
      const out = [...dims];
      if (k === undefined || k < 0) out[axis] = freshDim(node, axis);
      else {
        if (typeof dims[axis] === 'number' && k > (dims[axis] as number)) throw shapeError(node, `k ${k} exceeds dim ${dims[axis]}`);
        out[axis] = k;
      }
      return [{ dtype: x().dtype, dims: out }, { dtype: 'int64', dims: [...out] }];
    }
    case 'CumSum': case 'Trilu':
      return [{ dtype: x().dtype, dims: [...x().dims] }];
    case 'OneHot': {
      const dims = x().dims;
      const values = need(2);
      const depthMeta = need(1);
      const depth = depthMeta.value ? Math.trunc(elementAt(depthMeta.value, 0)) : undefined;
      const axis = normAxis(node, attrInt(node, 'axis', -1), dims.length + 1);
      if (depth !== undefined && depth < 0) throw shapeError(node, `depth ${depth} is negative`);
      const out = [...dims];
      out.splice(axis, 0, depth ?? freshDim(node, axis));
      return [{ dtype: values.dtype, dims: out }];
    }
    case 'NonZero': {
      const v = x().value;
      if (!v) return [{ dtype: 'int64', dims: [x().dims.length, freshDim(node, 1)] }];
      let count = 0;
      for (let i = 0; i < v.data.length; i++) if (elementAt(v, i) !== 0) count++;
      return [{ dtype: 'int64', dims: [x().dims.length, count] }];
    }
    case 'Dropout': {
      const outs: ValueMeta[] = [{ dtype: x().dtype, dims: [...x().dims] }];
      if (node.outputs.length > 1) outs.push({ dtype: 'bool', dims: [...x().dims] });
      return outs;
    }
    case 'EyeLike': {
      const dims = x().dims;
      if (dims.length !== 2) throw shapeError(node, 'the input must be 2-D');
      const code = attrInt(node, 'dtype', 0);
      const dtype: DType | undefined = code ? dtypeOfCode(code) : x().dtype;
      if (!dtype) throw new SparqError('ERR_UNSUPPORTED_DTYPE', `EyeLike node "${node.name}" asks for dtype ${code}, which sparq does not support`);
      return [{ dtype, dims: [...dims] }];
    }
    case 'If': case 'Loop': case 'Scan': {
      // Declared output types; the planner inlines these nodes (control-flow.ts) with concrete shapes.
      const a = node.attrs[op === 'If' ? 'then_branch' : 'body'];
      if (!a || a.type !== 'graph') throw shapeError(node, 'has no subgraph');
      const skip = op === 'Loop' ? 1 : 0;
      return node.outputs.map((_, i) => {
        const v = a.value.outputs[i + skip];
        if (!v) throw shapeError(node, `has more outputs than its subgraph`);
        const scanned = (op === 'Loop' && i >= node.inputs.length - 2) || (op === 'Scan' && i >= node.inputs.length - attrInt(node, 'num_scan_inputs', 0));
        const dims = v.dims ? [...v.dims] : [freshDim(node, i)];
        return { dtype: v.dtype, dims: scanned ? [freshDim(node, i), ...dims] : dims };
      });
    }
    case 'NegativeLogLikelihoodLoss': case 'SoftmaxCrossEntropyLoss': {
      const xd = x().dims, td = need(1).dims;
      if (xd.length < 2 || td.length !== xd.length - 1) throw shapeError(node, `input [${xd.join(', ')}] and target [${td.join(', ')}] disagree`);
      const reduction = attrString(node, 'reduction', 'mean');
      if (!['none', 'sum', 'mean'].includes(reduction)) throw shapeError(node, `reduction "${reduction}" is not none, sum or mean`);
      const outs: ValueMeta[] = [{ dtype: x().dtype, dims: reduction === 'none' ? [...td] : [] }];
      if (op === 'SoftmaxCrossEntropyLoss' && node.outputs.length > 1) outs.push({ dtype: x().dtype, dims: [...xd] });
      return outs;
    }
    default:
      return undefined;
  }
  void opset;
}

/** Pad's begins and ends over every axis ([begin0.., end0..]), from the pads input or attribute. */
export function padBegins(node: Node, rank: number, ins: (ValueMeta | undefined)[]): { pads: number[] } | undefined {
  let pads = attrInts(node, 'pads') ? [...(attrInts(node, 'pads') as number[])] : node.inputs[1] ? constInts(node, ins[1], 'pads') : undefined;
  if (!pads) return undefined;
  let axes: number[] | undefined;
  if (node.inputs[3]) {
    const a = ins[3]?.value;
    if (!a) return undefined;
    axes = toNumbers(a).map((v) => normAxis(node, v, rank));
  }
  if (axes) {
    if (pads.length !== 2 * axes.length) throw shapeError(node, `pads has ${pads.length} values for ${axes.length} axes`);
    const full = new Array<number>(2 * rank).fill(0);
    axes.forEach((a, i) => {
      full[a] = (pads as number[])[i];
      full[a + rank] = (pads as number[])[i + axes.length];
    });
    pads = full;
  }
  if (pads.length !== 2 * rank) throw shapeError(node, `pads has ${pads.length} values for rank ${rank}`);
  return { pads };
}
