// Compiles a prepared graph for one concrete input signature into the native plan: every shape
// resolved (Shape/ConstantOfShape/Range chains fold to constants), reshapes turned into aliases, one
// kernel per remaining node, and an arena memory plan that reuses buffers once their last reader ran.
import { SparqError } from '../errors.js';
import { type ConstTensor, type DType, type Graph, type Node, type TypedData, ELEMENT_BYTES, attrFloat, attrInt, attrInts, numel, toNumbers } from '../graph/ir.js';
import { inferGraph } from '../graph/infer.js';
import { hasControlFlow, inlineControlFlow } from '../graph/control-flow.js';
import { prepareGraph } from '../graph/prepare.js';
import { type ValueMeta, sliceSpec } from '../graph/shapes.js';
import { MAX_ELEMENTS } from '../onnx/decode.js';
import { isPackedWeightInput } from '../graph/packed-inputs.js';
import { convWork, lowerConvNode } from './conv-plan.js';
import { DTYPE_CODE, OpCode, SlotKind } from './opcodes.js';
import { type LowerContext, checkDtype, lowerExtended, nativeTakes } from './lower-ext.js';
import { isRecurrentCode, lowerRecurrent, recurrentWork } from './plan-rnn.js';
import { lowerIndexing } from './plan-indexing.js';
import { einsumWork, lowerEinsum } from './plan-einsum.js';

/**
 * Folding cap at plan time: shape arithmetic and small constant subgraphs. Larger constant results
 * (an embedding gathered for every position) are cheaper to compute per run than to hold per plan.
 */
const PLAN_FOLD_LIMIT = 1 << 16;
const ALIGN = 64;

export interface SlotSpec {
  dtype: number;
  dims: number[];
  kind: number;
  /** Arena byte offset, or the index of the input / output / constant. */
  index: number;
}

export interface OpSpec {
  op: number;
  inputs: number[];
  outputs: number[];
  ints: number[];
  floats: number[];
  /** Index into NativePlanSpec.weights (Linear), or -1. */
  weight: number;
  /** Further packed matrices of the op (a recurrent layer's R per direction), by index into NativePlanSpec.weights. */
  extraWeights?: number[];
}

/** What the binding's createPlan() takes. */
export interface NativePlanSpec {
  arenaBytes: number;
  slots: SlotSpec[];
  ops: OpSpec[];
  constants: TypedData[];
  /** Packed-weight handles (NativePackedHandle) by index. */
  weights: unknown[];
  inputCount: number;
  outputCount: number;
}

export interface PlanOutput {
  name: string;
  dtype: DType;
  dims: number[];
}

export interface CompiledPlan {
  spec: NativePlanSpec;
  outputs: PlanOutput[];
  /** Estimated multiply-adds per run (decides inline vs worker). */
  work: number;
}

/**
 * Weight resolver: the index of the packed handle for a Linear node's weight initializer. `weight` is
 * the plan graph's constant of that name: a layer of an inlined If / Loop / Scan body, prepared when
 * the plan is made, has weights the session packs then.
 */
export type WeightIndex = (weightName: string, node: Node, weight?: ConstTensor) => number;

interface Slot {
  dtype: DType;
  dims: number[];
  kind: number;
  index: number;
  /** For aliases: the slot whose storage this one shares. */
  root: number;
  bytes: number;
  def: number;
  lastUse: number;
}

/** Encoder ops whose kernels take float32 only. */
const FLOAT32_ONLY = new Set(['MatMul', 'Gemm', 'LayerNormalization', 'Gelu', 'DynamicQuantizeLinear']);

const ALIAS_OPS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);
const SIMPLE: Record<string, number> = {
  Add: OpCode.Add, Sub: OpCode.Sub, Mul: OpCode.Mul, Div: OpCode.Div, Pow: OpCode.Pow, Equal: OpCode.Equal,
  Sqrt: OpCode.Sqrt, Erf: OpCode.Erf, Tanh: OpCode.Tanh, Relu: OpCode.Relu, Sigmoid: OpCode.Sigmoid,
  Expand: OpCode.Expand, Cast: OpCode.Cast, Where: OpCode.Where, MatMul: OpCode.MatMul,
  DynamicQuantizeLinear: OpCode.DynamicQuantizeLinear, MatMulInteger: OpCode.MatMulInteger,
};

function tooLarge(what: string, dims: readonly number[]): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: ${what} has dims [${dims.join(', ')}], too large to allocate`);
}

export function compilePlan(
  graph: Graph,
  inputDims: ReadonlyMap<string, readonly number[]>,
  weightIndex: WeightIndex,
  inputValues?: ReadonlyMap<string, ConstTensor>,
): CompiledPlan {
  // If, Loop and Scan are inlined for this signature: conditions and trip counts are known here. The
  // inlined bodies are then prepared (folding, fusion, channels-last convs, packed recurrent weights)
  // as the session prepared the graph that holds them, with every shape concrete: their layers run on
  // packed weights (Silero VAD runs its whole network inside an If on the sample rate).
  if (hasControlFlow(graph)) {
    const inlined = inlineControlFlow(graph, { inputDims, inputValues, foldLimit: PLAN_FOLD_LIMIT });
    graph = prepareGraph({ ...inlined, inputs: inlined.inputs.map((v) => ({ ...v, dims: inputDims.get(v.name) ?? v.dims })) });
  }
  const plain = weightIndex;
  const initializers = graph.initializers;
  weightIndex = (name, node) => plain(name, node, initializers.get(name));
  const { metas, folded } = inferGraph(graph, { inputDims, inputValues, foldLimit: PLAN_FOLD_LIMIT });
  const slots: Slot[] = [];
  const slotOf = new Map<string, number>();
  const constants: TypedData[] = [];
  const ops: OpSpec[] = [];
  let work = 0;

  const concrete = (name: string, m: ValueMeta): number[] => {
    const dims = m.dims;
    if (dims.some((d) => typeof d !== 'number')) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: the shape of "${name}" could not be resolved ([${dims.join(', ')}])`);
    const nd = dims as number[];
    const n = numel(nd);
    if (!Number.isSafeInteger(n) || n > MAX_ELEMENTS || n * ELEMENT_BYTES[m.dtype] > 2 ** 40) throw tooLarge(`value "${name}"`, nd);
    return nd;
  };
  const newSlot = (dtype: DType, dims: number[], kind: number, index: number, def: number): number => {
    const id = slots.length;
    slots.push({ dtype, dims, kind, index, root: id, bytes: numel(dims) * ELEMENT_BYTES[dtype], def, lastUse: def });
    return id;
  };
  const constantSlot = (t: ConstTensor, dims?: number[]): number => {
    constants.push(t.data);
    return newSlot(t.dtype, dims ?? [...t.dims], SlotKind.constant, constants.length - 1, -1);
  };
  const valueSlot = (name: string): number => {
    let s = slotOf.get(name);
    if (s !== undefined) return s;
    const m = metas.get(name);
    if (!m?.value) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: value "${name}" has no producer`);
    s = constantSlot(m.value);
    slotOf.set(name, s);
    return s;
  };
  const use = (slot: number, at: number) => {
    const r = slots[slot].root;
    slots[r].lastUse = Math.max(slots[r].lastUse, at);
  };

  graph.inputs.forEach((input, i) => {
    const m = metas.get(input.name) as ValueMeta;
    slotOf.set(input.name, newSlot(input.dtype, concrete(input.name, m), SlotKind.input, i, -1));
  });

  graph.nodes.forEach((node, ni) => {
    if (folded.has(ni)) {
      for (const o of node.outputs) if (o) slotOf.set(o, constantSlot(metas.get(o)?.value as ConstTensor));
      return;
    }
    const outMetas = node.outputs.map((o) => (o ? (metas.get(o) as ValueMeta) : undefined));
    const outDims = node.outputs.map((o, i) => (o ? concrete(o, outMetas[i] as ValueMeta) : []));
    if (ALIAS_OPS.has(node.op) && node.domain === '') {
      const src = valueSlot(node.inputs[0]);
      const id = newSlot(slots[src].dtype, outDims[0], slots[src].kind, slots[src].index, -1);
      slots[id].root = slots[src].root;
      slotOf.set(node.outputs[0], id);
      return;
    }
    if (node.op === 'KvStore' && node.domain === 'sparq') {
      // Writes into the cache buffer (input 0, a caller's input) in place; the output is that buffer.
      const cache = valueSlot(node.inputs[0]);
      const spec: OpSpec = { op: OpCode.KvStore, inputs: node.inputs.map(valueSlot), outputs: [], ints: [], floats: [], weight: -1 };
      for (const s of spec.inputs) use(s, ops.length);
      ops.push(spec);
      const id = newSlot(slots[cache].dtype, outDims[0], slots[cache].kind, slots[cache].index, -1);
      slots[id].root = slots[cache].root;
      slotOf.set(node.outputs[0], id);
      return;
    }
    const at = ops.length;
    // Packed weights (a Linear's or a conv's input 1, a recurrent layer's Wᵀ and Rᵀ) live in their handles, not in slots.
    const inputs = node.inputs.map((name, i) => (name && !isPackedWeightInput(node, i) ? valueSlot(name) : -1));
    const outputs = node.outputs.map((name, i) => {
      if (!name) return -1;
      const id = newSlot((outMetas[i] as ValueMeta).dtype, outDims[i], SlotKind.arena, 0, at);
      slotOf.set(name, id);
      return id;
    });
    const temps: number[] = [];
    const ctx: LowerContext = {
      node, inputs, outputs, opset: graph.opset,
      slot: (id) => slots[id],
      meta: (name) => metas.get(name),
      constant: (t) => constantSlot(t),
      temp: (dtype, dims) => {
        const id = newSlot(dtype, dims, SlotKind.arena, 0, at);
        temps.push(id);
        return id;
      },
    };
    const lowered = lowerNode(node, inputs, outputs, metas, slots, graph.opset, weightIndex, ctx);
    for (const spec of Array.isArray(lowered) ? lowered : [lowered]) {
      const k = ops.length;
      // A temporary lives from the op that writes it (its def) to its last reader.
      for (const o of spec.outputs) if (temps.includes(o)) slots[o].def = k;
      for (const s of spec.inputs) if (s >= 0) use(s, k);
      work += estimateWork(node, slots, spec);
      ops.push(spec);
    }
  });

  // Graph outputs live in caller-visible buffers: an op's result is written there directly, anything
  // else (an input, a constant, an alias, a repeated name) is copied.
  const outputs: PlanOutput[] = [];
  const claimed = new Set<number>();
  graph.outputs.forEach((o, i) => {
    const s = valueSlot(o.name);
    const slot = slots[s];
    outputs.push({ name: o.name, dtype: slot.dtype, dims: slot.dims });
    // An op's result, or a reshape of one, goes straight into the output buffer (same bytes).
    const root = slots[slot.root];
    if (root.kind === SlotKind.arena && !claimed.has(slot.root)) {
      root.kind = SlotKind.output;
      root.index = i;
      claimed.add(slot.root);
      return;
    }
    const dst = newSlot(slot.dtype, slot.dims, SlotKind.output, i, ops.length);
    use(s, ops.length);
    ops.push({ op: OpCode.Copy, inputs: [s], outputs: [dst], ints: [], floats: [], weight: -1 });
  });
  // Output slots that alias roots now stored in output buffers follow them.
  const arenaBytes = assignArena(slots, ops.length);
  for (const [i, s] of slots.entries()) {
    if (s.root !== i) {
      const r = slots[s.root];
      s.kind = r.kind;
      s.index = r.index;
    }
  }
  const spec: NativePlanSpec = {
    arenaBytes,
    slots: slots.map((s) => ({ dtype: DTYPE_CODE[s.dtype], dims: s.dims, kind: s.kind, index: s.index })),
    ops,
    constants,
    weights: [],
    inputCount: graph.inputs.length,
    outputCount: graph.outputs.length,
  };
  return { spec, outputs, work };
}

/** Best-fit offsets for arena slots by liveness; returns the arena size. */
function assignArena(slots: Slot[], opCount: number): number {
  const defs: number[][] = Array.from({ length: opCount }, () => []);
  const frees: number[][] = Array.from({ length: opCount }, () => []);
  slots.forEach((s, i) => {
    if (s.root !== i || s.kind !== SlotKind.arena) return;
    defs[s.def].push(i);
    frees[Math.max(s.lastUse, s.def)].push(i);
  });
  let free: { offset: number; size: number }[] = [];
  let end = 0;
  const round = (n: number) => Math.max(ALIGN, Math.ceil(n / ALIGN) * ALIGN);
  for (let k = 0; k < opCount; k++) {
    for (const id of defs[k]) {
      const size = round(slots[id].bytes);
      let best = -1;
      free.forEach((b, j) => {
        if (b.size >= size && (best < 0 || b.size < free[best].size)) best = j;
      });
      if (best >= 0) {
        const b = free[best];
        slots[id].index = b.offset;
        if (b.size === size) free.splice(best, 1);
        else free[best] = { offset: b.offset + size, size: b.size - size };
      } else {
        // Grow the arena, absorbing a free block that ends at the top.
        const top = free.find((b) => b.offset + b.size === end);
        if (top) {
          slots[id].index = top.offset;
          end = top.offset + size;
          free = free.filter((b) => b !== top);
        } else {
          slots[id].index = end;
          end += size;
        }
      }
    }
    for (const id of frees[k]) {
      free.push({ offset: slots[id].index, size: round(slots[id].bytes) });
      free.sort((a, b) => a.offset - b.offset);
      const merged: { offset: number; size: number }[] = [];
      for (const b of free) {
        const last = merged[merged.length - 1];
        if (last && last.offset + last.size === b.offset) last.size += b.size;
        else merged.push({ ...b });
      }
      free = merged;
    }
  }
  return end;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function lowerNode(node: Node, inputs: number[], outputs: number[], metas: Map<string, ValueMeta>, slots: Slot[], opset: number, weightIndex: WeightIndex, ctx: LowerContext): OpSpec | OpSpec[] {
  const spec: OpSpec = { op: -1, inputs, outputs, ints: [], floats: [], weight: -1 };
  const rank0 = inputs[0] >= 0 ? slots[inputs[0]].dims.length : 0;
  const dtype0 = inputs[0] >= 0 ? slots[inputs[0]].dtype : 'float32';
  // Dtypes the vectorised encoder kernels lack (and mixed-dtype Pow) lower to the wider op set.
  const mixed = node.op === 'Pow' && inputs[1] >= 0 && slots[inputs[1]].dtype !== dtype0;
  if (node.domain === '' && (!nativeTakes(node.op, dtype0) || mixed)) {
    const ext = lowerExtended(ctx);
    if (ext) return ext;
  }
  if (node.domain === '' && FLOAT32_ONLY.has(node.op)) checkDtype(node, dtype0, ['float32']);
  if (node.domain === 'sparq' && node.op === 'Linear') {
    spec.op = OpCode.Linear;
    const weightName = node.inputs[1];
    spec.weight = weightIndex(weightName, node);
    spec.inputs = [inputs[0], inputs.length > 2 ? inputs[2] : -1];
    spec.ints = [attrInt(node, 'activation', 0)];
    return spec;
  }
  if (node.domain === 'sparq' && node.op === 'CacheAttention') {
    // Q, K, V, cond?, mask? (src/generate/kv-rewrite.ts): attributes scaleOp, scale, fill.
    spec.op = OpCode.CacheAttention;
    spec.ints = [attrInt(node, 'scaleOp', 0)];
    spec.floats = [attrFloat(node, 'scale', 1), attrFloat(node, 'fill', 0)];
    return spec;
  }
  if (node.op in SIMPLE) {
    spec.op = SIMPLE[node.op];
    return spec;
  }
  switch (node.op) {
    case 'Gelu':
      spec.op = OpCode.Gelu;
      if (node.attrs.approximate?.type === 'string' && node.attrs.approximate.value === 'tanh')
        throw new SparqError('ERR_UNSUPPORTED_OP', `Gelu node "${node.name}" uses approximate="tanh", which sparq does not support`);
      return spec;
    case 'Clip': {
      // Run-time bounds, or dtypes the float32/int kernel lacks: the general Clip.
      if (!['float32', 'int32', 'int64'].includes(dtype0) || [1, 2].some((i) => opset >= 11 && node.inputs[i] && !metas.get(node.inputs[i])?.value))
        return lowerExtended(ctx) as OpSpec[];
      spec.op = OpCode.Clip;
      const bound = (i: number, attr: string, fallback: number) => {
        if (opset < 11 || !node.inputs[i]) return attrFloat(node, attr, fallback);
        const v = metas.get(node.inputs[i])?.value;
        if (!v) throw new SparqError('ERR_UNSUPPORTED_OP', `Clip node "${node.name}" has a non-constant bound`);
        return toNumbers(v)[0];
      };
      spec.floats = [bound(1, 'min', -3.4028234663852886e38), bound(2, 'max', 3.4028234663852886e38)];
      spec.inputs = [inputs[0]];
      return spec;
    }
    case 'Softmax': {
      spec.op = OpCode.Softmax;
      // Before opset 13 Softmax coerces the input to 2-D at `axis` (flag 1): one softmax over dims[axis:].
      const axis = normAxis(attrInt(node, 'axis', opset >= 13 ? -1 : 1), rank0);
      spec.ints = [axis, opset < 13 ? 1 : 0];
      return spec;
    }
    case 'LayerNormalization':
      spec.op = OpCode.LayerNorm;
      spec.ints = [normAxis(attrInt(node, 'axis', -1), rank0)];
      spec.floats = [attrFloat(node, 'epsilon', 1e-5)];
      // Optional outputs Mean and InvStdDev (-1 when absent).
      spec.outputs = [outputs[0], outputs[1] ?? -1, outputs[2] ?? -1];
      return spec;
    case 'ReduceMean': {
      spec.op = OpCode.ReduceMean;
      let axes = attrInts(node, 'axes') ? [...(attrInts(node, 'axes') as number[])] : undefined;
      if (!axes && node.inputs[1]) {
        const v = metas.get(node.inputs[1])?.value;
        if (!v) throw new SparqError('ERR_UNSUPPORTED_OP', `ReduceMean node "${node.name}" has data-dependent axes`);
        axes = toNumbers(v);
      }
      if (!axes || axes.length === 0) axes = attrInt(node, 'noop_with_empty_axes', 0) ? [] : slots[inputs[0]].dims.map((_, i) => i);
      spec.ints = [...new Set(axes.map((a) => normAxis(a, rank0)))].sort((a, b) => a - b);
      spec.inputs = [inputs[0]];
      return spec;
    }
    case 'Transpose':
      spec.op = OpCode.Transpose;
      spec.ints = [...(attrInts(node, 'perm') ?? slots[inputs[0]].dims.map((_, i) => rank0 - 1 - i))];
      return spec;
    case 'Gather':
      spec.op = OpCode.Gather;
      spec.ints = [normAxis(attrInt(node, 'axis', 0), rank0)];
      return spec;
    case 'Slice': {
      spec.op = OpCode.Slice;
      const s = sliceSpec(node, slots[inputs[0]].dims, node.inputs.map((n) => (n ? metas.get(n) : undefined)));
      if (!s) throw new SparqError('ERR_UNSUPPORTED_OP', `Slice node "${node.name}" has data-dependent starts/ends`);
      spec.ints = [...s.starts, ...s.steps];
      spec.inputs = [inputs[0]];
      return spec;
    }
    case 'Concat':
      spec.op = OpCode.Concat;
      spec.ints = [normAxis(attrInt(node, 'axis', 0), rank0)];
      return spec;
    case 'Split':
      spec.op = OpCode.Split;
      spec.ints = [normAxis(attrInt(node, 'axis', 0), rank0)];
      spec.inputs = [inputs[0]];
      return spec;
    case 'QuantizeLinear':
    case 'DequantizeLinear':
      spec.op = node.op === 'QuantizeLinear' ? OpCode.QuantizeLinear : OpCode.DequantizeLinear;
      spec.ints = [normAxis(attrInt(node, 'axis', 1), rank0)];
      return spec;
    case 'Gemm':
      // Gemm with a runtime B (or a transposed A): the general sgemm. Constant B became a Linear.
      spec.op = OpCode.Gemm;
      spec.ints = [attrInt(node, 'transA', 0), attrInt(node, 'transB', 0)];
      spec.floats = [attrFloat(node, 'alpha', 1), attrFloat(node, 'beta', 1)];
      return spec;
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return lowerRecurrent(node, spec, (s) => slots[s].dims, weightIndex);
    case 'Einsum':
      return lowerEinsum(node, spec, (s) => slots[s].dims);
    case 'GatherElements':
    case 'GatherND':
    case 'ScatterElements':
    case 'Scatter':
    case 'ScatterND':
    case 'Resize':
    case 'Upsample':
    case 'DepthToSpace':
    case 'SpaceToDepth':
      return lowerIndexing(node, spec, (s) => slots[s].dims, (i) => (node.inputs[i] ? metas.get(node.inputs[i]) : undefined), opset);
    case 'Shape':
      throw new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" depends on runtime data; sparq needs it to be computable from shapes`);
    default: {
      if (lowerConvNode(node, spec, slots, weightIndex)) return spec;
      const ext = lowerExtended(ctx);
      if (ext) return ext;
      throw new SparqError('ERR_UNSUPPORTED_OP', `Op ${node.op} (node "${node.name}") is not supported`);
    }
  }
}

function estimateWork(node: Node, slots: Slot[], spec: OpSpec): number {
  if (isRecurrentCode(spec.op)) return recurrentWork(spec, (s) => slots[s].dims);
  if (spec.op === OpCode.Einsum) return Math.max(einsumWork(spec), spec.outputs[0] >= 0 ? numel(slots[spec.outputs[0]].dims) : 0);
  const out = spec.outputs[0] >= 0 ? numel(slots[spec.outputs[0]].dims) : 0;
  if (spec.op >= OpCode.Conv && spec.op <= OpCode.BatchNorm) return convWork(spec, slots, out);
  if (spec.op === OpCode.CacheAttention) {
    const k = slots[spec.inputs[1]].dims;
    return out * 2 * (k[2] ?? 1);
  }
  if (spec.op === OpCode.Linear || spec.op === OpCode.MatMul || spec.op === OpCode.MatMulInteger || spec.op === OpCode.Gemm) {
    const a = slots[spec.inputs[0]].dims;
    return out * (a[a.length - 1] ?? 1);
  }
  return out;
}
