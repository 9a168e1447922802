// Folding of the wider op set on integer and bool constants: the shape arithmetic exporters and ONNX
// function bodies write (Neg of a rank, Max of two dims, Less for a clamp, ReduceProd of a shape).
// Float math is left to the kernels, so a folded value never differs from a computed one.
import { type ConstTensor, type DType, type Node, attrInt, constFromNumbers, elementAt, numel, toNumbers } from './ir.js';
import { BOOL_OUTPUT } from './op-families.js';

const INT: ReadonlySet<DType> = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'bool']);

const UNARY: Record<string, (a: number) => number> = {
  Neg: (a) => -a, Abs: Math.abs, Sign: Math.sign, Not: (a) => (a ? 0 : 1), Identity: (a) => a, Relu: (a) => Math.max(a, 0),
  Ceil: Math.ceil, Floor: Math.floor,
};
/** Ops whose float results are exact in JavaScript (no rounding step): foldable on float32/float64 too. */
const FLOAT_EXACT = new Set(['Neg', 'Abs', 'Sign', 'Identity', 'Relu', 'Ceil', 'Floor', 'Max', 'Min', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);
const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Sum: (a, b) => a + b,
  Max: Math.max, Min: Math.min,
  Equal: (a, b) => +(a === b), Less: (a, b) => +(a < b), Greater: (a, b) => +(a > b), LessOrEqual: (a, b) => +(a <= b), GreaterOrEqual: (a, b) => +(a >= b),
  And: (a, b) => +(a !== 0 && b !== 0), Or: (a, b) => +(a !== 0 || b !== 0), Xor: (a, b) => +((a !== 0) !== (b !== 0)),
};

function broadcastIndex(dims: readonly number[], out: readonly number[], i: number): number {
  let idx = 0, stride = 1;
  const rest = i;
  const outStrides: number[] = [];
  let acc = 1;
  for (let d = out.length - 1; d >= 0; d--) {
    outStrides[d] = acc;
    acc *= out[d];
  }
  for (let d = out.length - 1, k = dims.length - 1; d >= 0; d--, k--) {
    const c = Math.floor(rest / outStrides[d]) % out[d];
    if (k >= 0) {
      if (dims[k] !== 1) idx += c * stride;
      stride *= dims[k];
    }
  }
  return idx;
}

export function evaluateExtended(node: Node, vals: (ConstTensor | undefined)[], out: { dtype: DType; dims: number[] }[]): ConstTensor[] | undefined {
  const present = vals.filter((v): v is ConstTensor => !!v);
  if (present.length === 0) return undefined;
  const floats = present.some((v) => v.dtype === 'float32' || v.dtype === 'float64');
  if (present.some((v) => !INT.has(v.dtype) && v.dtype !== 'float32' && v.dtype !== 'float64')) return undefined;
  if (floats && !FLOAT_EXACT.has(node.op)) return undefined;
  const x = present[0];
  const o = out[0];
  if (node.op in UNARY) {
    const f = UNARY[node.op];
    return [constFromNumbers(o.dtype, o.dims, toNumbers(x).map(f))];
  }
  if (node.op in BINARY && !(node.op === 'Mod' || node.op === 'Div')) {
    const f = BINARY[node.op];
    const n = numel(o.dims);
    const result = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      let acc = elementAt(present[0], broadcastIndex(present[0].dims, o.dims, i));
      for (let k = 1; k < present.length; k++) acc = f(acc, elementAt(present[k], broadcastIndex(present[k].dims, o.dims, i)));
      result[i] = acc;
    }
    const dtype = BOOL_OUTPUT.has(node.op) ? 'bool' : o.dtype;
    if (!floats && result.some((v) => !Number.isSafeInteger(v))) return undefined;
    return [constFromNumbers(dtype, o.dims, result)];
  }
  if (node.op === 'ReduceProd' || node.op === 'ReduceSum' || node.op === 'ReduceMax' || node.op === 'ReduceMin') {
    // Whole-tensor reductions only (shape products); per-axis ones run natively.
    const axesGiven = node.attrs.axes || node.inputs[1];
    if (axesGiven && x.dims.length > 1) return undefined;
    if (!attrInt(node, 'keepdims', 1) && o.dims.length !== 0) return undefined;
    const v = toNumbers(x);
    const r = node.op === 'ReduceProd' ? v.reduce((a, b) => a * b, 1) : node.op === 'ReduceSum' ? v.reduce((a, b) => a + b, 0) : node.op === 'ReduceMax' ? Math.max(...v) : Math.min(...v);
    if (!Number.isSafeInteger(r)) return undefined;
    return [constFromNumbers(o.dtype, o.dims, [r])];
  }
  return undefined;
}
