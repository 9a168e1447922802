// The channels-last pass: convs and pools run on NHWC activations (a 1x1 conv is then a plain GEMM
// over [N·H·W, C], a kxk one a GEMM over im2col rows that are contiguous runs of C, a depthwise one a
// vector per 16 channels), so the graph keeps one layout between them and converts at the edges only.
//
// Each value a converted op produces gets an NHWC twin; ops that don't care about the layout
// (element-wise, per-channel constants, Concat) run on twins and make twins; any other consumer, and
// the graph outputs, get the NCHW value back through one Transpose (or a free Reshape when H·W = 1,
// as after a global pool). Then each conv takes the activation (Relu, Clip/Relu6, HardSwish) and the
// residual Add that follow it into its own epilogue.
//
// sparq ops made here (domain 'sparq'), all NHWC, attributes as ONNX's (kernel_shape, strides,
// dilations, pads, auto_pad, ceil_mode, count_include_pad, storage_order) plus:
//   ConvNhwc(x, W[kh·kw·C, OC], bias?, residual?)   out_channels, activation, clip_min/max, weight_name
//   DepthwiseNhwc(x, W[kh·kw, OC], bias?, residual?) out_channels, activation, clip_min/max, multiplier
//   MaxPoolNhwc(x) -> (y, indices?), AvgPoolNhwc(x), GlobalPoolNhwc(x) (max: 0 | 1)
import { WEIGHT_NAME_ATTR } from './fold-batchnorm.js';
import { SPARQ_DOMAIN } from './fuse.js';
import { inferGraph } from './infer.js';
import { type Attribute, type ConstTensor, type Graph, type Node, attrFloat, attrInt, constFromNumbers, elementAt, freezeGraph, freezeTensor } from './ir.js';

/** Activation codes of the conv epilogue: native ConvAct. */
export const CONV_ACT = { none: 0, relu: 1, clip: 2, hardswish: 3 } as const;

const FLT_MAX = 3.4028234663852886e38;
const SPATIAL = new Set(['Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']);
const UNARY = new Set(['Relu', 'Clip', 'Sigmoid', 'Tanh', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign',
  'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Gelu', 'Identity', 'Mish', 'ThresholdedRelu', 'Floor', 'Ceil', 'Round', 'Sign', 'Reciprocal']);
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min']);

/** Whether input i of a node is a weight the session packs (a Linear's or a ConvNhwc's input 1). */
export function isPackedWeightInput(node: Node, i: number): boolean {
  return i === 1 && node.domain === SPARQ_DOMAIN && (node.op === 'Linear' || node.op === 'ConvNhwc');
}

const toNhwcPerm = (rank: number) => (rank === 4 ? [0, 2, 3, 1] : [0, 2, 1]);
const toNchwPerm = (rank: number) => (rank === 4 ? [0, 3, 1, 2] : [0, 2, 1]);

/** A float constant's data permuted by `perm` (dims padded with leading 1s to perm's rank). */
function permuteConstant(t: ConstTensor, perm: number[]): ConstTensor {
  const rank = perm.length;
  const dims = [...Array.from({ length: rank - t.dims.length }, () => 1), ...t.dims];
  const outDims = perm.map((p) => dims[p]);
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += idx[a] * strides[perm[a]];
    out[o] = src[s];
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a] < outDims[a]) break;
      idx[a] = 0;
    }
  }
  return freezeTensor({ dtype: 'float32', dims: outDims, data: out });
}

/** ONNX conv weight [OC, C/group, (kh,) kw] as the GEMM's [kh·kw·C, OC], block-diagonal over groups. */
export function convWeightKN(w: Float32Array, oc: number, cinG: number, kh: number, kw: number, group: number): Float32Array {
  const cin = cinG * group, ocG = oc / group;
  const out = new Float32Array(kh * kw * cin * oc);
  for (let o = 0; o < oc; o++) {
    const g = Math.floor(o / ocG);
    for (let c = 0; c < cinG; c++)
      for (let ki = 0; ki < kh; ki++)
        for (let kj = 0; kj < kw; kj++) out[((ki * kw + kj) * cin + g * cinG + c) * oc + o] = w[((o * cinG + c) * kh + ki) * kw + kj];
  }
  return out;
}

/** Depthwise weight [OC, 1, (kh,) kw] as [kh·kw, OC]. */
function depthwiseWeight(w: Float32Array, oc: number, taps: number): Float32Array {
  const out = new Float32Array(taps * oc);
  for (let o = 0; o < oc; o++) for (let t = 0; t < taps; t++) out[t * oc + o] = w[o * taps + t];
  return out;
}

/** Returns the graph with convs and pools on NHWC twins (see above); graphs without them come back as they are. */
export function convertConvLayout(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.domain === '' && SPATIAL.has(n.op))) return graph;
  const { metas } = inferGraph(graph);
  const init = new Map(graph.initializers);
  const out: Node[] = [];
  const twin = new Map<string, string>();
  const avail = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  const derived = new Map<string, string>();
  let counter = 0;
  const fresh = (base: string) => `${base}__nhwc${counter++}`;
  const rankOf = (v: string) => metas.get(v)?.dims.length ?? -1;
  const floatConst = (v: string) => {
    const t = v ? init.get(v) : undefined;
    return t && t.dtype === 'float32' ? t : undefined;
  };

  const nchw = (v: string): string => {
    if (!v || avail.has(v) || !twin.has(v)) return v;
    const t = twin.get(v) as string;
    const dims = metas.get(v)?.dims ?? [];
    const c = dims[1];
    if (dims.slice(2).every((d) => d === 1) && typeof c === 'number') {
      // [N, 1, 1, C] and [N, C, 1, 1] are the same bytes: an alias, no copy.
      const shape = fresh(`${v}_shape`);
      init.set(shape, constFromNumbers('int64', [dims.length], [0, c, ...dims.slice(2).map(() => 1)]));
      out.push({ name: fresh(v), op: 'Reshape', domain: '', inputs: [t, shape], outputs: [v], attrs: {} });
    } else {
      out.push({ name: fresh(v), op: 'Transpose', domain: '', inputs: [t], outputs: [v], attrs: { perm: { type: 'ints', value: toNchwPerm(dims.length) } } });
    }
    avail.add(v);
    return v;
  };
  const nhwc = (v: string): string => {
    const known = twin.get(v);
    if (known) return known;
    const name = fresh(v);
    out.push({ name: fresh(v), op: 'Transpose', domain: '', inputs: [v], outputs: [name], attrs: { perm: { type: 'ints', value: toNhwcPerm(rankOf(v)) } } });
    twin.set(v, name);
    return name;
  };
  const original = new Map<string, string>();
  const emit = (n: Node, inputs: string[], attrs: Record<string, Attribute>, op = n.op, domain = n.domain): void => {
    const outputs = n.outputs.map((o) => {
      if (!o) return '';
      const t = fresh(o);
      twin.set(o, t);
      original.set(t, o);
      return t;
    });
    out.push({ name: n.name, op, domain, inputs, outputs, attrs });
  };

  const convertConv = (n: Node): boolean => {
    const x = n.inputs[0];
    const r = rankOf(x);
    const w = floatConst(n.inputs[1]);
    if ((r !== 3 && r !== 4) || !w || w.dims.length !== r || (n.inputs[2] && !floatConst(n.inputs[2]))) return false;
    const group = attrInt(n, 'group', 1);
    const [oc, cinG] = w.dims;
    const ks = w.dims.slice(2);
    const kh = r === 4 ? ks[0] : 1, kw = ks[ks.length - 1];
    // Input channels as the weight implies them; a symbolic count (a value out of an If whose
    // condition is known only when planning) is checked against the weight when the plan is made.
    const declared = metas.get(x)?.dims[1];
    const cin = cinG * group;
    if ((typeof declared === 'number' && declared !== cin) || oc % group !== 0) return false;
    const { group: _g, [WEIGHT_NAME_ATTR]: original, ...rest } = n.attrs;
    const attrs: Record<string, Attribute> = {
      ...rest,
      kernel_shape: { type: 'ints', value: ks },
      out_channels: { type: 'int', value: oc },
      activation: { type: 'int', value: CONV_ACT.none },
      weight_name: original ?? { type: 'string', value: n.inputs[1] },
    };
    const bias = n.inputs[2] ? [n.inputs[2]] : [];
    const key = `${n.inputs[1]}|${group}`;
    if (group > 1 && cinG === 1) {
      let wName = derived.get(key);
      if (!wName) {
        wName = `${n.inputs[1]}__dw`;
        init.set(wName, freezeTensor({ dtype: 'float32', dims: [kh * kw, oc], data: depthwiseWeight(w.data as Float32Array, oc, kh * kw) }));
        derived.set(key, wName);
      }
      attrs.multiplier = { type: 'int', value: oc / cin };
      emit(n, [nhwc(x), wName, ...bias], attrs, 'DepthwiseNhwc', SPARQ_DOMAIN);
      return true;
    }
    let wName = derived.get(key);
    if (!wName) {
      wName = `${n.inputs[1]}__kn`;
      init.set(wName, freezeTensor({ dtype: 'float32', dims: [kh * kw * cin, oc], data: convWeightKN(w.data as Float32Array, oc, cinG, kh, kw, group) }));
      derived.set(key, wName);
    }
    emit(n, [nhwc(x), wName, ...bias], attrs, 'ConvNhwc', SPARQ_DOMAIN);
    return true;
  };

  const convert = (n: Node): boolean => {
    const x = n.inputs[0];
    const r = rankOf(x);
    switch (n.op) {
      case 'Conv':
        return convertConv(n);
      case 'MaxPool': case 'AveragePool':
        if ((r !== 3 && r !== 4) || metas.get(x)?.dtype !== 'float32') return false;
        emit(n, [nhwc(x)], { ...n.attrs }, n.op === 'MaxPool' ? 'MaxPoolNhwc' : 'AvgPoolNhwc', SPARQ_DOMAIN);
        return true;
      case 'GlobalAveragePool': case 'GlobalMaxPool':
        if ((r !== 3 && r !== 4) || metas.get(x)?.dtype !== 'float32') return false;
        emit(n, [nhwc(x)], { max: { type: 'int', value: n.op === 'GlobalMaxPool' ? 1 : 0 } }, 'GlobalPoolNhwc', SPARQ_DOMAIN);
        return true;
    }
    if (UNARY.has(n.op)) {
      if (!twin.has(x) || n.outputs.length !== 1) return false;
      emit(n, [twin.get(x) as string, ...n.inputs.slice(1)], { ...n.attrs });
      return true;
    }
    if (BINARY.has(n.op) && n.inputs.length === 2) {
      const y = metas.get(n.outputs[0]);
      const yr = y?.dims.length ?? -1;
      if (!n.inputs.some((v) => twin.has(v)) || (yr !== 3 && yr !== 4) || y?.dtype !== 'float32') return false;
      const inputs: string[] = [];
      for (const v of n.inputs) {
        if (twin.has(v)) {
          if (rankOf(v) !== yr) return false;
          inputs.push(twin.get(v) as string);
          continue;
        }
        const c = floatConst(v);
        if (c && c.dims.length <= yr) {
          const name = fresh(v);
          init.set(name, permuteConstant(c, toNhwcPerm(yr)));
          inputs.push(name);
        } else if (rankOf(v) === yr) {
          inputs.push(nhwc(v));
        } else {
          return false;
        }
      }
      emit(n, inputs, { ...n.attrs });
      return true;
    }
    if (n.op === 'Concat' && n.inputs.length > 0 && n.inputs.every((v) => twin.has(v))) {
      const axis0 = attrInt(n, 'axis', 0);
      const axis = axis0 < 0 ? axis0 + r : axis0;
      if ((r !== 3 && r !== 4) || axis < 0 || axis >= r) return false;
      emit(n, n.inputs.map((v) => twin.get(v) as string), { axis: { type: 'int', value: toNhwcPerm(r).indexOf(axis) } });
      return true;
    }
    return false;
  };

  for (const n of graph.nodes) {
    if (n.domain === '' && convert(n)) continue;
    out.push({ ...n, inputs: n.inputs.map(nchw) });
    for (const o of n.outputs) if (o) avail.add(o);
  }
  for (const o of graph.outputs) nchw(o.name);
  // Two values (twins or not) have the same dims: a residual must match the conv's output exactly.
  const sameDims = (a: string, b: string) => {
    const da = metas.get(original.get(a) ?? a)?.dims, db = metas.get(original.get(b) ?? b)?.dims;
    return !!da && !!db && da.length === db.length && da.every((d, i) => d === db[i]);
  };
  return freezeGraph({ ...graph, nodes: fuseConvEpilogues(out, init, graph, sameDims), initializers: init });
}

/** Folds the Relu / Clip / HardSwish and the residual Add that follow a conv into its epilogue. */
function fuseConvEpilogues(nodes: Node[], init: Map<string, ConstTensor>, graph: Graph, sameDims: (a: string, b: string) => boolean): Node[] {
  const list: (Node | null)[] = [...nodes];
  const consumers = new Map<string, number[]>();
  list.forEach((n, i) => n?.inputs.forEach((v) => v && consumers.set(v, [...(consumers.get(v) ?? []), i])));
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const scalar = (v: string | undefined): number | undefined => {
    const t = v ? init.get(v) : undefined;
    return t && t.dtype === 'float32' && t.data.length === 1 ? elementAt(t, 0) : undefined;
  };
  const clipBounds = (n: Node): [number, number] | undefined => {
    if (n.inputs.length === 1) return [attrFloat(n, 'min', -FLT_MAX), attrFloat(n, 'max', FLT_MAX)];
    const lo = n.inputs[1] ? scalar(n.inputs[1]) : -FLT_MAX, hi = n.inputs[2] ? scalar(n.inputs[2]) : FLT_MAX;
    return lo === undefined || hi === undefined ? undefined : [lo, hi];
  };
  for (let i = 0; i < list.length; i++) {
    let c = list[i];
    if (!c || c.domain !== SPARQ_DOMAIN || (c.op !== 'ConvNhwc' && c.op !== 'DepthwiseNhwc')) continue;
    let at = i;
    for (;;) {
      const y = c.outputs[0];
      const users = (consumers.get(y) ?? []).filter((k) => list[k]);
      if (users.length !== 1 || outputs.has(y)) break;
      const k = users[0];
      const u = list[k] as Node;
      if (u.domain !== '') break;
      const act = attrInt(c, 'activation', 0);
      let attrs: Record<string, Attribute> | undefined;
      let inputs: readonly string[] = c.inputs;
      if (act === CONV_ACT.none && u.op === 'Relu') attrs = { activation: { type: 'int', value: CONV_ACT.relu } };
      else if (act === CONV_ACT.none && u.op === 'HardSwish') attrs = { activation: { type: 'int', value: CONV_ACT.hardswish } };
      else if (act === CONV_ACT.none && u.op === 'Clip' && clipBounds(u)) {
        const [lo, hi] = clipBounds(u) as [number, number];
        attrs = { activation: { type: 'int', value: CONV_ACT.clip }, clip_min: { type: 'float', value: lo }, clip_max: { type: 'float', value: hi } };
      } else if (act === CONV_ACT.none && u.op === 'Add' && c.inputs.length <= 3) {
        const other = u.inputs[0] === y ? u.inputs[1] : u.inputs[0];
        if (!other || other === y || init.has(other) || !sameDims(other, y)) break;
        const bias = c.inputs[2] ?? '';
        inputs = [c.inputs[0], c.inputs[1], bias, other];
        attrs = {};
      } else break;
      c = { ...c, inputs, outputs: [u.outputs[0]], attrs: { ...c.attrs, ...attrs } };
      list[at] = null;
      list[k] = c;
      at = k;
    }
  }
  return list.filter((n): n is Node => n !== null);
}
