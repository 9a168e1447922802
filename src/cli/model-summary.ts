// What `sparq inspect` reports about a model: inputs/outputs, op histogram, parameters, and per-layer
// sparsity and kernel format for every linear layer (MatMul/Gemm/Linear with a constant weight).
import type { ConstTensor, Graph } from '../graph/ir.js';
import type { WeightFormatSpec } from '../model.js';

export interface LayerSummary {
  node: string;
  op: string;
  weight: string;
  dims: readonly number[];
  params: number;
  nonzeros: number;
  sparsity: number;
  dtype: string;
  format: string;
}

export interface ModelSummary {
  opset: number;
  inputs: { name: string; dtype: string; dims: (number | string)[] | null }[];
  outputs: { name: string; dtype: string; dims: (number | string)[] | null }[];
  ops: Record<string, number>;
  params: number;
  nonzeros: number;
  initializerBytes: number;
  layers: LayerSummary[];
}

function countNonzeros(t: ConstTensor): number {
  let nz = 0;
  const d = t.data;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0 && d[i] !== 0n) nz++;
  return nz;
}

export function summarizeGraph(graph: Graph, formats: ReadonlyMap<string, WeightFormatSpec> = new Map()): ModelSummary {
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) {
    const key = n.domain ? `${n.domain}.${n.op}` : n.op;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  let params = 0;
  let nonzeros = 0;
  let initializerBytes = 0;
  for (const t of graph.initializers.values()) {
    params += t.data.length;
    nonzeros += countNonzeros(t);
    initializerBytes += t.data.byteLength;
  }
  const layers: LayerSummary[] = [];
  for (const n of graph.nodes) {
    if (!['MatMul', 'Gemm', 'Linear', 'MatMulInteger'].includes(n.op)) continue;
    const weight = n.inputs[1];
    const t = graph.initializers.get(weight);
    if (!t || t.dims.length !== 2) continue;
    const nz = countNonzeros(t);
    layers.push({
      node: n.name,
      op: n.op,
      weight,
      dims: t.dims,
      params: t.data.length,
      nonzeros: nz,
      sparsity: t.data.length ? 1 - nz / t.data.length : 0,
      dtype: t.dtype,
      format: formats.get(weight)?.format ?? (n.op === 'MatMulInteger' ? 'int8 (ONNX)' : 'dense (default)'),
    });
  }
  const info = (v: { name: string; dtype: string; dims: readonly (number | string)[] | null }) => ({ name: v.name, dtype: v.dtype, dims: v.dims ? [...v.dims] : null });
  return { opset: graph.opset, inputs: graph.inputs.map(info), outputs: graph.outputs.map(info), ops, params, nonzeros, initializerBytes, layers };
}
