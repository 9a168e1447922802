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
import { SparqError } from '../errors.js';
import { type Graph, type Node, type ValueInfo, attrInt } from '../graph/ir.js';
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
  return { ...graph, nodes, inputs: [...graph.inputs, position], outputs: graph.outputs.filter((o) => !presents.has(o.name)) };
}

function unsupported(why: string): SparqError {
  return new SparqError('ERR_UNSUPPORTED_OP', `generate() keeps the KV cache in place, but ${why}`);
}
