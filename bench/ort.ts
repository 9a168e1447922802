// onnxruntime-node peers for the benchmarks: the same weights run as ONNX graphs, one process.
import * as ort from 'onnxruntime-node';

import { matmulModel } from '../src/onnx/builder.js';

export function ortSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

/** Y = X·W as an fp32 MatMul session; returns a runner for a given X. */
export async function ortMatmul(W: Float32Array, K: number, N: number, threads = 1): Promise<(x: Float32Array, M: number) => Promise<unknown>> {
  const session = await ort.InferenceSession.create(matmulModel(W, K, N), ortSessionOptions(threads));
  return (x, M) => session.run({ X: new ort.Tensor('float32', x, [M, K]) });
}

export { ort };
