// Structured (channel) pruning of convs made real: output channels a mask removed are cut out of the
// conv's weight and bias, out of the BatchNormalization after it, out of a depthwise conv (and its
// BatchNorm) on the way, and as input channels out of the next conv's weight, so every runtime does
// less work. A removed channel still carried a constant (its bias through BatchNorm, activation and
// the depthwise conv): its contribution is folded into the next conv's bias. That is exact when the next
// conv is 1x1 without padding (MobileNet's project convs); for a padded kxk next conv it is exact away
// from the borders, where the padding's zeros stood in for part of the constant.
import { type ConstTensor, type Graph, type Node, attrFloat, attrInt, freezeTensor } from '../graph/ir.js';
import type { LinearLayer } from './layers.js';

/** Channel-wise ops a removed channel's constant passes through unchanged in kind. */
const CHANNELWISE: Record<string, ((x: number, n: Node, g: Graph) => number) | undefined> = {
  Relu: (x) => (x > 0 ? x : 0),
  Clip: (x, n, g) => {
    const bound = (i: number, attr: string, fallback: number) => {
      if (n.inputs.length > i && n.inputs[i]) {
        const t = g.initializers.get(n.inputs[i]);
        return t ? Number(t.data[0]) : NaN;
      }
      return attrFloat(n, attr, fallback);
    };
    return Math.min(Math.max(x, bound(1, 'min', -Infinity)), bound(2, 'max', Infinity));
  },
  Identity: (x) => x,
};

interface Stage {
  /** A BatchNormalization with constant parameters (cut per channel), a channel-wise op, or a depthwise Conv. */
  node: Node;
  kind: 'bn' | 'unary' | 'depthwise';
}

export interface ConvChain {
  layer: LinearLayer;
  stages: Stage[];
  next: Node;
}

function consumers(graph: Graph, value: string): Node[] {
  return graph.nodes.filter((n) => n.inputs.includes(value));
}

function perChannel(graph: Graph, name: string | undefined, C: number): boolean {
  const t = name ? graph.initializers.get(name) : undefined;
  return !!t && t.dtype === 'float32' && t.data.length === C && consumers(graph, name as string).length === 1;
}

/** The path from a conv to the next conv that reads its channels, or why there is none. */
export function convChain(graph: Graph, layer: LinearLayer): ConvChain | string {
  if (!layer.conv || attrInt(layer.node, 'group', 1) !== 1) return 'not a dense conv';
  const C = layer.N;
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const stages: Stage[] = [];
  let value = layer.node.outputs[0];
  for (let steps = 0; steps < 8; steps++) {
    if (outputs.has(value)) return 'its outputs are model outputs';
    const cs = consumers(graph, value);
    if (cs.length !== 1) return `its outputs feed ${cs.length} nodes`;
    const n = cs[0];
    if (n.domain !== '' || n.inputs[0] !== value) return `its outputs pass through ${n.op} ("${n.name}")`;
    if (n.op === 'Conv') {
      const w = graph.initializers.get(n.inputs[1]);
      if (!w || w.dtype !== 'float32' || consumers(graph, n.inputs[1]).length !== 1) return 'the next conv has no constant weight of its own';
      if (n.inputs[2] && !perChannel(graph, n.inputs[2], w.dims[0])) return 'the next conv has a shared or non-constant bias';
      const group = attrInt(n, 'group', 1);
      if (group === C && w.dims[0] === C && w.dims[1] === 1 && !stages.some((s) => s.kind === 'depthwise')) {
        stages.push({ node: n, kind: 'depthwise' });
        value = n.outputs[0];
        continue;
      }
      if (group !== 1 || w.dims[1] !== C) return 'the next conv does not read these channels as its input';
      return { layer, stages, next: n };
    }
    if (n.op === 'BatchNormalization' && n.outputs.filter((o) => o).length === 1 && n.inputs.slice(1, 5).every((p) => perChannel(graph, p, C))) {
      stages.push({ node: n, kind: 'bn' });
    } else if (CHANNELWISE[n.op] && n.outputs.length === 1 && n.inputs.slice(1).every((i) => !i || graph.initializers.has(i))) {
      stages.push({ node: n, kind: 'unary' });
    } else {
      return `its outputs pass through ${n.op} ("${n.name}")`;
    }
    value = n.outputs[0];
  }
  return 'the path to the next conv is too long';
}

const data = (graph: Graph, name: string) => (graph.initializers.get(name) as ConstTensor).data as Float32Array;

/** Keeps `keep` of the leading dim (rows of `per` values) of an initializer. */
function keepRows(graph: Graph, init: Map<string, ConstTensor>, name: string, keep: number[]): void {
  const t = graph.initializers.get(name) as ConstTensor;
  const per = t.data.length / t.dims[0];
  const src = t.data as Float32Array;
  const out = new Float32Array(keep.length * per);
  keep.forEach((c, j) => out.set(src.subarray(c * per, (c + 1) * per), j * per));
  init.set(name, freezeTensor({ dtype: 'float32', dims: [keep.length, ...t.dims.slice(1)], data: out }));
}

/**
 * Removes the output channels `dead` (1 = removed) of chain.layer, whose [K, N] weight view is `W`
 * (masked); returns the new graph and how many channels remain.
 */
export function shrinkConv(graph: Graph, chain: ConvChain, W: Float32Array, dead: Uint8Array): { graph: Graph; kept: number } {
  const { layer, stages, next } = chain;
  const C = layer.N;
  const keep: number[] = [];
  for (let c = 0; c < C; c++) if (!dead[c]) keep.push(c);
  const init = new Map<string, ConstTensor>(graph.initializers);
  const nodes = [...graph.nodes];
  // What each channel carries when its weights are all zero: bias, then every stage, per channel.
  const constant = Float32Array.from({ length: C }, (_, c) => (layer.node.inputs[2] ? data(graph, layer.node.inputs[2])[c] : 0));
  const taps = layer.conv!.slice(2).reduce((a, b) => a * b, 1);
  const K = layer.K;
  // The layer's weight: the view's kept columns, back in [OC, C, kh, kw].
  const cin = K / taps;
  const Wl = new Float32Array(keep.length * K);
  keep.forEach((o, j) => {
    for (let c = 0; c < cin; c++) for (let t = 0; t < taps; t++) Wl[(j * cin + c) * taps + t] = W[(t * cin + c) * C + o];
  });
  init.set(layer.weight, freezeTensor({ dtype: 'float32', dims: [keep.length, ...layer.conv!.slice(1)], data: Wl }));
  if (layer.node.inputs[2]) keepRows(graph, init, layer.node.inputs[2], keep);
  for (const s of stages) {
    const n = s.node;
    if (s.kind === 'bn') {
      const [scale, bias, mean, variance] = n.inputs.slice(1, 5).map((p) => data(graph, p));
      const eps = attrFloat(n, 'epsilon', 1e-5);
      for (let c = 0; c < C; c++) constant[c] = ((constant[c] - mean[c]) / Math.sqrt(variance[c] + eps)) * scale[c] + bias[c];
      for (const p of n.inputs.slice(1, 5)) keepRows(graph, init, p, keep);
    } else if (s.kind === 'unary') {
      for (let c = 0; c < C; c++) constant[c] = (CHANNELWISE[n.op] as (x: number, n: Node, g: Graph) => number)(constant[c], n, graph);
    } else {
      const dw = data(graph, n.inputs[1]);
      const per = dw.length / C;
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let t = 0; t < per; t++) sum += dw[c * per + t];
        constant[c] = constant[c] * sum + (n.inputs[2] ? data(graph, n.inputs[2])[c] : 0);
      }
      keepRows(graph, init, n.inputs[1], keep);
      if (n.inputs[2]) keepRows(graph, init, n.inputs[2], keep);
      nodes[nodes.indexOf(n)] = { ...n, attrs: { ...n.attrs, group: { type: 'int', value: keep.length } } };
    }
  }
  // The next conv: input channels cut, the removed channels' constants folded into its bias.
  const w2 = graph.initializers.get(next.inputs[1]) as ConstTensor;
  const oc2 = w2.dims[0], t2 = w2.data.length / (oc2 * C);
  const src2 = w2.data as Float32Array;
  const W2 = new Float32Array(oc2 * keep.length * t2);
  const b2 = next.inputs[2] ? Float32Array.from(data(graph, next.inputs[2])) : new Float32Array(oc2);
  for (let o = 0; o < oc2; o++) {
    keep.forEach((c, j) => W2.set(src2.subarray((o * C + c) * t2, (o * C + c + 1) * t2), (o * keep.length + j) * t2));
    for (let c = 0; c < C; c++) {
      if (!dead[c] || constant[c] === 0) continue;
      let sum = 0;
      for (let t = 0; t < t2; t++) sum += src2[(o * C + c) * t2 + t];
      b2[o] += constant[c] * sum;
    }
  }
  init.set(next.inputs[1], freezeTensor({ dtype: 'float32', dims: [oc2, keep.length, ...w2.dims.slice(2)], data: W2 }));
  const biasName = next.inputs[2] || `${next.inputs[1]}__structured_bias`;
  init.set(biasName, freezeTensor({ dtype: 'float32', dims: [oc2], data: b2 }));
  if (!next.inputs[2]) nodes[nodes.indexOf(next)] = { ...next, inputs: [next.inputs[0], next.inputs[1], biasName] };
  return { graph: { ...graph, nodes, initializers: init }, kept: keep.length };
}

