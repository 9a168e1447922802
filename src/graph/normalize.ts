// Normalises the older opset forms of ops whose attributes became inputs (onnxruntime's range is
// opsets 7 to 21) into the newest form, in one pass, so that shape inference, folding and lowering
// read one form: Split's `split`, Squeeze/Unsqueeze's and the Reduce* ops' `axes`, Slice's
// `starts`/`ends`/`axes` (opset < 10), Pad's `pads` (< 11) and TopK's `k` (< 10) become int64
// initializers fed as inputs. Clip's and Pad's scalar bounds stay attributes: their dtype is the
// data's, which this pass does not infer; lowering reads either form.
import { type ConstTensor, type Graph, type Node, attrInt, attrInts, constFromNumbers, freezeGraph } from './ir.js';

const REDUCE_OPS = new Set(['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

/** [attribute names in input order, first input index, opset the inputs arrived in] per op. */
function movedAttributes(node: Node, opset: number): { attrs: string[]; at: number } | undefined {
  if (node.domain !== '') return undefined;
  switch (node.op) {
    case 'Split': return opset < 13 ? { attrs: ['split'], at: 1 } : undefined;
    case 'Squeeze': case 'Unsqueeze': return opset < 13 ? { attrs: ['axes'], at: 1 } : undefined;
    case 'Slice': return opset < 10 ? { attrs: ['starts', 'ends', 'axes'], at: 1 } : undefined;
    case 'Pad': return opset < 11 ? { attrs: ['pads'], at: 1 } : undefined;
    case 'TopK': return opset < 10 ? { attrs: ['k'], at: 1 } : undefined;
    default:
      if (REDUCE_OPS.has(node.op) && opset < (node.op === 'ReduceSum' ? 13 : 18)) return { attrs: ['axes'], at: 1 };
      return undefined;
  }
}

export function normalizeOpsets(graph: Graph): Graph {
  if (!graph.nodes.some((n) => movedAttributes(n, graph.opset))) return graph;
  const initializers = new Map<string, ConstTensor>(graph.initializers);
  const taken = new Set<string>([...graph.initializers.keys(), ...graph.inputs.map((v) => v.name)]);
  for (const n of graph.nodes) for (const o of n.outputs) taken.add(o);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const nodes = graph.nodes.map((node) => {
    const moved = movedAttributes(node, graph.opset);
    if (!moved) return node;
    const inputs = [...node.inputs];
    const attrs = { ...node.attrs };
    let changed = false;
    moved.attrs.forEach((name, k) => {
      const a = node.attrs[name];
      if (!a) return;
      const values = a.type === 'ints' ? [...(attrInts(node, name) as number[])] : [attrInt(node, name, 0)];
      const dims = a.type === 'ints' ? [values.length] : [1];
      const input = fresh(`${node.name}__${name}`);
      initializers.set(input, constFromNumbers('int64', dims, values));
      while (inputs.length < moved.at + k) inputs.push('');
      inputs[moved.at + k] = input;
      delete attrs[name];
      changed = true;
    });
    return changed ? { ...node, inputs, attrs } : node;
  });
  return freezeGraph({ ...graph, nodes, initializers });
}
