// Normalises the older opset forms of ops whose attributes became inputs (onnxruntime's range is
// opsets 7 to 21) into the newest form, in one pass, so that shape inference, folding and lowering
// read one form: Split's `split`, Squeeze/Unsqueeze's and the Reduce* ops' `axes`, Slice's
// `starts`/`ends`/`axes` (opset < 10), Pad's `pads` (< 11) and TopK's `k` (< 10) become int64
// initializers fed as inputs. Clip's and Pad's scalar bounds stay attributes: their dtype is the
// data's, which this pass does not infer; lowering reads either form.
import { SparqError } from '../errors.js';
import { type Attribute, type ConstTensor, type Graph, type Node, attrInt, constFromNumbers, freezeGraph } from './ir.js';

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
    case 'Reshape': return opset < 5 ? { attrs: ['shape'], at: 1 } : undefined;
    default:
      if (REDUCE_OPS.has(node.op) && opset < (node.op === 'ReduceSum' ? 13 : 18)) return { attrs: ['axes'], at: 1 };
      return undefined;
  }
}

/** Binary ops whose opset < 7 forms broadcast along an `axis` attribute (not numpy's rules). */
const LEGACY_BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less', 'PRelu']);

export function normalizeOpsets(graph: Graph): Graph {
  if (graph.opset < 7)
    for (const n of graph.nodes)
      if (n.domain === '' && LEGACY_BROADCAST.has(n.op) && n.attrs.axis)
        throw new SparqError('ERR_UNSUPPORTED_OP', `${n.op} node "${n.name}" broadcasts along an axis (opset ${graph.opset} legacy broadcasting), which sparq does not support`);
  if (!graph.nodes.some((n) => movedAttributes(n, graph.opset) || (n.op === 'Pad' && n.attrs.paddings) || (n.op === 'Concat' && !n.attrs.axis && graph.opset < 4))) return graph;
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
    const moved = movedAttributes(node, graph.opset) ?? { attrs: [], at: 1 };
    const inputs = [...node.inputs];
    const attrs: Record<string, Attribute> = { ...node.attrs };
    let changed = false;
    // Opset 1 spellings: Pad's `paddings`, Concat's default axis 1.
    if (node.domain === '' && node.op === 'Pad' && attrs.paddings) {
      attrs.pads = attrs.paddings;
      delete attrs.paddings;
      changed = true;
      if (graph.opset < 11) moved.attrs = ['pads'];
    }
    if (node.domain === '' && node.op === 'Concat' && !attrs.axis && graph.opset < 4) {
      attrs.axis = { type: 'int', value: 1 };
      changed = true;
    }
    moved.attrs.forEach((name, k) => {
      const a = attrs[name];
      if (!a) return;
      const values = a.type === 'ints' ? [...a.value] : [attrInt(node, name, 0)];
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
