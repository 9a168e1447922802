// A Model as standard ONNX that onnxruntime runs with sparq's arithmetic:
//   - 'dynamic' int8 layers → DynamicQuantizeLinear → MatMulInteger (s8 weights) → Cast → Mul(scales)
//     (the input's quantization shared by layers reading the same value);
//   - 'static' and 'weight-only' int8 layers → DequantizeLinear(s8 weights, scales) → MatMul/Gemm (the
//     Q/DQ form; static layers already carry their input's QuantizeLinear → DequantizeLinear);
//   - group-wise 'weight-only' layers (int4 / int8 codes, a scale per group) → com.microsoft MatMulNBits
//     (codes, scales and zero points as sparq's kernels hold them; onnxruntime runs it on its n-bit GEMM);
//   - pruned weights as sparse_initializer where that is smaller (onnxruntime densifies them at load, so
//     this shrinks the file, not the run time); structured pruning is already smaller dense tensors.
import { type ConstTensor, type Graph, type Node, attrFloat, freezeTensor } from '../graph/ir.js';
import type { Model } from '../model.js';
import { encodeModel } from '../onnx/encode.js';
import { onnx, type ITensorProto } from '../onnx/proto.js';
import { type LinearLayer, linearLayers, transpose, weightOf } from '../compress/layers.js';
import { QUANTIZATION_KEY, quantizationOf } from '../compress/quantization-record.js';
import { quantizeWeights } from '../compress/quantize-math.js';
import { matMulNBitsLayer } from './export-matmulnbits.js';

export interface OnnxExportOptions {
  /** Store sparse weights as sparse_initializer where smaller (default true). */
  sparseInitializers?: boolean;
  /**
   * MatMulNBits' accuracy_level for group-wise weight-only layers: 4 (default) lets onnxruntime quantize
   * the activations to int8 per block as sparq's decode kernels do; 0 computes in fp32.
   */
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
}

const FORMATS_KEY = 'sparq.weight_formats';

export function exportOnnx(model: Model, options: OnnxExportOptions = {}): Uint8Array {
  const graph = model.graph;
  const quant = quantizationOf(model);
  const init = new Map<string, ConstTensor>(graph.initializers);
  const taken = new Set<string>([...graph.initializers.keys(), ...graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs, n.name]), ...graph.inputs.map((i) => i.name)]);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const replace = new Map<Node, Node[]>();
  const dql = new Map<string, [string, string, string, Node]>(); // input value → DynamicQuantizeLinear outputs
  const usesOf = (name: string) => graph.nodes.filter((n) => n.inputs.includes(name)).length;
  for (const l of linearLayers(graph)) {
    const q = quant.get(l.weight);
    if (!q || usesOf(l.weight) !== 1) continue;
    const W = weightOf(graph, l);
    const gemm = l.node.op === 'Gemm';
    if (gemm && (attrFloat(l.node, 'alpha', 1) !== 1 || attrFloat(l.node, 'beta', 1) !== 1)) continue;
    if (q.groupSize) {
      replace.set(l.node, matMulNBitsLayer(l, W, q, options.accuracyLevel ?? 4, init, fresh));
      continue;
    }
    const qw = quantizeWeights(W, l.K, l.N, q.perChannel);
    if (q.mode === 'dynamic') replace.set(l.node, dynamicLayer(l, qw.values, qw.scales, init, fresh, dql));
    else if (graph.opset >= 13 || !q.perChannel) replace.set(l.node, dequantizedLayer(l, qw.values, qw.scales, q.perChannel, init, fresh));
  }
  const nodes: Node[] = [];
  const emitted = new Set<Node>();
  for (const n of graph.nodes) {
    const r = replace.get(n);
    if (!r) {
      nodes.push(n);
      continue;
    }
    for (const x of r) if (!emitted.has(x)) {
      emitted.add(x);
      nodes.push(x);
    }
  }
  // Weights no node reads any more (replaced by their s8 versions) are dropped.
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const k of [...init.keys()]) if (!read.has(k) && !graph.outputs.some((o) => o.name === k)) init.delete(k);
  const metadata = { ...model.metadata };
  delete metadata[QUANTIZATION_KEY];
  const formats = Object.fromEntries([...model.weightFormats].filter(([k]) => init.has(k) && !quant.has(k)));
  if (Object.keys(formats).length > 0) metadata[FORMATS_KEY] = JSON.stringify(formats);
  const out: Graph = { ...graph, nodes, initializers: init };
  const bytes = encodeModel(out, metadata);
  return options.sparseInitializers === false ? bytes : sparsifyInitializers(bytes);
}

export type Fresh = (base: string) => string;

function dynamicLayer(l: LinearLayer, values: Int8Array, scales: Float32Array, init: Map<string, ConstTensor>, fresh: Fresh, dql: Map<string, [string, string, string, Node]>): Node[] {
  const nodes: Node[] = [];
  let shared = dql.get(l.input);
  if (!shared) {
    const xq = fresh(`${l.input}_u8`);
    const xs = fresh(`${l.input}_scale`);
    const xz = fresh(`${l.input}_zero_point`);
    const node: Node = { name: fresh(`${l.input}_DynamicQuantizeLinear`), op: 'DynamicQuantizeLinear', domain: '', inputs: [l.input], outputs: [xq, xs, xz], attrs: {} };
    shared = [xq, xs, xz, node];
    dql.set(l.input, shared);
  }
  nodes.push(shared[3]);
  const [xq, xs, xz] = shared;
  const wq = fresh(`${l.weight}_s8`);
  const ws = fresh(`${l.weight}_scale`);
  init.set(wq, freezeTensor({ dtype: 'int8', dims: [l.K, l.N], data: values }));
  init.set(ws, freezeTensor({ dtype: 'float32', dims: scales.length === 1 ? [] : [l.N], data: scales }));
  const acc = fresh(`${l.node.name}_acc`);
  const accf = fresh(`${l.node.name}_acc_f32`);
  const scale = fresh(`${l.node.name}_scale`);
  const base = l.node.name;
  const gemmBias = l.node.op === 'Gemm' && l.node.inputs[2] ? l.node.inputs[2] : '';
  const y = l.node.outputs[0];
  const scaled = gemmBias ? fresh(`${base}_scaled`) : y;
  nodes.push(
    { name: fresh(`${base}_MatMulInteger`), op: 'MatMulInteger', domain: '', inputs: [xq, wq, xz], outputs: [acc], attrs: {} },
    { name: fresh(`${base}_Cast`), op: 'Cast', domain: '', inputs: [acc], outputs: [accf], attrs: { to: { type: 'int', value: 1 } } },
    { name: fresh(`${base}_Scale`), op: 'Mul', domain: '', inputs: [xs, ws], outputs: [scale], attrs: {} },
    { name: fresh(`${base}_Dequantize`), op: 'Mul', domain: '', inputs: [accf, scale], outputs: [scaled], attrs: {} },
  );
  if (gemmBias) nodes.push({ name: fresh(`${base}_Bias`), op: 'Add', domain: '', inputs: [scaled, gemmBias], outputs: [y], attrs: {} });
  return nodes;
}

function dequantizedLayer(l: LinearLayer, values: Int8Array, scales: Float32Array, perChannel: boolean, init: Map<string, ConstTensor>, fresh: Fresh): Node[] {
  const wq = fresh(`${l.weight}_s8`);
  const ws = fresh(`${l.weight}_scale`);
  const wf = fresh(`${l.weight}_dequantized`);
  // Stored in the node's own layout; the per-channel axis is the output one.
  init.set(wq, freezeTensor(l.transposed ? { dtype: 'int8', dims: [l.N, l.K], data: transposeS8(values, l.K, l.N) } : { dtype: 'int8', dims: [l.K, l.N], data: values }));
  init.set(ws, freezeTensor({ dtype: 'float32', dims: perChannel ? [l.N] : [], data: scales }));
  const attrs: Node['attrs'] = perChannel ? { axis: { type: 'int', value: l.transposed ? 0 : 1 } } : {};
  return [
    { name: fresh(`${l.weight}_DequantizeLinear`), op: 'DequantizeLinear', domain: '', inputs: [wq, ws], outputs: [wf], attrs },
    { ...l.node, inputs: [l.node.inputs[0], wf, ...l.node.inputs.slice(2)] },
  ];
}

function transposeS8(A: Int8Array, R: number, C: number): Int8Array {
  return new Int8Array(transpose(Float32Array.from(A), R, C));
}

const ELEM: Record<number, number> = { 1: 4, 3: 1, 2: 1 };

/** Moves initializers that are smaller as (values, int64 indices) into graph.sparse_initializer. */
function sparsifyInitializers(bytes: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const inputs = new Set((g.input ?? []).map((i) => i.name));
  const keep: ITensorProto[] = [];
  for (const t of g.initializer ?? []) {
    const size = ELEM[t.dataType ?? 0];
    const raw = t.rawData;
    if (!size || !raw || inputs.has(t.name!) || raw.length < 4096) {
      keep.push(t);
      continue;
    }
    const count = raw.length / size;
    const view = size === 4 ? new Float32Array(Uint8Array.from(raw).buffer) : new Int8Array(raw.buffer, raw.byteOffset, raw.length);
    let nnz = 0;
    for (let i = 0; i < count; i++) if (view[i] !== 0) nnz++;
    if (nnz * (size + 8) >= count * size * 0.9) {
      keep.push(t);
      continue;
    }
    const idx = new BigInt64Array(nnz);
    const vals = size === 4 ? new Float32Array(nnz) : new Int8Array(nnz);
    let j = 0;
    for (let i = 0; i < count; i++)
      if (view[i] !== 0) {
        idx[j] = BigInt(i);
        vals[j++] = view[i];
      }
    g.sparseInitializer = g.sparseInitializer ?? [];
    g.sparseInitializer.push({
      dims: t.dims,
      values: { name: t.name, dataType: t.dataType, dims: [nnz], rawData: new Uint8Array(vals.buffer) },
      indices: { name: `${t.name}_indices`, dataType: 7, dims: [nnz], rawData: new Uint8Array(idx.buffer) },
    });
  }
  g.initializer = keep;
  return onnx.ModelProto.encode(m).finish();
}
