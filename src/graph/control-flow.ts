// Control flow (If, Loop, Scan) as the planner runs it: inlined into the plan's graph for one input
// signature. A plan is compiled per input shapes and per the values of the small inputs shapes and
// conditions depend on (value-inputs.ts), so an If's condition is known when planning whenever it
// derives from constants or such inputs (a VAD model branching on its sample-rate input): the taken
// branch is spliced in, reading the outer values it names; the other branch is compiled by the plan
// made for the other value. A Loop is unrolled while its trip count and condition are known (at most
// MAX_UNROLL iterations), a Scan over its sequence length. Each run is still one native call. A
// condition or trip count computed from run-time data is refused with ERR_UNSUPPORTED_OP.
import { SparqError } from '../errors.js';
import { type ConstTensor, type Graph, type Node, attrInt, attrInts, constFromNumbers, elementAt, freeNames, freezeGraph } from './ir.js';
import { type InferOptions, inferGraph, inferNodes } from './infer.js';
import type { ValueMeta } from './shapes.js';

export const CONTROL_FLOW: ReadonlySet<string> = new Set(['If', 'Loop', 'Scan']);
/** Unrolled iterations at most per Loop or Scan. */
export const MAX_UNROLL = 4096;

function refuse(node: Node, why: string): SparqError {
  return new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" ${why}`);
}

export function hasControlFlow(graph: Graph): boolean {
  return graph.nodes.some((n) => n.domain === '' && CONTROL_FLOW.has(n.op));
}

function subgraph(node: Node, name: string): Graph {
  const a = node.attrs[name];
  if (!a || a.type !== 'graph') throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: ${node.op} node "${node.name}" has no ${name} graph`);
  return a.value;
}

/** Splices body copies into a graph: fresh names per copy, outer names kept. */
class Splicer {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, ConstTensor>();
  readonly #constants = new Map<ConstTensor, string>();
  #count = 0;
  constructor(
    readonly owner: Node,
    readonly taken: Set<string>,
  ) {}

  fresh(base: string): string {
    let name = `${this.owner.name}/${base}`;
    for (let i = 1; this.taken.has(name); i++) name = `${this.owner.name}/${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  constant(t: ConstTensor, base: string): string {
    const name = this.fresh(base);
    this.initializers.set(name, t);
    return name;
  }

  node(op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): void {
    this.nodes.push({ name: this.fresh(op), op, domain: '', inputs, outputs, attrs });
  }

  /**
   * Copies `body` (the node's attribute `tag`) with its inputs bound to `bound`; returns the names of
   * its outputs in this scope. The body's constants are named once per body, whatever the copy, and
   * apart per branch: the plan prepares them (a conv's weight relaid out, packed by the session under
   * that name for every plan), so one name must mean one constant in every plan made from the graph.
   */
  inline(body: Graph, bound: readonly string[], tag: string): string[] {
    const copy = this.#count++;
    const map = new Map<string, string>();
    body.inputs.forEach((v, i) => map.set(v.name, bound[i]));
    for (const [name, t] of body.initializers) {
      let n = this.#constants.get(t);
      if (n === undefined) {
        n = this.fresh(`${tag}/${name}`);
        this.#constants.set(t, n);
        this.initializers.set(n, t);
      }
      map.set(name, n);
    }
    for (const n of body.nodes) for (const o of n.outputs) if (o) map.set(o, this.fresh(`${copy}/${o}`));
    const rename = (s: string) => (s ? (map.get(s) ?? s) : s);
    for (const n of body.nodes) {
      this.nodes.push({ ...n, name: this.fresh(`${copy}/${n.name}`), inputs: n.inputs.map(rename), outputs: n.outputs.map(rename), attrs: renameAttrs(n.attrs, map) });
    }
    return body.outputs.map((o) => rename(o.name));
  }
}

/** Subgraph attributes with their reads of renamed outer names renamed (names they define shadow). */
function renameAttrs(attrs: Node['attrs'], map: ReadonlyMap<string, string>): Node['attrs'] {
  if (!Object.values(attrs).some((a) => a.type === 'graph')) return attrs;
  const out: Record<string, Node['attrs'][string]> = {};
  for (const [k, a] of Object.entries(attrs)) out[k] = a.type === 'graph' ? { type: 'graph', value: renameGraph(a.value, map) } : a;
  return out;
}

/** `g` with its reads of the enclosing scopes' values renamed by `map` (names `g` defines shadow them). */
export function renameGraph(g: Graph, map: ReadonlyMap<string, string>): Graph {
  const free = freeNames(g);
  const inner = new Map([...map].filter(([k]) => free.has(k)));
  if (inner.size === 0) return g;
  const rename = (s: string) => (s && inner.has(s) ? (inner.get(s) as string) : s);
  return freezeGraph({ ...g, nodes: g.nodes.map((n) => ({ ...n, inputs: n.inputs.map(rename), attrs: renameAttrs(n.attrs, inner) })) });
}

/** The value a condition or count must have when planning. */
function known(node: Node, metas: Map<string, ValueMeta>, name: string, what: string): number {
  const v = metas.get(name)?.value;
  if (!v) throw refuse(node, `has a ${what} computed from run-time data; sparq needs it known when planning (a constant or a small graph input)`);
  return elementAt(v, 0);
}

function inlineIf(node: Node, metas: Map<string, ValueMeta>, s: Splicer): void {
  const cond = known(node, metas, node.inputs[0], 'condition');
  const tag = cond ? 'then_branch' : 'else_branch';
  const branch = subgraph(node, tag);
  const outs = s.inline(branch, [], tag);
  if (outs.length !== node.outputs.length) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: If node "${node.name}" has ${node.outputs.length} outputs but its branch ${outs.length}`);
  node.outputs.forEach((o, i) => o && s.node('Identity', [outs[i]], [o]));
}

/** Stacks per-iteration values along a new axis (Unsqueeze + Concat). */
function stack(node: Node, s: Splicer, parts: string[], axis: number, out: string): void {
  if (parts.length === 0) throw refuse(node, 'runs no iteration, so its scan output has no known shape');
  const axes = s.constant(constFromNumbers('int64', [1], [axis]), 'axes');
  const items = parts.map((p) => {
    const u = s.fresh('unsqueezed');
    s.node('Unsqueeze', [p, axes], [u]);
    return u;
  });
  s.node('Concat', items, [out], { axis: { type: 'int', value: axis } });
}

function inlineLoop(node: Node, metas: Map<string, ValueMeta>, s: Splicer, opset: number, limit: number): void {
  const body = subgraph(node, 'body');
  const nCarried = node.inputs.length - 2;
  if (nCarried < 0 || body.inputs.length !== nCarried + 2 || body.outputs.length < nCarried + 1)
    throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: Loop node "${node.name}" and its body disagree on the loop-carried values`);
  const trips = node.inputs[0] ? known(node, metas, node.inputs[0], 'trip count') : Infinity;
  let cond = node.inputs[1] || s.constant(constFromNumbers('bool', [], [1]), 'cond');
  let carried = node.inputs.slice(2);
  const scans: string[][] = body.outputs.slice(nCarried + 1).map(() => []);
  const local = new Map(metas);
  for (const [k, t] of s.initializers) local.set(k, { dtype: t.dtype, dims: [...t.dims], value: t });
  for (let i = 0; ; i++) {
    if (i >= trips || !known(node, local, cond, 'condition')) break;
    if (i >= MAX_UNROLL) throw refuse(node, `runs more than ${MAX_UNROLL} iterations`);
    const iter = s.constant(constFromNumbers('int64', [], [i]), `iter${i}`);
    local.set(iter, { dtype: 'int64', dims: [], value: s.initializers.get(iter) as ConstTensor });
    const start = s.nodes.length;
    const outs = s.inline(body, [iter, cond, ...carried], 'body');
    for (const [k, t] of s.initializers) if (!local.has(k)) local.set(k, { dtype: t.dtype, dims: [...t.dims], value: t });
    inferNodes(s.nodes.slice(start), local, opset, limit);
    cond = outs[0];
    carried = outs.slice(1, nCarried + 1);
    outs.slice(nCarried + 1).forEach((o, k) => scans[k].push(o));
  }
  node.outputs.forEach((o, j) => {
    if (!o) return;
    if (j < nCarried) s.node('Identity', [carried[j]], [o]);
    else stack(node, s, scans[j - nCarried], 0, o);
  });
}

function inlineScan(node: Node, metas: Map<string, ValueMeta>, s: Splicer, opset: number): void {
  if (opset < 9) throw refuse(node, 'is the opset 8 form (batched, with sequence lengths), which sparq does not support');
  const body = subgraph(node, 'body');
  const m = attrInt(node, 'num_scan_inputs', 0);
  const n = node.inputs.length - m;
  if (m < 1 || n < 0 || body.inputs.length !== n + m) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: Scan node "${node.name}" and its body disagree on inputs`);
  const k = body.outputs.length - n;
  const inAxes = attrInts(node, 'scan_input_axes') ?? new Array<number>(m).fill(0);
  const inDirs = attrInts(node, 'scan_input_directions') ?? new Array<number>(m).fill(0);
  const outAxes = attrInts(node, 'scan_output_axes') ?? new Array<number>(k).fill(0);
  const outDirs = attrInts(node, 'scan_output_directions') ?? new Array<number>(k).fill(0);
  const scanned = node.inputs.slice(n);
  const axes = scanned.map((name, j) => {
    const dims = metas.get(name)?.dims ?? [];
    return inAxes[j] < 0 ? inAxes[j] + dims.length : inAxes[j];
  });
  const lengths = scanned.map((name, j) => metas.get(name)?.dims[axes[j]]);
  const len = lengths[0];
  if (typeof len !== 'number' || lengths.some((l) => l !== len)) throw refuse(node, 'has scan inputs of unknown or unequal lengths');
  if (len > MAX_UNROLL) throw refuse(node, `runs more than ${MAX_UNROLL} iterations`);
  let state = node.inputs.slice(0, n);
  const parts: string[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < len; t++) {
    const slices = scanned.map((name, j) => {
      const at = s.constant(constFromNumbers('int64', [], [inDirs[j] ? len - 1 - t : t]), `t${t}`);
      const out = s.fresh('slice');
      s.node('Gather', [name, at], [out], { axis: { type: 'int', value: axes[j] } });
      return out;
    });
    const outs = s.inline(body, [...state, ...slices], 'body');
    state = outs.slice(0, n);
    outs.slice(n).forEach((o, j) => parts[j].push(o));
  }
  node.outputs.forEach((o, j) => {
    if (!o) return;
    if (j < n) return s.node('Identity', [state[j]], [o]);
    const list = outDirs[j - n] ? [...parts[j - n]].reverse() : parts[j - n];
    if (outAxes[j - n] < 0) throw refuse(node, 'stacks a scan output along a negative axis, which sparq does not support');
    stack(node, s, list, outAxes[j - n], o);
  });
}

/** The graph with every If, Loop and Scan inlined for the given input dims and values. */
export function inlineControlFlow(graph: Graph, options: InferOptions): Graph {
  let g = graph;
  const taken = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name)]);
  for (const n of g.nodes) for (const o of n.outputs) taken.add(o);
  for (;;) {
    const idx = g.nodes.findIndex((n) => n.domain === '' && CONTROL_FLOW.has(n.op));
    if (idx < 0) return g;
    const node = g.nodes[idx];
    const { metas } = inferGraph({ ...g, nodes: g.nodes.slice(0, idx) }, options);
    const s = new Splicer(node, taken);
    if (node.op === 'If') inlineIf(node, metas, s);
    else if (node.op === 'Loop') inlineLoop(node, metas, s, g.opset, options.foldLimit ?? 0);
    else inlineScan(node, metas, s, g.opset);
    const initializers = new Map(g.initializers);
    for (const [k, t] of s.initializers) initializers.set(k, t);
    g = freezeGraph({ ...g, nodes: [...g.nodes.slice(0, idx), ...s.nodes, ...g.nodes.slice(idx + 1)], initializers });
  }
}
