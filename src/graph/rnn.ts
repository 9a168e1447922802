// Recurrent layers (ONNX LSTM, GRU, RNN) in the IR: their shape rule, and the preparation pass that
// hands their constant weights to the session as matrices to pack.
//
// The pass replaces an ONNX node whose W and R are fp32 initializers by a node of the same name in the
// 'sparq' domain that reads them pre-transposed, as the packed GEMMs take them:
//   inputs [X, Wᵀ, '', B, sequence_lens, initial_h, initial_c, P, R_0ᵀ, R_1ᵀ...]
//   Wᵀ is [input, D·G·H] (every direction's gates side by side: one GEMM projects the whole
//   sequence), R_dᵀ is [H, G·H] per direction; a GRU without linear_before_reset has R_d split in
//   Rzr_dᵀ [H, 2·H] (all directions first) and Rh_dᵀ [H, H], since its candidate multiplies r ⊙ H.
// Nodes whose weights are graph inputs stay ONNX nodes and run on the raw tensors.
import { SparqError } from '../errors.js';
import { type ConstTensor, type Dim, type Graph, type Node, attrInt, attrString, freezeGraph, lazyTensor } from './ir.js';
import { type ValueMeta, shapeError } from './shapes.js';
import { SPARQ_DOMAIN } from './fuse.js';

export const RECURRENT_OPS: ReadonlySet<string> = new Set(['LSTM', 'GRU', 'RNN']);

export function gateCount(op: string): number {
  return op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
}

export function directionsOf(node: Node): number {
  const d = attrString(node, 'direction', 'forward');
  if (d !== 'forward' && d !== 'reverse' && d !== 'bidirectional')
    throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${node.name}" (${node.op}) has direction "${d}"`);
  return d === 'bidirectional' ? 2 : 1;
}

/** Position of the first packed R matrix among a sparq recurrent node's inputs. */
export const PACKED_R_INPUT = 8;

/** Shape rule of LSTM / GRU / RNN, ONNX or sparq (outputs Y, Y_h, Y_c). */
export function inferRecurrent(node: Node, ins: (ValueMeta | undefined)[]): ValueMeta[] {
  const maxIn = node.domain === SPARQ_DOMAIN ? Infinity : node.op === 'LSTM' ? 8 : 6;
  if (node.inputs.length < 3 && node.domain !== SPARQ_DOMAIN) throw shapeError(node, `takes 3 to ${maxIn} inputs but has ${node.inputs.length}`);
  if (node.inputs.length > maxIn) throw shapeError(node, `takes 3 to ${maxIn} inputs but has ${node.inputs.length}`);
  if (node.outputs.length > (node.op === 'LSTM' ? 3 : 2)) throw shapeError(node, `has ${node.outputs.length} outputs`);
  const x = ins[0];
  if (!x) throw shapeError(node, 'input 0 is missing');
  if (x.dtype !== 'float32') throw new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" has ${x.dtype} inputs; sparq runs float32 recurrent layers`);
  if (x.dims.length !== 3) throw shapeError(node, `X must be 3-D but has dims [${x.dims.join(', ')}]`);
  const D = directionsOf(node);
  let H: Dim = attrInt(node, 'hidden_size', -1);
  if (H < 0) {
    const r = node.domain === SPARQ_DOMAIN ? undefined : ins[2];
    if (!r || r.dims.length !== 3) throw shapeError(node, 'needs hidden_size or a 3-D R');
    H = r.dims[2];
  }
  const layout = attrInt(node, 'layout', 0);
  if (layout !== 0 && layout !== 1) throw shapeError(node, `layout ${layout} is not 0 or 1`);
  const [S, B] = layout === 0 ? [x.dims[0], x.dims[1]] : [x.dims[1], x.dims[0]];
  const y: Dim[] = layout === 0 ? [S, D, B, H] : [B, S, D, H];
  const state: Dim[] = layout === 0 ? [D, B, H] : [B, D, H];
  return node.outputs.map((_, i) => ({ dtype: 'float32' as const, dims: i === 0 ? y : state }));
}

/** Rows [start, start + count) of a row-major [*, cols] fp32 constant, transposed to [cols, count] (on first read). */
function rowsTransposed(w: ConstTensor, cols: number, start: number, count: number): ConstTensor {
  return lazyTensor('float32', [cols, count], () => {
    const src = w.data as Float32Array;
    const out = new Float32Array(cols * count);
    for (let r = 0; r < count; r++) {
      const from = (start + r) * cols;
      for (let c = 0; c < cols; c++) out[c * count + r] = src[from + c];
    }
    return out;
  });
}

/** Rewrites recurrent nodes with constant fp32 W and R to their packed sparq form (see the header). */
export function packRecurrentWeights(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.domain === '' && RECURRENT_OPS.has(n.op))) return graph;
  const initializers = new Map(graph.initializers);
  let changed = false;
  const nodes = graph.nodes.map((n) => {
    if (n.domain !== '' || !RECURRENT_OPS.has(n.op)) return n;
    const W = graph.initializers.get(n.inputs[1]);
    const R = graph.initializers.get(n.inputs[2]);
    if (!W || !R || W.dtype !== 'float32' || R.dtype !== 'float32' || W.dims.length !== 3 || R.dims.length !== 3) return n;
    const D = directionsOf(n);
    const G = gateCount(n.op);
    const [wd, gh, I] = W.dims;
    const H = R.dims[2];
    if (wd !== D || gh !== G * H || R.dims[0] !== D || R.dims[1] !== G * H || I === 0 || H === 0) return n;
    const hs = attrInt(n, 'hidden_size', H);
    if (hs !== H) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${n.name}" (${n.op}) has hidden_size ${hs} but R is [${R.dims.join(', ')}]`);
    const key = n.outputs.find((o) => o) ?? n.name;
    const wName = `${key}::W_packed`;
    initializers.set(wName, rowsTransposed(W, I, 0, D * G * H));
    const rNames: string[] = [];
    const split = n.op === 'GRU' && attrInt(n, 'linear_before_reset', 0) === 0;
    for (let d = 0; d < D; d++) {
      const name = `${key}::R${d}_packed`;
      const rows = split ? 2 * H : G * H;
      initializers.set(name, rowsTransposed(R, H, d * G * H, rows));
      rNames.push(name);
    }
    if (split)
      for (let d = 0; d < D; d++) {
        const name = `${key}::Rh${d}_packed`;
        initializers.set(name, rowsTransposed(R, H, d * G * H + 2 * H, H));
        rNames.push(name);
      }
    const inputs = [...n.inputs];
    while (inputs.length < PACKED_R_INPUT) inputs.push('');
    inputs[1] = wName;
    inputs[2] = '';
    changed = true;
    return { ...n, domain: SPARQ_DOMAIN, inputs: [...inputs, ...rNames], attrs: { ...n.attrs, hidden_size: { type: 'int' as const, value: H } } };
  });
  return changed ? freezeGraph({ ...graph, nodes, initializers }) : graph;
}
