// int8 GEMM: sparq's "int8" format vs onnxruntime-node's dynamic int8 path (DynamicQuantizeLinear →
// MatMulInteger → Cast → Mul, same s8 weights) and vs fp32 (ORT MatMul, sparq dense), one process.
//   npm run bench -- int8-gemm [-- --threads=1,2 --m=1,8,32,128 --shapes=768x3072,3072x768,4096x4096 --time=200 --rounds=5
//                              --peer=graph|dqmm]   (dqmm: ORT int8 as one com.microsoft DynamicQuantizeMatMul node)
import { kernels } from '../src/index.js';
import { flag, machinePeaks, measure, printTable, randomFloats } from './harness.js';
import { ortInt8Matmul, ortMatmul } from './ort.js';

const list = (s: string | undefined, fallback: string): string[] => (s ?? fallback).split(',').filter(Boolean);
const SHAPES = list(flag('shapes'), '768x3072,3072x768,4096x4096').map((s) => s.split('x').map(Number) as [number, number]);
const MS = list(flag('m'), '1,8,32,128').map(Number);
const THREADS = list(flag('threads'), '1,2').map(Number);
const TIME = Number(flag('time') ?? 200);
const ROUNDS = Number(flag('rounds') ?? 5);
const PEER = flag('peer') === 'dqmm' ? 'dqmm' : 'graph';

async function main(): Promise<void> {
  const peak = machinePeaks();
  console.log(`machine peaks per core (measured): int8 vpdpbusd ${peak.int8.toFixed(0)} GOP/s, fp32 FMA ${peak.fp32.toFixed(0)} GFLOP/s`);
  for (const threads of THREADS) {
    const rows: (string | number)[][] = [];
    for (const [K, N] of SHAPES) {
      const W = randomFloats(K * N, K + N);
      const w8 = kernels.pack(W, K, N, { format: 'int8' });
      const w32 = kernels.pack(W, K, N, { format: 'dense' });
      const ort8 = await ortInt8Matmul(W, K, N, threads, PEER);
      const ort32 = await ortMatmul(W, K, N, threads);
      for (const M of MS) {
        const x = randomFloats(M * K, M + 7);
        const out = new Float32Array(M * N);
        const t = await measure(
          {
            'sparq int8': () => kernels.matmulSync(x, M, w8, { threads }),
            'sparq int8 (out)': () => kernels.matmulSync(x, M, w8, { threads, out }),
            'ORT int8': () => ort8(x, M),
            'ORT fp32': () => ort32(x, M),
            'sparq fp32': () => kernels.matmulSync(x, M, w32, { threads }),
          },
          { time: TIME, rounds: ROUNDS },
        );
        const ops = 2 * M * K * N;
        const gops = ops / (t['sparq int8 (out)'].p50 * 1e-3) / 1e9;
        rows.push([
          `${M}x${K}x${N}`,
          t['sparq int8'].p50,
          t['sparq int8 (out)'].p50,
          t['ORT int8'].p50,
          t['ORT fp32'].p50,
          t['sparq fp32'].p50,
          t['ORT int8'].p50 / t['sparq int8'].p50,
          t['ORT int8'].p50 / t['sparq int8 (out)'].p50,
          t['ORT fp32'].p50 / t['sparq int8'].p50,
          t['sparq fp32'].p50 / t['sparq int8'].p50,
          gops,
          (100 * gops) / (peak.int8 * threads),
          ops / (t['ORT int8'].p50 * 1e-3) / 1e9,
        ]);
      }
      w8.release();
      w32.release();
    }
    printTable(
      `int8 GEMM, ${threads} thread(s), p50 ms (ORT int8: ${PEER === 'dqmm' ? 'one DynamicQuantizeMatMul node' : 'DynamicQuantizeLinear → MatMulInteger → Cast → Mul'}; ratios = other time / sparq int8 time; "out": sparq writing into a reused output ` +
        `(options.out), which onnxruntime-node 1.30 cannot do: it allocates every output; GOP/s and % of ${threads} x measured vpdpbusd peak from "out")`,
      ['M x K x N', 'sparq int8', 'sparq int8 out', 'ORT int8', 'ORT fp32', 'sparq fp32', 'vs ORT int8', 'vs ORT int8 (out)', 'vs ORT fp32', 'vs sparq fp32', 'sparq GOP/s', '% peak', 'ORT int8 GOP/s'],
      rows,
    );
  }
}

await main();
