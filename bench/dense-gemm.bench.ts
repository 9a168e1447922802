// Dense fp32 GEMM: sparq vs onnxruntime-node MatMul on the same weights, one process, one thread.
//   npm run bench -- dense-gemm
import { kernels } from '../src/index.js';
import { machinePeaks, measure, printTable, randomFloats } from './harness.js';
import { ortMatmul } from './ort.js';

const SHAPES: [number, number][] = [
  [768, 3072],
  [3072, 768],
];
const MS = [1, 32, 128];

async function main(): Promise<void> {
  const peak = machinePeaks();
  console.log(`machine fp32 FMA peak: ${peak.fp32.toFixed(1)} GFLOP/s per core (measured)`);
  const rows: (string | number)[][] = [];
  for (const [K, N] of SHAPES) {
    const W = randomFloats(K * N, K + N);
    const packed = kernels.pack(W, K, N, { format: 'dense' });
    const ort = await ortMatmul(W, K, N, 1);
    for (const M of MS) {
      const x = randomFloats(M * K, M);
      const t = await measure({
        sparq: () => kernels.matmulSync(x, M, packed, { threads: 1 }),
        'sparq async': () => kernels.matmul(x, M, packed, { threads: 1 }),
        ort: () => ort(x, M),
      });
      const flops = 2 * M * K * N;
      const gflops = flops / (t.sparq.p50 * 1e-3) / 1e9;
      rows.push([
        `${M}x${K}x${N}`,
        t.sparq.p50,
        t['sparq async'].p50,
        t.ort.p50,
        t.ort.p50 / t.sparq.p50,
        t.ort.p50 / t['sparq async'].p50,
        gflops,
        (100 * gflops) / peak.fp32,
        flops / (t.ort.p50 * 1e-3) / 1e9,
      ]);
    }
    packed.release();
  }
  printTable('dense fp32 GEMM, 1 thread (p50 ms; speedup = ORT time / sparq time)', ['M x K x N', 'sparq ms', 'sparq async ms', 'ORT ms', 'speedup', 'speedup async', 'sparq GFLOP/s', '% of peak', 'ORT GFLOP/s'], rows);
}

await main();
