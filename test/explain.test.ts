// explain(): occlusion on a BERT-style encoder (int64 token ids occluded by a baseline id) and on an MLP
// image classifier, deterministic across runs; the quadrature rules; and the argument checks.
import { describe, expect, it } from 'vitest';

import { explain, InferenceSession, loadModel, mlp, SparqError, Tensor } from '../src/index.js';
import { encoderModel } from '../src/onnx/zoo.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { randomFloats } from './helpers.js';
import { leggauss, pathRule } from '../src/explain/quadrature.js';
import { mulberry32 } from '../src/random.js';

const topK = (a: ArrayLike<number>, k: number) => Array.from(a, (v, i) => [Math.abs(v), i]).sort((p, q) => q[0] - p[0] || p[1] - q[1]).slice(0, k).map((p) => p[1]);

describe('occlusion', () => {
  it('explains an encoder by its token positions, the same way every run, batched or not', async () => {
    const model = await loadModel(encoderModel({ hidden: 32, heads: 2, ffn: 64, layers: 2, vocab: 50, maxPosition: 16, seed: 4 }));
    const seq = 12;
    const r = mulberry32(9);
    const ids = new Tensor('int64', BigInt64Array.from({ length: seq }, () => BigInt(1 + Math.floor(r() * 49))), [1, seq]);
    const mask = new Tensor('int64', new BigInt64Array(seq).fill(1n), [1, seq]);
    const target = { output: 'last_hidden_state', index: [0, 5] };
    const a = await explain(model, { input_ids: ids, attention_mask: mask }, { method: 'occlusion', target, threads: 1 });
    expect(Object.keys(a.attributions)).toEqual(['input_ids']);
    expect(a.attributions.input_ids.dims).toEqual([1, seq]);
    expect(a.target).toEqual({ output: 'last_hidden_state', index: 5 });
    // Every position matters a little (attention mixes them); none is NaN.
    expect(a.attributions.input_ids.data.every((v) => Number.isFinite(v))).toBe(true);
    expect(a.attributions.input_ids.data.some((v) => v !== 0)).toBe(true);
    // Deterministic, and independent of how the perturbed examples are batched (a session, one per run).
    const session = await InferenceSession.create(model, { threads: 1 });
    const b = await explain(session, { input_ids: ids, attention_mask: mask }, { method: 'occlusion', target, rowsPerRun: 5 });
    const c = await explain(session, { input_ids: ids, attention_mask: mask }, { method: 'occlusion', target, rowsPerRun: 1 });
    await session.release();
    expect(topK(b.attributions.input_ids.data, 3)).toEqual(topK(a.attributions.input_ids.data, 3));
    for (let i = 0; i < seq; i++) {
      expect(b.attributions.input_ids.data[i]).toBeCloseTo(a.attributions.input_ids.data[i], 4);
      expect(c.attributions.input_ids.data[i]).toBeCloseTo(a.attributions.input_ids.data[i], 4);
    }
    // Occluding position 5 by itself must be what moves its own output most among single positions.
    const own = a.attributions.input_ids.data[5];
    expect(Math.abs(own)).toBe(Math.max(...Array.from(a.attributions.input_ids.data, Math.abs)));
  });

  it('explains an image MLP by windows over the 28x28 view, matching a direct computation', async () => {
    const model = mlp({ inputs: 784, hidden: [16], outputs: 10, seed: 2 });
    const r = mulberry32(3);
    const x = new Tensor('float32', Float32Array.from({ length: 784 }, () => r()), [1, 784]);
    const e1 = await explain(model, { input: x }, { method: 'occlusion', target: 3, threads: 1 });
    const e2 = await explain(model, { input: x }, { method: 'occlusion', target: 3, threads: 1 });
    expect(topK(e1.attributions.input.data, 10)).toEqual(topK(e2.attributions.input.data, 10));
    // A 4x4 window with stride 4 tiles the image: each pixel's attribution is its own tile's difference.
    const tiled = await explain(model, { input: x }, { method: 'occlusion', target: 3, window: [4, 4], strides: [4, 4], baseline: 0.5 });
    const session = await InferenceSession.create(model, { threads: 1 });
    const f = async (d: Float32Array) => ((await session.run({ input: new Tensor('float32', d, [1, 784]) })).output.data as Float32Array)[3];
    const fx = await f(x.data);
    for (const [ty, tx] of [[0, 0], [3, 5], [6, 6]]) {
      const d = Float32Array.from(x.data);
      for (let yy = 0; yy < 4; yy++) for (let xx = 0; xx < 4; xx++) d[(ty * 4 + yy) * 28 + tx * 4 + xx] = 0.5;
      const want = fx - (await f(d));
      expect(tiled.attributions.input.data[(ty * 4 + 1) * 28 + tx * 4 + 2]).toBeCloseTo(want, 4);
    }
    await session.release();
  });
});

/** A small CNN: [batch, 1, 12, 12] → Conv 3x3 (4 channels) → Relu → MaxPool 2x2 → Flatten → Gemm → 3 classes. */
function cnn(): Uint8Array {
  const g = new GraphBuilder();
  g.input('image', 'FLOAT', ['batch', 1, 12, 12]);
  const w = g.float('conv.weight', randomFloats(4 * 9, 11, -0.6, 0.6), [4, 1, 3, 3]);
  const b = g.float('conv.bias', randomFloats(4, 12, -0.1, 0.1), [4]);
  const [c] = g.node('Conv', ['image', w, b], 1, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const [r] = g.node('Relu', [c]);
  const [p] = g.node('MaxPool', [r], 1, { kernel_shape: [2, 2], strides: [2, 2] });
  const [f] = g.node('Flatten', [p], 1, { axis: 1 });
  const fw = g.float('fc.weight', randomFloats(3 * 144, 13, -0.2, 0.2), [3, 144]);
  const fb = g.float('fc.bias', new Float32Array(3), [3]);
  g.node('Gemm', [f, fw, fb], ['logits'], { transB: 1 });
  g.output('logits', 'FLOAT', ['batch', 3]);
  return g.build('cnn');
}

describe('occlusion on a CNN', () => {
  it('slides over the image plane, deterministic, and matches a direct computation', async () => {
    const model = await loadModel(cnn());
    const x = new Tensor('float32', randomFloats(144, 21, 0, 1), [1, 1, 12, 12]);
    const a = await explain(model, { image: x }, { method: 'occlusion', target: 1, threads: 1 });
    const b = await explain(model, { image: x }, { method: 'occlusion', target: 1, threads: 1, rowsPerRun: 7 });
    expect(a.attributions.image.dims).toEqual([1, 1, 12, 12]);
    expect(topK(a.attributions.image.data, 8)).toEqual(topK(b.attributions.image.data, 8));
    // 3x3 tiles with stride 3: each pixel's attribution is its tile's f(x) - f(occluded).
    const tiled = await explain(model, { image: x }, { method: 'occlusion', target: 1, window: [1, 3, 3], strides: [1, 3, 3] });
    const session = await InferenceSession.create(model, { threads: 1 });
    const f = async (d: Float32Array) => ((await session.run({ image: new Tensor('float32', d, [1, 1, 12, 12]) })).logits.data as Float32Array)[1];
    const fx = await f(x.data);
    for (const [ty, tx] of [[0, 0], [2, 1], [3, 3]]) {
      const d = Float32Array.from(x.data);
      for (let yy = 0; yy < 3; yy++) for (let xx = 0; xx < 3; xx++) d[(ty * 3 + yy) * 12 + tx * 3 + xx] = 0;
      expect(tiled.attributions.image.data[(ty * 3 + 1) * 12 + tx * 3 + 1]).toBeCloseTo(fx - (await f(d)), 4);
    }
    await session.release();
    // Gradients need a graph the training autograd covers: a CNN is refused with a pointer to occlusion.
    await expect(explain(model, { image: x })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_OP', message: expect.stringMatching(/occlusion/) });
  });
});

describe('integration rules', () => {
  it('has numpy leggauss nodes and weights, and weights summing to 1 on [0, 1]', () => {
    const g = leggauss(3);
    expect(g.nodes[0]).toBeCloseTo(-Math.sqrt(3 / 5), 12);
    expect(g.nodes[1]).toBeCloseTo(0, 12);
    expect(g.weights[0]).toBeCloseTo(5 / 9, 12);
    expect(g.weights[1]).toBeCloseTo(8 / 9, 12);
    for (const m of ['gausslegendre', 'riemann_trapezoid', 'riemann_left', 'riemann_right', 'riemann_middle'] as const) {
      const p = pathRule(m, 50);
      expect(p.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
      // ∫0^1 t^3 dt = 1/4: Gauss-Legendre is exact, the others close.
      const integral = p.alphas.reduce((a, t, i) => a + p.weights[i] * t ** 3, 0);
      expect(Math.abs(integral - 0.25)).toBeLessThan(m === 'gausslegendre' ? 1e-12 : 0.011);
    }
  });
});

describe('explain() arguments', () => {
  const model = mlp({ inputs: 8, hidden: [4], outputs: 3, seed: 1 });
  const x = new Tensor('float32', new Float32Array(8).fill(0.5), [1, 8]);
  it('refuses what it cannot do with coded errors', async () => {
    await expect(explain(model, { input: x }, { method: 'lime' as never })).rejects.toThrow(RangeError);
    await expect(explain(model, { input: x }, { target: 3 })).rejects.toThrow(/Expected an integer in \[0, 2\]/);
    await expect(explain(model, { input: new Tensor('float32', new Float32Array(16), [2, 8]) })).rejects.toThrow(/batch 1/);
    await expect(explain(model, { input: x }, { steps: 0 })).rejects.toThrow(RangeError);
    await expect(explain({} as never, { input: x })).rejects.toThrow(TypeError);
    await expect(explain(model, { input: x }, { method: 'occlusion', baseline: x })).rejects.toThrow(TypeError);
    await expect(explain(model, { input: x }, { method: 'occlusion', baseline: { input: 'pad' as never } })).rejects.toThrow(/options.baseline\["input"\]/);
    const perInput = await explain(model, { input: x }, { method: 'occlusion', baseline: { input: 0.5 }, window: [2], target: 1 });
    // The input is 0.5 everywhere: occluding by 0.5 changes nothing.
    expect(perInput.attributions.input.data.every((v) => v === 0)).toBe(true);
    const session = await InferenceSession.create(model);
    await expect(explain(session, { input: x })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_OP' });
    await session.release();
    const enc = await loadModel(encoderModel({ hidden: 16, heads: 2, layers: 1, vocab: 20, maxPosition: 8 }));
    const ids = new Tensor('int64', new BigInt64Array(4).fill(1n), [1, 4]);
    const err = await explain(enc, { input_ids: ids, attention_mask: ids }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparqError);
    expect((err as SparqError).code).toBe('ERR_UNSUPPORTED_OP');
  });
});
