// Model: an immutable ONNX graph in sparq's IR (src/graph/ir.ts). Passes build new Models; toOnnx()
// serialises back to bytes onnxruntime reads. Files are read and written by src/io/model-file.ts
// (loadModel, saveModel): the Model knows no container format.
import { SparqError, typeError } from './errors.js';
import type { ConstTensor, Graph, Node, ValueInfo } from './graph/ir.js';
import { freezeGraph } from './graph/ir.js';
import { inferGraph } from './graph/infer.js';
import { EXTENDED_OPS } from './graph/shapes-ext.js';
import type { ValueMeta } from './graph/shapes.js';
import { encodeModel } from './onnx/encode.js';

/** Ops the runtime executes (default ONNX domain), opsets 1 to 21. */
export const SUPPORTED_OPS: ReadonlySet<string> = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Erf', 'Tanh', 'Relu', 'Sigmoid', 'Gelu', 'Softmax',
  'LayerNormalization', 'ReduceMean', 'MatMul', 'Gemm', 'Transpose', 'Reshape', 'Flatten', 'Squeeze',
  'Unsqueeze', 'Concat', 'Gather', 'Slice', 'Shape', 'Cast', 'Constant', 'ConstantOfShape', 'Range', 'Where',
  'Equal', 'Expand', 'Identity', 'Split', 'Clip', 'DynamicQuantizeLinear', 'MatMulInteger', 'QuantizeLinear',
  'DequantizeLinear',
  ...EXTENDED_OPS,
  'LSTM', 'GRU', 'RNN', 'GatherElements', 'GatherND', 'ScatterElements', 'Scatter', 'ScatterND', 'Resize', 'Upsample',
  'DepthToSpace', 'SpaceToDepth',
  // convolutions and pooling (src/graph/conv-layout.ts, src/runtime/conv-plan.ts)
  'Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization',
  'InstanceNormalization', 'LRN',
]);
/** sparq's own fused ops (domain 'sparq'), produced by its passes. */
export const SPARQ_OPS: ReadonlySet<string> = new Set(['Linear', 'ConvNhwc', 'DepthwiseNhwc', 'MaxPoolNhwc', 'AvgPoolNhwc', 'GlobalPoolNhwc', 'LSTM', 'GRU', 'RNN']);

export const MIN_OPSET = 1;
export const MAX_OPSET = 21;

/** Per-weight kernel choice, carried by a Model (compression passes set it; sessions pack with it). */
export interface WeightFormatSpec {
  format: string;
  options?: Readonly<Record<string, number | string | boolean>>;
}

const FORMATS_KEY = 'sparq.weight_formats';

/** Throws one SparqError('ERR_UNSUPPORTED_OP') listing every unsupported op with its node names. */
export function checkSupported(graph: Graph): void {
  const bad = new Map<string, string[]>();
  for (const n of graph.nodes) {
    const ok = n.domain === '' ? SUPPORTED_OPS.has(n.op) : n.domain === 'sparq' && SPARQ_OPS.has(n.op);
    if (ok) continue;
    const key = n.domain ? `${n.domain}.${n.op}` : n.op;
    const list = bad.get(key) ?? [];
    list.push(n.name);
    bad.set(key, list);
  }
  if (bad.size > 0) {
    const parts = [...bad].map(([op, names]) => `${op} (nodes: ${names.slice(0, 8).map((x) => `"${x}"`).join(', ')}${names.length > 8 ? `, and ${names.length - 8} more` : ''})`);
    throw new SparqError('ERR_UNSUPPORTED_OP', `The model uses ops sparq does not support: ${parts.join('; ')}`);
  }
  if (graph.opset < MIN_OPSET || graph.opset > MAX_OPSET)
    throw new SparqError('ERR_UNSUPPORTED_OP', `The model uses opset ${graph.opset}; sparq supports opsets ${MIN_OPSET} to ${MAX_OPSET}`);
}

class FrozenMap<K, V> implements ReadonlyMap<K, V> {
  readonly #m: Map<K, V>;
  constructor(m: ReadonlyMap<K, V>) {
    this.#m = new Map(m);
  }
  get size(): number { return this.#m.size; }
  get(k: K): V | undefined { return this.#m.get(k); }
  has(k: K): boolean { return this.#m.has(k); }
  forEach(fn: (v: V, k: K, map: ReadonlyMap<K, V>) => void): void { this.#m.forEach((v, k) => fn(v, k, this)); }
  entries(): MapIterator<[K, V]> { return this.#m.entries(); }
  keys(): MapIterator<K> { return this.#m.keys(); }
  values(): MapIterator<V> { return this.#m.values(); }
  [Symbol.iterator](): MapIterator<[K, V]> { return this.#m[Symbol.iterator](); }
}

export class Model {
  /** The graph (frozen: passes return new Models). */
  readonly graph: Graph;
  /** Kernel format per weight initializer name (empty: the session's default). */
  readonly weightFormats: ReadonlyMap<string, WeightFormatSpec>;
  /** ONNX metadata_props carried through load and save. */
  readonly metadata: Readonly<Record<string, string>>;
  #metas: Map<string, ValueMeta> | undefined;

  /** @internal use loadModel() or Model.fromGraph() */
  constructor(graph: Graph, metadata: Record<string, string> = {}, weightFormats?: ReadonlyMap<string, WeightFormatSpec>) {
    checkSupported(graph);
    const g = freezeGraph({ ...graph, initializers: new FrozenMap(graph.initializers) });
    this.graph = g;
    const md = { ...metadata };
    let formats = weightFormats;
    if (!formats && md[FORMATS_KEY]) {
      try {
        formats = new Map(Object.entries(JSON.parse(md[FORMATS_KEY]) as Record<string, WeightFormatSpec>));
      } catch {
        throw new SparqError('ERR_INVALID_MODEL', `Invalid model metadata: "${FORMATS_KEY}" is not JSON`);
      }
    }
    delete md[FORMATS_KEY];
    this.metadata = Object.freeze(md);
    this.weightFormats = new FrozenMap(formats ?? new Map());
    Object.freeze(this);
  }

  /** A Model from a graph built by a pass (validated, frozen). */
  static fromGraph(graph: Graph, options: { metadata?: Record<string, string>; weightFormats?: ReadonlyMap<string, WeightFormatSpec> } = {}): Model {
    return new Model(graph, options.metadata ?? {}, options.weightFormats);
  }

  /** A new Model with these per-weight kernel formats (merged over the current ones). */
  withWeightFormats(formats: ReadonlyMap<string, WeightFormatSpec> | Record<string, WeightFormatSpec>): Model {
    const merged = new Map(this.weightFormats);
    for (const [k, v] of formats instanceof Map ? formats : Object.entries(formats)) {
      if (!this.graph.initializers.has(k)) throw typeError('the name of a weight initializer', `formats["${k}"]`, k);
      merged.set(k, Object.freeze({ ...v }));
    }
    return new Model(this.graph, { ...this.metadata }, merged);
  }

  get inputs(): readonly ValueInfo[] { return this.graph.inputs; }
  get outputs(): readonly ValueInfo[] { return this.graph.outputs; }
  get nodes(): readonly Node[] { return this.graph.nodes; }
  get initializers(): ReadonlyMap<string, ConstTensor> { return this.graph.initializers; }
  get opset(): number { return this.graph.opset; }

  /** Inferred dtype and (symbolic) dims of every value, computed once. */
  valueInfo(name: string): { dtype: string; dims: readonly (number | string)[] } | undefined {
    if (!this.#metas) this.#metas = inferGraph(this.graph).metas;
    const m = this.#metas.get(name);
    return m ? { dtype: m.dtype, dims: m.dims } : undefined;
  }

  /** ONNX bytes (per-weight formats travel in metadata_props). */
  toOnnx(): Uint8Array {
    const md: Record<string, string> = { ...this.metadata };
    if (this.weightFormats.size > 0) md[FORMATS_KEY] = JSON.stringify(Object.fromEntries(this.weightFormats));
    return encodeModel(this.graph, md);
  }
}
