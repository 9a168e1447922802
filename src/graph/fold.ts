// Constant folding and dead-node removal. Both return new graphs; the input graph is untouched.
import { type ConstTensor, type Graph, type Node, freeNames, freezeGraph } from './ir.js';
import { inferGraph } from './infer.js';

/** Default element cap for folding at model level (a Transpose of a 768x3072 weight fits). */
export const MODEL_FOLD_LIMIT = 1 << 24;

/** Replaces every node computable from constants by initializers holding its outputs. */
export function foldConstants(graph: Graph, limit = MODEL_FOLD_LIMIT): Graph {
  // Shape inference (the folding pass) only where some node reads nothing but constants: most loaded
  // models have none, and inference costs more than the rest of preparing a small graph.
  if (!hasConstantNode(graph)) return graph;
  const { metas, folded } = inferGraph(graph, { foldLimit: limit });
  if (folded.size === 0) return graph;
  const initializers = new Map(graph.initializers);
  const nodes: Node[] = [];
  graph.nodes.forEach((n, i) => {
    if (!folded.has(i)) return void nodes.push(n);
    for (const o of n.outputs) {
      const v = o ? metas.get(o)?.value : undefined;
      if (v) initializers.set(o, v);
    }
  });
  return removeDeadNodes({ ...graph, nodes, initializers });
}

/** Whether some node's inputs are all constants (initializers, or outputs of such nodes). */
function hasConstantNode(graph: Graph): boolean {
  for (const n of graph.nodes) if (n.inputs.every((i) => !i || graph.initializers.has(i))) return true;
  return false;
}

/** Drops nodes and initializers that no graph output depends on. */
export function removeDeadNodes(graph: Graph): Graph {
  const live = new Set(graph.outputs.map((o) => o.name));
  const keep: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!n.outputs.some((o) => o && live.has(o))) continue;
    keep.push(n);
    for (const input of n.inputs) if (input) live.add(input);
    // Values a branch or loop body reads from this scope.
    for (const a of Object.values(n.attrs)) if (a.type === 'graph') for (const f of freeNames(a.value)) live.add(f);
  }
  keep.reverse();
  const initializers = new Map<string, ConstTensor>();
  for (const [name, t] of graph.initializers) if (live.has(name)) initializers.set(name, t);
  return freezeGraph({ ...graph, nodes: keep, initializers });
}
