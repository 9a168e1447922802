// Compressed models against onnxruntime-node, one process, side by side (alternating runs):
//   BERT-base-shaped encoder (hidden 768, 12 heads, FFN 3072, 4 layers), batch 1, sequence 128, 1 thread:
//     - sparq, pruned 90% with 1x4 blocks + int8 (sparse-int8)  vs ORT fp32 (target 4x) and ORT int8 (1.5x)
//     - sparq, pruned 90% unstructured, fp32 ('sparse')          vs ORT fp32 (target 2.5x)
//     ORT int8 = the same weights through DynamicQuantizeLinear → MatMulInteger (sparq's .onnx export of
//     the quantized dense model: what onnxruntime.quantization.quantize_dynamic emits).
//   Load: creating a session from the compressed .sparq vs onnxruntime loading the original fp32 ONNX
//     (target: at most 1/4), for the encoder and for LeNet-300-100 92% + int8; alternating, p50 after
//     warm-up runs.
//   npm run bench -- compress-model [--layers=4] [--seq=128] [--runs=10]
import { InferenceSession, Tensor, loadModel, prune, quantize } from '../src/index.js';
import type { Model } from '../src/model.js';
import { exportOnnx } from '../src/io/export-onnx.js';
import { encodeSparqModel } from '../src/io/sparq-model.js';
import { encoderModel, mlpModel } from '../src/onnx/zoo.js';
import { flag, printTable } from './harness.js';
import { ort, ortSessionOptions } from './ort.js';

const LAYERS = Number(flag('layers') ?? 4);
const SEQ = Number(flag('seq') ?? 128);
const RUNS = Number(flag('runs') ?? 10);
const VOCAB = 1000;

function feeds() {
  const ids = BigInt64Array.from({ length: SEQ }, (_, i) => BigInt((i * 7919) % VOCAB));
  const mask = new BigInt64Array(SEQ).fill(1n);
  return {
    sparq: { input_ids: new Tensor('int64', ids, [1, SEQ]), attention_mask: new Tensor('int64', mask, [1, SEQ]) },
    ort: { input_ids: new ort.Tensor('int64', ids, [1, SEQ]), attention_mask: new ort.Tensor('int64', mask, [1, SEQ]) },
  };
}

/** Alternating runs so machine drift hits every contender alike, after `warmup` untimed runs each; p50 in ms. */
async function alternate(tasks: Record<string, () => Promise<unknown>>, runs: number, warmup = 1): Promise<Record<string, number>> {
  const times: Record<string, number[]> = {};
  for (let w = 0; w < warmup; w++) for (const t of Object.values(tasks)) await t();
  for (let r = 0; r < runs; r++)
    for (const [name, t] of Object.entries(tasks)) {
      const t0 = process.hrtime.bigint();
      await t();
      (times[name] ??= []).push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]]));
}

/**
 * ms to a ready session: sparq from .sparq bytes (decode + adopt/pack), ORT from the fp32 ONNX bytes;
 * alternating, p50 after warm-up runs (a process's first loads also pay for compiling sparq's JS loader:
 * about 2x for LeNet, nothing that shows for the encoder).
 */
async function loadTimes(sparqBytes: Uint8Array, onnxBytes: Uint8Array, n: number, warmup: number): Promise<{ sparq: number; ort: number }> {
  const t = await alternate({
    sparq: async () => (await InferenceSession.create(await loadModel(sparqBytes), { threads: 1 })).release(),
    ort: async () => (await ort.InferenceSession.create(onnxBytes, ortSessionOptions(1))).release(),
  }, n, warmup);
  return { sparq: t.sparq, ort: t.ort };
}

async function main(): Promise<void> {
  const bytes = encoderModel({ hidden: 768, heads: 12, ffn: 3072, layers: LAYERS, vocab: VOCAB, maxPosition: 512, seed: 1 });
  const dense = await loadModel(bytes);
  let t0 = performance.now();
  const block = await quantize(await prune(dense, { sparsity: 0.9, pattern: 'block' }), { mode: 'dynamic' });
  const tBlock = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const unstructured = await prune(dense, { sparsity: 0.9 });
  const tUnstructured = (performance.now() - t0) / 1000;
  const int8Onnx = exportOnnx(await quantize(dense, { mode: 'dynamic' }));
  const formats = (m: Model) => [...new Set([...m.weightFormats.values()].map((f) => f.format))].join(',');
  console.log(`compressing: 90% block + int8 in ${tBlock.toFixed(1)} s (${formats(block)}), 90% unstructured in ${tUnstructured.toFixed(1)} s (${formats(unstructured)})`);

  const f = feeds();
  const sBlock = await InferenceSession.create(block, { threads: 1 });
  const sUnstr = await InferenceSession.create(unstructured, { threads: 1 });
  const sDense = await InferenceSession.create(dense, { threads: 1 });
  const oFp32 = await ort.InferenceSession.create(bytes, ortSessionOptions(1));
  const oInt8 = await ort.InferenceSession.create(int8Onnx, ortSessionOptions(1));
  const t = await alternate({
    'sparq 90% block+int8': () => sBlock.run(f.sparq),
    'sparq 90% unstructured fp32': () => sUnstr.run(f.sparq),
    'sparq dense fp32': () => sDense.run(f.sparq),
    'ORT fp32': () => oFp32.run(f.ort),
    'ORT int8 (dynamic)': () => oInt8.run(f.ort),
  }, RUNS);
  printTable(`BERT-base-shaped encoder (768/12/3072, ${LAYERS} layers), batch 1, seq ${SEQ}, 1 thread: p50 ms`, ['model', 'p50 ms'], Object.entries(t).map(([k, v]) => [k, v]));
  printTable('Speed-ups (p50 ratios, same run)', ['comparison', 'ratio', 'target'], [
    ['90% block+int8 vs ORT fp32', t['ORT fp32'] / t['sparq 90% block+int8'], 4],
    ['90% block+int8 vs ORT int8', t['ORT int8 (dynamic)'] / t['sparq 90% block+int8'], 1.5],
    ['90% unstructured fp32 vs ORT fp32', t['ORT fp32'] / t['sparq 90% unstructured fp32'], 2.5],
    ['sparq dense fp32 vs ORT fp32', t['ORT fp32'] / t['sparq dense fp32'], 1],
  ]);
  for (const s of [sBlock, sUnstr, sDense]) await s.release();

  // Load time: .sparq (raw and brotli) vs ORT on the original fp32 ONNX.
  const rows: (string | number)[][] = [];
  for (const compressed of [false, true]) {
    const sq = encodeSparqModel(block, { compress: compressed });
    const l = await loadTimes(sq, bytes, 7, 1);
    rows.push([`encoder 90% block+int8, .sparq${compressed ? ' (brotli)' : ''}`, sq.length, bytes.length, l.sparq, l.ort, l.sparq / l.ort]);
  }
  {
    const sq = encodeSparqModel(unstructured, { compress: false });
    const l = await loadTimes(sq, bytes, 7, 1);
    rows.push(['encoder 90% unstructured fp32, .sparq', sq.length, bytes.length, l.sparq, l.ort, l.sparq / l.ort]);
  }
  const lenetBytes = mlpModel({ sizes: [784, 300, 100, 10], seed: 1 });
  const lenet = await quantize(await prune(await loadModel(lenetBytes), { sparsity: 0.92, minParams: 0 }), { mode: 'dynamic' });
  // The default (brotli where it pays, sparse-int8 weights packed only), raw, and the smallest file
  // (compact weights only: packed at load from their nonzeros).
  for (const [compressed, prepack] of [[true, 'auto'], [false, 'auto'], [true, false]] as const) {
    const sq = encodeSparqModel(lenet, { compress: compressed, prepack });
    const l = await loadTimes(sq, lenetBytes, 15, 10);
    rows.push([`LeNet-300-100 92%+int8, .sparq${compressed ? ' (brotli)' : ' (raw)'}${prepack === false ? ' (no prepack)' : ''}`, sq.length, lenetBytes.length, l.sparq, l.ort, l.sparq / l.ort]);
  }
  // What a session costs beyond the weights: the same LeNet, in memory, dense fp32 weights.
  const inMemory = (await alternate({ sparq: async () => (await InferenceSession.create(await loadModel(lenetBytes), { threads: 1 })).release() }, 15, 10)).sparq;
  rows.push(['LeNet-300-100 dense fp32, from ONNX bytes', lenetBytes.length, lenetBytes.length, inMemory, rows[rows.length - 1][4], inMemory / (rows[rows.length - 1][4] as number)]);
  printTable('Load: session from .sparq vs ORT from the fp32 ONNX (ms; ratio = sparq / ORT, target <= 0.25)', ['model', '.sparq bytes', 'ONNX bytes', 'sparq ms', 'ORT ms', 'ratio'], rows);
}

await main();
