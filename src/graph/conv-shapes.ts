// Window geometry and shape rules of the convolution and pooling ops: ONNX's NCHW ops (Conv,
// ConvTranspose, MaxPool, AveragePool, Global*Pool, BatchNormalization, InstanceNormalization, LRN)
// and the channels-last ops the layout pass makes of them (conv-layout.ts: sparq ConvNhwc,
// DepthwiseNhwc, MaxPoolNhwc, AvgPoolNhwc, GlobalPoolNhwc). One window resolution (auto_pad included)
// serves shape inference and the planner, so the two never disagree.
import { SparqError } from '../errors.js';
import { type Dim, type Node, attrInt, attrInts, attrString } from './ir.js';
import { type ValueMeta, shapeError } from './shapes.js';

/** A resolved 2-D window (a 1-D op has kh = 1, sh = 1, pads 0 along H). */
export interface Window {
  kh: number; kw: number;
  sh: number; sw: number;
  dh: number; dw: number;
  /** top, left, bottom, right */
  pads: [number, number, number, number];
}

export const NHWC_OPS = new Set(['ConvNhwc', 'DepthwiseNhwc', 'MaxPoolNhwc', 'AvgPoolNhwc', 'GlobalPoolNhwc']);

/** The node's window attributes over `spatial` (1 or 2) dims, before auto_pad: ONNX's layout, per dim. */
function windowAttrs(node: Node, spatial: number, kernel: readonly number[] | undefined) {
  if (!kernel || kernel.length !== spatial) throw shapeError(node, `kernel_shape must have ${spatial} entries`);
  const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
  const dilations = attrInts(node, 'dilations') ?? kernel.map(() => 1);
  const pads = attrInts(node, 'pads') ?? [...kernel.map(() => 0), ...kernel.map(() => 0)];
  if (strides.length !== spatial || dilations.length !== spatial || pads.length !== 2 * spatial)
    throw shapeError(node, 'strides, dilations and pads must match kernel_shape');
  const ok = (v: readonly number[], min: number) => v.every((x) => Number.isSafeInteger(x) && x >= min && x <= 1 << 24);
  if (!ok(kernel, 1) || !ok(strides, 1) || !ok(dilations, 1) || !ok(pads, 0))
    throw shapeError(node, 'kernel_shape, strides and dilations must be >= 1 and pads >= 0');
  return { kernel, strides, dilations, pads };
}

/**
 * Resolves the window of a conv or pool over input spatial dims `inSpatial` (numbers where known):
 * auto_pad SAME_UPPER / SAME_LOWER / VALID, or the explicit pads. Always 2-D (H = 1 for a 1-D op).
 */
export function resolveWindow(node: Node, inSpatial: readonly Dim[], kernel: readonly number[] | undefined): Window {
  const spatial = inSpatial.length;
  if (spatial !== 1 && spatial !== 2) throw shapeError(node, `sparq supports 1-D and 2-D windows, not ${spatial}-D`);
  const a = windowAttrs(node, spatial, kernel);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const begin = a.pads.slice(0, spatial).map(Number), end = a.pads.slice(spatial).map(Number);
  if (autoPad === 'VALID') {
    begin.fill(0);
    end.fill(0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    for (let i = 0; i < spatial; i++) {
      const n = inSpatial[i];
      if (typeof n !== 'number') {
        begin[i] = end[i] = 0;
        continue;
      }
      const out = Math.ceil(n / a.strides[i]);
      const total = Math.max(0, (out - 1) * a.strides[i] + a.dilations[i] * (a.kernel[i] - 1) + 1 - n);
      const small = Math.floor(total / 2);
      begin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      end[i] = total - begin[i];
    }
  } else if (autoPad !== 'NOTSET') {
    throw shapeError(node, `auto_pad "${autoPad}" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  }
  const two = (v: readonly number[], fill: number) => (spatial === 1 ? [fill, v[0]] : [v[0], v[1]]);
  const [kh, kw] = two(a.kernel, 1), [sh, sw] = two(a.strides, 1), [dh, dw] = two(a.dilations, 1);
  const [pt, pl] = two(begin, 0), [pb, pr] = two(end, 0);
  return { kh, kw, sh, sw, dh, dw, pads: [pt, pl, pb, pr] };
}

/** Output size along one axis; the same rule as native conv_out_size (ceil_mode drops a window starting in the end pad). */
export function outSize(node: Node, n: Dim, k: number, s: number, d: number, p0: number, p1: number, ceil: boolean, axis: number): Dim {
  if (typeof n !== 'number') return `${node.name}_o${axis}`;
  const room = n + p0 + p1 - (d * (k - 1) + 1);
  if (room < 0) throw shapeError(node, `the window (${k}, dilation ${d}) is larger than the padded input (${n} + ${p0 + p1})`);
  let out = (ceil ? Math.ceil(room / s) : Math.floor(room / s)) + 1;
  if (ceil && (out - 1) * s >= n + p0) out--;
  return out;
}

/** Output spatial dims (1 or 2 of them, as the input has) of a window over `inSpatial`. */
export function outSpatial(node: Node, inSpatial: readonly Dim[], w: Window, ceil: boolean): Dim[] {
  const ow = outSize(node, inSpatial[inSpatial.length - 1], w.kw, w.sw, w.dw, w.pads[1], w.pads[3], ceil, 1);
  if (inSpatial.length === 1) return [ow];
  return [outSize(node, inSpatial[0], w.kh, w.sh, w.dh, w.pads[0], w.pads[2], ceil, 0), ow];
}

function kernelOf(node: Node, w?: ValueMeta): readonly number[] | undefined {
  const k = attrInts(node, 'kernel_shape');
  if (k) return k;
  if (w && w.dims.length >= 3 && w.dims.slice(2).every((d) => typeof d === 'number')) return w.dims.slice(2) as number[];
  return undefined;
}

function rank34(node: Node, m: ValueMeta): Dim[] {
  if (m.dims.length !== 3 && m.dims.length !== 4)
    throw new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" has a rank-${m.dims.length} input; sparq supports 1-D and 2-D windows (rank 3 or 4)`);
  if (m.dtype !== 'float32') throw new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" has a ${m.dtype} input; sparq supports float32`);
  return m.dims;
}

/** Output metas of a conv / pool / norm node, or undefined when the op is not one of them. */
export function inferConvNode(node: Node, ins: (ValueMeta | undefined)[]): ValueMeta[] | undefined {
  const need = (i: number): ValueMeta => {
    const m = ins[i];
    if (!m) throw shapeError(node, `input ${i} is missing`);
    return m;
  };
  const nhwc = node.domain === 'sparq';
  if (nhwc && !NHWC_OPS.has(node.op)) return undefined;
  if (!nhwc && node.domain !== '') return undefined;
  switch (node.op) {
    case 'Conv': {
      const x = rank34(node, need(0)), w = need(1);
      const win = resolveWindow(node, x.slice(2), kernelOf(node, w));
      return [{ dtype: 'float32', dims: [x[0], w.dims[0], ...outSpatial(node, x.slice(2), win, false)] }];
    }
    case 'ConvTranspose': {
      const x = rank34(node, need(0)), w = need(1);
      const kernel = kernelOf(node, w) as number[];
      const group = attrInt(node, 'group', 1);
      const spatial = x.slice(2);
      const outC = typeof w.dims[1] === 'number' ? (w.dims[1] as number) * group : w.dims[1];
      const explicit = attrInts(node, 'output_shape');
      if (explicit) return [{ dtype: 'float32', dims: [x[0], outC, ...explicit.slice(-spatial.length)] }];
      const t = convTransposeGeometry(node, spatial, kernel);
      return [{ dtype: 'float32', dims: [x[0], outC, ...t.out] }];
    }
    case 'MaxPool': case 'AveragePool': {
      const x = rank34(node, need(0));
      const win = resolveWindow(node, x.slice(2), attrInts(node, 'kernel_shape'));
      const dims = [x[0], x[1], ...outSpatial(node, x.slice(2), win, attrInt(node, 'ceil_mode', 0) !== 0)];
      const out: ValueMeta[] = [{ dtype: 'float32', dims }];
      if (node.outputs.length > 1) out.push({ dtype: 'int64', dims: [...dims] });
      return out;
    }
    case 'GlobalAveragePool': case 'GlobalMaxPool': {
      const x = rank34(node, need(0));
      return [{ dtype: 'float32', dims: [x[0], x[1], ...x.slice(2).map(() => 1)] }];
    }
    case 'BatchNormalization': case 'InstanceNormalization': case 'LRN': {
      if (node.op === 'BatchNormalization' && (attrInt(node, 'training_mode', 0) !== 0 || node.outputs.slice(1).some((o) => o)))
        throw new SparqError('ERR_UNSUPPORTED_OP', `BatchNormalization node "${node.name}" is in training mode; sparq runs inference only`);
      const x = need(0);
      if (x.dims.length < 2) throw shapeError(node, 'expects [N, C, ...]');
      return [{ dtype: x.dtype, dims: [...x.dims] }];
    }
    case 'ConvNhwc': case 'DepthwiseNhwc': {
      const x = rank34(node, need(0));
      const spatial = x.slice(1, -1);
      const win = resolveWindow(node, spatial, attrInts(node, 'kernel_shape'));
      return [{ dtype: 'float32', dims: [x[0], ...outSpatial(node, spatial, win, false), attrInt(node, 'out_channels', 0)] }];
    }
    case 'MaxPoolNhwc': case 'AvgPoolNhwc': {
      const x = rank34(node, need(0));
      const spatial = x.slice(1, -1);
      const win = resolveWindow(node, spatial, attrInts(node, 'kernel_shape'));
      const dims = [x[0], ...outSpatial(node, spatial, win, attrInt(node, 'ceil_mode', 0) !== 0), x[x.length - 1]];
      const out: ValueMeta[] = [{ dtype: 'float32', dims }];
      if (node.outputs.length > 1) out.push({ dtype: 'int64', dims: [...dims] });
      return out;
    }
    case 'GlobalPoolNhwc': {
      const x = rank34(node, need(0));
      return [{ dtype: 'float32', dims: [x[0], ...x.slice(1, -1).map(() => 1), x[x.length - 1]] }];
    }
    default:
      return undefined;
  }
}

/**
 * ConvTranspose's output spatial dims and the pads it crops: explicit pads, or from auto_pad /
 * output_shape as ONNX defines them. out = s·(in − 1) + output_padding + d·(k − 1) + 1 − pads.
 */
export function convTransposeGeometry(node: Node, spatial: readonly Dim[], kernel: readonly number[]): { out: Dim[]; begin: number[] } {
  const n = spatial.length;
  const a = windowAttrs(node, n, kernel);
  const outPad = attrInts(node, 'output_padding') ?? kernel.map(() => 0);
  const explicit = attrInts(node, 'output_shape');
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const out: Dim[] = [];
  const begin: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = spatial[i];
    const full = typeof x === 'number' ? a.strides[i] * (x - 1) + (outPad[i] ?? 0) + a.dilations[i] * (kernel[i] - 1) + 1 : undefined;
    if (explicit || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const target = explicit ? explicit[explicit.length - n + i] : typeof x === 'number' ? x * a.strides[i] : undefined;
      if (full === undefined || target === undefined) {
        out.push(`${node.name}_o${i}`);
        begin.push(0);
        continue;
      }
      const total = Math.max(0, full - target);
      out.push(target);
      begin.push(autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2));
    } else {
      const p0 = autoPad === 'VALID' ? 0 : a.pads[i], p1 = autoPad === 'VALID' ? 0 : a.pads[n + i];
      out.push(full === undefined ? `${node.name}_o${i}` : full - p0 - p1);
      begin.push(p0);
    }
  }
  return { out, begin };
}
