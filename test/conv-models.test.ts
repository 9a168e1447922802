// A small CNN exported by PyTorch (scripts/export-cnn.py 'tiny': strided 3x3 stem, max pool, residual
// block, 1x1 expand, depthwise with Relu6, grouped dilated conv, global pool, Linear head; BatchNorms
// with random statistics) against onnxruntime-node, dense and after prune() + quantize().
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';

import { cnnInput, cnnModel } from '../bench/cnn-models.js';
import { InferenceSession, Tensor, loadModel, prune, quantize } from '../src/index.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { randomFloats } from './helpers.js';

let path = '';
let x: Float32Array;
let want: Float32Array;

function relError(a: Float32Array, b: Float32Array): number {
  let err = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

beforeAll(async () => {
  path = cnnModel('tiny');
  x = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => cnnInput(32, 3)[i % (3 * 32 * 32)] * (i < 3072 ? 1 : -0.5));
  const o = await ort.InferenceSession.create(path);
  // The export has a fixed batch of 1: each of the two images runs on its own.
  const parts = await Promise.all([0, 1].map(async (b) => (await o.run({ input: new ort.Tensor('float32', x.subarray(b * 3072, (b + 1) * 3072), [1, 3, 32, 32]) })).output.data as Float32Array));
  want = Float32Array.from([...parts[0], ...parts[1]]);
}, 120_000);

describe('an exported CNN', () => {
  it('matches onnxruntime-node within 1e-4 relative (1 and 2 threads)', async () => {
    for (const threads of [1, 2]) {
      const s = await InferenceSession.create(path, { threads });
      const single = await Promise.all([0, 1].map(async (b) => (await s.run({ input: new Tensor('float32', x.slice(b * 3072, (b + 1) * 3072), [1, 3, 32, 32]) })).output.data as Float32Array));
      expect(relError(Float32Array.from([...single[0], ...single[1]]), want)).toBeLessThan(1e-4);
      await s.release();
    }
  });

  it('runs pruned (unstructured and 1x4 blocks) and int8 on the sparse and int8 kernels, close to its own fp32 output', async () => {
    const model = await loadModel(path);
    for (const pattern of ['unstructured', 'block'] as const) {
      const pruned = await prune(model, { sparsity: 0.5, pattern, minParams: 0 });
      const sp = await InferenceSession.create(pruned, { threads: 1, weightFormat: 'sparse' });
      const formats = [...sp.weights.values()].map((w) => w.format);
      expect(formats.filter((f) => f === 'sparse').length).toBeGreaterThanOrEqual(4);
      const dense = await InferenceSession.create(pruned, { threads: 1, weightFormat: 'dense' });
      const feeds = { input: new Tensor('float32', x.slice(0, 3072), [1, 3, 32, 32]) };
      const a = (await sp.run(feeds)).output.data as Float32Array;
      const b = (await dense.run(feeds)).output.data as Float32Array;
      expect(relError(a, b)).toBeLessThan(1e-5);
      const q = await quantize(pruned, { mode: 'dynamic' });
      const qs = await InferenceSession.create(q, { threads: 1 });
      expect([...qs.weights.values()].some((w) => w.format === 'int8' || w.format === 'sparse-int8')).toBe(true);
      const c = (await qs.run(feeds)).output.data as Float32Array;
      expect(relError(c, b)).toBeLessThan(0.1);
      for (const s of [sp, dense, qs]) await s.release();
    }
  });
});

describe('structured channel pruning of convs', () => {
  // Chains whose removed channels fold exactly (1x1 next convs, an unpadded depthwise on the way):
  // channels whose weights are already zero (with a non-zero bias) are the ones magnitude removes, so
  // the shrunk model must compute what the original one does.
  it('cuts a conv, its BatchNorm, a depthwise conv and the next conv\'s inputs, outputs unchanged', async () => {
    const g = new GraphBuilder();
    const f = (n: number, seed: number, lo = -1, hi = 1) => randomFloats(n, seed, lo, hi);
    g.input('X', 'FLOAT', [1, 4, 9, 9]);
    const w1 = f(8 * 4 * 9, 1);
    for (const dead of [1, 4, 5, 6]) w1.fill(0, dead * 36, (dead + 1) * 36);
    g.float('W1', w1, [8, 4, 3, 3]);
    g.float('B1', f(8, 2), [8]);
    const bn = (p: string, c: number, s: number) => [g.float(`${p}s`, f(c, s, 0.5, 1.5), [c]), g.float(`${p}b`, f(c, s + 1), [c]), g.float(`${p}m`, f(c, s + 2), [c]), g.float(`${p}v`, f(c, s + 3, 0.5, 1.5), [c])];
    let [y] = g.node('Conv', ['X', 'W1', 'B1'], 1, { pads: [1, 1, 1, 1] });
    [y] = g.node('BatchNormalization', [y, ...bn('n1', 8, 10)]);
    [y] = g.node('Clip', [y, g.float('lo', Float32Array.of(0), []), g.float('hi', Float32Array.of(6), [])]);
    [y] = g.node('Conv', [y, g.float('Wd', f(8 * 9, 20), [8, 1, 3, 3]), g.float('Bd', f(8, 21), [8])], 1, { group: 8 });
    [y] = g.node('BatchNormalization', [y, ...bn('n2', 8, 30)]);
    [y] = g.node('Relu', [y]);
    g.node('Conv', [y, g.float('W2', f(6 * 8, 40), [6, 8, 1, 1])], ['Y']);
    g.output('Y', 'FLOAT', [1, 6, 7, 7]);
    const bytes = g.build();
    const model = await loadModel(bytes);
    const pruned = await prune(model, { pattern: 'structured', sparsity: 0.5, minParams: 0, include: ['W1'] });
    expect(pruned.graph.initializers.get('W1')?.dims).toEqual([4, 4, 3, 3]);
    expect(pruned.graph.initializers.get('Wd')?.dims).toEqual([4, 1, 3, 3]);
    expect(pruned.graph.initializers.get('n2v')?.dims).toEqual([4]);
    expect(pruned.graph.initializers.get('W2')?.dims).toEqual([6, 4, 1, 1]);
    const xs = f(4 * 81, 50);
    const want = (await (await ort.InferenceSession.create(bytes)).run({ X: new ort.Tensor('float32', xs, [1, 4, 9, 9]) })).Y.data as Float32Array;
    const s = await InferenceSession.create(pruned, { threads: 1 });
    const got = (await s.run({ X: new Tensor('float32', xs, [1, 4, 9, 9]) })).Y.data as Float32Array;
    expect(relError(got, want)).toBeLessThan(1e-5);
    await s.release();
  });

  it('shrinks the exported tiny CNN where its chains allow, and it still runs', async () => {
    const model = await loadModel(path);
    const pruned = await prune(model, { pattern: 'structured', sparsity: 0.5, minParams: 0 });
    const before = [...model.graph.initializers.values()].reduce((a, t) => a + t.data.length, 0);
    const after = [...pruned.graph.initializers.values()].reduce((a, t) => a + t.data.length, 0);
    expect(after).toBeLessThan(before * 0.9);
    const s = await InferenceSession.create(pruned, { threads: 1 });
    const y = (await s.run({ input: new Tensor('float32', x.slice(0, 3072), [1, 3, 32, 32]) })).output.data as Float32Array;
    expect(y.length).toBe(10);
    expect(y.every(Number.isFinite)).toBe(true);
    await s.release();
  });
});
