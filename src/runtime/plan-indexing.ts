// Lowers the indexing and resampling ops (src/graph/shapes-indexing.ts) to their native plan ops
// (native/runtime/ops_gather.cpp, ops_scatter.cpp, ops_resize*.cpp document the layouts).
import { SparqError } from '../errors.js';
import { type Node, attrFloat, attrInt, attrString } from '../graph/ir.js';
import { resizePlan } from '../graph/shapes-indexing.js';
import type { ValueMeta } from '../graph/shapes.js';
import { OpCode } from './opcodes.js';
import type { OpSpec } from './plan.js';

const REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'];
const MODES = ['nearest', 'linear', 'cubic'];
const COORDINATES = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_crop_and_resize', 'half_pixel_symmetric'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

function unsupported(node: Node, what: string): SparqError {
  return new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" ${what}, which sparq does not support`);
}

function choice(node: Node, attr: string, options: readonly string[], fallback: string): number {
  const v = attrString(node, attr, fallback);
  const i = options.indexOf(v);
  if (i < 0) throw unsupported(node, `has ${attr} "${v}"`);
  return i;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/**
 * The OpSpec of an indexing op; `dimsOf` gives a slot's dims, `metaOf` an input's meta (Resize reads
 * its constant scales / sizes / roi there).
 */
export function lowerIndexing(node: Node, spec: OpSpec, dimsOf: (slot: number) => readonly number[], metaOf: (i: number) => ValueMeta | undefined, opset: number): OpSpec {
  const rank = dimsOf(spec.inputs[0]).length;
  switch (node.op) {
    case 'GatherElements':
      return { ...spec, op: OpCode.GatherElements, ints: [normAxis(attrInt(node, 'axis', 0), rank)] };
    case 'GatherND':
      return { ...spec, op: OpCode.GatherND, ints: [attrInt(node, 'batch_dims', 0)] };
    case 'ScatterElements':
    case 'Scatter':
      return { ...spec, op: OpCode.ScatterElements, ints: [normAxis(attrInt(node, 'axis', 0), rank), choice(node, 'reduction', REDUCTIONS, 'none')] };
    case 'ScatterND':
      return { ...spec, op: OpCode.ScatterND, ints: [choice(node, 'reduction', REDUCTIONS, 'none')] };
    case 'DepthToSpace':
      return { ...spec, op: OpCode.DepthToSpace, ints: [attrInt(node, 'blocksize', 0), choice(node, 'mode', ['DCR', 'CRD'], 'DCR')] };
    case 'SpaceToDepth':
      return { ...spec, op: OpCode.SpaceToDepth, ints: [attrInt(node, 'blocksize', 0)] };
    case 'Resize':
    case 'Upsample':
      return lowerResize(node, spec, dimsOf, metaOf, opset);
  }
  throw unsupported(node, 'is an unknown indexing op');
}

function lowerResize(node: Node, spec: OpSpec, dimsOf: (slot: number) => readonly number[], metaOf: (i: number) => ValueMeta | undefined, opset: number): OpSpec {
  const dims = dimsOf(spec.inputs[0]);
  const p = resizePlan(node, dims, node.inputs.map((_, i) => metaOf(i)), opset);
  if (!p) throw unsupported(node, 'takes its scales or sizes from runtime data');
  if (attrInt(node, 'antialias', 0)) throw unsupported(node, 'uses antialias');
  const legacy = node.op === 'Upsample' || opset < 11;
  let mode = attrString(node, 'mode', 'nearest');
  if (mode === 'bilinear') mode = 'linear'; // Upsample-7's name for it
  const modeIndex = MODES.indexOf(mode);
  if (modeIndex < 0 || (legacy && modeIndex === 2)) throw unsupported(node, `uses mode "${mode}"`);
  const coordinates = legacy ? COORDINATES.indexOf('asymmetric') : choice(node, 'coordinate_transformation_mode', COORDINATES, 'half_pixel');
  // opset 10 has no nearest_mode: onnxruntime's rule for it is native mode 4 ("simple")
  const nearest = legacy ? 4 : choice(node, 'nearest_mode', NEAREST, 'round_prefer_floor');
  return {
    ...spec,
    op: OpCode.Resize,
    inputs: [spec.inputs[0]],
    ints: [modeIndex, coordinates, nearest, attrInt(node, 'exclude_outside', 0) ? 1 : 0],
    floats: [attrFloat(node, 'cubic_coeff_a', -0.75), attrFloat(node, 'extrapolation_value', 0), ...p.scales, ...p.roiStart, ...p.roiEnd],
  };
}
