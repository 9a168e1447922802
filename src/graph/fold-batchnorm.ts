// BatchNormalization at inference is a per-channel affine map, y = s·x + t with s = scale/√(var+ε) and
// t = B − mean·s. After a Conv whose output feeds nothing else it folds into the conv's weights
// (W[o] ·= s[o]) and bias (b·s + t): no op left at run time. Elsewhere it becomes Mul and Add by
// per-channel constants (which the layout pass keeps channels-last after a conv).
import { inferGraph } from './infer.js';
import { type ConstTensor, type Graph, type Node, attrFloat, attrInt, freezeGraph, freezeTensor } from './ir.js';
import type { ValueMeta } from './shapes.js';

/** The attribute a folded Conv keeps its model weight's name in (what Model.weightFormats is keyed by). */
export const WEIGHT_NAME_ATTR = 'sparq_weight_name';

function floats(graph: Graph, name: string | undefined, length: number): Float32Array | undefined {
  const t = name ? graph.initializers.get(name) : undefined;
  return t && t.dtype === 'float32' && t.data.length === length ? (t.data as Float32Array) : undefined;
}

function tensor(dims: number[], data: Float32Array): ConstTensor {
  return freezeTensor({ dtype: 'float32', dims, data });
}

/** Returns a new graph with every inference-mode BatchNormalization folded or turned into Mul + Add. */
export function foldBatchNorm(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.op === 'BatchNormalization' && n.domain === '')) return graph;
  const producer = new Map<string, number>();
  const uses = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    n.outputs.forEach((o) => o && producer.set(o, i));
    n.inputs.forEach((x) => x && uses.set(x, (uses.get(x) ?? 0) + 1));
  });
  for (const o of graph.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const init = new Map(graph.initializers);
  const replaced = new Map<number, Node[]>();
  let taken = 0;
  let metas: Map<string, ValueMeta> | undefined;
  const rankOf = (value: string): number => {
    metas ??= inferGraph(graph).metas;
    return metas.get(value)?.dims.length ?? 4;
  };
  graph.nodes.forEach((bn, i) => {
    if (bn.op !== 'BatchNormalization' || bn.domain !== '' || attrInt(bn, 'training_mode', 0) !== 0) return;
    if (bn.outputs.slice(1).some((o) => o)) return;
    const scaleT = graph.initializers.get(bn.inputs[1]);
    if (!scaleT || scaleT.dims.length !== 1) return;
    const C = scaleT.dims[0];
    const scale = floats(graph, bn.inputs[1], C), B = floats(graph, bn.inputs[2], C);
    const mean = floats(graph, bn.inputs[3], C), variance = floats(graph, bn.inputs[4], C);
    if (!scale || !B || !mean || !variance) return;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const s = new Float32Array(C), t = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      s[c] = scale[c] / Math.sqrt(variance[c] + eps);
      t[c] = B[c] - mean[c] * s[c];
    }
    const x = bn.inputs[0];
    const p = producer.get(x);
    const conv = p !== undefined && !replaced.has(p) ? graph.nodes[p] : undefined;
    const w = conv && conv.op === 'Conv' && conv.domain === '' ? graph.initializers.get(conv.inputs[1]) : undefined;
    const bias = conv?.inputs[2] ? floats(graph, conv.inputs[2], C) : new Float32Array(C);
    if (conv && w && w.dtype === 'float32' && w.dims[0] === C && bias && uses.get(x) === 1) {
      const per = w.data.length / C;
      const W = new Float32Array(w.data as Float32Array);
      for (let o = 0; o < C; o++) for (let j = 0; j < per; j++) W[o * per + j] *= s[o];
      const b = new Float32Array(C);
      for (let o = 0; o < C; o++) b[o] = bias[o] * s[o] + t[o];
      const wName = `${conv.inputs[1]}__bn${taken}`, bName = `${conv.inputs[1]}__bnbias${taken++}`;
      init.set(wName, tensor([...w.dims], W));
      init.set(bName, tensor([C], b));
      const original = conv.attrs[WEIGHT_NAME_ATTR] ?? { type: 'string' as const, value: conv.inputs[1] };
      replaced.set(p as number, []);
      replaced.set(i, [{ ...conv, inputs: [conv.inputs[0], wName, bName], outputs: [bn.outputs[0]], attrs: { ...conv.attrs, [WEIGHT_NAME_ATTR]: original } }]);
      return;
    }
    // Not after a foldable Conv: Mul and Add by [C, 1, ...] constants (broadcast over N and the spatial dims).
    const rank = rankOf(x);
    const dims = [C, ...Array.from({ length: Math.max(0, rank - 2) }, () => 1)];
    const sName = `${bn.name}__scale${taken}`, tName = `${bn.name}__shift${taken++}`;
    init.set(sName, tensor(dims, s));
    init.set(tName, tensor(dims, t));
    const mid = `${bn.outputs[0]}__scaled`;
    replaced.set(i, [
      { name: `${bn.name}_mul`, op: 'Mul', domain: '', inputs: [x, sName], outputs: [mid], attrs: {} },
      { name: `${bn.name}_add`, op: 'Add', domain: '', inputs: [mid, tName], outputs: [bn.outputs[0]], attrs: {} },
    ]);
  });
  if (replaced.size === 0) return graph;
  const nodes: Node[] = [];
  graph.nodes.forEach((n, i) => nodes.push(...(replaced.get(i) ?? [n])));
  return freezeGraph({ ...graph, nodes, initializers: init });
}
