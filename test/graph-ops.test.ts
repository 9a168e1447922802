// Each supported op, in small graphs with runtime (non-constant) inputs so the native kernels run,
// compared with onnxruntime-node on the same bytes. Constant-input variants exercise the folder.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, Tensor } from '../src/index.js';
import { type AttrValue, GraphBuilder } from '../src/onnx/builder.js';
import { DataType } from '../src/onnx/proto.js';
import { rng } from './helpers.js';

type Elem = 'FLOAT' | 'INT64' | 'INT32' | 'BOOL' | 'UINT8' | 'INT8';
const TYPE: Record<Elem, 'float32' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8'> = { FLOAT: 'float32', INT64: 'int64', INT32: 'int32', BOOL: 'bool', UINT8: 'uint8', INT8: 'int8' };

interface In {
  type: Elem;
  dims: number[];
  data?: number[];
  /** Make it an initializer instead of a graph input. */
  constant?: boolean;
  /** For float inputs: generate positive values (Sqrt, Pow). */
  positive?: boolean;
}

function values(i: In, seed: number): number[] {
  if (i.data) return i.data;
  const r = rng(seed);
  const n = i.dims.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, () => {
    if (i.type === 'FLOAT') return i.positive ? 0.1 + r() * 2 : r() * 4 - 2;
    if (i.type === 'BOOL') return r() < 0.5 ? 1 : 0;
    if (i.type === 'UINT8') return Math.floor(r() * 256);
    if (i.type === 'INT8') return Math.floor(r() * 256) - 128;
    return Math.floor(r() * 10) - 5;
  });
}

function typed(type: Elem, v: number[]) {
  switch (type) {
    case 'FLOAT': return Float32Array.from(v);
    case 'INT64': return BigInt64Array.from(v, (x) => BigInt(x));
    case 'INT32': return Int32Array.from(v);
    case 'INT8': return Int8Array.from(v);
    default: return Uint8Array.from(v);
  }
}

/** Runs `op` on the inputs in sparq and ORT; compares every output. */
async function check(op: string, inputs: (In | null)[], attrs: Record<string, AttrValue> = {}, outputs = 1, opset = 17): Promise<void> {
  const g = new GraphBuilder();
  g.opset = opset;
  const names: string[] = [];
  const sFeeds: Record<string, Tensor> = {};
  const oFeeds: Record<string, ort.Tensor> = {};
  inputs.forEach((i, k) => {
    if (!i) return void names.push('');
    const name = `in${k}`;
    names.push(name);
    const data = typed(i.type, values(i, k + 1));
    if (i.constant) {
      g.tensor({ name, dataType: DataType[i.type], dims: i.dims, rawData: new Uint8Array(data.buffer) });
    } else {
      g.input(name, i.type, i.dims);
      sFeeds[name] = new Tensor(TYPE[i.type], data as never, i.dims);
      oFeeds[name] = new ort.Tensor(TYPE[i.type], data as never, i.dims);
    }
  });
  const outs = Array.from({ length: outputs }, (_, i) => `out${i}`);
  g.node(op, names, outs, attrs);
  // Output types/dims are left for the runtimes to infer: declare rank-free outputs.
  for (const o of outs) (g as unknown as { outputs: unknown[] }).outputs.push({ name: o });
  const bytes = g.build();
  const o = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const expected = await o.run(oFeeds);
  // sparq needs declared output types: rebuild with ORT's.
  const g2 = g as unknown as { outputs: { name: string; type: unknown }[] };
  g2.outputs = outs.map((name) => ({ name, type: { tensorType: { elemType: DataType[(Object.keys(TYPE) as Elem[]).find((k) => TYPE[k] === expected[name].type) as Elem], shape: { dim: expected[name].dims.map((d) => ({ dimValue: d })) } } } }));
  const s = await InferenceSession.create(g.build());
  const got = await s.run(sFeeds);
  for (const name of outs) {
    expect(got[name].type, `${op} ${name} type`).toBe(expected[name].type);
    expect(got[name].dims, `${op} ${name} dims`).toEqual(expected[name].dims);
    const a = Array.from(got[name].data as ArrayLike<number | bigint>, Number);
    const b = Array.from(expected[name].data as ArrayLike<number | bigint>, Number);
    for (let i = 0; i < b.length; i++) {
      if (Number.isNaN(b[i])) expect(a[i], `${op} ${name}[${i}]`).toBeNaN();
      else expect(Math.abs(a[i] - b[i]), `${op} ${name}[${i}]: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i])));
    }
  }
  await s.release();
}

const F = (dims: number[], extra: Partial<In> = {}): In => ({ type: 'FLOAT', dims, ...extra });
const I64 = (dims: number[], data?: number[], constant = true): In => ({ type: 'INT64', dims, data, constant });

describe('ops vs onnxruntime-node', () => {
  it('binary ops with broadcasting', async () => {
    for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
      await check(op, [F([2, 3, 4]), F([4])]);
      await check(op, [F([2, 1, 4]), F([3, 1])]);
      await check(op, [F([5]), F([5], { constant: true })]);
    }
    await check('Pow', [F([2, 3], { positive: true }), F([3])]);
    await check('Add', [{ type: 'INT64', dims: [2, 3] }, { type: 'INT64', dims: [3] }]);
    await check('Equal', [{ type: 'INT64', dims: [2, 3] }, { type: 'INT64', dims: [1, 3] }]);
    await check('Equal', [{ type: 'FLOAT', dims: [4], data: [1, 2, 3, 4] }, { type: 'FLOAT', dims: [4], data: [1, 0, 3, 0] }]);
  });

  it('unary ops and Clip', async () => {
    for (const op of ['Sqrt', 'Erf', 'Tanh', 'Relu', 'Sigmoid']) await check(op, [F([3, 7], op === 'Sqrt' ? { positive: true } : {})]);
    await check('Gelu', [F([3, 7])], {}, 1, 20);
    await check('Identity', [F([3])]);
    await check('Clip', [F([4, 5]), { type: 'FLOAT', dims: [], data: [-0.5], constant: true }, { type: 'FLOAT', dims: [], data: [0.7], constant: true }]);
    await check('Clip', [F([4, 5]), null, { type: 'FLOAT', dims: [], data: [0.7], constant: true }]);
  });

  it('Softmax, LayerNormalization, ReduceMean', async () => {
    await check('Softmax', [F([2, 3, 5])], { axis: -1 });
    await check('Softmax', [F([2, 3, 5])], { axis: 1 });
    await check('Softmax', [F([2, 3, 5])], { axis: 1 }, 1, 11);
    await check('LayerNormalization', [F([2, 3, 8]), F([8], { constant: true })], { axis: -1 }, 3);
    await check('LayerNormalization', [F([2, 3, 8]), F([8], { constant: true }), F([8], { constant: true })], { axis: -1, epsilon: { float: 1e-5 } });
    await check('LayerNormalization', [F([2, 3, 4]), F([3, 4], { constant: true })], { axis: 1 });
    await check('ReduceMean', [F([2, 3, 4])], { axes: [1], keepdims: 1 }, 1, 13);
    await check('ReduceMean', [F([2, 3, 4])], { axes: [0, 2], keepdims: 0 }, 1, 13);
    await check('ReduceMean', [F([2, 3, 4]), I64([1], [-1])], { keepdims: 1 }, 1, 18);
  });

  it('MatMul (batched, broadcast, vectors) and Gemm', async () => {
    await check('MatMul', [F([2, 3, 5, 4]), F([2, 3, 4, 6])]);
    await check('MatMul', [F([3, 5, 4]), F([4, 6])]);
    await check('MatMul', [F([2, 1, 5, 4]), F([3, 4, 2])]);
    await check('MatMul', [F([4]), F([4, 3])]);
    await check('MatMul', [F([2, 5, 4]), F([4])]);
    await check('MatMul', [F([3, 5, 4]), F([4, 6], { constant: true })]);
    await check('Gemm', [F([3, 4]), F([5, 4], { constant: true }), F([5], { constant: true })], { transB: 1, alpha: { float: 0.5 }, beta: { float: 2 } });
    await check('Gemm', [F([3, 4]), F([4, 5], { constant: true }), F([1, 5], { constant: true })]);
    await check('Gemm', [F([4, 3]), F([5, 4]), F([3, 1])], { transA: 1, transB: 1, alpha: { float: 1.5 }, beta: { float: -1 } });
    await check('Gemm', [F([3, 4]), F([4, 5])]);
    await check('Gemm', [F([3, 4]), F([4, 5]), F([], { constant: true })], { beta: { float: 0.5 } });
  });

  it('layout ops: Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Concat, Split, Slice, Expand', async () => {
    await check('Transpose', [F([2, 3, 4])], { perm: [2, 0, 1] });
    await check('Transpose', [{ type: 'INT64', dims: [2, 3] }]);
    await check('Reshape', [F([2, 3, 4]), I64([3], [0, -1, 2])]);
    await check('Flatten', [F([2, 3, 4])], { axis: 2 });
    await check('Squeeze', [F([2, 1, 4, 1]), I64([2], [1, -1])]);
    await check('Unsqueeze', [F([2, 4]), I64([2], [0, 3])]);
    await check('Concat', [F([2, 3]), F([2, 5]), F([2, 1], { constant: true })], { axis: 1 });
    await check('Concat', [{ type: 'INT64', dims: [2] }, { type: 'INT64', dims: [3] }], { axis: 0 });
    await check('Split', [F([6, 4]), I64([3], [1, 2, 3])], { axis: 0 }, 3);
    await check('Split', [F([2, 6])], { axis: 1 }, 2);
    await check('Slice', [F([5, 6]), I64([2], [1, -1]), I64([2], [4, -5]), I64([2], [0, 1]), I64([2], [2, -2])]);
    await check('Slice', [F([5, 6]), I64([1], [2]), I64([1], [100])]);
    await check('Expand', [F([3, 1]), I64([3], [2, 3, 4])]);
  });

  it('Gather, Cast, Where, Shape, ConstantOfShape, Range', async () => {
    await check('Gather', [F([5, 3]), { type: 'INT64', dims: [2, 2], data: [0, 4, -1, 2] }], { axis: 0 });
    await check('Gather', [F([2, 5, 3]), { type: 'INT32', dims: [3], data: [1, 0, 4] }], { axis: 1 });
    await check('Gather', [{ type: 'INT64', dims: [4] }, { type: 'INT64', dims: [], data: [2], constant: true }], { axis: 0 });
    await check('Cast', [F([2, 3])], { to: DataType.INT64 });
    await check('Cast', [{ type: 'INT64', dims: [4] }], { to: DataType.FLOAT });
    await check('Cast', [{ type: 'BOOL', dims: [4] }], { to: DataType.FLOAT });
    await check('Cast', [F([5])], { to: DataType.BOOL });
    await check('Where', [{ type: 'BOOL', dims: [2, 3] }, F([3]), F([2, 1])]);
    await check('Shape', [F([2, 3, 4])]);
    await check('Shape', [F([2, 3, 4])], { start: 1 }, 1, 15);
    await check('ConstantOfShape', [I64([2], [2, 3])], { value: { name: '', dataType: DataType.FLOAT, dims: [1], rawData: new Uint8Array(Float32Array.of(1.5).buffer) } });
    await check('Range', [I64([], [1]), I64([], [10]), I64([], [3])]);
    await check('Constant', [], { value_floats: { floats: [1, 2, 3] } });
  });

  it('int8: DynamicQuantizeLinear, QuantizeLinear, DequantizeLinear, MatMulInteger', async () => {
    await check('DynamicQuantizeLinear', [F([3, 5])], {}, 3);
    await check('QuantizeLinear', [F([3, 4]), { type: 'FLOAT', dims: [], data: [0.05], constant: true }, { type: 'UINT8', dims: [], data: [128], constant: true }]);
    await check('QuantizeLinear', [F([3, 4]), { type: 'FLOAT', dims: [4], data: [0.1, 0.02, 0.05, 0.01], constant: true }, { type: 'INT8', dims: [4], data: [0, 1, -3, 2], constant: true }], { axis: 1 });
    await check('DequantizeLinear', [{ type: 'UINT8', dims: [3, 4] }, { type: 'FLOAT', dims: [], data: [0.05], constant: true }, { type: 'UINT8', dims: [], data: [100], constant: true }]);
    await check('DequantizeLinear', [{ type: 'INT8', dims: [2, 3] }, { type: 'FLOAT', dims: [3], data: [0.1, 0.2, 0.3], constant: true }], { axis: 1 });
    await check('MatMulInteger', [{ type: 'UINT8', dims: [3, 5] }, { type: 'INT8', dims: [5, 4], constant: true }, { type: 'UINT8', dims: [], data: [7], constant: true }]);
    await check('MatMulInteger', [{ type: 'UINT8', dims: [2, 3, 5] }, { type: 'UINT8', dims: [5, 4] }, null, { type: 'UINT8', dims: [4], data: [1, 2, 3, 4], constant: true }]);
  });
});
