// Convolutions and pooling against onnxruntime-node on the same ONNX bytes (sparq's GraphBuilder):
// every attribute (kernel shapes, strides, dilations, explicit / asymmetric / auto pads, groups,
// depthwise with multipliers, 1-D), the epilogue fusions (BatchNorm folded, Relu, Relu6, HardSwish,
// residual Add), pooling modes, ConvTranspose, InstanceNormalization and LRN.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, Tensor } from '../src/index.js';
import { type AttrValue, GraphBuilder } from '../src/onnx/builder.js';
import { randomFloats } from './helpers.js';

type Feed = { data: Float32Array; dims: number[] };

/** Max |sparq − ort| over max(1, max |ort|), per output. */
async function errors(bytes: Uint8Array, feeds: Record<string, Feed>): Promise<number[]> {
  const s = await InferenceSession.create(bytes, { threads: 1 });
  const o = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const sFeeds: Record<string, Tensor> = {}, oFeeds: Record<string, ort.Tensor> = {};
  for (const [k, f] of Object.entries(feeds)) {
    sFeeds[k] = new Tensor('float32', f.data, f.dims);
    oFeeds[k] = new ort.Tensor('float32', f.data, f.dims);
  }
  const got = await s.run(sFeeds);
  const want = await o.run(oFeeds);
  await s.release();
  return o.outputNames.map((name) => {
    const a = got[name], b = want[name];
    expect(a.dims).toEqual(b.dims);
    const av = a.data as ArrayLike<number | bigint>, bv = b.data as ArrayLike<number | bigint>;
    let scale = 1, err = 0;
    for (let i = 0; i < bv.length; i++) scale = Math.max(scale, Math.abs(Number(bv[i])));
    for (let i = 0; i < bv.length; i++) {
      const d = Math.abs(Number(av[i]) - Number(bv[i]));
      err = Math.max(err, Number.isNaN(d) ? Infinity : d);
    }
    return err / scale;
  });
}

let seed = 1;
const rand = (n: number, s = 1) => randomFloats(n, seed++, -s, s);
const prod = (d: number[]) => d.reduce((a, b) => a * b, 1);

interface ConvCase {
  x: number[];
  oc: number;
  kernel: number[];
  group?: number;
  bias?: boolean;
  attrs?: Record<string, AttrValue>;
  after?: 'relu' | 'relu6' | 'hardswish' | 'bn-relu' | 'residual-relu';
}

function convModel(c: ConvCase): { bytes: Uint8Array; feeds: Record<string, Feed> } {
  const g = new GraphBuilder();
  const group = c.group ?? 1;
  const cin = c.x[1];
  const wDims = [c.oc, cin / group, ...c.kernel];
  g.input('X', 'FLOAT', c.x);
  g.float('W', rand(prod(wDims), 0.5), wDims);
  const inputs = ['X', 'W'];
  if (c.bias) inputs.push(g.float('B', rand(c.oc), [c.oc]));
  let [y] = g.node('Conv', inputs, 1, { group, kernel_shape: c.kernel, ...(c.attrs ?? {}) });
  const perChannel = (name: string, lo: number, hi: number) => g.float(name, randomFloats(c.oc, seed++, lo, hi), [c.oc]);
  if (c.after === 'bn-relu') {
    [y] = g.node('BatchNormalization', [y, perChannel('s', 0.5, 1.5), perChannel('b', -0.2, 0.2), perChannel('m', -0.2, 0.2), perChannel('v', 0.5, 1.5)], 1, { epsilon: { float: 1e-3 } });
    [y] = g.node('Relu', [y]);
  } else if (c.after === 'relu') [y] = g.node('Relu', [y]);
  else if (c.after === 'relu6') [y] = g.node('Clip', [y, g.float('lo', Float32Array.of(0), []), g.float('hi', Float32Array.of(6), [])]);
  else if (c.after === 'hardswish') [y] = g.node('HardSwish', [y]);
  else if (c.after === 'residual-relu') {
    g.input('R', 'FLOAT', ['n', c.oc, 'h', 'w']);
    [y] = g.node('Add', [y, 'R']);
    [y] = g.node('Relu', [y]);
  }
  g.node('Identity', [y], ['Y']);
  g.output('Y', 'FLOAT', c.x.map((_, i) => `y${i}`));
  return { bytes: g.build(), feeds: { X: { data: rand(prod(c.x)), dims: c.x } } };
}

async function convError(c: ConvCase): Promise<number> {
  const { bytes, feeds } = convModel(c);
  if (c.after === 'residual-relu') {
    // The residual has the conv output's dims: ask onnxruntime for them first.
    const probe = await ort.InferenceSession.create(convModel({ ...c, after: undefined }).bytes);
    const out = (await probe.run({ X: new ort.Tensor('float32', feeds.X.data, feeds.X.dims) })).Y;
    feeds.R = { data: rand(prod(out.dims as number[])), dims: [...out.dims] as number[] };
  }
  return (await errors(bytes, feeds))[0];
}

const conv2d: ConvCase[] = [];
{
  const pads: Record<string, AttrValue>[] = [{}, { pads: [1, 1, 1, 1] }, { pads: [0, 1, 2, 1] }, { auto_pad: 'SAME_UPPER' }, { auto_pad: 'SAME_LOWER' }, { auto_pad: 'VALID' }];
  const kernels = [[1, 1], [3, 3], [2, 3], [5, 5]];
  let i = 0;
  for (const kernel of kernels)
    for (const stride of [1, 2])
      for (const dilation of [1, 2]) {
        const p = pads[i % pads.length];
        const group = [1, 1, 2, 8][i % 4];
        const dims = [1 + (i % 2), 8, 9 + (i % 3), 11];
        // onnxruntime refuses dilations with auto_pad SAME_*.
        const d = 'auto_pad' in p && p.auto_pad !== 'VALID' ? 1 : dilation;
        conv2d.push({ x: dims, oc: group === 8 ? 16 : 12, kernel, group, bias: i % 3 !== 0, attrs: { strides: [stride, stride + (i % 2)], dilations: [d, 1], ...p } });
        i++;
      }
}

describe('Conv vs onnxruntime-node', () => {
  it.each(conv2d.map((c, i) => [i, JSON.stringify(c.kernel), JSON.stringify(c.attrs), c.group, c] as const))('2-D case %i: kernel %s %s group %i', async (_i, _k, _a, _g, c) => {
    expect(await convError(c)).toBeLessThan(1e-4);
  });

  it('depthwise (multiplier 1 and 2, channels past a vector: 40 and 19), fused Relu6 and residual', async () => {
    expect(await convError({ x: [1, 40, 13, 12], oc: 40, kernel: [3, 3], group: 40, bias: true, attrs: { pads: [1, 1, 1, 1], strides: [2, 2] }, after: 'relu6' })).toBeLessThan(1e-4);
    expect(await convError({ x: [1, 19, 7, 9], oc: 38, kernel: [3, 3], group: 19, bias: true, attrs: { pads: [1, 1, 1, 1] } })).toBeLessThan(1e-4);
    expect(await convError({ x: [2, 72, 6, 6], oc: 72, kernel: [5, 5], group: 72, attrs: { auto_pad: 'SAME_UPPER' }, after: 'residual-relu' })).toBeLessThan(1e-4);
  });

  it('fuses BatchNorm + Relu, Relu6 and residual Add + Relu into the conv', async () => {
    for (const after of ['bn-relu', 'relu', 'relu6', 'residual-relu'] as const)
      expect(await convError({ x: [1, 16, 10, 10], oc: 24, kernel: [3, 3], bias: after !== 'bn-relu', attrs: { pads: [1, 1, 1, 1] }, after }), after).toBeLessThan(1e-4);
  });

  it('1-D convs (Conv1d): pads, strides, dilations, groups, depthwise', async () => {
    const cases: ConvCase[] = [
      { x: [1, 8, 30], oc: 16, kernel: [3], bias: true, attrs: { pads: [1, 1] } },
      { x: [2, 8, 31], oc: 12, kernel: [5], group: 2, attrs: { strides: [2], dilations: [2], pads: [2, 0] } },
      { x: [1, 24, 17], oc: 24, kernel: [3], group: 24, bias: true, attrs: { auto_pad: 'SAME_LOWER' }, after: 'relu' },
      { x: [1, 4, 16], oc: 8, kernel: [1], attrs: { strides: [2] } },
    ];
    for (const c of cases) expect(await convError(c), JSON.stringify(c)).toBeLessThan(1e-4);
  });
});

async function singleOp(op: string, x: number[], attrs: Record<string, AttrValue>, outputs = 1, extra: (g: GraphBuilder) => string[] = () => []): Promise<number[]> {
  const g = new GraphBuilder();
  g.input('X', 'FLOAT', x);
  const outs = g.node(op, ['X', ...extra(g)], Array.from({ length: outputs }, (_, i) => `Y${i}`), attrs);
  outs.forEach((o, i) => g.output(o, i === 0 ? 'FLOAT' : 'INT64', x.map((_, j) => `d${j}`)));
  return errors(g.build(), { X: { data: rand(prod(x)), dims: x } });
}

describe('pooling vs onnxruntime-node', () => {
  it('MaxPool: strides, pads, dilations, ceil_mode, 1-D, and the Indices output', async () => {
    const cases: [number[], Record<string, AttrValue>, number][] = [
      [[1, 8, 12, 12], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, 1],
      [[2, 5, 11, 10], { kernel_shape: [2, 3], strides: [2, 1], ceil_mode: 1 }, 1],
      [[1, 3, 9, 9], { kernel_shape: [3, 3], dilations: [2, 2], pads: [0, 1, 2, 1] }, 1],
      [[1, 6, 10, 7], { kernel_shape: [3, 3], auto_pad: 'SAME_UPPER', strides: [2, 2] }, 1],
      [[1, 4, 15], { kernel_shape: [3], strides: [2], pads: [1, 1] }, 1],
      [[2, 3, 8, 9], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 0, 1, 1] }, 2],
      [[1, 3, 7, 7], { kernel_shape: [3, 3], strides: [2, 2], storage_order: 1 }, 2],
    ];
    for (const [x, a, n] of cases) for (const e of await singleOp('MaxPool', x, a, n)) expect(e, JSON.stringify(a)).toBeLessThan(1e-6);
  });

  it('AveragePool: count_include_pad 0 and 1, ceil_mode, asymmetric pads, 1-D', async () => {
    const cases: [number[], Record<string, AttrValue>][] = [
      [[1, 8, 12, 12], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }],
      [[1, 8, 12, 12], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }],
      [[2, 5, 11, 10], { kernel_shape: [2, 3], strides: [2, 2], ceil_mode: 1 }],
      [[2, 5, 11, 10], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1, pads: [1, 1, 1, 1], count_include_pad: 1 }],
      [[1, 3, 9, 9], { kernel_shape: [3, 2], pads: [0, 1, 2, 1], count_include_pad: 1 }],
      [[1, 6, 10, 7], { kernel_shape: [3, 3], auto_pad: 'SAME_LOWER' }],
      [[1, 4, 15], { kernel_shape: [4], strides: [3], pads: [2, 1] }],
    ];
    for (const [x, a] of cases) expect((await singleOp('AveragePool', x, a))[0], JSON.stringify(a)).toBeLessThan(1e-5);
  });

  it('GlobalAveragePool and GlobalMaxPool, 2-D and 1-D', async () => {
    for (const op of ['GlobalAveragePool', 'GlobalMaxPool'])
      for (const x of [[2, 20, 7, 5], [1, 33, 9]]) expect((await singleOp(op, x, {}))[0], `${op} ${x}`).toBeLessThan(1e-5);
  });
});

describe('NCHW ops vs onnxruntime-node', () => {
  it('Conv and BatchNormalization whose weights and statistics are graph inputs', async () => {
    const g = new GraphBuilder();
    g.input('X', 'FLOAT', [2, 6, 9, 8]);
    g.input('W', 'FLOAT', [8, 3, 3, 2]);
    g.input('B', 'FLOAT', [8]);
    for (const n of ['S', 'T', 'M']) g.input(n, 'FLOAT', [8]);
    g.input('V', 'FLOAT', [8]);
    const [c] = g.node('Conv', ['X', 'W', 'B'], 1, { group: 2, strides: [2, 1], pads: [1, 0, 1, 1], dilations: [1, 2] });
    g.node('BatchNormalization', [c, 'S', 'T', 'M', 'V'], ['Y'], { epsilon: { float: 1e-3 } });
    g.output('Y', 'FLOAT', [2, 8, 'h', 'w']);
    const f = (dims: number[], lo = -1, hi = 1) => ({ data: randomFloats(prod(dims), seed++, lo, hi), dims });
    const feeds = { X: f([2, 6, 9, 8]), W: f([8, 3, 3, 2]), B: f([8]), S: f([8]), T: f([8]), M: f([8]), V: f([8], 0.5, 1.5) };
    expect((await errors(g.build(), feeds))[0]).toBeLessThan(1e-4);
  });


  it('ConvTranspose: strides, pads, output_padding, dilations, groups, output_shape, auto_pad, 1-D', async () => {
    const cases: [number[], number[], Record<string, AttrValue>][] = [
      [[1, 4, 5, 5], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }],
      [[2, 6, 4, 3], [6, 2, 2, 3], { group: 2, strides: [2, 1], dilations: [1, 2] }],
      [[1, 3, 4, 4], [3, 2, 3, 3], { strides: [2, 2], output_shape: [9, 9] }],
      [[1, 3, 4, 5], [3, 2, 3, 3], { strides: [2, 2], auto_pad: 'SAME_UPPER' }],
      [[1, 4, 7], [4, 2, 4], { strides: [3], pads: [1, 2] }],
    ];
    for (const [x, w, a] of cases) {
      const e = await singleOp('ConvTranspose', x, a, 1, (g) => [g.float('W', rand(prod(w)), w), g.float('B', rand(w[1] * Number(a.group ?? 1)), [w[1] * Number(a.group ?? 1)])]);
      expect(e[0], JSON.stringify(a)).toBeLessThan(1e-4);
    }
  });

  it('InstanceNormalization, LRN and a BatchNormalization on a graph input', async () => {
    expect((await singleOp('InstanceNormalization', [2, 5, 6, 7], { epsilon: { float: 1e-3 } }, 1, (g) => [g.float('S', rand(5), [5]), g.float('B', rand(5), [5])]))[0]).toBeLessThan(1e-4);
    expect((await singleOp('LRN', [1, 7, 4, 5], { size: 3, alpha: { float: 1e-3 }, beta: { float: 0.75 }, bias: { float: 2 } }))[0]).toBeLessThan(1e-5);
    expect((await singleOp('LRN', [2, 6, 3, 3], { size: 5 }))[0]).toBeLessThan(1e-5);
    const bn = (g: GraphBuilder) => [g.float('S', rand(5), [5]), g.float('B', rand(5), [5]), g.float('M', rand(5), [5]), g.float('V', randomFloats(5, 9, 0.6, 1.4), [5])];
    expect((await singleOp('BatchNormalization', [2, 5, 6, 7], {}, 1, bn))[0]).toBeLessThan(1e-5);
  });
});
