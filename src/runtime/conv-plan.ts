// Lowers the conv and pooling nodes to the native plan's ops 200-229 (native/runtime/ops_conv_plan.cpp):
// the channels-last ops of the layout pass (src/graph/conv-layout.ts) and the NCHW ConvTranspose,
// InstanceNormalization and LRN. Windows are resolved here, with the input dims of this plan, by the
// same rule shape inference used (auto_pad included).
import { CONV_ACT } from '../graph/conv-layout.js';
import { convTransposeGeometry, resolveWindow, type Window } from '../graph/conv-shapes.js';
import { type Node, attrFloat, attrInt, attrInts } from '../graph/ir.js';
import type { OpSpec, WeightIndex } from './plan.js';
import { OpCode } from './opcodes.js';

const FLT_MAX = 3.4028234663852886e38;

type SlotDims = readonly { readonly dims: readonly number[] }[];

function windowInts(w: Window): number[] {
  return [w.kh, w.kw, w.sh, w.sw, w.dh, w.dw, ...w.pads];
}

function epilogue(node: Node): { act: number; floats: number[] } {
  const act = attrInt(node, 'activation', CONV_ACT.none);
  return { act, floats: [attrFloat(node, 'clip_min', -FLT_MAX), attrFloat(node, 'clip_max', FLT_MAX)] };
}

/** Fills `spec` for a conv / pool / norm node; false when the node is none of them. */
export function lowerConvNode(node: Node, spec: OpSpec, slots: SlotDims, weightIndex: WeightIndex): boolean {
  const ins = spec.inputs;
  const at = (i: number) => (i < ins.length ? ins[i] : -1);
  const x = ins[0] >= 0 ? slots[ins[0]].dims : [];
  const nhwcWindow = () => resolveWindow(node, x.slice(1, -1), attrInts(node, 'kernel_shape'));
  if (node.domain === 'sparq') {
    switch (node.op) {
      case 'ConvNhwc': {
        const e = epilogue(node);
        spec.op = OpCode.Conv;
        spec.weight = weightIndex(node.inputs[1], node);
        spec.inputs = [ins[0], at(2), at(3)];
        spec.ints = [...windowInts(nhwcWindow()), e.act];
        spec.floats = e.floats;
        return true;
      }
      case 'DepthwiseNhwc': {
        const e = epilogue(node);
        spec.op = OpCode.DepthwiseConv;
        spec.inputs = [ins[0], ins[1], at(2), at(3)];
        spec.ints = [...windowInts(nhwcWindow()), e.act, attrInt(node, 'multiplier', 1)];
        spec.floats = e.floats;
        return true;
      }
      case 'MaxPoolNhwc':
      case 'AvgPoolNhwc': {
        const max = node.op === 'MaxPoolNhwc';
        spec.op = max ? OpCode.MaxPool : OpCode.AvgPool;
        spec.inputs = [ins[0]];
        spec.outputs = max ? [spec.outputs[0], spec.outputs[1] ?? -1] : [spec.outputs[0]];
        spec.ints = [...windowInts(nhwcWindow()), attrInt(node, 'ceil_mode', 0), max ? attrInt(node, 'storage_order', 0) : attrInt(node, 'count_include_pad', 0)];
        return true;
      }
      case 'GlobalPoolNhwc':
        spec.op = attrInt(node, 'max', 0) ? OpCode.GlobalMaxPool : OpCode.GlobalAvgPool;
        return true;
      default:
        return false;
    }
  }
  if (node.domain !== '') return false;
  switch (node.op) {
    case 'Conv': {
      // Weights known only at run time (a graph input): NCHW, im2col + sgemm (native conv_nchw_gemm).
      const w = slots[ins[1]].dims;
      const spatial = x.slice(2);
      const win = resolveWindow(node, spatial, attrInts(node, 'kernel_shape') ?? w.slice(2));
      spec.op = OpCode.ConvNchw;
      spec.inputs = [ins[0], ins[1], at(2)];
      spec.ints = [attrInt(node, 'group', 1), ...windowInts(win)];
      return true;
    }
    case 'BatchNormalization':
      spec.op = OpCode.BatchNorm;
      spec.floats = [attrFloat(node, 'epsilon', 1e-5)];
      return true;
    case 'ConvTranspose': {
      const w = slots[ins[1]].dims;
      const spatial = x.slice(2);
      const kernel = attrInts(node, 'kernel_shape') ?? w.slice(2);
      const g = convTransposeGeometry(node, spatial, kernel);
      const two = (v: readonly number[], fill: number) => (spatial.length === 1 ? [fill, v[0]] : [v[0], v[1]]);
      const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
      const dilations = attrInts(node, 'dilations') ?? kernel.map(() => 1);
      spec.op = OpCode.ConvTranspose;
      spec.inputs = [ins[0], ins[1], at(2)];
      spec.ints = [attrInt(node, 'group', 1), ...two(kernel, 1), ...two(strides, 1), ...two(dilations, 1), ...two(g.begin, 0), 0, 0];
      return true;
    }
    case 'InstanceNormalization':
      spec.op = OpCode.InstanceNorm;
      spec.floats = [attrFloat(node, 'epsilon', 1e-5)];
      return true;
    case 'LRN':
      spec.op = OpCode.Lrn;
      spec.ints = [attrInt(node, 'size', 1)];
      spec.floats = [attrFloat(node, 'alpha', 1e-4), attrFloat(node, 'beta', 0.75), attrFloat(node, 'bias', 1)];
      return true;
    default:
      return false;
  }
}

/** Multiply-adds of a lowered conv op (its output count times the taps per output). */
export function convWork(spec: OpSpec, slots: SlotDims, out: number): number {
  if (spec.op === OpCode.Conv) {
    const x = slots[spec.inputs[0]].dims;
    return out * spec.ints[0] * spec.ints[1] * (x[x.length - 1] ?? 1);
  }
  if (spec.op === OpCode.DepthwiseConv) return out * spec.ints[0] * spec.ints[1];
  if (spec.op === OpCode.ConvNchw) return out * spec.ints[1] * spec.ints[2] * (slots[spec.inputs[0]].dims[1] ?? 1) / Math.max(1, spec.ints[0]);
  return out;
}
