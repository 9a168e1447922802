// Weight-only decode products (M = 1..8): sparq "int4" / "int8-wo" vs sparq fp32 and int8, and vs
// onnxruntime-node's fp32 MatMul, its dynamic int8 path and its com.microsoft MatMulNBits (4 bits, the
// same codes and scales as sparq's, accuracy_level 4: int8 activations as sparq's kernel), one process.
//   npm run bench -- int4-gemv [-- --threads=1,2 --m=1,2,4,8 --shapes=768x3072,3072x768,768x8192 --group=32 --time=200 --rounds=5]
import { kernels } from '../src/index.js';
import { quantizeGroupwise } from '../src/compress/quantize-weight-only.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { DataType } from '../src/onnx/proto.js';
import { flag, measure, printTable, randomFloats } from './harness.js';
import { ort, ortInt8Matmul, ortMatmul, ortSessionOptions } from './ort.js';

const list = (s: string | undefined, fallback: string): string[] => (s ?? fallback).split(',').filter(Boolean);
const SHAPES = list(flag('shapes'), '768x3072,3072x768,768x8192').map((s) => s.split('x').map(Number) as [number, number]);
const MS = list(flag('m'), '1,2,4,8').map(Number);
const THREADS = list(flag('threads'), '1,2').map(Number);
const GROUP = Number(flag('group') ?? 32);
const TIME = Number(flag('time') ?? 200);
const ROUNDS = Number(flag('rounds') ?? 5);

/** Y = X·W as one MatMulNBits node over sparq's own 4-bit codes and scales. */
async function ortNBits(W: Float32Array, K: number, N: number, threads: number): Promise<(x: Float32Array, M: number) => Promise<unknown>> {
  const q = quantizeGroupwise(W, K, N, { bits: 4, groupSize: GROUP, symmetric: true });
  const g = new GraphBuilder();
  g.input('X', 'FLOAT', ['M', K]);
  g.tensor({ name: 'B', dataType: DataType.UINT8, dims: [N, q.blocks, GROUP / 2], rawData: q.codes });
  g.float('S', q.scales, [N, q.blocks]);
  g.node('MatMulNBits', ['X', 'B', 'S'], ['Y'], { K, N, bits: 4, block_size: GROUP, accuracy_level: 4 }, 'com.microsoft');
  g.output('Y', 'FLOAT', ['M', N]);
  const session = await ort.InferenceSession.create(g.build('nbits'), ortSessionOptions(threads));
  return (x, M) => session.run({ X: new ort.Tensor('float32', x, [M, K]) });
}

async function main(): Promise<void> {
  for (const threads of THREADS) {
    const rows: (string | number)[][] = [];
    for (const [K, N] of SHAPES) {
      const W = randomFloats(K * N, K + N);
      const w4 = kernels.pack(W, K, N, { format: 'int4', groupSize: GROUP });
      const w8wo = kernels.pack(W, K, N, { format: 'int8-wo', groupSize: GROUP });
      const w8 = kernels.pack(W, K, N, { format: 'int8' });
      const w32 = kernels.pack(W, K, N, { format: 'dense' });
      const ort4 = await ortNBits(W, K, N, threads);
      const ort8 = await ortInt8Matmul(W, K, N, threads);
      const ort32 = await ortMatmul(W, K, N, threads);
      for (const M of MS) {
        const x = randomFloats(M * K, M + 7);
        const out = new Float32Array(M * N);
        const t = await measure(
          {
            'sparq int4': () => kernels.matmulSync(x, M, w4, { threads, out }),
            'sparq int8-wo': () => kernels.matmulSync(x, M, w8wo, { threads, out }),
            'sparq int8': () => kernels.matmulSync(x, M, w8, { threads, out }),
            'sparq fp32': () => kernels.matmulSync(x, M, w32, { threads, out }),
            'ORT int4': () => ort4(x, M),
            'ORT int8': () => ort8(x, M),
            'ORT fp32': () => ort32(x, M),
          },
          { time: TIME, rounds: ROUNDS },
        );
        const p = (k: string) => t[k].p50;
        rows.push([
          `${M}x${K}x${N}`,
          p('sparq int4'),
          p('sparq int8-wo'),
          p('sparq int8'),
          p('sparq fp32'),
          p('ORT int4'),
          p('ORT int8'),
          p('ORT fp32'),
          p('ORT int4') / p('sparq int4'),
          p('ORT int8') / p('sparq int4'),
          p('ORT fp32') / p('sparq int4'),
          p('sparq fp32') / p('sparq int4'),
          p('ORT int8') / p('sparq int8-wo'),
          ((w4.info.weightBytes as number) / (p('sparq int4') * 1e-3)) / 1e9,
        ]);
      }
      for (const w of [w4, w8wo, w8, w32]) w.release();
    }
    printTable(
      `weight-only decode, ${threads} thread(s), group ${GROUP}, p50 ms (sparq writes into a reused output). ORT int4 = MatMulNBits (same codes, accuracy_level 4); ` +
        `ORT int8 = DynamicQuantizeLinear → MatMulInteger; ratios = other / sparq; GB/s = int4 bytes (codes + scales) / sparq int4 time`,
      ['M x K x N', 'sparq int4', 'sparq int8-wo', 'sparq int8', 'sparq fp32', 'ORT int4', 'ORT int8', 'ORT fp32', 'int4 vs ORT int4', 'int4 vs ORT int8', 'int4 vs ORT fp32', 'int4 vs sparq fp32', 'int8-wo vs ORT int8', 'int4 GB/s'],
      rows,
    );
  }
}

await main();
