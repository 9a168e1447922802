// Shape and dtype inference, one rule per op, with symbolic dims. The same rules serve the model
// (dims like 'batch' stay symbolic) and the planner (every dim concrete), and they read constant
// inputs (`value`) where an output shape depends on data (Reshape's shape, Slice's starts, ...).
import { SparqError } from '../errors.js';
import { type ConstTensor, type DType, type Dim, type Node, attrInt, attrInts, toNumbers } from './ir.js';
import { dtypeOfCode } from '../onnx/decode.js';
import { inferRecurrent } from './rnn.js';
import { inferEinsum } from './einsum.js';
import { INDEXING_OPS, inferIndexing } from './shapes-indexing.js';
import { inferConvNode } from './conv-shapes.js';
import { inferExtended } from './shapes-ext.js';

/** What inference knows about a value: its dtype, its dims, and its data when it is a constant. */
export interface ValueMeta {
  dtype: DType;
  dims: Dim[];
  value?: ConstTensor;
}

export function shapeError(node: Node, message: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${node.name}" (${node.op}): ${message}`);
}

let symbolCounter = 0;
export function freshDim(node: Node, i: number): string {
  return `${node.name}_d${i}_${symbolCounter++}`;
}

export function broadcastDims(node: Node, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = new Array<Dim>(rank);
  for (let i = 0; i < rank; i++) {
    const x = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
    const y = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
    if (x === y || y === 1) out[i] = x;
    else if (x === 1) out[i] = y;
    else if (typeof x === 'number' && typeof y === 'number') throw shapeError(node, `cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`);
    else out[i] = typeof x === 'number' ? x : y;
  }
  return out;
}

export function normAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw shapeError(node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function constInts(node: Node, m: ValueMeta | undefined, what: string): number[] | undefined {
  if (!m) return undefined;
  if (!m.value) return undefined;
  if (m.value.dtype !== 'int64' && m.value.dtype !== 'int32') throw shapeError(node, `${what} must be int64`);
  return toNumbers(m.value);
}

/** Axes from the attribute (older opsets) or the second input (newer ones). */
export function axesOf(node: Node, ins: (ValueMeta | undefined)[], inputIndex: number): number[] | undefined | null {
  const attr = attrInts(node, 'axes');
  if (attr) return [...attr];
  if (node.inputs[inputIndex]) {
    const v = constInts(node, ins[inputIndex], 'axes');
    return v ?? null; // null: given but not known (data-dependent)
  }
  return undefined;
}

function mulDims(a: Dim, b: Dim): Dim {
  return typeof a === 'number' && typeof b === 'number' ? a * b : `${a}*${b}`;
}

function matmulDims(node: Node, a: Dim[], b: Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw shapeError(node, 'MatMul inputs must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1], k2 = b2[b2.length - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) throw shapeError(node, `inner dims ${k1} and ${k2} differ`);
  const batch = broadcastDims(node, a2.slice(0, -2), b2.slice(0, -2));
  const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
  if (b.length === 1) out.pop();
  if (a.length === 1) out.splice(out.length - (b.length === 1 ? 1 : 2), 1);
  return out;
}

function sumDims(ds: Dim[]): Dim {
  if (ds.every((d) => typeof d === 'number')) return (ds as number[]).reduce((x, y) => x + y, 0);
  return ds.join('+');
}

/** Resolves Slice's starts/ends/steps on a dim of length n (numbers only). */
export function sliceRange(start: number, end: number, step: number, n: number): { start: number; count: number } {
  const clampS = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  if (step > 0) {
    s = clampS(s, 0, n);
    e = clampS(e, 0, n);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  s = clampS(s, -1, n - 1);
  e = clampS(e, -1, n - 1);
  return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
}

export interface SliceSpec {
  starts: number[];
  counts: number[];
  steps: number[];
}

/** Per-axis start/count/step of a Slice over concrete dims (every axis, defaults filled in). */
export function sliceSpec(node: Node, dims: readonly number[], ins: (ValueMeta | undefined)[]): SliceSpec | undefined {
  const starts = constInts(node, ins[1], 'starts');
  const ends = constInts(node, ins[2], 'ends');
  if (!starts || !ends) return undefined;
  const axes = node.inputs[3] ? constInts(node, ins[3], 'axes') : starts.map((_, i) => i);
  const steps = node.inputs[4] ? constInts(node, ins[4], 'steps') : starts.map(() => 1);
  if (!axes || !steps) return undefined;
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length)
    throw shapeError(node, 'starts, ends, axes and steps differ in length');
  const spec: SliceSpec = { starts: dims.map(() => 0), counts: [...dims], steps: dims.map(() => 1) };
  starts.forEach((s, i) => {
    const a = normAxis(node, axes[i], dims.length);
    if (steps[i] === 0) throw shapeError(node, 'a step is 0');
    const r = sliceRange(s, ends[i], steps[i], dims[a]);
    spec.starts[a] = r.start;
    spec.counts[a] = r.count;
    spec.steps[a] = steps[i];
  });
  return spec;
}

/** Split sizes along the axis (numbers only). */
export function splitSizes(node: Node, dim: number, ins: (ValueMeta | undefined)[]): number[] | undefined {
  const outs = node.outputs.length;
  let split: number[] | undefined = attrInts(node, 'split') ? [...(attrInts(node, 'split') as number[])] : undefined;
  if (!split && node.inputs[1]) {
    // A split input whose values are unknown here: the sizes are not the even split (see value-inputs.ts).
    split = constInts(node, ins[1], 'split');
    if (!split) return undefined;
  }
  const numOutputs = attrInt(node, 'num_outputs', 0);
  if (!split && numOutputs > 0 && numOutputs !== outs) throw shapeError(node, `num_outputs ${numOutputs} differs from its ${outs} outputs`);
  if (split) {
    if (split.length !== outs || split.reduce((a, b) => a + b, 0) !== dim) throw shapeError(node, `split sizes [${split.join(', ')}] do not cover dim ${dim}`);
    return split;
  }
  const each = Math.ceil(dim / outs);
  return Array.from({ length: outs }, (_, i) => Math.max(0, Math.min(each, dim - i * each)));
}

/** [min, max] inputs per op (absent optional inputs count as given when named ''). */
const ARITY: Record<string, [number, number]> = {
  Add: [2, 2], Sub: [2, 2], Mul: [2, 2], Div: [2, 2], Pow: [2, 2], Equal: [2, 2], Where: [3, 3],
  Sqrt: [1, 1], Erf: [1, 1], Tanh: [1, 1], Relu: [1, 1], Sigmoid: [1, 1], Gelu: [1, 1], Identity: [1, 1],
  Softmax: [1, 1], Clip: [1, 3], LayerNormalization: [2, 3], Cast: [1, 1], ReduceMean: [1, 2], MatMul: [2, 2],
  MatMulInteger: [2, 4], Linear: [2, 3], Gemm: [2, 3], Transpose: [1, 1], Reshape: [2, 2], Flatten: [1, 1],
  Squeeze: [1, 2], Unsqueeze: [1, 2], Concat: [1, 1 << 16], Gather: [2, 2], Slice: [3, 5], Shape: [1, 1],
  ConstantOfShape: [1, 1], Range: [3, 3], Expand: [2, 2], Split: [1, 2], Constant: [0, 0],
  DynamicQuantizeLinear: [1, 1], QuantizeLinear: [2, 3], DequantizeLinear: [2, 3], KvStore: [3, 3],
  CacheAttention: [3, 5],
};

/** Output metas of a node from its input metas (values are not computed here; see evaluate.ts). */
export function inferNode(node: Node, ins: (ValueMeta | undefined)[], opset: number): ValueMeta[] {
  const arity = ARITY[node.op];
  if (arity && (node.inputs.length < arity[0] || node.inputs.length > arity[1]))
    throw shapeError(node, `takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} inputs but has ${node.inputs.length}`);
  if (node.outputs.length === 0) throw shapeError(node, 'has no outputs');
  const need = (i: number): ValueMeta => {
    const m = ins[i];
    if (!m) throw shapeError(node, `input ${i} is missing`);
    return m;
  };
  const x = () => need(0);
  const same = (dtype?: DType): ValueMeta[] => [{ dtype: dtype ?? x().dtype, dims: [...x().dims] }];
  switch (node.op) {
    case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Pow':
      return [{ dtype: x().dtype, dims: broadcastDims(node, x().dims, need(1).dims) }];
    case 'Equal':
      return [{ dtype: 'bool', dims: broadcastDims(node, x().dims, need(1).dims) }];
    case 'Where':
      return [{ dtype: need(1).dtype, dims: broadcastDims(node, broadcastDims(node, x().dims, need(1).dims), need(2).dims) }];
    case 'Sqrt': case 'Erf': case 'Tanh': case 'Relu': case 'Sigmoid': case 'Gelu': case 'Identity': case 'Softmax': case 'Clip':
      return same();
    case 'KvStore': // sparq: the cache (input 0) with input 1's rows written in (src/generate/kv-rewrite.ts)
      return same();
    case 'CacheAttention': {
      // sparq: softmax(Q·Kᵀ ...)·V over a cache (src/generate/kv-rewrite.ts): Q's dims, V's head size.
      // The condition (3) and mask (4) broadcast to the scores [batch, heads, rows, cache rows]: a
      // context past a position table sliced to its length fails here, as the unfused Where would.
      const q = x().dims;
      const k = need(1).dims;
      const v = need(2).dims;
      const scores = [...q.slice(0, -1), k[k.length - 2]];
      for (const i of [3, 4]) if (node.inputs[i] && ins[i]) broadcastDims(node, scores, ins[i]!.dims);
      return [{ dtype: 'float32', dims: [...q.slice(0, -1), v[v.length - 1]] }];
    }
    case 'LayerNormalization': {
      const out: ValueMeta[] = same();
      const axis = normAxis(node, attrInt(node, 'axis', -1), x().dims.length);
      const stat = x().dims.map((d, i) => (i < axis ? d : 1));
      for (let i = 1; i < node.outputs.length; i++) out.push({ dtype: 'float32', dims: stat });
      return out;
    }
    case 'Cast': {
      const to = dtypeOfCode(attrInt(node, 'to', 0));
      if (!to) throw new SparqError('ERR_UNSUPPORTED_OP', `Cast node "${node.name}" casts to type ${attrInt(node, 'to', 0)}, which sparq does not support`);
      return same(to);
    }
    case 'ReduceMean': {
      const dims = x().dims;
      const axes = axesOf(node, ins, 1);
      if (axes === null) throw shapeError(node, 'axes must be constant');
      const keep = attrInt(node, 'keepdims', 1) !== 0;
      const all = !axes || axes.length === 0;
      if (all && attrInt(node, 'noop_with_empty_axes', 0)) return same();
      const set = new Set(all ? dims.map((_, i) => i) : axes.map((a) => normAxis(node, a, dims.length)));
      const out: Dim[] = [];
      dims.forEach((d, i) => (set.has(i) ? keep && out.push(1) : out.push(d)));
      return [{ dtype: x().dtype, dims: out }];
    }
    case 'MatMul':
      return [{ dtype: 'float32', dims: matmulDims(node, x().dims, need(1).dims) }];
    case 'MatMulInteger':
      return [{ dtype: 'int32', dims: matmulDims(node, x().dims, need(1).dims) }];
    case 'Linear': {
      // sparq's fused linear: x[..., K] · W[K, N] (+ bias) (+ act).
      // After packing, a session drops the weight initializer: `out_features` keeps N.
      const n = attrInt(node, 'out_features', -1);
      return [{ dtype: 'float32', dims: [...x().dims.slice(0, -1), n >= 0 ? n : need(1).dims[1]] }];
    }
    case 'Gemm': {
      const a = x().dims, b = need(1).dims;
      if (a.length !== 2 || b.length !== 2) throw shapeError(node, 'Gemm inputs must be 2-D');
      const M = attrInt(node, 'transA', 0) ? a[1] : a[0];
      const N = attrInt(node, 'transB', 0) ? b[0] : b[1];
      return [{ dtype: 'float32', dims: [M, N] }];
    }
    case 'Transpose': {
      const dims = x().dims;
      const perm = attrInts(node, 'perm') ?? dims.map((_, i) => dims.length - 1 - i);
      if (perm.length !== dims.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) throw shapeError(node, `perm [${perm.join(', ')}] is not a permutation of rank ${dims.length}`);
      return [{ dtype: x().dtype, dims: perm.map((p) => dims[p]) }];
    }
    case 'Reshape': {
      const shape = constInts(node, need(1), 'shape');
      if (!shape) {
        const r = need(1).dims[0];
        if (typeof r !== 'number') throw shapeError(node, 'the target shape has unknown rank');
        return [{ dtype: x().dtype, dims: Array.from({ length: r }, (_, i) => freshDim(node, i)) }];
      }
      return [{ dtype: x().dtype, dims: reshapeDims(node, x().dims, shape, attrInt(node, 'allowzero', 0) !== 0) }];
    }
    case 'Flatten': {
      const dims = x().dims;
      let axis = attrInt(node, 'axis', 1);
      if (axis < 0) axis += dims.length;
      if (axis < 0 || axis > dims.length) throw shapeError(node, `axis ${attrInt(node, 'axis', 1)} is out of range`);
      return [{ dtype: x().dtype, dims: [dims.slice(0, axis).reduce(mulDims, 1), dims.slice(axis).reduce(mulDims, 1)] }];
    }
    case 'Squeeze': {
      const dims = x().dims;
      const axes = axesOf(node, ins, 1);
      if (axes === null) throw shapeError(node, 'axes must be constant');
      if (!axes) {
        if (dims.some((d) => typeof d !== 'number')) throw shapeError(node, 'Squeeze without axes needs known dims');
        return [{ dtype: x().dtype, dims: dims.filter((d) => d !== 1) }];
      }
      const set = new Set(axes.map((a) => normAxis(node, a, dims.length)));
      for (const a of set) if (typeof dims[a] === 'number' && dims[a] !== 1) throw shapeError(node, `dim ${a} is ${dims[a]}, not 1`);
      return [{ dtype: x().dtype, dims: dims.filter((_, i) => !set.has(i)) }];
    }
    case 'Unsqueeze': {
      const dims = x().dims;
      const axes = axesOf(node, ins, 1);
      if (!axes) throw shapeError(node, 'axes must be constant');
      const rank = dims.length + axes.length;
      const set = new Set(axes.map((a) => normAxis(node, a, rank)));
      if (set.size !== axes.length) throw shapeError(node, `axes [${axes.join(', ')}] repeat an axis`);
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : dims[j++]);
      return [{ dtype: x().dtype, dims: out }];
    }
    case 'Concat': {
      const parts = node.inputs.map((_, i) => need(i));
      const rank = parts[0].dims.length;
      const axis = normAxis(node, attrInt(node, 'axis', 0), rank);
      for (const p of parts) if (p.dims.length !== rank) throw shapeError(node, 'inputs differ in rank');
      const out = [...parts[0].dims];
      out[axis] = sumDims(parts.map((p) => p.dims[axis]));
      return [{ dtype: parts[0].dtype, dims: out }];
    }
    case 'Gather': {
      const dims = x().dims;
      const axis = normAxis(node, attrInt(node, 'axis', 0), dims.length);
      return [{ dtype: x().dtype, dims: [...dims.slice(0, axis), ...need(1).dims, ...dims.slice(axis + 1)] }];
    }
    case 'Slice': {
      const dims = x().dims;
      if (dims.every((d) => typeof d === 'number')) {
        const spec = sliceSpec(node, dims as number[], ins);
        if (spec) return [{ dtype: x().dtype, dims: spec.counts }];
      }
      const axes = node.inputs[3] ? constInts(node, ins[3], 'axes') : undefined;
      const out = [...dims];
      if (axes) for (const a of axes) out[normAxis(node, a, dims.length)] = freshDim(node, a);
      else for (let i = 0; i < out.length; i++) out[i] = freshDim(node, i);
      return [{ dtype: x().dtype, dims: out }];
    }
    case 'Shape': {
      const rank = x().dims.length;
      let start = attrInt(node, 'start', 0), end = attrInt(node, 'end', rank);
      if (start < 0) start += rank;
      if (end < 0) end += rank;
      start = Math.min(Math.max(start, 0), rank);
      end = Math.min(Math.max(end, start), rank);
      return [{ dtype: 'int64', dims: [end - start] }];
    }
    case 'ConstantOfShape': {
      const shape = constInts(node, need(0), 'shape');
      const valueAttr = node.attrs.value;
      const dtype = valueAttr && valueAttr.type === 'tensor' ? valueAttr.value.dtype : 'float32';
      if (!shape) {
        const r = need(0).dims[0];
        if (typeof r !== 'number') throw shapeError(node, 'the shape has unknown length');
        return [{ dtype, dims: Array.from({ length: r }, (_, i) => freshDim(node, i)) }];
      }
      if (shape.some((d) => d < 0)) throw shapeError(node, `shape [${shape.join(', ')}] has a negative dim`);
      return [{ dtype, dims: shape }];
    }
    case 'Range': {
      const [s, l, d] = [0, 1, 2].map((i) => ins[i]?.value);
      if (s && l && d) {
        const [sv, lv, dv] = [s, l, d].map((t) => toNumbers(t)[0]);
        if (dv === 0) throw shapeError(node, 'delta is 0');
        return [{ dtype: x().dtype, dims: [Math.max(0, Math.ceil((lv - sv) / dv))] }];
      }
      return [{ dtype: x().dtype, dims: [freshDim(node, 0)] }];
    }
    case 'Expand': {
      const shape = constInts(node, need(1), 'shape');
      if (!shape) {
        const r = need(1).dims[0];
        if (typeof r !== 'number') throw shapeError(node, 'the shape has unknown length');
        return [{ dtype: x().dtype, dims: Array.from({ length: Math.max(r, x().dims.length) }, (_, i) => freshDim(node, i)) }];
      }
      return [{ dtype: x().dtype, dims: broadcastDims(node, x().dims, shape) }];
    }
    case 'Split': {
      const dims = x().dims;
      const axis = normAxis(node, attrInt(node, 'axis', 0), dims.length);
      const d = dims[axis];
      if (typeof d !== 'number') return node.outputs.map((_, i) => ({ dtype: x().dtype, dims: dims.map((v, j) => (j === axis ? freshDim(node, i) : v)) }));
      const sizes = splitSizes(node, d, ins);
      if (!sizes) return node.outputs.map((_, i) => ({ dtype: x().dtype, dims: dims.map((v, j) => (j === axis ? freshDim(node, i) : v)) }));
      return sizes.map((s) => ({ dtype: x().dtype, dims: dims.map((v, j) => (j === axis ? s : v)) }));
    }
    case 'Constant': {
      const t = constantAttr(node);
      return [{ dtype: t.dtype, dims: [...t.dims], value: t }];
    }
    case 'DynamicQuantizeLinear':
      return [{ dtype: 'uint8', dims: [...x().dims] }, { dtype: 'float32', dims: [] }, { dtype: 'uint8', dims: [] }];
    case 'QuantizeLinear':
      return same(ins[2]?.dtype ?? 'uint8');
    case 'DequantizeLinear':
      return same('float32');
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return inferRecurrent(node, ins);
    case 'Einsum':
      return inferEinsum(node, ins);
    default: {
      if (INDEXING_OPS.has(node.op)) return inferIndexing(node, ins, opset);
      const conv = inferConvNode(node, ins);
      if (conv) return conv;
      const ext = inferExtended(node, ins, opset);
      if (ext) return ext;
      throw new SparqError('ERR_UNSUPPORTED_OP', `Op ${node.op} (node "${node.name}") is not supported`);
    }
  }
}

function reshapeDims(node: Node, dims: readonly Dim[], shape: number[], allowZero: boolean): Dim[] {
  const out: Dim[] = shape.map((s, i) => (s === 0 && !allowZero ? dims[i] : s));
  const minus = out.indexOf(-1);
  if (out.some((d, i) => i !== minus && typeof d === 'number' && d < 0)) throw shapeError(node, `shape [${shape.join(', ')}] is invalid`);
  if (out.filter((d) => d === -1).length > 1) throw shapeError(node, `shape [${shape.join(', ')}] has more than one -1`);
  if (out.some((d) => d === undefined)) throw shapeError(node, `shape [${shape.join(', ')}] copies a dim the input lacks`);
  const known = (ds: readonly Dim[]) => ds.every((d) => typeof d === 'number');
  if (minus >= 0) {
    const rest = out.filter((_, i) => i !== minus);
    if (known(dims) && known(rest)) {
      const total = (dims as number[]).reduce((a, b) => a * b, 1);
      const part = (rest as number[]).reduce((a, b) => a * b, 1);
      if (part === 0 || total % part !== 0) throw shapeError(node, `cannot reshape [${dims.join(', ')}] to [${shape.join(', ')}]`);
      out[minus] = total / part;
    } else {
      // Symbolic: if the known parts cancel, the -1 is the product of the remaining input dims.
      const inSyms = dims.filter((d) => typeof d !== 'number') as string[];
      const outSyms = rest.filter((d) => typeof d !== 'number') as string[];
      const left = inSyms.filter((s) => !outSyms.includes(s));
      const inNum = (dims.filter((d) => typeof d === 'number') as number[]).reduce((a, b) => a * b, 1);
      const outNum = (rest.filter((d) => typeof d === 'number') as number[]).reduce((a, b) => a * b, 1);
      if (outSyms.every((s) => inSyms.includes(s)) && inNum % outNum === 0) {
        const f = inNum / outNum;
        out[minus] = left.length === 0 ? f : [...(f === 1 ? [] : [String(f)]), ...left].join('*');
      } else out[minus] = freshDim(node, minus);
    }
  } else if (known(dims) && known(out)) {
    const a = (dims as number[]).reduce((p, q) => p * q, 1), b = (out as number[]).reduce((p, q) => p * q, 1);
    if (a !== b) throw shapeError(node, `cannot reshape [${dims.join(', ')}] to [${shape.join(', ')}]`);
  }
  return out;
}

/** The tensor a Constant node holds (value, value_float(s), value_int(s)). */
export function constantAttr(node: Node): ConstTensor {
  const a = node.attrs;
  if (a.value?.type === 'tensor') return a.value.value;
  const mk = (dtype: DType, dims: number[], v: number[]): ConstTensor => {
    const data = dtype === 'int64' ? BigInt64Array.from(v, (n) => BigInt(n)) : Float32Array.from(v);
    return { dtype, dims, data };
  };
  if (a.value_float?.type === 'float') return mk('float32', [], [a.value_float.value]);
  if (a.value_floats?.type === 'floats') return mk('float32', [a.value_floats.value.length], [...a.value_floats.value]);
  if (a.value_int?.type === 'int') return mk('int64', [], [a.value_int.value]);
  if (a.value_ints?.type === 'ints') return mk('int64', [a.value_ints.value.length], [...a.value_ints.value]);
  throw new SparqError('ERR_UNSUPPORTED_OP', `Constant node "${node.name}" has no value sparq supports`);
}
