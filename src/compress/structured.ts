// Structured pruning made real: outputs (neurons) a mask removed are cut out of the layer's weight and
// bias, and the matching input rows out of the next layer's weight, so the model is smaller and faster
// in any runtime (onnxruntime included), not just sparser. A removed neuron still emitted act(bias), a
// constant: its contribution act(b_n)·W₂[n, :] is folded into the next layer's bias where it has one.
import { type ConstTensor, type Graph, type Node, freezeTensor } from '../graph/ir.js';
import { type LinearLayer, linearLayers, weightOf, weightTensor } from './layers.js';

const UNARY: Record<string, (x: number) => number> = {
  Relu: (x) => (x > 0 ? x : 0),
  Identity: (x) => x,
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Tanh: Math.tanh,
  Gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};

/** erf to ~1e-7 (Abramowitz–Stegun 7.1.26 refined): only used on bias constants here. */
function erf(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? y : -y;
}

/** How a layer's outputs reach the next layer: the bias, the elementwise ops between, the consumer. */
export interface StructuredChain {
  layer: LinearLayer;
  /** The bias initializer of the layer ([N]) and how it is attached, if any. */
  bias: { name: string } | null;
  /** Elementwise ops applied between the bias and the next layer, in order. */
  unary: string[];
  next: LinearLayer;
  /** The next layer's bias initializer ([N₂]), if any. */
  nextBias: { name: string } | null;
}

function consumers(graph: Graph, value: string): Node[] {
  return graph.nodes.filter((n) => n.inputs.includes(value));
}

/** A bias [N] or [1, N] added to `value` by node `n` (Add with one constant operand), else null. */
function biasOf(graph: Graph, n: Node, value: string, N: number): string | null {
  if (n.op !== 'Add' || n.domain !== '' || n.inputs.length !== 2) return null;
  const other = n.inputs[0] === value ? n.inputs[1] : n.inputs[0];
  const t = graph.initializers.get(other);
  if (!t || t.dtype !== 'float32' || t.data.length !== N || t.dims[t.dims.length - 1] !== N) return null;
  return other;
}

function gemmBias(graph: Graph, layer: LinearLayer): string | null {
  if (layer.node.op !== 'Gemm' || !layer.node.inputs[2]) return null;
  const t = graph.initializers.get(layer.node.inputs[2]);
  return t && t.dtype === 'float32' && t.data.length === layer.N && t.dims.length === 1 ? layer.node.inputs[2] : null;
}

/** The chain from a layer to the next linear layer, or why there is none (then it cannot be shrunk). */
export function structuredChain(graph: Graph, layer: LinearLayer): StructuredChain | string {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const layers = linearLayers(graph);
  let value = layer.node.outputs[0];
  let bias: { name: string } | null = null;
  const gb = gemmBias(graph, layer);
  if (gb) bias = { name: gb };
  const unary: string[] = [];
  for (let steps = 0; steps < 16; steps++) {
    if (outputs.has(value)) return 'its outputs are model outputs';
    const cs = consumers(graph, value);
    if (cs.length !== 1) return `its outputs feed ${cs.length} nodes`;
    const n = cs[0];
    const next = layers.find((l) => l.node === n);
    if (next) {
      if (next.input !== value || next.K !== layer.N) return 'the next layer does not read it as its input';
      // A bias shared with another layer cannot be cut for this one alone.
      const nb = gemmBias(graph, next) ?? nextAddBias(graph, next);
      if (consumersOfInit(graph, next.weight) !== 1) return 'the next weight is shared';
      return { layer, bias, unary, next, nextBias: nb ? { name: nb } : null };
    }
    const b = bias ? null : biasOf(graph, n, value, layer.N);
    if (b && unary.length === 0) {
      if (consumersOfInit(graph, b) !== 1) return 'its bias is shared';
      bias = { name: b };
    } else if (n.domain === '' && UNARY[n.op] && n.inputs.length === 1) {
      unary.push(n.op);
    } else {
      return `its outputs pass through ${n.op} ("${n.name}")`;
    }
    value = n.outputs[0];
  }
  return 'the path to the next layer is too long';
}

function consumersOfInit(graph: Graph, name: string): number {
  return graph.nodes.filter((n) => n.inputs.includes(name)).length;
}

function nextAddBias(graph: Graph, next: LinearLayer): string | null {
  const cs = consumers(graph, next.node.outputs[0]);
  if (cs.length !== 1) return null;
  const b = biasOf(graph, cs[0], next.node.outputs[0], next.N);
  return b && consumersOfInit(graph, b) === 1 ? b : null;
}

/**
 * Removes the outputs `dead` (1 = removed) of chain.layer: a new graph with smaller tensors. `W` is the
 * layer's (masked) weight [K, N]. Returns the graph and how many outputs remain.
 */
export function shrinkLayer(graph: Graph, chain: StructuredChain, W: Float32Array, dead: Uint8Array): { graph: Graph; kept: number } {
  const { layer, next } = chain;
  const { K, N } = layer;
  const keep: number[] = [];
  for (let n = 0; n < N; n++) if (!dead[n]) keep.push(n);
  const N2 = next.N;
  const init = new Map<string, ConstTensor>(graph.initializers);
  const W1 = new Float32Array(K * keep.length);
  for (let k = 0; k < K; k++) keep.forEach((n, j) => (W1[k * keep.length + j] = W[k * N + n]));
  init.set(layer.weight, weightTensor(layer, W1, K, keep.length));
  const b1 = chain.bias ? (graph.initializers.get(chain.bias.name)!.data as Float32Array) : null;
  if (chain.bias) {
    const t = graph.initializers.get(chain.bias.name)!;
    init.set(chain.bias.name, freezeTensor({ dtype: 'float32', dims: [...t.dims.slice(0, -1), keep.length], data: Float32Array.from(keep, (n) => b1![n]) }));
  }
  const Wn = weightOf(graph, next);
  const W2 = new Float32Array(keep.length * N2);
  keep.forEach((n, j) => W2.set(Wn.subarray(n * N2, (n + 1) * N2), j * N2));
  init.set(next.weight, weightTensor(next, W2, keep.length, N2));
  if (chain.nextBias && b1) {
    // What the removed neurons still contributed: act(b_n) · W₂[n, :].
    const t = graph.initializers.get(chain.nextBias.name)!;
    const b2 = Float32Array.from(t.data as Float32Array);
    for (let n = 0; n < N; n++) {
      if (!dead[n]) continue;
      let c = b1[n];
      for (const op of chain.unary) c = UNARY[op](c);
      if (c !== 0) for (let j = 0; j < N2; j++) b2[j] += c * Wn[n * N2 + j];
    }
    init.set(chain.nextBias.name, freezeTensor({ dtype: 'float32', dims: [...t.dims], data: b2 }));
  }
  return { graph: { ...graph, initializers: init }, kept: keep.length };
}
