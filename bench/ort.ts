// onnxruntime-node peers for the benchmarks: the same weights run as ONNX graphs, one process.
import * as ort from 'onnxruntime-node';

import { GraphBuilder, matmulModel } from '../src/onnx/builder.js';
import { DataType } from '../src/onnx/proto.js';

export function ortSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

/** Y = X·W as an fp32 MatMul session; returns a runner for a given X. */
export async function ortMatmul(W: Float32Array, K: number, N: number, threads = 1): Promise<(x: Float32Array, M: number) => Promise<unknown>> {
  const session = await ort.InferenceSession.create(matmulModel(W, K, N), ortSessionOptions(threads));
  return (x, M) => session.run({ X: new ort.Tensor('float32', x, [M, K]) });
}

export { ort };

/**
 * s8 symmetric per-column weights (scale = max|w| / 127, round half to even), as sparq's "int8"
 * format quantizes them, so both sides multiply the same integer weights.
 */
export function quantizeWeightsS8(W: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(W[k * N + n]));
  for (let n = 0; n < N; n++) scale[n] = scale[n] > 0 ? Math.fround(scale[n] / 127) : 1;
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      const v = W[k * N + n] / scale[n];
      let r = Math.round(v);
      if (r - v === 0.5 && r % 2 !== 0) r -= 1; // half to even
      q[k * N + n] = Math.max(-127, Math.min(127, r));
    }
  return { q, scale };
}

/**
 * Y ≈ X·W through onnxruntime's dynamic int8 path: DynamicQuantizeLinear(X) → MatMulInteger(Xq, Wq
 * (s8, zero point 0), Xzp) → Cast(float) → Mul(Xscale · Wscale[N]) — the graph quantize_dynamic emits
 * and that ORT fuses into its MLAS int8 GEMM (MatMulIntegerToFloat). X is quantized per tensor (u8).
 * peer 'dqmm': the same as one com.microsoft DynamicQuantizeMatMul node (same outputs; no faster here).
 */
export async function ortInt8Matmul(
  W: Float32Array,
  K: number,
  N: number,
  threads = 1,
  peer: 'graph' | 'dqmm' = 'graph',
): Promise<(x: Float32Array, M: number, out?: ort.Tensor) => Promise<unknown>> {
  const { q, scale } = quantizeWeightsS8(W, K, N);
  const g = new GraphBuilder();
  g.input('X', 'FLOAT', ['M', K]);
  g.tensor({ name: 'Wq', dataType: DataType.INT8, dims: [K, N], rawData: new Uint8Array(q.buffer, q.byteOffset, q.byteLength) });
  g.float('Wscale', scale, [N]);
  if (peer === 'dqmm') {
    // The contrib op that does all of it in one node (s8 weights, zero points 0).
    g.tensor({ name: 'Wzp', dataType: DataType.INT8, dims: [N], rawData: new Uint8Array(N) });
    g.node('DynamicQuantizeMatMul', ['X', 'Wq', 'Wscale', 'Wzp'], ['Y'], {}, 'com.microsoft');
  } else {
    const [xq, xscale, xzp] = g.node('DynamicQuantizeLinear', ['X'], 3);
    const [acc] = g.node('MatMulInteger', [xq, 'Wq', xzp]);
    const [accf] = g.node('Cast', [acc], 1, { to: DataType.FLOAT });
    const [s] = g.node('Mul', [xscale, 'Wscale']);
    g.node('Mul', [accf, s], ['Y']);
  }
  g.output('Y', 'FLOAT', ['M', N]);
  const session = await ort.InferenceSession.create(g.build('int8_matmul'), ortSessionOptions(threads));
  // out: a pre-allocated fetch, which onnxruntime-node computes into (it still returns a copy).
  return (x, M, out) => session.run({ X: new ort.Tensor('float32', x, [M, K]) }, out ? { Y: out } : {});
}
