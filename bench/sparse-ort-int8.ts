// onnxruntime-node's dynamic int8 MatMul as the sparse-int8 benchmark's peer: DynamicQuantizeLinear(X)
// → MatMulInteger(Xq, Wq (s8, zero point 0), Xzp) → Cast(float) → Mul(Xscale · Wscale[N]), the graph
// quantize_dynamic emits and ORT fuses into MLAS's int8 GEMM. Weights: s8 symmetric per column.
// (The int8 branch adds the same peer to bench/ort.ts as ortInt8Matmul; either may serve.)
import { GraphBuilder } from '../src/onnx/builder.js';
import { DataType } from '../src/onnx/proto.js';
import { ort, ortSessionOptions } from './ort.js';

export function quantizeColumnsS8(W: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(W[k * N + n]));
  for (let n = 0; n < N; n++) scale[n] = scale[n] > 0 ? Math.fround(scale[n] / 127) : 1;
  const q = new Int8Array(K * N);
  for (let i = 0; i < K * N; i++) q[i] = Math.max(-127, Math.min(127, Math.round(W[i] / scale[i % N])));
  return { q, scale };
}

/** Y ≈ X·W through ORT's int8 path; returns a runner and the bytes its weights hold (s8 + scales). */
export async function ortInt8MatmulPeer(W: Float32Array, K: number, N: number, threads = 1): Promise<{ run: (x: Float32Array, M: number) => Promise<unknown>; bytes: number }> {
  const { q, scale } = quantizeColumnsS8(W, K, N);
  const g = new GraphBuilder();
  g.input('X', 'FLOAT', ['M', K]);
  g.tensor({ name: 'Wq', dataType: DataType.INT8, dims: [K, N], rawData: new Uint8Array(q.buffer, q.byteOffset, q.byteLength) });
  g.float('Wscale', scale, [N]);
  const [xq, xscale, xzp] = g.node('DynamicQuantizeLinear', ['X'], 3);
  const [acc] = g.node('MatMulInteger', [xq, 'Wq', xzp]);
  const [accf] = g.node('Cast', [acc], 1, { to: DataType.FLOAT });
  const [s] = g.node('Mul', [xscale, 'Wscale']);
  g.node('Mul', [accf, s], ['Y']);
  g.output('Y', 'FLOAT', ['M', N]);
  const session = await ort.InferenceSession.create(g.build('int8_matmul'), ortSessionOptions(threads));
  return { run: (x, M) => session.run({ X: new ort.Tensor('float32', x, [M, K]) }), bytes: K * N + 4 * N };
}
