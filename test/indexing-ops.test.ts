// GatherElements, GatherND, ScatterElements, ScatterND, Resize (every mode, coordinate transformation,
// nearest rounding; scales or sizes; opsets 10-19), DepthToSpace and SpaceToDepth in sparq against
// onnxruntime-node on the same single-node models.
import { describe, expect, it } from 'vitest';

import { InferenceSession, Tensor } from '../src/index.js';
import { MIN_OPSET } from '../src/model.js';
import { type AttrValue, GraphBuilder } from '../src/onnx/builder.js';
import { DataType } from '../src/onnx/proto.js';
import { rng } from './helpers.js';
import { type Feed, compareWithOrt } from './rnn-compare.js';

function floats(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 4 - 2);
}

const numel = (d: number[]) => d.reduce((a, b) => a * b, 1);

interface Case {
  op: string;
  x: number[];
  /** Further inputs: initializers (int64 / float), '' for absent. */
  extra?: ({ int64: number[]; dims: number[] } | { float: number[]; dims: number[] } | { int32: number[]; dims: number[] } | '')[];
  attrs?: Record<string, AttrValue>;
  opset?: number;
  out: number[];
}

function build(c: Case, seed = 1): { bytes: Uint8Array; feeds: Record<string, Feed> } {
  const g = new GraphBuilder();
  g.opset = c.opset ?? 17;
  g.input('X', 'FLOAT', c.x);
  const inputs = ['X'];
  (c.extra ?? []).forEach((e, i) => {
    if (e === '') return void inputs.push('');
    const name = `in${i}`;
    if ('int64' in e) g.int64(name, e.int64, e.dims);
    else if ('int32' in e) g.tensor({ name, dataType: DataType.INT32, dims: e.dims, rawData: new Uint8Array(Int32Array.from(e.int32).buffer) });
    else g.float(name, Float32Array.from(e.float), e.dims);
    inputs.push(name);
  });
  g.node(c.op, inputs, ['Y'], c.attrs ?? {});
  g.output('Y', 'FLOAT', c.out);
  return { bytes: g.build(c.op), feeds: { X: { type: 'float32', data: floats(numel(c.x), seed), dims: c.x } } };
}

async function check(c: Case): Promise<void> {
  const { bytes, feeds } = build(c);
  const r = await compareWithOrt(bytes, feeds);
  expect(r.outputs.Y.dims).toEqual(r.outputs.Y.ortDims);
  expect(r.worst, JSON.stringify(r.outputs)).toBeLessThan(1e-5);
}

describe('gather and scatter match onnxruntime-node', () => {
  const cases: [string, Case][] = [
    ['GatherElements axis 1, negative indices', { op: 'GatherElements', x: [3, 4, 5], extra: [{ int64: Array.from({ length: 30 }, (_, i) => (i * 7) % 8 - 4), dims: [3, 2, 5] }], attrs: { axis: 1 }, out: [3, 2, 5] }],
    ['GatherElements axis -1, int32 indices, smaller off-axis dims', { op: 'GatherElements', x: [3, 4, 5], extra: [{ int32: Array.from({ length: 18 }, (_, i) => (i * 3) % 5), dims: [2, 3, 3] }], attrs: { axis: -1 }, out: [2, 3, 3] }],
    ['GatherND k=2', { op: 'GatherND', x: [2, 3, 4], extra: [{ int64: [1, 2, 0, -1, 1, 0], dims: [3, 2] }], out: [3, 4] }],
    ['GatherND k=3 (scalars)', { op: 'GatherND', x: [2, 3, 4], extra: [{ int64: [1, 2, 3, 0, 0, 1], dims: [2, 3] }], out: [2] }],
    ['GatherND batch_dims 1', { op: 'GatherND', x: [2, 3, 4], extra: [{ int64: [2, 0, 1, 1], dims: [2, 2, 1] }], attrs: { batch_dims: 1 }, out: [2, 2, 4] }],
    ['ScatterND', { op: 'ScatterND', x: [4, 3], extra: [{ int64: [2, 0], dims: [2, 1] }, { float: [1, 2, 3, 4, 5, 6], dims: [2, 3] }], out: [4, 3] }],
    ['ScatterND add with duplicates', { op: 'ScatterND', x: [4, 3], extra: [{ int64: [1, 1, -1], dims: [3, 1] }, { float: [1, 2, 3, 4, 5, 6, 7, 8, 9], dims: [3, 3] }], attrs: { reduction: 'add' }, opset: 18, out: [4, 3] }],
    ['ScatterND mul of elements', { op: 'ScatterND', x: [2, 3], extra: [{ int64: [0, 1, 1, 2], dims: [2, 2] }, { float: [3, 5], dims: [2] }], attrs: { reduction: 'mul' }, opset: 18, out: [2, 3] }],
  ];
  for (const reduction of ['none', 'add', 'mul', 'max', 'min'])
    cases.push([`ScatterElements axis 0 reduction ${reduction}`, {
      op: 'ScatterElements', x: [3, 4], opset: 18,
      extra: [{ int64: reduction === 'none' ? [0, 2, 1, 1] : [0, 2, 0, -1, 1, 1, 2, 0], dims: reduction === 'none' ? [1, 4] : [2, 4] }, { float: reduction === 'none' ? [1, 2, 3, 4] : [1, 2, 3, 4, 5, 6, 7, 8], dims: reduction === 'none' ? [1, 4] : [2, 4] }],
      attrs: { axis: 0, reduction }, out: [3, 4],
    }]);
  for (const [name, c] of cases) it(name, () => check(c));

  it('an index out of range is ERR_INDEX_OUT_OF_RANGE, checked before anything is written', async () => {
    const g = new GraphBuilder();
    g.input('X', 'FLOAT', [3, 4]);
    g.input('I', 'INT64', [1, 4]);
    g.node('GatherElements', ['X', 'I'], ['Y'], { axis: 0 });
    g.output('Y', 'FLOAT', [1, 4]);
    const s = await InferenceSession.create(g.build('g'));
    const run = (v: bigint) => s.run({ X: new Tensor('float32', floats(12, 1), [3, 4]), I: new Tensor('int64', BigInt64Array.of(0n, 1n, v, 2n), [1, 4]) });
    await expect(run(3n)).rejects.toMatchObject({ code: 'ERR_INDEX_OUT_OF_RANGE' });
    await expect(run(-4n)).rejects.toMatchObject({ code: 'ERR_INDEX_OUT_OF_RANGE' });
    expect((await run(-3n)).Y.dims).toEqual([1, 4]);
    await s.release();
  });
});

describe('Resize matches onnxruntime-node', () => {
  const x = [1, 2, 5, 7];
  const scalesUp = { float: [1, 1, 2, 1.5], dims: [4] };
  const scalesDown = { float: [1, 1, 0.6, 0.5], dims: [4] };
  const cases: [string, Case][] = [];
  for (const coordinate_transformation_mode of ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric'])
    for (const mode of ['nearest', 'linear', 'cubic'])
      for (const [dir, scales] of [['up', scalesUp], ['down', scalesDown]] as const) {
        const out = [1, 2, Math.floor(5 * scales.float[2]), Math.floor(7 * scales.float[3])];
        cases.push([`${mode} ${coordinate_transformation_mode} ${dir}`, { op: 'Resize', x, extra: ['', scales], attrs: { mode, coordinate_transformation_mode }, out }]);
      }
  for (const nearest_mode of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'])
    cases.push([`nearest ${nearest_mode}`, { op: 'Resize', x, extra: ['', { float: [1, 1, 1.7, 2.3], dims: [4] }], attrs: { mode: 'nearest', nearest_mode, coordinate_transformation_mode: 'asymmetric' }, out: [1, 2, 8, 16] }]);
  cases.push(
    ['sizes, linear', { op: 'Resize', x, extra: ['', '', { int64: [1, 2, 9, 4], dims: [4] }], attrs: { mode: 'linear' }, out: [1, 2, 9, 4] }],
    ['cubic exclude_outside, a = -0.5', { op: 'Resize', x, extra: ['', scalesUp], attrs: { mode: 'cubic', exclude_outside: 1, cubic_coeff_a: -0.5 }, out: [1, 2, 10, 10] }],
    ['tf_crop_and_resize with extrapolation', { op: 'Resize', x, extra: [{ float: [0, 0, 0.2, -0.1, 1, 1, 0.9, 1.2], dims: [8] }, '', { int64: [1, 2, 6, 8], dims: [4] }], attrs: { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: 3.5 }, out: [1, 2, 6, 8] }],
    ['opset 10 nearest', { op: 'Resize', x, extra: [scalesUp], attrs: { mode: 'nearest' }, opset: 10, out: [1, 2, 10, 10] }],
    ['opset 10 linear down', { op: 'Resize', x, extra: [scalesDown], attrs: { mode: 'linear' }, opset: 10, out: [1, 2, 3, 3] }],
    ['opset 18 axes + not_larger', { op: 'Resize', x, extra: ['', '', { int64: [8, 8], dims: [2] }], attrs: { mode: 'linear', axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }, opset: 18, out: [1, 2, 6, 8] }],
    ['opset 19 half_pixel_symmetric', { op: 'Resize', x, extra: ['', scalesUp], attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel_symmetric' }, opset: 19, out: [1, 2, 10, 10] }],
  );
  // Opset 10 runs once the loader takes opsets below 11 (MIN_OPSET).
  for (const [name, c] of cases) it.skipIf((c.opset ?? 17) < MIN_OPSET)(name, () => check(c));
});

describe('DepthToSpace / SpaceToDepth match onnxruntime-node', () => {
  for (const mode of ['DCR', 'CRD']) it(`DepthToSpace ${mode}`, () => check({ op: 'DepthToSpace', x: [2, 8, 3, 2], attrs: { blocksize: 2, mode }, out: [2, 2, 6, 4] }));
  it('SpaceToDepth', () => check({ op: 'SpaceToDepth', x: [1, 3, 6, 4], attrs: { blocksize: 2 }, out: [1, 12, 3, 2] }));
});
