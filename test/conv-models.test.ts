// A small CNN exported by PyTorch (scripts/export-cnn.py 'tiny': strided 3x3 stem, max pool, residual
// block, 1x1 expand, depthwise with Relu6, grouped dilated conv, global pool, Linear head; BatchNorms
// with random statistics) against onnxruntime-node, dense and after prune() + quantize().
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';

import { cnnInput, cnnModel } from '../bench/cnn-models.js';
import { InferenceSession, Tensor, loadModel, prune, quantize } from '../src/index.js';

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

describe('an exported CNN', () => {
  beforeAll(async () => {
    path = cnnModel('tiny');
    x = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => cnnInput(32, 3)[i % (3 * 32 * 32)] * (i < 3072 ? 1 : -0.5));
    const o = await ort.InferenceSession.create(path);
    // The export has a fixed batch of 1: each of the two images runs on its own.
    const parts = await Promise.all([0, 1].map(async (b) => (await o.run({ input: new ort.Tensor('float32', x.subarray(b * 3072, (b + 1) * 3072), [1, 3, 32, 32]) })).output.data as Float32Array));
    want = Float32Array.from([...parts[0], ...parts[1]]);
  }, 120_000);

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
