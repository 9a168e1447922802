// Shape rules of the indexing and resampling ops: GatherElements, GatherND, ScatterElements,
// ScatterND, Resize (and opset-9 Upsample), DepthToSpace, SpaceToDepth. Resize's output size and the
// scales the runtime uses come from one place (resizePlan), so planner and kernel agree.
import { SparqError } from '../errors.js';
import { type ConstTensor, type Dim, type Node, attrInt, attrInts, attrString, toNumbers } from './ir.js';
import { type ValueMeta, shapeError } from './shapes.js';

export const INDEXING_OPS: ReadonlySet<string> = new Set(['GatherElements', 'GatherND', 'ScatterElements', 'ScatterND', 'Scatter', 'Resize', 'Upsample', 'DepthToSpace', 'SpaceToDepth']);

const ARITY: Record<string, [number, number]> = {
  GatherElements: [2, 2], GatherND: [2, 2], ScatterElements: [3, 3], Scatter: [3, 3], ScatterND: [3, 3],
  Resize: [1, 4], Upsample: [1, 2], DepthToSpace: [1, 1], SpaceToDepth: [1, 1],
};

export interface ResizePlan {
  /** Output dims. */
  dims: number[];
  /** Per-axis scale the coordinate transformation uses. */
  scales: number[];
  roiStart: number[];
  roiEnd: number[];
}

function floats(t: ConstTensor | undefined): number[] | undefined {
  return t ? toNumbers(t) : undefined;
}

/**
 * Resize's output dims and per-axis scales over concrete input dims, from its constant inputs (opset
 * 10: scales; 11+: roi, scales, sizes; 18: axes, keep_aspect_ratio_policy), computed as
 * onnxruntime does (output = floor(scale · dim) in float32; sizes imply scale = size / dim).
 * Undefined when scales / sizes are not constants.
 */
export function resizePlan(node: Node, dims: readonly number[], ins: (ValueMeta | undefined)[], opset: number): ResizePlan | undefined {
  const rank = dims.length;
  const upsample = node.op === 'Upsample';
  let scalesIn: number[] | undefined, sizesIn: number[] | undefined, roi: number[] | undefined;
  if (upsample || opset < 11) {
    scalesIn = upsample && attrFloatsOf(node, 'scales') ? attrFloatsOf(node, 'scales') : floats(ins[1]?.value);
    if (!scalesIn) return undefined;
  } else {
    roi = node.inputs[1] ? floats(ins[1]?.value) : undefined;
    if (node.inputs[1] && !roi) return undefined;
    if (node.inputs[2]) scalesIn = floats(ins[2]?.value);
    if (node.inputs[3]) sizesIn = floats(ins[3]?.value);
    if (scalesIn?.length === 0) scalesIn = undefined;
    if (sizesIn?.length === 0) sizesIn = undefined;
    if (!scalesIn && !sizesIn) {
      if ((node.inputs[2] && !ins[2]?.value) || (node.inputs[3] && !ins[3]?.value)) return undefined;
      throw shapeError(node, 'needs scales or sizes');
    }
  }
  const axes = (attrInts(node, 'axes') ?? dims.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
  if (axes.some((a) => a < 0 || a >= rank)) throw shapeError(node, `axes [${axes.join(', ')}] are out of range for rank ${rank}`);
  const n = axes.length;
  const scales = dims.map(() => 1);
  const out = [...dims];
  if (sizesIn) {
    if (sizesIn.length !== n) throw shapeError(node, `has ${sizesIn.length} sizes for ${n} axes`);
    const policy = attrString(node, 'keep_aspect_ratio_policy', 'stretch');
    const ratios = axes.map((a, i) => sizesIn[i] / dims[a]);
    if (policy === 'stretch') {
      axes.forEach((a, i) => {
        out[a] = sizesIn[i];
        scales[a] = Math.fround(ratios[i]);
      });
    } else {
      if (policy !== 'not_larger' && policy !== 'not_smaller') throw shapeError(node, `keep_aspect_ratio_policy "${policy}" is unknown`);
      const s = Math.fround(policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios));
      for (const a of axes) {
        scales[a] = s;
        out[a] = Math.round(s * dims[a]);
      }
    }
  } else if (scalesIn) {
    if (scalesIn.length !== n) throw shapeError(node, `has ${scalesIn.length} scales for ${n} axes`);
    axes.forEach((a, i) => {
      const s = Math.fround(scalesIn[i]);
      if (!(s > 0)) throw shapeError(node, `scale ${s} is not positive`);
      scales[a] = s;
      out[a] = Math.floor(Math.fround(s * dims[a]));
    });
  }
  if (out.some((d) => !Number.isSafeInteger(d) || d < 0)) throw shapeError(node, `gives dims [${out.join(', ')}]`);
  const roiStart = dims.map(() => 0), roiEnd = dims.map(() => 1);
  if (roi && roi.length > 0) {
    if (roi.length !== 2 * n) throw shapeError(node, `roi has ${roi.length} values for ${n} axes`);
    axes.forEach((a, i) => {
      roiStart[a] = roi[i];
      roiEnd[a] = roi[n + i];
    });
  }
  return { dims: out, scales, roiStart, roiEnd };
}

function attrFloatsOf(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  return a && a.type === 'floats' ? [...a.value] : undefined;
}

let symbols = 0;

/** Output metas of the ops in INDEXING_OPS. */
export function inferIndexing(node: Node, ins: (ValueMeta | undefined)[], opset: number): ValueMeta[] {
  const [lo, hi] = ARITY[node.op];
  if (node.inputs.length < lo || node.inputs.length > hi) throw shapeError(node, `takes ${lo === hi ? lo : `${lo} to ${hi}`} inputs but has ${node.inputs.length}`);
  const x = ins[0];
  if (!x) throw shapeError(node, 'input 0 is missing');
  const idx = ins[1];
  switch (node.op) {
    case 'GatherElements':
      if (!idx || idx.dims.length !== x.dims.length) throw shapeError(node, 'data and indices must have the same rank');
      return [{ dtype: x.dtype, dims: [...idx.dims] }];
    case 'GatherND': {
      if (!idx || idx.dims.length < 1) throw shapeError(node, 'indices must have rank >= 1');
      const k = idx.dims[idx.dims.length - 1];
      const b = attrInt(node, 'batch_dims', 0);
      if (typeof k !== 'number') throw shapeError(node, 'the last dim of indices must be known');
      if (b < 0 || b + k > x.dims.length || k < 1) throw shapeError(node, `index tuples of ${k} (batch_dims ${b}) do not fit rank ${x.dims.length}`);
      return [{ dtype: x.dtype, dims: [...idx.dims.slice(0, -1), ...x.dims.slice(b + k)] }];
    }
    case 'ScatterElements':
    case 'Scatter':
    case 'ScatterND':
      if (ins[2] && ins[2].dtype !== x.dtype) throw shapeError(node, 'updates and data differ in dtype');
      return [{ dtype: x.dtype, dims: [...x.dims] }];
    case 'Resize':
    case 'Upsample': {
      if (x.dtype !== 'float32') throw new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" resizes ${x.dtype}; sparq resizes float32`);
      if (x.dims.every((d) => typeof d === 'number')) {
        const p = resizePlan(node, x.dims as number[], ins, opset);
        if (p) return [{ dtype: x.dtype, dims: p.dims }];
      }
      return [{ dtype: x.dtype, dims: x.dims.map((d, i): Dim => `${node.name}_resized${i}_${symbols++}`) }];
    }
    case 'DepthToSpace':
    case 'SpaceToDepth': {
      if (x.dims.length !== 4) throw shapeError(node, 'input must be 4-D');
      const b = attrInt(node, 'blocksize', 0);
      if (!(b >= 1)) throw shapeError(node, `blocksize ${b} is not >= 1`);
      const [N, C, H, W] = x.dims;
      const mul = (d: Dim, f: number): Dim => (typeof d === 'number' ? d * f : `${d}*${f}`);
      const div = (d: Dim, f: number): Dim => {
        if (typeof d !== 'number') return `${d}/${f}`;
        if (d % f !== 0) throw shapeError(node, `dim ${d} is not a multiple of ${f}`);
        return d / f;
      };
      return [{ dtype: x.dtype, dims: node.op === 'DepthToSpace' ? [N, div(C, b * b), mul(H, b), mul(W, b)] : [N, mul(C, b * b), div(H, b), div(W, b)] }];
    }
  }
  throw shapeError(node, 'is not an indexing op');
}
