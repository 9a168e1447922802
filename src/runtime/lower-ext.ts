// Lowering of the wider op set (src/graph/op-families.ts) to the native op codes 100-199, and of the
// encoder ops on dtypes their vectorised kernels lack. A node may lower to several native ops over
// temporaries (variadic Sum/Max/Min/Mean fold pairwise).
import { SparqError } from '../errors.js';
import { type ConstTensor, type DType, type Node, attrFloat, attrInt, attrString, constFromNumbers, elementAt, toNumbers } from '../graph/ir.js';
import { BINARY_FN, FMOD_FN, GELU_TANH_FN, REDUCE_FN, SHIFT_RIGHT_FN, UNARY_FN, VARIADIC, dtypesOf } from '../graph/op-families.js';
import { padBegins } from '../graph/shapes-ext.js';
import type { ValueMeta } from '../graph/shapes.js';
import { OpCode } from './opcodes.js';

export interface LowerSpec {
  op: number;
  inputs: number[];
  outputs: number[];
  ints: number[];
  floats: number[];
  weight: number;
}

export interface LowerContext {
  node: Node;
  /** Slot ids of the node's inputs (-1 absent) and outputs. */
  inputs: number[];
  outputs: number[];
  slot(id: number): { dtype: DType; dims: number[] };
  meta(name: string): ValueMeta | undefined;
  opset: number;
  /** A slot holding a constant. */
  constant(t: ConstTensor): number;
  /** A fresh intermediate slot (arena). */
  temp(dtype: DType, dims: number[]): number;
}

function spec(op: number, inputs: number[], outputs: number[], ints: number[] = [], floats: number[] = []): LowerSpec {
  return { op, inputs, outputs, ints, floats, weight: -1 };
}

export function unsupportedDtype(node: Node, dtype: DType): SparqError {
  return new SparqError('ERR_UNSUPPORTED_DTYPE', `${node.op} node "${node.name}" does not support ${dtype} inputs`);
}

export function checkDtype(node: Node, dtype: DType, allowed: readonly DType[] = dtypesOf(node.op)): void {
  if (!allowed.includes(dtype)) throw unsupportedDtype(node, dtype);
}

function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[i - (rank - a.length)] ?? 1, y = b[i - (rank - b.length)] ?? 1;
    return x === 1 ? y : x;
  });
}

function scalarOf(node: Node, m: ValueMeta | undefined, fallback: number): number {
  if (!m) return fallback;
  if (!m.value) throw new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" needs a constant (or graph-input) scalar here`);
  return elementAt(m.value, 0);
}

const UNARY_PARAMS: Record<string, [string, number][]> = {
  Elu: [['alpha', 1]], Selu: [['alpha', 1.67326319217681884765625], ['gamma', 1.05070102214813232421875]], LeakyRelu: [['alpha', 0.01]],
  HardSigmoid: [['alpha', 0.2], ['beta', 0.5]], Celu: [['alpha', 1]], ThresholdedRelu: [['alpha', 1]], Shrink: [['bias', 0], ['lambd', 0.5]],
  IsInf: [['detect_positive', 1], ['detect_negative', 1]],
};

export function lowerExtended(ctx: LowerContext): LowerSpec[] | undefined {
  const { node, inputs, outputs } = ctx;
  if (node.domain !== '') return undefined;
  const op = node.op;
  const x = inputs[0] >= 0 ? ctx.slot(inputs[0]) : undefined;
  const dtype = x?.dtype ?? 'float32';
  const rank = x?.dims.length ?? 0;
  const inMeta = (i: number) => (node.inputs[i] ? ctx.meta(node.inputs[i]) : undefined);
  const norm = (a: number, r = rank) => (a < 0 ? a + r : a);

  if (op in UNARY_FN) {
    checkDtype(node, dtype);
    let fn = UNARY_FN[op];
    if (op === 'Gelu' && attrString(node, 'approximate', 'none') === 'tanh') fn = GELU_TANH_FN;
    const floats = (UNARY_PARAMS[op] ?? []).map(([name, d]) => attrFloat(node, name, d));
    return [spec(OpCode.UnaryExt, [inputs[0]], [outputs[0]], [fn], floats)];
  }
  if (VARIADIC.has(op) || op in BINARY_FN) {
    checkDtype(node, dtype);
    let fn = op === 'Sum' || op === 'Mean' ? BINARY_FN.Add : BINARY_FN[op];
    if (op === 'Mod' && attrInt(node, 'fmod', 0)) fn = FMOD_FN;
    if (op === 'BitShift' && attrString(node, 'direction', '') === 'RIGHT') fn = SHIFT_RIGHT_FN;
    if (op === 'BitShift' && !['LEFT', 'RIGHT'].includes(attrString(node, 'direction', ''))) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: BitShift node "${node.name}" has no direction LEFT or RIGHT`);
    const ins = inputs.filter((s) => s >= 0);
    const out = outputs[0];
    if (ins.length === 1) {
      return [spec(OpCode.Copy, [ins[0]], [out])];
    }
    const specs: LowerSpec[] = [];
    let acc = ins[0];
    let accDims = ctx.slot(acc).dims;
    for (let i = 1; i < ins.length; i++) {
      const last = i === ins.length - 1 && op !== 'Mean';
      const dims = broadcast(accDims, ctx.slot(ins[i]).dims);
      const dst = last ? out : ctx.temp(dtype, dims);
      specs.push(spec(OpCode.BinaryExt, [acc, ins[i]], [dst], [fn]));
      acc = dst;
      accDims = dims;
    }
    if (op === 'Mean') {
      const n = ctx.constant(constFromNumbers(dtype, [], [ins.length]));
      specs.push(spec(OpCode.BinaryExt, [acc, n], [out], [BINARY_FN.Div]));
    }
    return specs;
  }
  if (op in REDUCE_FN) {
    checkDtype(node, dtype);
    let axes: number[] | undefined;
    const attrAxes = node.attrs.axes;
    if (attrAxes && attrAxes.type === 'ints') axes = [...attrAxes.value];
    else if (node.inputs[1]) {
      const v = inMeta(1)?.value;
      if (!v) throw new SparqError('ERR_UNSUPPORTED_OP', `${op} node "${node.name}" has data-dependent axes`);
      axes = toNumbers(v);
    }
    if (!axes || axes.length === 0) {
      if (attrInt(node, 'noop_with_empty_axes', 0)) return [spec(OpCode.Copy, [inputs[0]], [outputs[0]])];
      axes = x ? x.dims.map((_, i) => i) : [];
    }
    const list = [...new Set(axes.map((a) => norm(a)))].sort((a, b) => a - b);
    return [spec(OpCode.ReduceExt, [inputs[0]], [outputs[0]], [REDUCE_FN[op], ...list])];
  }
  switch (op) {
    case 'ArgMax': case 'ArgMin':
      checkDtype(node, dtype);
      return [spec(OpCode.ArgReduce, [inputs[0]], [outputs[0]], [op === 'ArgMin' ? 1 : 0, norm(attrInt(node, 'axis', 0)), attrInt(node, 'select_last_index', 0)])];
    case 'Softmax': case 'LogSoftmax': case 'Hardmax': {
      checkDtype(node, dtype);
      const old = ctx.opset < 13;
      const axis = rank === 0 ? 0 : norm(attrInt(node, 'axis', old ? 1 : -1));
      return [spec(OpCode.SoftmaxExt, [inputs[0]], [outputs[0]], [op === 'Softmax' ? 0 : op === 'LogSoftmax' ? 1 : 2, axis, old ? 1 : 0])];
    }
    case 'CastLike':
      return [spec(OpCode.Cast, [inputs[0]], [outputs[0]])];
    case 'Tile':
      return [spec(OpCode.Tile, [inputs[0]], [outputs[0]])];
    case 'Pad': {
      const mode = ['constant', 'reflect', 'edge', 'wrap'].indexOf(attrString(node, 'mode', 'constant'));
      if (mode < 0) throw new SparqError('ERR_UNSUPPORTED_OP', `Pad node "${node.name}" has mode "${attrString(node, 'mode', '')}"`);
      const p = padBegins(node, rank, node.inputs.map((n) => (n ? ctx.meta(n) : undefined)));
      if (!p) throw new SparqError('ERR_UNSUPPORTED_OP', `Pad node "${node.name}" has data-dependent pads`);
      let value = inputs[2] ?? -1;
      if (value < 0 && node.attrs.value) value = ctx.constant(constFromNumbers(dtype, [], [attrFloat(node, 'value', 0)]));
      if (value >= 0 && ctx.slot(value).dtype !== dtype) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: Pad node "${node.name}" has a constant_value of another dtype`);
      return [spec(OpCode.Pad, value >= 0 ? [inputs[0], value] : [inputs[0]], [outputs[0]], [mode, ...p.pads.slice(0, rank)])];
    }
    case 'TopK':
      checkDtype(node, dtype);
      return [spec(OpCode.TopK, [inputs[0]], [outputs[0], outputs[1]], [norm(attrInt(node, 'axis', -1)), attrInt(node, 'largest', 1), attrInt(node, 'sorted', 1)])];
    case 'CumSum':
      checkDtype(node, dtype);
      return [spec(OpCode.CumSum, [inputs[0]], [outputs[0]], [norm(scalarOf(node, inMeta(1), 0)), attrInt(node, 'exclusive', 0), attrInt(node, 'reverse', 0)])];
    case 'Trilu':
      return [spec(OpCode.Trilu, [inputs[0]], [outputs[0]], [attrInt(node, 'upper', 1), scalarOf(node, inMeta(1), 0)])];
    case 'OneHot': {
      const outRank = ctx.slot(outputs[0]).dims.length;
      return [spec(OpCode.OneHot, [inputs[0], inputs[2]], [outputs[0]], [norm(attrInt(node, 'axis', -1), outRank)])];
    }
    case 'Range':
      checkDtype(node, dtype, ['float32', 'float64', 'int16', 'int32', 'int64']);
      return [spec(OpCode.Range, [inputs[0], inputs[2]], [outputs[0]])];
    case 'ConstantOfShape': {
      const out = ctx.slot(outputs[0]);
      const attr = node.attrs.value;
      const fill = attr && attr.type === 'tensor' ? attr.value : constFromNumbers(out.dtype, [], [0]);
      return [spec(OpCode.Fill, [ctx.constant({ ...fill, dims: [] })], [outputs[0]])];
    }
    case 'Dropout': {
      const training = node.inputs[2] ? scalarOf(node, inMeta(2), 0) : 0;
      const ratio = node.inputs[1] ? scalarOf(node, inMeta(1), 0.5) : attrFloat(node, 'ratio', 0.5);
      if (training && ratio !== 0) throw new SparqError('ERR_UNSUPPORTED_OP', `Dropout node "${node.name}" runs in training mode; sparq runs inference only`);
      const specs = [spec(OpCode.Copy, [inputs[0]], [outputs[0]])];
      if (outputs[1] !== undefined && outputs[1] >= 0) specs.push(spec(OpCode.Fill, [ctx.constant(constFromNumbers('bool', [], [1]))], [outputs[1]]));
      return specs;
    }
    case 'EyeLike':
      return [spec(OpCode.EyeLike, [], [outputs[0]], [attrInt(node, 'k', 0)])];
    case 'Clip': {
      checkDtype(node, dtype);
      const bound = (i: number, attr: string): number => {
        if (inputs[i] !== undefined && inputs[i] >= 0) return inputs[i];
        if (node.attrs[attr]) return ctx.constant(constFromNumbers(dtype, [], [attrFloat(node, attr, 0)]));
        return -1;
      };
      return [spec(OpCode.ClipExt, [inputs[0], bound(1, 'min'), bound(2, 'max')], [outputs[0]])];
    }
    case 'NegativeLogLikelihoodLoss': case 'SoftmaxCrossEntropyLoss': {
      checkDtype(node, dtype, ['float32', 'float64', 'float16']);
      const reduction = ['none', 'sum', 'mean'].indexOf(attrString(node, 'reduction', 'mean'));
      const ignore = node.attrs.ignore_index ? [1, attrInt(node, 'ignore_index', 0)] : [0, 0];
      const weight = inputs[2] ?? -1;
      const specs: LowerSpec[] = [];
      let logProb = inputs[0];
      if (op === 'SoftmaxCrossEntropyLoss') {
        logProb = outputs[1] !== undefined && outputs[1] >= 0 ? outputs[1] : ctx.temp(dtype, x?.dims ?? []);
        specs.push(spec(OpCode.SoftmaxExt, [inputs[0]], [logProb], [1, 1, 0]));
      }
      specs.push(spec(OpCode.NllLoss, weight >= 0 ? [logProb, inputs[1], weight] : [logProb, inputs[1]], [outputs[0]], [reduction, ...ignore]));
      return specs;
    }
    case 'NonZero':
      throw new SparqError('ERR_UNSUPPORTED_OP', `NonZero node "${node.name}" has an output shape that depends on run-time data (more than a plan can key on)`);
    default:
      return undefined;
  }
}

/** Whether the native encoder kernels (ops.h) take this dtype for an op; else the op lowers here. */
export function nativeTakes(op: string, dtype: DType): boolean {
  switch (op) {
    case 'Add': case 'Sub': case 'Mul': case 'Div': return dtype === 'float32' || dtype === 'int32' || dtype === 'int64';
    case 'Pow': return dtype === 'float32';
    case 'Equal': return ['float32', 'int32', 'int64', 'uint8', 'int8', 'bool'].includes(dtype);
    case 'Relu': return dtype === 'float32' || dtype === 'int32' || dtype === 'int64';
    case 'Sqrt': case 'Erf': case 'Tanh': case 'Sigmoid': case 'Gelu': case 'Softmax': case 'ReduceMean': return dtype === 'float32';
    default: return true;
  }
}

