// Sparse matmul: sparq's sparse formats vs onnxruntime-node (fp32 MatMul on the same dense-with-zeros
// weights, and its dynamic int8 MatMulInteger path) and sparq dense, one process, one thread.
//   npm run bench -- sparse-gemm                 default grid, ~3 minutes
//   npm run bench -- sparse-gemm --full          longer timings, adds block 8x1 / 16x1
//   --sparsity=90 --m=32 --shape=768x3072        restrict the grid; --rounds=N (default 5)
// Masks: random unstructured for 'sparse', 'sparse-int8' and 'auto'; whole 1x4 blocks (4 consecutive k
// of one output) for 'block' and 'sparse-int8 1x4'; '2:4' keeps 2 random of every 4 k (50%).
import { backend, kernels } from '../src/index.js';
import { flag, measure, printTable, randomFloats } from './harness.js';
import { ortInt8Matmul, ortMatmul } from './ort.js';
import { mulberry32 as mulberry } from '../src/random.js';

const full = process.argv.includes('--full');
const list = (name: string, all: number[]) => (flag(name) ? flag(name)!.split(',').map(Number) : all);
const SPARSITIES = list('sparsity', [50, 70, 80, 90, 95]);
const MS = list('m', [1, 32, 128]);
const SHAPES: [number, number][] = (flag('shape') ? [flag('shape')!.split('x').map(Number) as [number, number]] : [
  [768, 3072],
  [3072, 768],
]);
// Median of several short rounds: on a shared machine, bursts of contention hit whole rounds.
const TIMING = full ? { time: 200, warmupTime: 40, rounds: 5 } : { time: 30, warmupTime: 10, rounds: Number(flag('rounds') ?? 5) };
const have = new Set(backend().formats);

/** Zeroes each weight with probability s. */
function pruneUnstructured(W: Float32Array, s: number, seed: number): Float32Array {
  const r = mulberry(seed);
  return W.map((v) => (r() < s ? 0 : v));
}

/** Zeroes whole blocks of `rows` consecutive k x `cols` consecutive outputs with probability s. */
function pruneBlocks(W: Float32Array, K: number, N: number, rows: number, cols: number, s: number, seed: number): Float32Array {
  const r = mulberry(seed);
  const out = Float32Array.from(W);
  for (let k0 = 0; k0 < K; k0 += rows)
    for (let n0 = 0; n0 < N; n0 += cols)
      if (r() < s) for (let k = k0; k < Math.min(K, k0 + rows); k++) for (let n = n0; n < Math.min(N, n0 + cols); n++) out[k * N + n] = 0;
  return out;
}

/** Keeps 2 random weights of every 4 consecutive k per output. */
function prune24(W: Float32Array, K: number, N: number, seed: number): Float32Array {
  const r = mulberry(seed);
  const out = Float32Array.from(W);
  for (let k0 = 0; k0 < K; k0 += 4)
    for (let n = 0; n < N; n++) {
      const a = Math.floor(r() * 4);
      const b = (a + 1 + Math.floor(r() * 3)) % 4;
      for (let j = 0; j < 4; j++) if (j !== a && j !== b && k0 + j < K) out[(k0 + j) * N + n] = 0;
    }
  return out;
}

interface Row {
  shape: string;
  M: number;
  sparsity: number;
  t: Record<string, number>;
}

async function main(): Promise<void> {
  console.log(`sparq ${backend().isa}, one thread; timings p50 ms, ratios = peer time / sparq time (> 1: sparq faster)`);
  const rows: Row[] = [];
  const memory: (string | number)[][] = [];
  const autoChoices: (string | number)[][] = [];
  for (const [K, N] of SHAPES) {
    const W = randomFloats(K * N, K + N);
    const denseBytes = K * N * 4;
    for (const s of SPARSITIES) {
      const sp = s / 100;
      const Wu = pruneUnstructured(W, sp, s);
      const Wb = pruneBlocks(W, K, N, 4, 1, sp, s + 1);
      const ortF32 = await ortMatmul(Wu, K, N, 1);
      const ortI8 = { run: await ortInt8Matmul(Wu, K, N, 1), bytes: K * N + 4 * N }; // s8 weights + fp32 scales
      const packed: Record<string, kernels.PackedWeights> = {
        dense: kernels.pack(Wu, K, N, { format: 'dense' }),
        sparse: kernels.pack(Wu, K, N, { format: 'sparse' }),
        'block 1x4': kernels.pack(Wb, K, N, { format: 'block', block: '1x4' }),
        auto: kernels.pack(Wu, K, N, { format: 'auto' }),
      };
      if (full) {
        packed['block 8x1'] = kernels.pack(pruneBlocks(W, K, N, 1, 8, sp, s + 2), K, N, { format: 'block', block: '8x1' });
        packed['block 16x1'] = kernels.pack(pruneBlocks(W, K, N, 1, 16, sp, s + 3), K, N, { format: 'block', block: '16x1' });
      }
      if (have.has('sparse-int8')) {
        packed['sparse-int8'] = kernels.pack(Wu, K, N, { format: 'sparse-int8' });
        packed['sparse-int8 1x4'] = kernels.pack(Wb, K, N, { format: 'sparse-int8' });
      }
      if (s === 50) packed['2:4'] = kernels.pack(prune24(W, K, N, 24), K, N, { format: '2:4' });
      autoChoices.push([`${K}x${N}`, s, packed.auto.format, String(packed.auto.info.reason ?? '')]);
      for (const [name, p] of Object.entries(packed))
        if (name !== 'dense' && name !== 'auto') memory.push([`${K}x${N}`, s, name, p.bytes, p.bytes / denseBytes, name.startsWith('sparse-int8') ? p.bytes / ortI8.bytes : '', p.density]);
      for (const M of MS) {
        const x = randomFloats(M * K, M + s);
        const tasks: Record<string, () => unknown> = { 'ORT fp32': () => ortF32(x, M), 'ORT int8': () => ortI8.run(x, M) };
        for (const [name, p] of Object.entries(packed)) tasks[name] = () => kernels.matmulSync(x, M, p, { threads: 1 });
        const t = await measure(tasks, TIMING);
        rows.push({ shape: `${K}x${N}`, M, sparsity: s, t: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.p50])) });
      }
      for (const p of Object.values(packed)) p.release();
    }
  }

  const names = [...new Set(rows.flatMap((r) => Object.keys(r.t)))].filter((n) => !n.startsWith('ORT') && n !== 'dense');
  printTable(
    'times (p50 ms)',
    ['shape', 'M', 'sparsity %', 'ORT fp32', 'ORT int8', 'sparq dense', ...names],
    rows.map((r) => [r.shape, r.M, r.sparsity, r.t['ORT fp32'], r.t['ORT int8'], r.t.dense, ...names.map((n) => r.t[n] ?? '')]),
  );
  const fp32 = names.filter((n) => !n.startsWith('sparse-int8'));
  const int8 = names.filter((n) => n.startsWith('sparse-int8'));
  printTable(
    'speedups: fp32 formats vs ORT fp32 | vs sparq dense; int8 formats vs ORT int8',
    ['shape', 'M', 'sparsity %', ...fp32.map((n) => `${n} /ORT`), ...fp32.map((n) => `${n} /dense`), ...int8.map((n) => `${n} /ORT int8`)],
    rows.map((r) => [
      r.shape,
      r.M,
      r.sparsity,
      ...fp32.map((n) => (r.t[n] ? r.t['ORT fp32'] / r.t[n] : '')),
      ...fp32.map((n) => (r.t[n] ? r.t.dense / r.t[n] : '')),
      ...int8.map((n) => (r.t[n] ? r.t['ORT int8'] / r.t[n] : '')),
    ]),
  );
  // Crossover: the lowest measured sparsity from which 'sparse' stays faster than the peer, and a
  // linear estimate between the two grid points around it.
  const cross: (string | number)[][] = [];
  for (const shape of [...new Set(rows.map((r) => r.shape))])
    for (const M of MS) {
      const series = rows.filter((r) => r.shape === shape && r.M === M).sort((a, b) => a.sparsity - b.sparsity);
      const point = (peer: string) => {
        const ratio = series.map((r) => r.t[peer] / r.t.sparse);
        let i = ratio.length;
        while (i > 0 && ratio[i - 1] > 1) i--;
        if (i === ratio.length) return 'never';
        if (i === 0) return `<= ${series[0].sparsity}`;
        const a = series[i - 1], b = series[i];
        const ra = ratio[i - 1], rb = ratio[i];
        return `${(a.sparsity + ((1 - ra) / (rb - ra)) * (b.sparsity - a.sparsity)).toFixed(0)} (measured ${b.sparsity})`;
      };
      cross.push([shape, M, point('dense'), point('ORT fp32')]);
    }
  printTable("crossover sparsity % where 'sparse' becomes faster", ['shape', 'M', 'vs sparq dense', 'vs ORT fp32'], cross);
  printTable('memory (bytes; ratio to dense fp32 K·N·4; sparse-int8 also to ORT int8 s8 weights)', ['shape', 'sparsity %', 'format', 'bytes', 'x dense fp32', 'x ORT int8', 'density'], memory);
  printTable("'auto' choices", ['shape', 'sparsity %', 'chose', 'why'], autoChoices);
}

await main();
