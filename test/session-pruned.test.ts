// A model pruned elsewhere (zeros in its weights, no sparq annotations) runs on a sparse format by default.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, Tensor } from '../src/index.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { maxScaledError, prune, randomFloats } from './helpers.js';

function linearModel(W: Float32Array, K: number, N: number): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', 'FLOAT', ['batch', K]);
  g.float('W', W, [K, N]);
  g.node('MatMul', ['x', 'W'], ['y']);
  g.output('y', 'FLOAT', ['batch', N]);
  return g.build();
}

describe('sessions pick formats for unannotated weights', () => {
  it('runs a 90%-zero weight on a sparse format and a dense one on dense, same outputs as onnxruntime', async () => {
    const K = 512, N = 384, M = 16;
    const dense = randomFloats(K * N, 1);
    const pruned = prune(dense, 0.9, 2);
    const x = randomFloats(M * K, 3);
    for (const [W, expectSparse] of [[dense, false], [pruned, true]] as const) {
      const bytes = linearModel(W, K, N);
      const s = await InferenceSession.create(bytes, { threads: 1 });
      const format = [...s.weights.values()][0].format;
      if (expectSparse) expect(format).not.toBe('dense');
      else expect(format).toBe('dense');
      const y = (await s.run({ x: new Tensor('float32', x, [M, K]) })).y.data as Float32Array;
      const o = await ort.InferenceSession.create(bytes);
      const want = (await o.run({ x: new ort.Tensor('float32', x, [M, K]) })).y.data as Float32Array;
      expect(maxScaledError(y, want)).toBeLessThan(1e-4);
      await s.release();
    }
    const forced = await InferenceSession.create(linearModel(pruned, K, N), { weightFormat: 'dense' });
    expect([...forced.weights.values()][0].format).toBe('dense');
    await forced.release();
  });
});
