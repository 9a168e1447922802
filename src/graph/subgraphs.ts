// If, Loop and Scan bodies while the graph that holds them is prepared. The planner inlines a body per
// input signature (control-flow.ts) and prepares the inlined graph then (runtime/plan.ts), when every
// shape is concrete: exporters branch on shapes and sample rates, so a body's shapes, even its ranks,
// are often unknown before. Until then, each control-flow node lists the values its bodies read from
// the enclosing graph as extra inputs while that graph's passes run, so that the passes see those
// readers: no fusion swallows such a value, the channels-last pass hands it back in NCHW, dead-node
// removal keeps it, and a pass that renames a value renames it in the bodies.
import { type Attribute, type Graph, type Node, freeNames, freezeGraph } from './ir.js';
import { renameGraph } from './control-flow.js';

/** Attribute (on a control-flow node while the top graph's passes run) naming the values its bodies read. */
const IMPLICIT = '__sparq_implicit_inputs';

function hasGraphAttr(n: Node): boolean {
  return Object.values(n.attrs).some((a) => a.type === 'graph');
}

function bodiesFreeNames(n: Node): string[] {
  const free = new Set<string>();
  for (const a of Object.values(n.attrs)) if (a.type === 'graph') for (const f of freeNames(a.value)) free.add(f);
  return [...free];
}

/** Each node with subgraphs lists the values its bodies read as extra inputs (see above). */
export function exposeImplicitInputs(graph: Graph): Graph {
  if (!graph.nodes.some(hasGraphAttr)) return graph;
  const nodes = graph.nodes.map((n): Node => {
    if (!hasGraphAttr(n)) return n;
    const free = bodiesFreeNames(n);
    return { ...n, inputs: [...n.inputs, ...free], attrs: { ...n.attrs, [IMPLICIT]: { type: 'strings', value: free } } };
  });
  return freezeGraph({ ...graph, nodes });
}

/** Undoes exposeImplicitInputs, renaming in the bodies the values a pass renamed. */
export function hideImplicitInputs(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.attrs[IMPLICIT])) return graph;
  const nodes = graph.nodes.map((n): Node => {
    const a = n.attrs[IMPLICIT];
    if (!a || a.type !== 'strings') return n;
    const free = a.value;
    const now = n.inputs.slice(n.inputs.length - free.length);
    const renames = new Map<string, string>();
    free.forEach((f, i) => now[i] !== f && renames.set(f, now[i]));
    const attrs: Record<string, Attribute> = {};
    for (const [k, v] of Object.entries(n.attrs)) {
      if (k === IMPLICIT) continue;
      attrs[k] = v.type === 'graph' && renames.size ? { type: 'graph', value: renameGraph(v.value, renames) } : v;
    }
    return { ...n, inputs: n.inputs.slice(0, n.inputs.length - free.length), attrs };
  });
  return freezeGraph({ ...graph, nodes });
}

/** The nodes of a graph and of its subgraphs, depth first. */
export function* allNodes(graph: Graph): Generator<Node> {
  for (const n of graph.nodes) {
    yield n;
    for (const a of Object.values(n.attrs)) if (a.type === 'graph') yield* allNodes(a.value);
  }
}
