// Rewrites a decoder-with-past graph so its KV cache stays in place: each Concat(past, new) on the
// sequence axis that makes a present output becomes sparq's KvStore(cache, new, cache_position), which
// writes the new rows into a caller-held buffer [batch, heads, capacity, head_dim] (the past input,
// now bound to the whole buffer) and hands that buffer on to attention. The present outputs go: the
// cache never leaves native memory, and nothing copies the past per step.
//
// Attention then reads every row of the buffer; rows not yet written are masked by attention_mask.
// A causal mask built from shapes (GPT-2's bias[:, :, T-S:T, :T], transformers' past length = T - S)
// lets query i see rows up to capacity - S + i: the prompt goes at the end of the buffer and each
// decoded token at the next free row from the start, where a single query sees everything written.
// Row order doesn't matter to attention, only which rows are visible: positions enter through
// position_ids (absolute embeddings, or rotary ones applied to the keys before they are cached).
//
// Each attention over the cache, MatMul(Q, Transpose(K)) → Div/Mul by a constant → Where(cond, ·, fill)
// → Add(mask) → Softmax → MatMul(·, V) (the middle steps optional, as GPT-2's and transformers' eager
// code export them), becomes one sparq CacheAttention node (native/runtime/ops_attention.cpp): the
// keys are read in place, where the graph would transpose the whole cache every step.
import { SparqError } from '../errors.js';
import { type ConstTensor, type Graph, type Node, type ValueInfo, attrInt, attrInts, constFromNumbers, toNumbers } from '../graph/ir.js';
import type { CachePair } from './cache-names.js';

export const CACHE_POSITION = 'sparq.cache_position';

/** The graph with its cache concatenations turned into in-place stores (see above). */
export function rewriteKvCache(graph: Graph, pairs: readonly CachePair[]): Graph {
  const byPast = new Map(pairs.map((p) => [p.past, p]));
  const nodes: Node[] = [];
  const done = new Set<string>();
  for (const n of graph.nodes) {
    const pair = n.op === 'Concat' && n.domain === '' ? byPast.get(n.inputs[0]) : undefined;
    if (pair && n.inputs.length === 2 && n.outputs[0] === pair.present) {
      const axis = attrInt(n, 'axis', 0);
      if (axis !== 2 && axis !== -2) throw unsupported(`"${n.name}" concatenates "${pair.past}" on axis ${axis}, not the sequence axis 2`);
      nodes.push({ name: n.name, op: 'KvStore', domain: 'sparq', inputs: [pair.past, n.inputs[1], CACHE_POSITION], outputs: [pair.present], attrs: {} });
      done.add(pair.past);
      continue;
    }
    for (const name of n.inputs)
      if (byPast.has(name)) throw unsupported(`node "${n.name}" (${n.op}) reads the cache input "${name}" other than by concatenating the new rows`);
    nodes.push(n);
  }
  const missing = pairs.find((p) => !done.has(p.past));
  if (missing) throw unsupported(`no Concat(${missing.past}, new) produces "${missing.present}"`);
  const presents = new Set(pairs.map((p) => p.present));
  const position: ValueInfo = { name: CACHE_POSITION, dtype: 'int64', dims: [1] };
  const outputs = graph.outputs.filter((o) => !presents.has(o.name));
  const fused = fuseCacheAttention(nodes, graph, pairs, new Set(outputs.map((o) => o.name)));
  return { ...graph, nodes: fused, inputs: [...graph.inputs, position], outputs };
}

/**
 * Logits of the last position only: the product that makes output `logits` ([batch, sequence, vocab],
 * from [batch, sequence, d]) takes a Slice of its input's last row, so a prompt's step multiplies one
 * row by the head instead of every prompt position (generation reads the last one only). The output
 * becomes [batch, 1, vocab]; a decode step (sequence 1) is unchanged. The graph as it was when the
 * pattern is not there.
 */
export function lastPositionLogits(graph: Graph, logits: string): Graph {
  const out = graph.outputs.find((o) => o.name === logits);
  const at = graph.nodes.findIndex((n) => n.outputs[0] === logits);
  const head = graph.nodes[at];
  if (!out || out.dims?.length !== 3 || !head || !((head.op === 'Linear' && head.domain === 'sparq') || (head.op === 'MatMul' && head.domain === ''))) return graph;
  if (graph.nodes.some((n) => n !== head && n.inputs.includes(logits))) return graph;
  const taken = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys(), ...graph.nodes.flatMap((n) => [n.name, ...n.inputs, ...n.outputs])]);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const [starts, ends, axes, last] = [fresh('sparq.last_row.starts'), fresh('sparq.last_row.ends'), fresh('sparq.last_row.axes'), fresh(`${head.inputs[0]}_last_row`)];
  const initializers = new Map(graph.initializers);
  initializers.set(starts, constFromNumbers('int64', [1], [-1]));
  initializers.set(ends, constFromNumbers('int64', [1], [Number.MAX_SAFE_INTEGER]));
  initializers.set(axes, constFromNumbers('int64', [1], [-2]));
  const slice: Node = { name: fresh(`${head.name}_last_row`), op: 'Slice', domain: '', inputs: [head.inputs[0], starts, ends, axes], outputs: [last], attrs: {} };
  const nodes = [...graph.nodes.slice(0, at), slice, { ...head, inputs: [last, ...head.inputs.slice(1)] }, ...graph.nodes.slice(at + 1)];
  const outputs = graph.outputs.map((o) => (o === out ? { ...o, dims: [out.dims![0], 1, out.dims![2]] } : o));
  return { ...graph, nodes, initializers, outputs };
}

/** The graph's nodes with each attention over a key and a value cache fused (see above). */
function fuseCacheAttention(nodes: readonly Node[], graph: Graph, pairs: readonly CachePair[], outputs: ReadonlySet<string>): Node[] {
  const keys = new Set(pairs.filter((p) => p.kind === 'key').map((p) => p.present));
  const values = new Set(pairs.filter((p) => p.kind === 'value').map((p) => p.present));
  const constants = new Map<string, ConstTensor>(graph.initializers);
  const readers = new Map<string, Node[]>();
  for (const n of nodes) {
    if (n.op === 'Constant' && n.domain === '' && n.attrs.value?.type === 'tensor') constants.set(n.outputs[0], n.attrs.value.value);
    for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  }
  // The one node reading `value` when nothing else does (nor is it a graph output), of op `op`.
  const only = (value: string, op: string): Node | undefined => {
    const r = readers.get(value);
    return r && r.length === 1 && r[0].op === op && r[0].domain === '' && !outputs.has(value) ? r[0] : undefined;
  };
  const scalar = (name: string): number | undefined => {
    const t = constants.get(name);
    return t && t.data.length === 1 && (t.dtype === 'float32' || t.dtype === 'float64') ? toNumbers(t)[0] : undefined;
  };
  const removed = new Set<Node>();
  const replaced = new Map<Node, Node>();
  for (const n of nodes) {
    if (n.op !== 'Transpose' || n.domain !== '' || !keys.has(n.inputs[0])) continue;
    const perm = attrInts(n, 'perm');
    if (!perm || perm.join(',') !== '0,1,3,2') continue;
    const scores = only(n.outputs[0], 'MatMul');
    if (!scores || scores.inputs[1] !== n.outputs[0]) continue;
    const chain: Node[] = [n, scores];
    let at = scores.outputs[0];
    let scaleOp = 0;
    let scale = 1;
    let cond = '';
    let fill = 0;
    let mask = '';
    const next = (op: string) => only(at, op);
    const sc = next('Div') ?? next('Mul');
    if (sc && sc.inputs[0] === at && scalar(sc.inputs[1]) !== undefined) {
      scaleOp = sc.op === 'Mul' ? 1 : 2;
      scale = scalar(sc.inputs[1]) as number;
      chain.push(sc);
      at = sc.outputs[0];
    }
    const where = next('Where');
    if (where && where.inputs[1] === at && scalar(where.inputs[2]) !== undefined) {
      cond = where.inputs[0];
      fill = scalar(where.inputs[2]) as number;
      chain.push(where);
      at = where.outputs[0];
    }
    const add = next('Add');
    if (add && (add.inputs[0] === at || add.inputs[1] === at) && add.inputs[0] !== add.inputs[1]) {
      mask = add.inputs[0] === at ? add.inputs[1] : add.inputs[0];
      chain.push(add);
      at = add.outputs[0];
    }
    const softmax = next('Softmax');
    if (!softmax || ![-1, 3].includes(attrInt(softmax, 'axis', graph.opset >= 13 ? -1 : 1))) continue;
    chain.push(softmax);
    const mix = only(softmax.outputs[0], 'MatMul');
    if (!mix || mix.inputs[0] !== softmax.outputs[0] || !values.has(mix.inputs[1])) continue;
    for (const c of chain) removed.add(c);
    replaced.set(mix, {
      name: `${mix.name}_cache_attention`,
      op: 'CacheAttention',
      domain: 'sparq',
      inputs: [scores.inputs[0], n.inputs[0], mix.inputs[1], cond, mask],
      outputs: [mix.outputs[0]],
      attrs: { scaleOp: { type: 'int', value: scaleOp }, scale: { type: 'float', value: scale }, fill: { type: 'float', value: fill } },
    });
  }
  return nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
}

function unsupported(why: string): SparqError {
  return new SparqError('ERR_UNSUPPORTED_OP', `generate() keeps the KV cache in place, but ${why}`);
}
