// Runs shape inference over a whole graph, evaluating constant subgraphs as it goes. Used by the
// model (symbolic dims), by constant folding, and by the planner (concrete dims per input signature).
import { SparqError } from '../errors.js';
import type { ConstTensor, Dim, Graph, Node } from './ir.js';
import { evaluateNode } from './evaluate.js';
import { type ValueMeta, inferNode } from './shapes.js';

export interface InferOptions {
  /** Concrete (or renamed) dims per graph input; defaults to the declared dims. */
  inputDims?: ReadonlyMap<string, readonly Dim[]>;
  /** Values of graph inputs known when planning (the inputs shapes depend on: value-inputs.ts). */
  inputValues?: ReadonlyMap<string, ConstTensor>;
  /** Fold nodes whose inputs are all known constants, up to this many output elements. 0: no folding. */
  foldLimit?: number;
}

export interface InferResult {
  metas: Map<string, ValueMeta>;
  /** Nodes (by index) whose outputs were all computed as constants. */
  folded: Set<number>;
}

export function inferGraph(graph: Graph, options: InferOptions = {}): InferResult {
  const metas = new Map<string, ValueMeta>();
  for (const [name, t] of graph.initializers) metas.set(name, { dtype: t.dtype, dims: [...t.dims], value: t });
  for (const input of graph.inputs) {
    const dims = options.inputDims?.get(input.name) ?? input.dims;
    if (!dims) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: graph input "${input.name}" has no shape`);
    const value = options.inputValues?.get(input.name);
    metas.set(input.name, value ? { dtype: input.dtype, dims: [...value.dims], value } : { dtype: input.dtype, dims: [...dims] });
  }
  const folded = inferNodes(graph.nodes, metas, graph.opset, options.foldLimit ?? 0);
  return { metas, folded };
}

/**
 * Infers (and folds, up to `limit` elements) `nodes` in order, adding their outputs to `metas`;
 * returns the indices of the nodes whose outputs were all computed as constants.
 */
export function inferNodes(nodes: readonly Node[], metas: Map<string, ValueMeta>, opset: number, limit: number): Set<number> {
  const folded = new Set<number>();
  nodes.forEach((node, index) => {
    const ins = node.inputs.map((name) => (name ? metas.get(name) : undefined));
    let outs: ValueMeta[];
    let values: ConstTensor[] | undefined;
    try {
      outs = inferNode(node, ins, opset);
      values = limit > 0 ? evaluateNode(node, ins, outs, opset, limit) : undefined;
    } catch (e) {
      // A rule that trips over a malformed node is still a malformed model, with a code.
      if (e instanceof SparqError) throw e;
      throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${node.name}" (${node.op}) cannot be inferred: ${(e as Error).message}`, { cause: e });
    }
    if (values) {
      values.forEach((v: ConstTensor, i) => (outs[i] = { dtype: v.dtype, dims: [...v.dims], value: v }));
      folded.add(index);
    }
    node.outputs.forEach((name, i) => {
      if (name && outs[i]) metas.set(name, outs[i]);
    });
  });
  return folded;
}
