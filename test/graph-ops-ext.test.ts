// The wider op set, shapes from values, dtypes, old opsets and control flow: small graphs run in sparq
// and onnxruntime-node on the same bytes and inputs, outputs compared element by element.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, SparqError, Tensor, type TensorType } from '../src/index.js';
import { type AttrValue, GraphBuilder } from '../src/onnx/builder.js';
import { DataType } from '../src/onnx/proto.js';

type Elem = keyof typeof DataType;
const TYPE: Record<Elem, TensorType> = {
  FLOAT: 'float32', DOUBLE: 'float64', FLOAT16: 'float16', INT64: 'int64', INT32: 'int32', INT16: 'int16', INT8: 'int8',
  UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64', BOOL: 'bool',
};

interface Feed {
  name: string;
  type: Elem;
  dims: number[];
  data: number[];
}

function typed(type: Elem, v: number[]) {
  switch (type) {
    case 'FLOAT': return Float32Array.from(v);
    case 'DOUBLE': return Float64Array.from(v);
    case 'INT64': return BigInt64Array.from(v, (x) => BigInt(x));
    case 'UINT64': return BigUint64Array.from(v, (x) => BigInt(x));
    case 'INT32': return Int32Array.from(v);
    case 'INT16': return Int16Array.from(v);
    case 'INT8': return Int8Array.from(v);
    case 'UINT16': return Uint16Array.from(v);
    case 'UINT32': return Uint32Array.from(v);
    default: return Uint8Array.from(v);
  }
}

/** Runs the model built by `build` in sparq and ORT on each feed set; returns sparq's outputs of the last. */
async function compare(build: (g: GraphBuilder) => void, feedSets: Feed[][], opset = 17): Promise<Record<string, Tensor>> {
  const g = new GraphBuilder();
  g.opset = opset;
  build(g);
  const bytes = g.build();
  const o = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const s = await InferenceSession.create(bytes);
  let last: Record<string, Tensor> = {};
  for (const feeds of feedSets) {
    const sf: Record<string, Tensor> = {};
    const of: Record<string, ort.Tensor> = {};
    for (const f of feeds) {
      sf[f.name] = new Tensor(TYPE[f.type], typed(f.type, f.data) as never, f.dims);
      of[f.name] = new ort.Tensor(TYPE[f.type], typed(f.type, f.data) as never, f.dims);
    }
    const want = await o.run(of);
    const got = await s.run(sf);
    for (const name of Object.keys(want)) {
      expect(got[name].type, name).toBe(want[name].type);
      expect([...got[name].dims], name).toEqual([...want[name].dims]);
      const a = Array.from(got[name].data as ArrayLike<number | bigint>, Number);
      const b = Array.from(want[name].data as ArrayLike<number | bigint>, Number);
      b.forEach((v, i) => {
        if (Number.isNaN(v)) expect(a[i]).toBeNaN();
        else expect(Math.abs(a[i] - v), `${name}[${i}]: ${a[i]} vs ${v}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(v));
      });
    }
    last = got;
  }
  await s.release();
  return last;
}

/** One node over graph inputs; `outs` are declared [type, dims] pairs. */
function single(op: string, ins: [string, Elem, number[]][], outs: [Elem, number[]][], attrs: Record<string, AttrValue> = {}) {
  return (g: GraphBuilder) => {
    for (const [name, type, dims] of ins) g.input(name, type, dims);
    const names = outs.map((_, i) => `y${i}`);
    g.node(op, ins.map(([n]) => n), names, attrs);
    outs.forEach(([type, dims], i) => g.output(names[i], type, dims));
  };
}

const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('shapes from values', () => {
  it('Reshape and Split take shapes and sizes from graph inputs, a plan per value', async () => {
    await compare(single('Reshape', [['x', 'FLOAT', [2, 6]], ['s', 'INT64', [2]]], [['FLOAT', ['a', 'b'] as never]]), [
      [{ name: 'x', type: 'FLOAT', dims: [2, 6], data: seq(12, (i) => i) }, { name: 's', type: 'INT64', dims: [2], data: [3, 4] }],
      [{ name: 'x', type: 'FLOAT', dims: [2, 6], data: seq(12, (i) => i) }, { name: 's', type: 'INT64', dims: [2], data: [-1, 2] }],
    ]);
    const got = await compare(single('Split', [['x', 'FLOAT', [7]], ['s', 'INT64', [3]]], [['FLOAT', ['a'] as never], ['FLOAT', ['b'] as never], ['FLOAT', ['c'] as never]]), [
      [{ name: 'x', type: 'FLOAT', dims: [7], data: seq(7, (i) => i) }, { name: 's', type: 'INT64', dims: [3], data: [1, 4, 2] }],
    ]);
    expect(Array.from(got.y1.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('Range, ConstantOfShape, Tile, Expand and TopK from input values', async () => {
    await compare(single('Range', [['a', 'INT32', []], ['b', 'INT32', []], ['d', 'INT32', []]], [['INT32', ['n'] as never]]), [
      [{ name: 'a', type: 'INT32', dims: [], data: [10] }, { name: 'b', type: 'INT32', dims: [], data: [1] }, { name: 'd', type: 'INT32', dims: [], data: [-3] }],
    ]);
    await compare(single('Tile', [['x', 'DOUBLE', [2, 3]], ['r', 'INT64', [2]]], [['DOUBLE', ['a', 'b'] as never]]), [
      [{ name: 'x', type: 'DOUBLE', dims: [2, 3], data: seq(6, (i) => i / 3) }, { name: 'r', type: 'INT64', dims: [2], data: [2, 3] }],
    ]);
    await compare(single('TopK', [['x', 'FLOAT', [3, 5]], ['k', 'INT64', [1]]], [['FLOAT', [3, 'k'] as never], ['INT64', [3, 'k'] as never]], { axis: 1, largest: 0 }), [
      [{ name: 'x', type: 'FLOAT', dims: [3, 5], data: [5, 1, 4, 1, 3, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9] }, { name: 'k', type: 'INT64', dims: [1], data: [3] }],
    ]);
  });
});

describe('op families on their dtypes', () => {
  it('LessOrEqual, Not and Trilu (the decoder needs them)', async () => {
    await compare(single('LessOrEqual', [['a', 'FLOAT', [2, 3]], ['b', 'FLOAT', [3]]], [['BOOL', [2, 3]]]), [
      [{ name: 'a', type: 'FLOAT', dims: [2, 3], data: [1, 2, 3, 4, 5, 6] }, { name: 'b', type: 'FLOAT', dims: [3], data: [1, 5, 2] }],
    ]);
    await compare(single('LessOrEqual', [['a', 'INT64', [4]], ['b', 'INT64', [4]]], [['BOOL', [4]]]), [
      [{ name: 'a', type: 'INT64', dims: [4], data: [1, 2, 3, -4] }, { name: 'b', type: 'INT64', dims: [4], data: [2, 2, 2, 2] }],
    ]);
    await compare(single('Not', [['a', 'BOOL', [5]]], [['BOOL', [5]]]), [[{ name: 'a', type: 'BOOL', dims: [5], data: [1, 0, 0, 1, 1] }]]);
    for (const upper of [0, 1])
      await compare(single('Trilu', [['x', 'FLOAT', [2, 4, 5]], ['k', 'INT64', []]], [['FLOAT', [2, 4, 5]]], { upper }), [
        [{ name: 'x', type: 'FLOAT', dims: [2, 4, 5], data: seq(40, (i) => i + 1) }, { name: 'k', type: 'INT64', dims: [], data: [-1] }],
      ]);
  });

  it('float64, int8, uint64 and float16 through arithmetic, reductions and casts', async () => {
    await compare((g) => {
      g.input('x', 'DOUBLE', [3, 4]);
      const [e] = g.node('Exp', ['x']);
      const [r] = g.node('ReduceLogSumExp', [e], 1, { axes: [1], keepdims: 0 });
      g.node('Cast', [r], ['y'], { to: DataType.FLOAT16 });
      g.output('y', 'FLOAT16', [3]);
    }, [[{ name: 'x', type: 'DOUBLE', dims: [3, 4], data: seq(12, (i) => i / 7 - 0.5) }]], 13);
    await compare(single('Max', [['a', 'INT8', [4]], ['b', 'INT8', [1]], ['c', 'INT8', [4]]], [['INT8', [4]]]), [
      [{ name: 'a', type: 'INT8', dims: [4], data: [-128, 5, 7, 0] }, { name: 'b', type: 'INT8', dims: [1], data: [3] }, { name: 'c', type: 'INT8', dims: [4], data: [1, 127, -1, 4] }],
    ]);
    await compare(single('BitShift', [['a', 'UINT64', [3]], ['b', 'UINT64', [3]]], [['UINT64', [3]]], { direction: 'LEFT' }), [
      [{ name: 'a', type: 'UINT64', dims: [3], data: [1, 7, 255] }, { name: 'b', type: 'UINT64', dims: [3], data: [3, 40, 1] }],
    ]);
    await compare(single('Mod', [['a', 'INT32', [4]], ['b', 'INT32', [4]]], [['INT32', [4]]]), [
      [{ name: 'a', type: 'INT32', dims: [4], data: [7, -7, 7, -7] }, { name: 'b', type: 'INT32', dims: [4], data: [3, 3, -3, -3] }],
    ]);
  });

  it('activations, ArgMax, CumSum, Pad and OneHot match onnxruntime', async () => {
    const x = { name: 'x', type: 'FLOAT' as const, dims: [2, 5], data: [-3, -0.5, 0, 0.7, 4, 2, -1, 1, -2, 2] };
    for (const [op, attrs] of [['Elu', { alpha: 0.7 }], ['Selu', {}], ['HardSigmoid', {}], ['HardSwish', {}], ['Softplus', {}], ['Mish', {}], ['Celu', {}], ['LeakyRelu', {}]] as const)
      await compare(single(op, [['x', 'FLOAT', [2, 5]]], [['FLOAT', [2, 5]]], attrs as Record<string, AttrValue>), [[x]], 18);
    await compare(single('ArgMax', [['x', 'FLOAT', [2, 5]]], [['INT64', [2, 1]]], { axis: 1, select_last_index: 1 }), [[x]], 13);
    await compare(single('CumSum', [['x', 'FLOAT', [2, 5]], ['a', 'INT32', []]], [['FLOAT', [2, 5]]], { exclusive: 1, reverse: 1 }), [
      [x, { name: 'a', type: 'INT32', dims: [], data: [1] }],
    ]);
    for (const mode of ['reflect', 'edge', 'wrap', 'constant'])
      await compare(single('Pad', [['x', 'FLOAT', [2, 5]], ['p', 'INT64', [4]]], [['FLOAT', ['a', 'b'] as never]], { mode }), [
        [x, { name: 'p', type: 'INT64', dims: [4], data: [1, 2, 1, mode === 'wrap' ? 3 : 4] }],
      ], 19);
    await compare(single('OneHot', [['i', 'INT64', [4]], ['d', 'INT64', []], ['v', 'FLOAT', [2]]], [['FLOAT', [5, 4]]], { axis: 0 }), [
      [{ name: 'i', type: 'INT64', dims: [4], data: [0, -1, 3, 9] }, { name: 'd', type: 'INT64', dims: [], data: [5] }, { name: 'v', type: 'FLOAT', dims: [2], data: [-1, 2] }],
    ]);
  });

  it('refuses a dtype an op does not define with a coded error naming the node', async () => {
    const g = new GraphBuilder();
    single('Exp', [['x', 'INT32', [3]]], [['INT32', [3]]])(g);
    const s = await InferenceSession.create(g.build());
    const err = await s.run({ x: new Tensor('int32', new Int32Array(3), [3]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparqError);
    expect((err as SparqError).code).toBe('ERR_UNSUPPORTED_DTYPE');
    expect((err as SparqError).message).toMatch(/Exp node "Exp_node_\d+" does not support int32/);
  });
});

describe('older opsets', () => {
  it('opset 9 Slice, Unsqueeze and ReduceSum attributes become inputs', async () => {
    await compare((g) => {
      g.input('x', 'FLOAT', [4, 6]);
      const [a] = g.node('Slice', ['x'], 1, { starts: [1, -4], ends: [3, 100], axes: [0, 1] });
      const [b] = g.node('Unsqueeze', [a], 1, { axes: [0] });
      g.node('ReduceSum', [b], ['y'], { axes: [2], keepdims: 1 });
      g.output('y', 'FLOAT', [1, 2, 1]);
    }, [[{ name: 'x', type: 'FLOAT', dims: [4, 6], data: seq(24, (i) => i * 0.5) }]], 9);
  });
});

describe('control flow', () => {
  it('If on an input value runs both ways, reading outer values inside the branches', async () => {
    const build = (g: GraphBuilder) => {
      g.input('sr', 'INT64', []);
      g.input('x', 'FLOAT', [4]);
      const [sq] = g.node('Mul', ['x', 'x']);
      const [c] = g.node('Equal', ['sr', g.tensor({ name: 'k16', dataType: DataType.INT64, dims: [], int64Data: [16000] })]);
      const then = new GraphBuilder();
      then.node('Add', [sq, 'x'], ['t']);
      then.output('t', 'FLOAT', [4]);
      const other = new GraphBuilder();
      other.node('Neg', ['x'], ['e']);
      other.output('e', 'FLOAT', [4]);
      g.node('If', [c], ['y'], { then_branch: { graph: then }, else_branch: { graph: other } });
      g.output('y', 'FLOAT', [4]);
    };
    const x = { name: 'x', type: 'FLOAT' as const, dims: [4], data: [1, -2, 3, 0.5] };
    const a = await compare(build, [[{ name: 'sr', type: 'INT64', dims: [], data: [16000] }, x]], 13);
    expect(Array.from(a.y.data as Float32Array)).toEqual([2, 2, 12, 0.75]);
    const b = await compare(build, [[{ name: 'sr', type: 'INT64', dims: [], data: [8000] }, x]], 13);
    expect(Array.from(b.y.data as Float32Array)).toEqual([-1, 2, -3, -0.5]);
  });

  it('Loop with a trip count input, carried values and a scan output', async () => {
    await compare((g) => {
      g.input('n', 'INT64', []);
      g.input('x', 'FLOAT', [3]);
      const body = new GraphBuilder();
      body.input('i', 'INT64', []);
      body.input('c', 'BOOL', []);
      body.input('acc', 'FLOAT', [3]);
      body.node('Identity', ['c'], ['c_out']);
      const [fi] = body.node('Cast', ['i'], 1, { to: DataType.FLOAT });
      const [m] = body.node('Mul', ['x', fi]);
      body.node('Add', ['acc', m], ['acc_out']);
      body.node('Identity', [m], ['scan']);
      body.output('c_out', 'BOOL', []);
      body.output('acc_out', 'FLOAT', [3]);
      body.output('scan', 'FLOAT', [3]);
      const t = g.tensor({ name: 'yes', dataType: DataType.BOOL, dims: [], int32Data: [1] });
      g.node('Loop', ['n', t, 'x'], ['y', 'ys'], { body: { graph: body } });
      g.output('y', 'FLOAT', [3]);
      g.output('ys', 'FLOAT', ['n', 3] as never);
    }, [[{ name: 'n', type: 'INT64', dims: [], data: [4] }, { name: 'x', type: 'FLOAT', dims: [3], data: [1, 2, -1] }]], 13);
  });
});
