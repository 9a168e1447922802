// Which graph inputs a plan must know the values of: those that feed a shape, an axis list or a count
// (Reshape's shape, Slice's starts, TopK's k, Range's bounds, an If's condition...). A session keys
// its compiled plans on those values as well as on the input dims, so that every shape in a plan is
// concrete and a run stays one native call; a new value compiles (and caches) another plan.
//
// Data-dependent output shapes (NonZero) are treated the same way: their input is a value input, so
// they fold at plan time when it is small enough to key on (at most MAX_VALUE_ELEMENTS elements); on
// larger runtime data they are refused with ERR_UNSUPPORTED_OP.
import type { Graph } from './ir.js';

/** Inputs larger than this are never keyed on (their values would make every plan one-off). */
export const MAX_VALUE_ELEMENTS = 64;

/** (op, input index) pairs whose values shape inference reads. */
const VALUE_POSITIONS: Record<string, readonly number[]> = {
  Reshape: [1], Expand: [1], Slice: [1, 2, 3, 4], Squeeze: [1], Unsqueeze: [1], ConstantOfShape: [0],
  Range: [0, 1, 2], Tile: [1], Pad: [1, 2, 3], TopK: [1], Resize: [1, 2, 3], Upsample: [1], Split: [1], OneHot: [1, 2],
  ReduceSum: [1], ReduceMean: [1], ReduceMax: [1], ReduceMin: [1], ReduceProd: [1], ReduceL1: [1], ReduceL2: [1],
  ReduceLogSum: [1], ReduceLogSumExp: [1], ReduceSumSquare: [1], Clip: [1, 2], CumSum: [1], Trilu: [1],
  NonZero: [0], If: [0], Loop: [0, 1], Dropout: [1, 2], CenterCropPad: [1], Compress: [1],
};

/** Nodes whose outputs depend only on their inputs' shapes, never their values. */
const SHAPE_ONLY = new Set(['Shape', 'Size']);

/** The graph inputs whose values some shape depends on, in graph-input order. */
export function valueInputs(graph: Graph): string[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const inputs = new Set(graph.inputs.map((v) => v.name));
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const n of graph.nodes) {
    if (n.domain !== '') continue;
    for (const i of VALUE_POSITIONS[n.op] ?? []) if (n.inputs[i]) stack.push(n.inputs[i]);
  }
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    if (inputs.has(name)) found.add(name);
    const p = producer.get(name);
    if (p === undefined) continue;
    const node = graph.nodes[p];
    if (SHAPE_ONLY.has(node.op)) continue;
    for (const i of node.inputs) if (i) stack.push(i);
  }
  return graph.inputs.filter((v) => found.has(v.name)).map((v) => v.name);
}
