// Fusions the runtime profits from, as graph rewrites (new graph out, input untouched):
//   - Erf-GELU as torch exports it (x * 0.5 * (1 + erf(x / √2))) → Gelu
//   - decomposed LayerNorm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add) → LayerNormalization
//   - MatMul/Gemm with a constant 2-D weight (+ Add of a constant bias) (+ Relu/Gelu) → sparq Linear,
//     which runs on packed weights with the bias and activation fused into the GEMM's store.
// A pattern only matches when its intermediate values feed nothing else and are not graph outputs.
import { type Attribute, type ConstTensor, type Graph, LazyTensor, type Node, attrFloat, attrInt, attrInts, elementAt, freezeGraph, freezeTensor, numel, toNumbers, transpose } from './ir.js';
import { inferGraph } from './infer.js';
import type { ValueMeta } from './shapes.js';

export const SPARQ_DOMAIN = 'sparq';

class Rewriter {
  readonly producer = new Map<string, number>();
  readonly consumers = new Map<string, number[]>();
  readonly outputs: Set<string>;
  readonly removed = new Set<number>();
  readonly replaced = new Map<number, Node>();
  readonly initializers: Map<string, ConstTensor>;
  constructor(readonly graph: Graph, readonly metas: Map<string, ValueMeta>) {
    this.outputs = new Set(graph.outputs.map((o) => o.name));
    this.initializers = new Map(graph.initializers);
    graph.nodes.forEach((n, i) => {
      n.outputs.forEach((o) => o && this.producer.set(o, i));
      n.inputs.forEach((x) => {
        if (!x) return;
        let l = this.consumers.get(x);
        if (!l) this.consumers.set(x, (l = []));
        l.push(i);
      });
    });
  }
  node(i: number): Node {
    return this.replaced.get(i) ?? this.graph.nodes[i];
  }
  alive(i: number): boolean {
    return !this.removed.has(i);
  }
  /** The only consumer of `value` (which must not be a graph output), or -1. */
  soleConsumer(value: string): number {
    if (this.outputs.has(value)) return -1;
    const c = (this.consumers.get(value) ?? []).filter((i) => this.alive(i));
    return c.length === 1 ? c[0] : -1;
  }
  consumersOf(value: string): number[] {
    return (this.consumers.get(value) ?? []).filter((i) => this.alive(i));
  }
  producerOf(value: string, op: string): number {
    const p = this.producer.get(value);
    return p !== undefined && this.alive(p) && this.node(p).op === op && this.node(p).domain === '' ? p : -1;
  }
  constant(value: string): ConstTensor | undefined {
    return this.metas.get(value)?.value ?? this.initializers.get(value);
  }
  /** A scalar constant (any shape with one element) or undefined. */
  scalar(value: string): number | undefined {
    const c = this.constant(value);
    return c && c.data.length === 1 && c.dtype === 'float32' ? elementAt(c, 0) : undefined;
  }
  /** The other input of a binary node (given one of its inputs). */
  other(n: Node, value: string): string | undefined {
    if (n.inputs[0] === value) return n.inputs[1];
    if (n.inputs[1] === value) return n.inputs[0];
    return undefined;
  }
  replace(remove: number[], at: number, node: Node): void {
    for (const r of remove) this.removed.add(r);
    this.removed.delete(at);
    this.replaced.set(at, node);
  }
  build(): Graph {
    const nodes = this.graph.nodes.map((_, i) => i).filter((i) => this.alive(i)).map((i) => this.node(i));
    return freezeGraph({ ...this.graph, nodes, initializers: this.initializers });
  }
}

const near = (a: number | undefined, b: number, tol = 1e-4) => a !== undefined && Math.abs(a - b) <= tol * Math.abs(b);

function fuseGelu(r: Rewriter): void {
  r.graph.nodes.forEach((erf, ei) => {
    if (erf.op !== 'Erf' || erf.domain !== '' || !r.alive(ei)) return;
    // erf input: x / √2 or x * (1/√2)
    const scaleIdx = r.producerOf(erf.inputs[0], 'Div') >= 0 ? r.producerOf(erf.inputs[0], 'Div') : r.producerOf(erf.inputs[0], 'Mul');
    if (scaleIdx < 0 || r.soleConsumer(erf.inputs[0]) !== ei) return;
    const scale = r.node(scaleIdx);
    const x = scale.inputs[0];
    const s = r.scalar(scale.inputs[1]);
    if (!(scale.op === 'Div' ? near(s, Math.SQRT2) : near(s, Math.SQRT1_2))) return;
    const addIdx = r.soleConsumer(erf.outputs[0]);
    if (addIdx < 0) return;
    const add = r.node(addIdx);
    if (add.op !== 'Add' || !near(r.scalar(r.other(add, erf.outputs[0]) ?? ''), 1)) return;
    const mulIdx = r.soleConsumer(add.outputs[0]);
    if (mulIdx < 0) return;
    const mul = r.node(mulIdx);
    if (mul.op !== 'Mul') return;
    const partner = r.other(mul, add.outputs[0]);
    let last: number;
    const remove = [scaleIdx, ei, addIdx, mulIdx];
    if (partner === x) {
      // (x * (1 + erf)) * 0.5
      last = r.soleConsumer(mul.outputs[0]);
      if (last < 0 || r.node(last).op !== 'Mul' || !near(r.scalar(r.other(r.node(last), mul.outputs[0]) ?? ''), 0.5)) return;
      remove.push(last);
    } else {
      // (x * 0.5) * (1 + erf)
      const halfIdx = r.producerOf(partner ?? '', 'Mul');
      if (halfIdx < 0 || r.soleConsumer(partner as string) !== mulIdx) return;
      const half = r.node(halfIdx);
      if (r.other(half, x) === undefined || !near(r.scalar(r.other(half, x) as string), 0.5)) return;
      remove.push(halfIdx);
      last = mulIdx;
    }
    const y = r.node(last).outputs[0];
    r.replace(remove, last, { name: `${erf.name}_gelu`, op: 'Gelu', domain: '', inputs: [x], outputs: [y], attrs: {} });
  });
}

function lastAxisReduce(r: Rewriter, n: Node, rank: number): boolean {
  let axes = attrInts(n, 'axes');
  if (!axes && n.inputs[1]) {
    const c = r.constant(n.inputs[1]);
    axes = c ? toNumbers(c) : undefined;
  }
  return !!axes && axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1) && attrInt(n, 'keepdims', 1) === 1;
}

function fuseLayerNorm(r: Rewriter): void {
  r.graph.nodes.forEach((mean, mi) => {
    if (mean.op !== 'ReduceMean' || mean.domain !== '' || !r.alive(mi)) return;
    const x = mean.inputs[0];
    const rank = r.metas.get(x)?.dims.length ?? 0;
    if (!lastAxisReduce(r, mean, rank)) return;
    const subIdx = r.soleConsumer(mean.outputs[0]);
    if (subIdx < 0 || r.node(subIdx).op !== 'Sub' || r.node(subIdx).inputs[0] !== x) return;
    const d = r.node(subIdx).outputs[0];
    const dUses = r.consumersOf(d);
    if (dUses.length !== 2 || r.outputs.has(d)) return;
    const powIdx = dUses.find((i) => r.node(i).op === 'Pow');
    const divIdx = dUses.find((i) => r.node(i).op === 'Div');
    if (powIdx === undefined || divIdx === undefined || r.node(divIdx).inputs[0] !== d || !near(r.scalar(r.node(powIdx).inputs[1]), 2)) return;
    const varIdx = r.soleConsumer(r.node(powIdx).outputs[0]);
    if (varIdx < 0 || r.node(varIdx).op !== 'ReduceMean' || !lastAxisReduce(r, r.node(varIdx), rank)) return;
    const epsIdx = r.soleConsumer(r.node(varIdx).outputs[0]);
    if (epsIdx < 0 || r.node(epsIdx).op !== 'Add') return;
    const eps = r.scalar(r.other(r.node(epsIdx), r.node(varIdx).outputs[0]) ?? '');
    if (eps === undefined) return;
    const sqrtIdx = r.soleConsumer(r.node(epsIdx).outputs[0]);
    if (sqrtIdx < 0 || r.node(sqrtIdx).op !== 'Sqrt' || r.soleConsumer(r.node(sqrtIdx).outputs[0]) !== divIdx) return;
    const remove = [mi, subIdx, powIdx, varIdx, epsIdx, sqrtIdx, divIdx];
    const lastDim = r.metas.get(x)?.dims[rank - 1];
    const norm = r.node(divIdx).outputs[0];
    // Optional affine: Mul(gamma) then Add(beta), both constant vectors over the last dim.
    let last = divIdx, y = norm;
    let gamma: string | undefined, beta: string | undefined;
    const mulIdx = r.soleConsumer(norm);
    const vecOk = (name: string | undefined) => {
      const c = name ? r.constant(name) : undefined;
      return !!c && c.dtype === 'float32' && c.dims.length === 1 && c.dims[0] === lastDim;
    };
    if (mulIdx >= 0 && r.node(mulIdx).op === 'Mul' && vecOk(r.other(r.node(mulIdx), norm))) {
      gamma = r.other(r.node(mulIdx), norm);
      last = mulIdx;
      y = r.node(mulIdx).outputs[0];
      remove.push(mulIdx);
      const addIdx = r.soleConsumer(y);
      if (addIdx >= 0 && r.node(addIdx).op === 'Add' && vecOk(r.other(r.node(addIdx), y))) {
        beta = r.other(r.node(addIdx), y);
        last = addIdx;
        y = r.node(addIdx).outputs[0];
        remove.push(addIdx);
      }
    }
    if (typeof lastDim !== 'number') return;
    if (!gamma) {
      gamma = `${mean.name}_ln_gamma`;
      r.initializers.set(gamma, freezeTensor({ dtype: 'float32', dims: [lastDim], data: new Float32Array(lastDim).fill(1) }));
    }
    const inputs = beta ? [x, gamma, beta] : [x, gamma];
    const attrs: Record<string, Attribute> = { axis: { type: 'int', value: -1 }, epsilon: { type: 'float', value: eps } };
    r.replace(remove, last, { name: `${mean.name}_layernorm`, op: 'LayerNormalization', domain: '', inputs, outputs: [y], attrs });
  });
}

/**
 * How fusion made a Linear's weight or bias from a model initializer `of`: scale · (of, or ofᵀ),
 * viewed as `dims`. A .sparq file stores these recipes with its prepared graph (src/graph/prepare.ts),
 * not the tensors.
 */
export interface Derivation {
  readonly of: string;
  readonly transpose: boolean;
  readonly scale: number;
  readonly dims: readonly number[];
}

/** A constant fusion derived; lazy: a weight the session adopts prepacked (.sparq) is never read as fp32. */
class DerivedTensor extends LazyTensor {
  constructor(readonly source: ConstTensor, readonly derivation: Derivation) {
    const [R, C] = source.dims;
    super('float32', derivation.dims, () => {
      const v = derivation.transpose ? transpose(source.data as Float32Array, R, C) : (source.data as Float32Array);
      return derivation.scale === 1 ? v : v.map((x) => x * derivation.scale);
    });
  }
}

/** The fp32 constant a derivation describes (the caller checked that its dims fit the source's). */
export function deriveTensor(source: ConstTensor, d: Derivation): ConstTensor {
  return Object.freeze(new DerivedTensor(source, d));
}

/** The recipe and source of a constant fusion derived, if it is one. */
export function derivationOf(t: ConstTensor): { derivation: Derivation; source: ConstTensor } | undefined {
  return t instanceof DerivedTensor ? t : undefined;
}

/** MatMul / Gemm with a constant 2-D fp32 weight (+ bias Add) (+ Relu/Gelu) → sparq Linear. */
function fuseLinear(r: Rewriter): void {
  r.graph.nodes.forEach((n, i) => {
    if (!r.alive(i) || n.domain !== '' || (n.op !== 'MatMul' && n.op !== 'Gemm')) return;
    const w = r.constant(n.inputs[1]);
    if (!w || w.dtype !== 'float32' || w.dims.length !== 2) return;
    const x = n.inputs[0];
    const xDims = r.metas.get(x)?.dims;
    if (!xDims || xDims.length < 1 || r.metas.get(x)?.dtype !== 'float32') return;
    let weight = n.inputs[1];
    let bias: string | undefined;
    const remove = [i];
    let last = i, y = n.outputs[0];
    const N = n.op === 'Gemm' && attrInt(n, 'transB', 0) ? w.dims[0] : w.dims[1];
    if (n.op === 'Gemm') {
      if (attrInt(n, 'transA', 0) || xDims.length !== 2) return;
      const alpha = attrFloat(n, 'alpha', 1), beta = attrFloat(n, 'beta', 1);
      if (attrInt(n, 'transB', 0) || alpha !== 1) {
        const transB = attrInt(n, 'transB', 0) !== 0;
        weight = `${n.name}_weight_kn`;
        r.initializers.set(weight, deriveTensor(w, { of: n.inputs[1], transpose: transB, scale: alpha, dims: transB ? [w.dims[1], w.dims[0]] : w.dims }));
      }
      if (n.inputs[2]) {
        const c = r.constant(n.inputs[2]);
        if (!c || c.dtype !== 'float32' || numel(c.dims) !== N || (c.dims.length === 2 && c.dims[0] !== 1)) return;
        if (beta === 1 && c.dims.length === 1 && r.initializers.get(n.inputs[2]) === c) {
          bias = n.inputs[2]; // the initializer as it is: nothing derived
        } else {
          bias = `${n.name}_bias`;
          r.initializers.set(bias, deriveTensor(c, { of: n.inputs[2], transpose: false, scale: beta, dims: [N] }));
        }
      }
    } else {
      const addIdx = r.soleConsumer(y);
      if (addIdx >= 0 && r.node(addIdx).op === 'Add') {
        const bName = r.other(r.node(addIdx), y);
        const c = bName ? r.constant(bName) : undefined;
        if (c && c.dtype === 'float32' && numel(c.dims) === N && c.dims.length >= 1 && c.dims[c.dims.length - 1] === N) {
          const outRank = xDims.length;
          if (c.dims.length <= outRank) {
            bias = c.dims.length === 1 ? bName : `${bName}_vec`;
            if (c.dims.length !== 1) r.initializers.set(bias as string, deriveTensor(c, { of: bName as string, transpose: false, scale: 1, dims: [N] }));
            remove.push(addIdx);
            last = addIdx;
            y = r.node(addIdx).outputs[0];
          }
        }
      }
    }
    let act = 0;
    const actIdx = r.soleConsumer(y);
    if (actIdx >= 0 && (r.node(actIdx).op === 'Relu' || r.node(actIdx).op === 'Gelu') && r.node(actIdx).domain === '') {
      if (r.node(actIdx).op === 'Relu' || attrString(r.node(actIdx)) === 'none') {
        act = r.node(actIdx).op === 'Relu' ? 1 : 2;
        remove.push(actIdx);
        last = actIdx;
        y = r.node(actIdx).outputs[0];
      }
    }
    const attrs: Record<string, Attribute> = {
      activation: { type: 'int', value: act },
      weight_name: { type: 'string', value: n.inputs[1] },
      out_features: { type: 'int', value: N },
    };
    // The weight input is weight_name's values times alpha: not the model's weight as stored.
    if (n.op === 'Gemm' && attrFloat(n, 'alpha', 1) !== 1) attrs.weight_alpha = { type: 'float', value: attrFloat(n, 'alpha', 1) };
    r.replace(remove, last, { name: n.name, op: 'Linear', domain: SPARQ_DOMAIN, inputs: bias ? [x, weight, bias] : [x, weight], outputs: [y], attrs });
  });
}

function attrString(n: Node): string {
  const a = n.attrs.approximate;
  return a && a.type === 'string' ? a.value : 'none';
}

export interface FuseOptions {
  linear?: boolean;
}

/** Runs every fusion; returns a new graph (the input graph is unchanged). */
export function fuseGraph(graph: Graph, options: FuseOptions = {}): Graph {
  let g = graph;
  // Each pass starts at one op; a graph without it skips the pass and its shape inference.
  const passes: [(r: Rewriter) => void, string[]][] = [[fuseGelu, ['Erf']], [fuseLayerNorm, ['ReduceMean']], ...(options.linear === false ? [] : [[fuseLinear, ['MatMul', 'Gemm']] as [(r: Rewriter) => void, string[]]])];
  for (const [pass, roots] of passes) {
    if (!g.nodes.some((n) => n.domain === '' && roots.includes(n.op))) continue;
    const { metas } = inferGraph(g);
    const r = new Rewriter(g, metas);
    pass(r);
    g = r.build();
  }
  return g === graph ? freezeGraph({ ...graph }) : g;
}
