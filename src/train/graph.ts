// ONNX bytes ⇄ the trainable form of a feed-forward graph: a chain of layers over one input, with the
// weights pulled out of the initializers as Float32Arrays. Writing back replaces those initializers'
// data in the original model, so names, opset, metadata and every other detail survive training.
import { SparqError } from '../errors.js';
import { DataType, onnx, toNumber, type IAttributeProto, type IModelProto, type INodeProto, type ITensorProto } from '../onnx/proto.js';
import { transpose } from './linalg.js';
import { TRAINABLE_OPS } from './trainable-ops.js';

export { TRAINABLE_OPS };

/** A trainable tensor, its gradient, and where it lives in the ONNX model. */
export interface Param {
  /** The initializer's name. */
  name: string;
  value: Float32Array;
  grad: Float32Array;
  /** Weight decay applies (matrices), not to biases and norms. */
  decay: boolean;
  /** Magnitude pruning may zero it (weight matrices only). */
  prunable: boolean;
  /** 1 = trainable, 0 = pruned and held at zero. Null: no mask. */
  mask: Uint8Array | null;
  /** The initializer stores the transpose of `value` (Gemm with transB = 1). */
  transposed: boolean;
  rows: number;
  cols: number;
  /** The initializer's dims, kept on write-back. */
  dims: number[];
}

export type Layer =
  | { kind: 'dense'; K: number; N: number; W: Param; b: Param | null; alpha: number; beta: number }
  | { kind: 'bias'; N: number; b: Param }
  | { kind: 'relu' | 'sigmoid' | 'tanh' | 'gelu' | 'softmax' }
  | { kind: 'layernorm'; N: number; gamma: Param; beta: Param | null; eps: number };

export interface TrainableGraph {
  inputName: string;
  outputName: string;
  inputSize: number;
  outputSize: number;
  layers: Layer[];
  params: Param[];
  /** Re-encodes the model with the current parameter values. */
  toOnnx(): Uint8Array;
}

function invalid(message: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', message);
}

function floatData(t: ITensorProto): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw new SparqError('ERR_UNSUPPORTED_OP', `train() needs float32 weights but initializer '${t.name}' has ONNX data type ${t.dataType}`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw invalid(`initializer '${t.name}' is stored in an external file, which train() does not read`);
  const count = (t.dims ?? []).reduce((a: number, d) => a * toNumber(d), 1);
  let out: Float32Array;
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * 4) throw invalid(`initializer '${t.name}' holds ${t.rawData.length} bytes for ${count} floats`);
    // Copy: rawData may be unaligned and belongs to the decoded message.
    out = new Float32Array(count);
    new Uint8Array(out.buffer).set(t.rawData);
  } else {
    const f = t.floatData ?? [];
    if (f.length !== count) throw invalid(`initializer '${t.name}' holds ${f.length} floats for ${count} elements`);
    out = Float32Array.from(f);
  }
  return out;
}

function attr(node: INodeProto, name: string): IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}
function intAttr(node: INodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? toNumber(a.i as number) : fallback;
}
function floatAttr(node: INodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? (a.f ?? fallback) : fallback;
}

/** Parses ONNX bytes into a trainable chain, or throws naming what is not trainable. */
export function parseTrainable(bytes: Uint8Array): TrainableGraph {
  let model: IModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new SparqError('ERR_INVALID_MODEL', `The model is not a valid ONNX protobuf: ${(e as Error).message}`, { cause: e });
  }
  const graph = model.graph;
  if (!graph) throw invalid('The ONNX model has no graph');
  const nodes = graph.node ?? [];
  const unsupported = [...new Set(nodes.map((n) => (n.domain && n.domain !== 'ai.onnx' && !(n.opType === 'Gelu' && n.domain === 'com.microsoft') ? `${n.domain}.${n.opType}` : (n.opType as string))))].filter(
    (op) => !(TRAINABLE_OPS as readonly string[]).includes(op),
  );
  if (unsupported.length > 0)
    throw new SparqError(
      'ERR_UNSUPPORTED_OP',
      `train() handles feed-forward graphs of ${TRAINABLE_OPS.join(', ')}; this model also has ${unsupported.join(', ')}`,
    );

  const inits = new Map<string, ITensorProto>();
  for (const t of graph.initializer ?? []) inits.set(t.name as string, t);
  const inputs = (graph.input ?? []).filter((i) => !inits.has(i.name as string));
  if (inputs.length !== 1) throw new SparqError('ERR_UNSUPPORTED_OP', `train() needs a graph with exactly one input; this one has ${inputs.length}`);
  const outputs = graph.output ?? [];
  if (outputs.length !== 1) throw new SparqError('ERR_UNSUPPORTED_OP', `train() needs a graph with exactly one output; this one has ${outputs.length}`);
  const inputName = inputs[0].name as string;
  const outputName = outputs[0].name as string;
  const inDims = inputs[0].type?.tensorType?.shape?.dim ?? [];
  const lastDim = inDims.length > 0 ? inDims[inDims.length - 1] : undefined;
  const declaredInput = lastDim && lastDim.dimValue !== undefined && lastDim.dimValue !== null ? toNumber(lastDim.dimValue) : 0;

  const used = new Set<string>();
  const params: Param[] = [];
  const param = (name: string, value: Float32Array, dims: number[], rows: number, cols: number, opts: { decay: boolean; prunable: boolean; transposed?: boolean }): Param => {
    if (used.has(name)) throw new SparqError('ERR_UNSUPPORTED_OP', `initializer '${name}' is used by more than one node; train() needs each weight used once`);
    used.add(name);
    const p: Param = { name, value, grad: new Float32Array(value.length), mask: null, transposed: opts.transposed ?? false, rows, cols, dims, decay: opts.decay, prunable: opts.prunable };
    params.push(p);
    return p;
  };
  const initOf = (name: string | undefined | null, what: string, node: INodeProto): ITensorProto => {
    const t = name ? inits.get(name) : undefined;
    if (!t) throw new SparqError('ERR_UNSUPPORTED_OP', `${node.opType} node '${node.name ?? ''}' takes its ${what} from '${name}', which is not an initializer; train() needs constant weights`);
    return t;
  };
  const dimsOf = (t: ITensorProto): number[] => (t.dims ?? []).map((d) => toNumber(d));
  const vectorOf = (t: ITensorProto, N: number, what: string, node: INodeProto): Float32Array => {
    const dims = dimsOf(t);
    const size = dims.reduce((a, d) => a * d, 1);
    const lastOk = dims.length === 0 ? false : dims[dims.length - 1] === N;
    if (size !== N || !lastOk) throw new SparqError('ERR_UNSUPPORTED_OP', `${node.opType} node '${node.name ?? ''}': ${what} '${t.name}' has dims [${dims.join(', ')}]; train() supports a vector of ${N}`);
    return floatData(t);
  };

  const layers: Layer[] = [];
  let current = inputName;
  let width = declaredInput;
  for (const node of nodes) {
    const op = node.opType as string;
    const ins = node.input ?? [];
    const dataInputs = ins.filter((n) => n && !inits.has(n));
    if (dataInputs.length !== 1 || dataInputs[0] !== current)
      throw new SparqError('ERR_UNSUPPORTED_OP', `train() handles a single chain of ops; ${op} node '${node.name ?? ''}' reads [${dataInputs.join(', ')}] instead of '${current}' alone`);
    const needWidth = (): number => {
      if (width <= 0) throw new SparqError('ERR_UNSUPPORTED_OP', `${op} node '${node.name ?? ''}' comes before any layer that fixes the feature size; the model input needs a fixed last dim`);
      return width;
    };
    switch (op) {
      case 'MatMul': {
        if (ins[0] !== current) throw new SparqError('ERR_UNSUPPORTED_OP', `MatMul node '${node.name ?? ''}' multiplies a weight by the activations; train() supports activations · weights`);
        const t = initOf(ins[1], 'weights', node);
        const dims = dimsOf(t);
        if (dims.length !== 2) throw new SparqError('ERR_UNSUPPORTED_OP', `MatMul weights '${t.name}' have dims [${dims.join(', ')}]; train() supports 2-D weights`);
        const [K, N] = dims;
        if (width > 0 && width !== K) throw invalid(`MatMul weights '${t.name}' expect ${K} features but the previous layer gives ${width}`);
        layers.push({ kind: 'dense', K, N, W: param(t.name as string, floatData(t), dims, K, N, { decay: true, prunable: true }), b: null, alpha: 1, beta: 1 });
        width = N;
        break;
      }
      case 'Gemm': {
        if (intAttr(node, 'transA', 0) !== 0) throw new SparqError('ERR_UNSUPPORTED_OP', `Gemm node '${node.name ?? ''}' has transA = 1, which train() does not support`);
        const transB = intAttr(node, 'transB', 0) !== 0;
        const t = initOf(ins[1], 'weights', node);
        const dims = dimsOf(t);
        if (dims.length !== 2) throw invalid(`Gemm weights '${t.name}' have dims [${dims.join(', ')}]`);
        const [K, N] = transB ? [dims[1], dims[0]] : dims;
        if (width > 0 && width !== K) throw invalid(`Gemm weights '${t.name}' expect ${K} features but the previous layer gives ${width}`);
        const raw = floatData(t);
        const W = param(t.name as string, transB ? transpose(raw, N, K) : raw, dims, K, N, { decay: true, prunable: true, transposed: transB });
        let b: Param | null = null;
        if (ins.length > 2 && ins[2]) {
          const bt = initOf(ins[2], 'bias', node);
          b = param(bt.name as string, vectorOf(bt, N, 'bias', node), dimsOf(bt), 1, N, { decay: false, prunable: false });
        }
        layers.push({ kind: 'dense', K, N, W, b, alpha: floatAttr(node, 'alpha', 1), beta: floatAttr(node, 'beta', 1) });
        width = N;
        break;
      }
      case 'Add': {
        const N = needWidth();
        const bt = initOf(ins[0] === current ? ins[1] : ins[0], 'addend', node);
        const b = param(bt.name as string, vectorOf(bt, N, 'addend', node), dimsOf(bt), 1, N, { decay: false, prunable: false });
        const last = layers[layers.length - 1];
        if (last && last.kind === 'dense' && last.b === null && last.beta === 1) last.b = b;
        else layers.push({ kind: 'bias', N, b });
        break;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'Gelu': {
        if (op === 'Gelu' && (attr(node, 'approximate')?.s?.length ?? 0) > 0 && new TextDecoder().decode(attr(node, 'approximate')?.s as Uint8Array) !== 'none')
          throw new SparqError('ERR_UNSUPPORTED_OP', `Gelu node '${node.name ?? ''}' uses the tanh approximation; train() supports the exact Gelu`);
        layers.push({ kind: op.toLowerCase() as 'relu' | 'sigmoid' | 'tanh' | 'gelu' });
        break;
      }
      case 'Softmax': {
        const axis = intAttr(node, 'axis', -1);
        if (axis !== -1 && axis !== 1) throw new SparqError('ERR_UNSUPPORTED_OP', `Softmax node '${node.name ?? ''}' has axis ${axis}; train() supports the last axis of [batch, features]`);
        layers.push({ kind: 'softmax' });
        break;
      }
      case 'LayerNormalization': {
        const N = needWidth();
        const axis = intAttr(node, 'axis', -1);
        if (axis !== -1 && axis !== 1) throw new SparqError('ERR_UNSUPPORTED_OP', `LayerNormalization node '${node.name ?? ''}' has axis ${axis}; train() supports the last axis`);
        if ((node.output ?? []).slice(1).some((o) => o)) throw new SparqError('ERR_UNSUPPORTED_OP', `LayerNormalization node '${node.name ?? ''}' exports its mean or inverse deviation; train() supports the normalized output only`);
        const gt = initOf(ins[1], 'scale', node);
        const gamma = param(gt.name as string, vectorOf(gt, N, 'scale', node), dimsOf(gt), 1, N, { decay: false, prunable: false });
        let beta: Param | null = null;
        if (ins.length > 2 && ins[2]) {
          const bt = initOf(ins[2], 'bias', node);
          beta = param(bt.name as string, vectorOf(bt, N, 'bias', node), dimsOf(bt), 1, N, { decay: false, prunable: false });
        }
        layers.push({ kind: 'layernorm', N, gamma, beta, eps: floatAttr(node, 'epsilon', 1e-5) });
        break;
      }
    }
    current = (node.output ?? [])[0] as string;
  }
  if (current !== outputName) throw new SparqError('ERR_UNSUPPORTED_OP', `The graph output '${outputName}' is not the end of the chain of ops ('${current}')`);
  const inputSize = firstWidth(layers) || declaredInput;
  if (!layers.some((l) => l.kind === 'dense')) throw new SparqError('ERR_UNSUPPORTED_OP', 'The model has no MatMul or Gemm layer to train');
  if (declaredInput > 0 && declaredInput !== inputSize) throw invalid(`The model input '${inputName}' has ${declaredInput} features but its first layer takes ${inputSize}`);

  const original = bytes;
  return {
    inputName,
    outputName,
    inputSize,
    outputSize: width,
    layers,
    params,
    toOnnx: () => writeParams(original, params),
  };
}

function firstWidth(layers: Layer[]): number {
  const d = layers.find((l) => l.kind === 'dense');
  return d && d.kind === 'dense' ? d.K : 0;
}

/** The original model with each parameter's initializer replaced by its current value. */
function writeParams(original: Uint8Array, params: Param[]): Uint8Array {
  const model = onnx.ModelProto.decode(original);
  const byName = new Map(params.map((p) => [p.name, p]));
  for (const t of model.graph?.initializer ?? []) {
    const p = byName.get(t.name as string);
    if (!p) continue;
    const data = p.transposed ? transpose(p.value, p.rows, p.cols) : p.value;
    t.rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    t.floatData = [];
  }
  return onnx.ModelProto.encode(model).finish();
}
