// int8 GEMM: sparq's "int8" format vs onnxruntime-node's dynamic int8 path (DynamicQuantizeLinear →
// MatMulInteger → Cast → Mul, same s8 weights; also into a pre-allocated fetch) and vs fp32 (ORT MatMul,
// sparq dense), one process, with the ceiling the measured vpdpbusd peak puts on any int8 kernel.
//   npm run bench -- int8-gemm [-- --threads=1,2 --m=1,8,32,128 --shapes=768x3072,3072x768,4096x4096 --time=200 --rounds=5
//                              --peer=graph|dqmm]   (dqmm: ORT int8 as one com.microsoft DynamicQuantizeMatMul node)
import { kernels } from '../src/index.js';
import { flag, machinePeaks, measure, printTable, randomFloats } from './harness.js';
import { ort, ortInt8Matmul, ortMatmul } from './ort.js';

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
        const ortOut = new ort.Tensor('float32', new Float32Array(M * N), [M, N]);
        const t = await measure(
          {
            'sparq int8': () => kernels.matmulSync(x, M, w8, { threads }),
            'sparq int8 (out)': () => kernels.matmulSync(x, M, w8, { threads, out }),
            'ORT int8': () => ort8(x, M),
            'ORT int8 (fetches)': () => ort8(x, M, ortOut),
            'ORT fp32': () => ort32(x, M),
            'sparq fp32': () => kernels.matmulSync(x, M, w32, { threads }),
          },
          { time: TIME, rounds: ROUNDS },
        );
        const ops = 2 * M * K * N;
        const gops = (ms: number): number => ops / (ms * 1e-3) / 1e9;
        // onnxruntime's best mode: its pre-allocated fetch still returns a copy, so it is rarely faster.
        const ortBest = Math.min(t['ORT int8'].p50, t['ORT int8 (fetches)'].p50);
        // The largest ratio any kernel could show: the whole product at 100% of the peak, nothing else.
        const atPeak = (ops / (peak.int8 * threads * 1e9)) * 1e3;
        rows.push([
          `${M}x${K}x${N}`,
          t['sparq int8'].p50,
          t['sparq int8 (out)'].p50,
          t['ORT int8'].p50,
          t['ORT int8 (fetches)'].p50,
          t['ORT fp32'].p50,
          t['sparq fp32'].p50,
          t['ORT int8'].p50 / t['sparq int8'].p50,
          ortBest / t['sparq int8 (out)'].p50,
          ortBest / atPeak,
          t['ORT fp32'].p50 / t['sparq int8'].p50,
          t['sparq fp32'].p50 / t['sparq int8'].p50,
          gops(t['sparq int8 (out)'].p50),
          (100 * gops(t['sparq int8 (out)'].p50)) / (peak.int8 * threads),
          (100 * gops(ortBest)) / (peak.int8 * threads),
        ]);
      }
      w8.release();
      w32.release();
    }
    printTable(
      `int8 GEMM, ${threads} thread(s), p50 ms. ORT int8: ${PEER === 'dqmm' ? 'one DynamicQuantizeMatMul node' : 'DynamicQuantizeLinear → MatMulInteger → Cast → Mul'}; ` +
        `"fetches": ORT computing into a pre-allocated output (onnxruntime-node still returns a copy); "out": sparq writing into a reused output (options.out). ` +
        `Ratios = other time / sparq int8 time; "best vs best" = faster ORT int8 mode / sparq out; "ceiling" = faster ORT int8 mode / the product's time at 100% of ${threads} x the measured vpdpbusd peak, ` +
        `the most any int8 kernel could show here; % peak from "out" and from ORT's faster mode`,
      [
        'M x K x N',
        'sparq int8',
        'sparq int8 out',
        'ORT int8',
        'ORT int8 fetches',
        'ORT fp32',
        'sparq fp32',
        'vs ORT int8',
        'best vs best',
        'ceiling',
        'vs ORT fp32',
        'vs sparq fp32',
        'sparq GOP/s',
        'sparq % peak',
        'ORT int8 % peak',
      ],
      rows,
    );
  }
}

await main();
