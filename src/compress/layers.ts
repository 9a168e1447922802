// The layers compression works on: MatMul and Gemm nodes whose weight (input B) is a 2-D fp32
// initializer, and (weightLayers) Conv nodes with a constant fp32 weight. Weights are handed out and
// taken back in ONNX MatMul layout [K, N] whatever the node stores (Gemm with transB = 1 keeps [N, K];
// a Conv [OC, C/group, kh, kw] is viewed as [kh·kw·C/group, OC], taps major and input channels
// contiguous, as the runtime's im2col GEMM reads it: a block of 4 along K is 4 input channels of one
// tap), so masks and quantizers see one layout.
import { type ConstTensor, type Graph, type Node, attrInt, freezeTensor, transpose } from '../graph/ir.js';

export { transpose };

export interface LinearLayer {
  /** Index of the node in graph.nodes. */
  index: number;
  node: Node;
  /** The weight initializer's name (what Model.weightFormats is keyed by). */
  weight: string;
  /** The activation input's value name. */
  input: string;
  K: number;
  N: number;
  /** Stored as [N, K] (Gemm transB = 1). */
  transposed: boolean;
  /** A Conv: its weight's dims [OC, C/group, (kh,) kw] (K = kh·kw·C/group, N = OC). */
  conv?: readonly number[];
}

/** Every MatMul / Gemm with a constant 2-D fp32 weight, in graph order. */
export function linearLayers(graph: Graph): LinearLayer[] {
  const layers: LinearLayer[] = [];
  graph.nodes.forEach((node, index) => {
    if (node.domain !== '' || (node.op !== 'MatMul' && node.op !== 'Gemm')) return;
    const weight = node.inputs[1];
    const t = weight ? graph.initializers.get(weight) : undefined;
    if (!t || t.dtype !== 'float32' || t.dims.length !== 2) return;
    if (node.op === 'Gemm' && attrInt(node, 'transA', 0) !== 0) return;
    const transposed = node.op === 'Gemm' && attrInt(node, 'transB', 0) !== 0;
    const [K, N] = transposed ? [t.dims[1], t.dims[0]] : [t.dims[0], t.dims[1]];
    layers.push({ index, node, weight, input: node.inputs[0], K, N, transposed });
  });
  return layers;
}

/**
 * Every Conv whose weight is a constant fp32 initializer, except depthwise ones (one input channel per
 * group: a few taps per output, nothing to gain).
 */
export function convLayers(graph: Graph): LinearLayer[] {
  const layers: LinearLayer[] = [];
  graph.nodes.forEach((node, index) => {
    if (node.domain !== '' || node.op !== 'Conv') return;
    const t = node.inputs[1] ? graph.initializers.get(node.inputs[1]) : undefined;
    if (!t || t.dtype !== 'float32' || t.dims.length < 3 || t.dims.length > 4) return;
    if (attrInt(node, 'group', 1) > 1 && t.dims[1] === 1) return;
    const N = t.dims[0], K = t.dims.slice(1).reduce((a, b) => a * b, 1);
    layers.push({ index, node, weight: node.inputs[1], input: node.inputs[0], K, N, transposed: false, conv: t.dims });
  });
  return layers;
}

/** The layers prune() and quantize() work on: linear layers, then convs. */
export function weightLayers(graph: Graph): LinearLayer[] {
  return [...linearLayers(graph), ...convLayers(graph)];
}

/** [OC, C, taps] ↔ [taps·C, OC]: conv weight to its GEMM view (or back, with `back`). */
function convView(data: Float32Array, dims: readonly number[], back: boolean): Float32Array {
  const oc = dims[0], cin = dims[1], taps = dims.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float32Array(data.length);
  for (let o = 0; o < oc; o++)
    for (let c = 0; c < cin; c++)
      for (let t = 0; t < taps; t++) {
        const stored = (o * cin + c) * taps + t, viewed = (t * cin + c) * oc + o;
        if (back) out[stored] = data[viewed];
        else out[viewed] = data[stored];
      }
  return out;
}

/** The layer's weight as [K, N] (a copy when stored transposed or as a conv; else the initializer's own data — do not write). */
export function weightOf(graph: Graph, layer: LinearLayer): Float32Array {
  const data = (graph.initializers.get(layer.weight) as ConstTensor).data as Float32Array;
  if (layer.conv) return convView(data, layer.conv, false);
  return layer.transposed ? transpose(data, layer.N, layer.K) : data;
}

/** A new initializer for the layer from W [K, N], in the node's own layout. */
export function weightTensor(layer: LinearLayer, W: Float32Array, K = layer.K, N = layer.N): ConstTensor {
  if (layer.conv) {
    const taps = layer.conv.slice(2).reduce((a, b) => a * b, 1);
    const dims = [N, K / taps, ...layer.conv.slice(2)];
    return freezeTensor({ dtype: 'float32', dims, data: convView(W, dims, true) });
  }
  return freezeTensor(layer.transposed ? { dtype: 'float32', dims: [N, K], data: transpose(W, K, N) } : { dtype: 'float32', dims: [K, N], data: W });
}

/** Whether a layer is selected by include / exclude lists of node or weight names (or RegExps). */
export function selected(layer: LinearLayer, include?: readonly (string | RegExp)[], exclude?: readonly (string | RegExp)[]): boolean {
  const matches = (p: string | RegExp) => (typeof p === 'string' ? p === layer.node.name || p === layer.weight : p.test(layer.node.name) || p.test(layer.weight));
  if (include && include.length > 0 && !include.some(matches)) return false;
  return !(exclude ?? []).some(matches);
}

/** A graph with some initializers replaced (and others added); nodes and the rest shared. */
export function withInitializers(graph: Graph, replace: ReadonlyMap<string, ConstTensor>): Graph {
  const init = new Map(graph.initializers);
  for (const [k, v] of replace) init.set(k, v);
  return { ...graph, initializers: init };
}
