// Evaluates a node on constant inputs in JavaScript: constant folding and the shape arithmetic torch
// exports (Shape → Gather → Unsqueeze → Concat → Reshape). Meant for small tensors and one-off weight
// rewrites (a Transpose of an initializer); heavy math runs natively. Returns undefined for ops it
// does not fold (the node then stays in the graph).
import { type ConstTensor, type DType, type Node, allocData, attrFloat, attrInt, attrInts, elementAt, freezeTensor, numel, toNumbers } from './ir.js';
import { type ValueMeta, constantAttr, sliceSpec, splitSizes } from './shapes.js';
import { evaluateExtended } from './evaluate-ext.js';

function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** For each output index, the flat index into an input broadcast to `outDims`. */
function broadcastIndex(inDims: readonly number[], outDims: readonly number[]): Int32Array {
  const n = numel(outDims);
  const idx = new Int32Array(n);
  const rank = outDims.length;
  const pad = rank - inDims.length;
  const inStr = stridesOf(inDims);
  const bstr = outDims.map((_, i) => (i < pad || inDims[i - pad] === 1 ? 0 : inStr[i - pad]));
  const coord = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]++;
      off += bstr[d];
      if (coord[d] < outDims[d]) break;
      off -= bstr[d] * coord[d];
      coord[d] = 0;
    }
  }
  return idx;
}

function make(dtype: DType, dims: readonly number[], fill: (data: ReturnType<typeof allocData>) => void): ConstTensor {
  const data = allocData(dtype, numel(dims));
  fill(data);
  return freezeTensor({ dtype, dims: [...dims], data });
}

function setNum(data: ReturnType<typeof allocData>, i: number, v: number): void {
  if (data instanceof BigInt64Array) data[i] = BigInt(Math.trunc(v));
  else if (data instanceof BigUint64Array) data[i] = BigInt.asUintN(64, BigInt(Math.trunc(v)));
  else data[i] = v;
}

const f32 = Math.fround;

const BINARY: Record<string, (a: number, b: number, isInt: boolean) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, isInt) => (isInt ? Math.trunc(a / b) : a / b),
  Pow: (a, b) => Math.pow(a, b),
  Equal: (a, b) => (a === b ? 1 : 0),
};

const UNARY: Record<string, (a: number) => number> = {
  Sqrt: Math.sqrt,
  Tanh: Math.tanh,
  Relu: (a) => (a > 0 ? a : 0),
  Sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  Identity: (a) => a,
};

/**
 * The node's outputs when every input is a constant no larger than `maxElements` and the op is
 * foldable; undefined otherwise.
 */
export function evaluateNode(node: Node, ins: (ValueMeta | undefined)[], outMeta: ValueMeta[], opset: number, maxElements: number): ConstTensor[] | undefined {
  if (node.domain !== '') return undefined;
  if (node.op === 'Constant') return [constantAttr(node)];
  const vals: (ConstTensor | undefined)[] = node.inputs.map((name, i) => (name ? ins[i]?.value : undefined));
  const shapeOnly = node.op === 'Shape' || node.op === 'Size';
  if (!shapeOnly && node.inputs.some((name, i) => name && !vals[i])) return undefined;
  for (const m of outMeta) if (m.dims.some((d) => typeof d !== 'number') || numel(m.dims as number[]) > maxElements) return undefined;
  const outDims = outMeta.map((m) => m.dims as number[]);
  const x = vals[0] as ConstTensor;
  const isInt = (t: ConstTensor) => t.dtype !== 'float32' && t.dtype !== 'float64';
  // float16 values are bit patterns: folding leaves them to the kernels (shape-only ops excepted).
  if (!shapeOnly && [...vals, ...outMeta].some((t) => t && t.dtype === 'float16')) return undefined;
  switch (node.op) {
    case 'Shape': {
      const dims = ins[0]?.dims;
      if (!dims || dims.some((d) => typeof d !== 'number')) return undefined;
      const rank = dims.length;
      let start = attrInt(node, 'start', 0), end = attrInt(node, 'end', rank);
      if (start < 0) start += rank;
      if (end < 0) end += rank;
      start = Math.min(Math.max(start, 0), rank);
      end = Math.min(Math.max(end, start), rank);
      const v = (dims as number[]).slice(start, end);
      return [make('int64', [v.length], (d) => v.forEach((n, i) => setNum(d, i, n)))];
    }
    case 'Size': {
      const dims = ins[0]?.dims;
      if (!dims || dims.some((d) => typeof d !== 'number')) return undefined;
      return [make('int64', [], (d) => setNum(d, 0, numel(dims as number[])))];
    }
    case 'NonZero': {
      // Only where the input is known (a constant or a keyed graph input): the output shape is its count.
      const rank = x.dims.length;
      const strides = stridesOf(x.dims);
      const hits: number[] = [];
      for (let i = 0; i < x.data.length; i++) if (elementAt(x, i) !== 0) hits.push(i);
      return [make('int64', [rank, hits.length], (d) => {
        hits.forEach((flat, j) => {
          for (let a = 0; a < rank; a++) setNum(d, a * hits.length + j, Math.floor(flat / strides[a]) % x.dims[a]);
        });
      })];
    }
    case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Pow': case 'Equal': {
      const b = vals[1] as ConstTensor;
      const f = BINARY[node.op];
      const ia = broadcastIndex(x.dims, outDims[0]), ib = broadcastIndex(b.dims, outDims[0]);
      const int = isInt(x);
      return [make(outMeta[0].dtype, outDims[0], (d) => {
        for (let i = 0; i < ia.length; i++) {
          const v = f(elementAt(x, ia[i]), elementAt(b, ib[i]), int);
          setNum(d, i, outMeta[0].dtype === 'float32' ? f32(v) : v);
        }
      })];
    }
    case 'Where': {
      const [c, a, b] = vals as ConstTensor[];
      const ic = broadcastIndex(c.dims, outDims[0]), ia = broadcastIndex(a.dims, outDims[0]), ib = broadcastIndex(b.dims, outDims[0]);
      return [make(a.dtype, outDims[0], (d) => {
        for (let i = 0; i < ic.length; i++) setNum(d, i, elementAt(c, ic[i]) ? elementAt(a, ia[i]) : elementAt(b, ib[i]));
      })];
    }
    case 'Sqrt': case 'Tanh': case 'Relu': case 'Sigmoid': case 'Identity': {
      const f = UNARY[node.op];
      if (node.op === 'Identity') return [x];
      return [make(x.dtype, x.dims, (d) => {
        for (let i = 0; i < d.length; i++) setNum(d, i, f32(f(elementAt(x, i))));
      })];
    }
    case 'Clip': {
      const lo = vals[1] ? elementAt(vals[1], 0) : attrFloat(node, 'min', -Infinity);
      const hi = vals[2] ? elementAt(vals[2], 0) : attrFloat(node, 'max', Infinity);
      return [make(x.dtype, x.dims, (d) => {
        for (let i = 0; i < d.length; i++) setNum(d, i, Math.min(Math.max(elementAt(x, i), lo), hi));
      })];
    }
    case 'Cast': {
      const to = outMeta[0].dtype;
      return [make(to, x.dims, (d) => {
        for (let i = 0; i < d.length; i++) {
          const v = elementAt(x, i);
          if (to === 'bool') d[i] = v !== 0 ? 1 : 0;
          else if (to === 'float32' || to === 'float64') d[i] = v;
          else if (to === 'int64') (d as BigInt64Array)[i] = x.dtype === 'int64' ? (x.data as BigInt64Array)[i] : BigInt(Math.trunc(v));
          else if (to === 'uint64') setNum(d, i, v);
          else d[i] = Math.trunc(v); // typed-array wraparound matches C casts for in-range values
        }
      })];
    }
    case 'Reshape': case 'Flatten': case 'Squeeze': case 'Unsqueeze':
      return [freezeTensor({ dtype: x.dtype, dims: outDims[0], data: x.data })];
    case 'Concat': {
      const parts = vals as ConstTensor[];
      const rank = outDims[0].length;
      let axis = attrInt(node, 'axis', 0);
      if (axis < 0) axis += rank;
      const outer = numel(outDims[0].slice(0, axis));
      const inner = numel(outDims[0].slice(axis + 1));
      return [make(parts[0].dtype, outDims[0], (d) => {
        let o = 0;
        for (let b = 0; b < outer; b++)
          for (const p of parts) {
            const chunk = p.dims[axis] * inner;
            copyRun(d, o, p, b * chunk, chunk);
            o += chunk;
          }
      })];
    }
    case 'Gather': {
      const idx = vals[1] as ConstTensor;
      const rank = x.dims.length;
      let axis = attrInt(node, 'axis', 0);
      if (axis < 0) axis += rank;
      const outer = numel(x.dims.slice(0, axis)), inner = numel(x.dims.slice(axis + 1)), n = x.dims[axis];
      const ids = toNumbers(idx).map((v) => (v < 0 ? v + n : v));
      if (ids.some((v) => v < 0 || v >= n)) return undefined; // leave the error to the runtime kernel
      return [make(x.dtype, outDims[0], (d) => {
        let o = 0;
        for (let b = 0; b < outer; b++)
          for (const id of ids) for (let i = 0; i < inner; i++) setNumFrom(d, o++, x, (b * n + id) * inner + i);
      })];
    }
    case 'Slice': {
      const spec = sliceSpec(node, x.dims, ins);
      if (!spec) return undefined;
      const inStr = stridesOf(x.dims);
      const od = outDims[0];
      const n = numel(od);
      // Runs along the last axis when its step is 1 (folding slices of big weights: an LSTM's gates).
      const last = od.length - 1;
      const run = last >= 0 && spec.steps[last] === 1 ? od[last] : 1;
      const axes = run > 1 ? last : od.length;
      return [make(x.dtype, od, (d) => {
        const coord = new Array<number>(od.length).fill(0);
        for (let i = 0; i < n; i += run) {
          let src = 0;
          for (let a = 0; a < od.length; a++) src += (spec.starts[a] + coord[a] * spec.steps[a]) * inStr[a];
          copyRun(d, i, x, src, run);
          for (let a = axes - 1; a >= 0; a--) {
            if (++coord[a] < od[a]) break;
            coord[a] = 0;
          }
        }
      })];
    }
    case 'Transpose': {
      const perm = attrInts(node, 'perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i);
      const inStr = stridesOf(x.dims);
      const od = outDims[0];
      const str = perm.map((p) => inStr[p]);
      const n = numel(od);
      return [make(x.dtype, od, (d) => {
        const coord = new Array<number>(od.length).fill(0);
        let src = 0;
        for (let i = 0; i < n; i++) {
          setNumFrom(d, i, x, src);
          for (let a = od.length - 1; a >= 0; a--) {
            coord[a]++;
            src += str[a];
            if (coord[a] < od[a]) break;
            src -= str[a] * coord[a];
            coord[a] = 0;
          }
        }
      })];
    }
    case 'ConstantOfShape': {
      const attr = node.attrs.value;
      const fill = attr && attr.type === 'tensor' ? attr.value : undefined;
      const dtype = outMeta[0].dtype;
      return [make(dtype, outDims[0], (d) => {
        if (!fill) return;
        if (d instanceof BigInt64Array) d.fill((fill.data as BigInt64Array)[0] ?? 0n);
        else (d as Float32Array).fill(elementAt(fill, 0));
      })];
    }
    case 'Range': {
      const [s, , dl] = (vals as ConstTensor[]).map((t) => elementAt(t, 0));
      return [make(x.dtype, outDims[0], (d) => {
        for (let i = 0; i < d.length; i++) setNum(d, i, s + i * dl);
      })];
    }
    case 'Expand': {
      const ix = broadcastIndex(x.dims, outDims[0]);
      return [make(x.dtype, outDims[0], (d) => {
        for (let i = 0; i < ix.length; i++) setNumFrom(d, i, x, ix[i]);
      })];
    }
    case 'Split': {
      let axis = attrInt(node, 'axis', 0);
      if (axis < 0) axis += x.dims.length;
      const sizes = splitSizes(node, x.dims[axis], ins);
      if (!sizes) return undefined;
      const outer = numel(x.dims.slice(0, axis)), inner = numel(x.dims.slice(axis + 1));
      let at = 0;
      return sizes.map((sz, k) => {
        const t = make(x.dtype, outDims[k], (d) => {
          let o = 0;
          for (let b = 0; b < outer; b++)
            for (let i = 0; i < sz * inner; i++) setNumFrom(d, o++, x, (b * x.dims[axis] + at) * inner + i);
        });
        at += sz;
        return t;
      });
    }
    default:
      return evaluateExtended(node, vals, outMeta.map((m, i) => ({ dtype: m.dtype, dims: outDims[i] })));
  }
}

/** Copies `n` elements of `src` from `j` into `d` at `i`: one block copy where the arrays are alike. */
function copyRun(d: ReturnType<typeof allocData>, i: number, src: ConstTensor, j: number, n: number): void {
  const s = src.data;
  if (s.constructor === d.constructor) (d as Float32Array).set((s as Float32Array).subarray(j, j + n), i);
  else for (let k = 0; k < n; k++) setNumFrom(d, i + k, src, j + k);
}

function setNumFrom(d: ReturnType<typeof allocData>, i: number, src: ConstTensor, j: number): void {
  if ((d instanceof BigInt64Array && src.data instanceof BigInt64Array) || (d instanceof BigUint64Array && src.data instanceof BigUint64Array)) d[i] = src.data[j];
  else setNum(d, i, elementAt(src, j));
}
