// sparq demo — the main job. Trains LeNet-300-100 on the bundled real MNIST digits (or reuses a cached
// one), compresses it step by step (prune + fine-tune, int8) and shows accuracy, size and speed against
// onnxruntime-node at each step; then compares a BERT-base-shaped encoder dense vs compressed. Writes
// sparq-report.html and sparq-report.json in the current directory (or --out).
import { join, resolve } from 'node:path';

import { benchmark, type BenchmarkResult } from '../../bench/benchmark.js';
import { prune } from '../../compress/prune.js';
import { quantize } from '../../compress/quantize.js';
import { loadMnist } from '../../data/mnist.js';
import { exportOnnx } from '../../io/export-onnx.js';
import { encodeSparqModel } from '../../io/sparq-model.js';
import type { Model } from '../../model.js';
import { loadModel } from '../../io/model-file.js';
import { InferenceSession } from '../../session.js';
import { encoderModel } from '../../onnx/zoo.js';
import { renderReport, type ReportData, type ReportSection } from '../../report/html-report.js';
import { positiveInt, str, type Command } from '../args.js';
import { evaluate } from '../evaluate.js';
import { textTable, writeJson, writeText } from '../output.js';
import { progress } from '../progress.js';
import { environment } from './bench.js';
import { denseLenet, prunedLenet } from '../demo/lenet.js';
import { digitAttributions } from '../demo/attributions.js';

interface Step {
  name: string;
  /** for chart legends */
  short: string;
  accuracy: number;
  bytes: number;
  format: string;
  bench: BenchmarkResult;
}

/** The batches the latency chart shows (the table reads 1 and 64). */
const LATENCY_BATCHES = [1, 4, 16, 64, 256];

function p50(b: BenchmarkResult, runtime: string, batch: number): number {
  return b.cases.find((c) => c.runtime === runtime && c.batch === batch)?.p50 ?? NaN;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'The tour: train, compress and benchmark LeNet-300-100 on real MNIST, then a BERT-base-shaped encoder; writes sparq-report.html.',
  usage: 'sparq demo [--out <dir>] [--threads N] [--retrain] [--no-bert]',
  help: [
    '  --out <dir>   where sparq-report.html and sparq-report.json go (default: the current directory)',
    '  --threads N   threads for the benchmarks (default 1: the per-core comparison)',
    '  --retrain     train LeNet again instead of using the cached one',
    '  --no-bert     skip the BERT-base-shaped encoder part',
  ],
  options: { out: { type: 'string' }, threads: { type: 'string' }, retrain: { type: 'boolean' }, 'no-bert': { type: 'boolean' } },
  async run({ values }) {
    const started = performance.now();
    const quiet = values.quiet === true;
    const threads = positiveInt(str(values, 'threads'), '--threads', 1);
    const outDir = resolve(str(values, 'out') ?? '.');
    const say = (s: string) => process.stdout.write(s + '\n');
    const retrain = values.retrain === true;

    say('sparq demo: LeNet-300-100 on 10,000 real MNIST digits (8,000 train / 2,000 test), compared with onnxruntime-node');
    const data = loadMnist();
    const test = { inputs: { input: data.test.inputs }, labels: data.test.labels.data };

    let bar = progress('train dense LeNet', 12, { quiet });
    const dense = await denseLenet(data.train, retrain, (s) => bar.update(s.epoch, `loss ${s.loss.toFixed(3)}`));
    bar.done(dense.cached ? 'cached' : `${dense.seconds.toFixed(1)} s`);
    bar = progress('prune to 90% + fine-tune', 10, { quiet });
    const pruned = await prunedLenet(dense.bytes, data.train, retrain, (s) => bar.update(s.epoch, `sparsity ${((s.sparsity ?? 0) * 100).toFixed(0)}%`));
    bar.done(pruned.cached ? 'cached' : `${pruned.seconds.toFixed(1)} s`);

    const denseModel = await loadModel(dense.bytes);
    const prunedModel = await loadModel(pruned.bytes);
    const int8Model = await quantize(prunedModel, { mode: 'dynamic' });
    const ortInt8 = exportOnnx(await quantize(denseModel, { mode: 'dynamic' }));

    const variants: { name: string; short: string; model: Model; bytes: number; format: string; ortInt8?: Uint8Array }[] = [
      { name: 'dense fp32 (ONNX)', short: 'dense', model: denseModel, bytes: dense.bytes.length, format: await formatsOf(denseModel) },
      { name: 'pruned 90% + fine-tuned (.sparq)', short: 'pruned 90%', model: prunedModel, bytes: encodeSparqModel(prunedModel).length, format: await formatsOf(prunedModel) },
      { name: 'pruned 90% + int8 (.sparq)', short: '90% + int8', model: int8Model, bytes: encodeSparqModel(int8Model).length, format: await formatsOf(int8Model), ortInt8 },
    ];
    const steps: Step[] = [];
    bar = progress('evaluate and benchmark', variants.length, { quiet });
    for (const [i, v] of variants.entries()) {
      const acc = (await evaluate(v.model, test)).accuracy ?? NaN;
      const bench = await benchmark(v.model, { batch: LATENCY_BATCHES, threads: [threads], time: 150, rounds: 3, ortInt8: v.ortInt8 });
      steps.push({ name: v.name, short: v.short, accuracy: acc, bytes: v.bytes, format: v.format, bench });
      bar.update(i + 1, v.name);
    }
    bar.done();

    const base = steps[0];
    say('\nLeNet-300-100, batch 1 and 64, one process, speedup = onnxruntime-node fp32 time / sparq time');
    say("(both compute on the calling thread: sparq's execution 'inline', which is how onnxruntime-node's run() works):");
    say(
      textTable(
        ['step', 'test acc %', 'size KiB', 'ratio', 'sparq ms b=1', 'ORT ms b=1', 'speedup b=1', 'speedup b=64', 'format'],
        steps.map((s) => [s.name, 100 * s.accuracy, s.bytes / 1024, `${(base.bytes / s.bytes).toFixed(1)}x`, p50(s.bench, 'sparq', 1), p50(s.bench, 'onnxruntime', 1), `${(p50(s.bench, 'onnxruntime', 1) / p50(s.bench, 'sparq', 1)).toFixed(2)}x`, `${(p50(s.bench, 'onnxruntime', 64) / p50(s.bench, 'sparq', 64)).toFixed(2)}x`, s.format]),
      ),
    );

    // Speedup against sparsity: one-shot magnitude pruning of the dense model, batch 64.
    const sweep: [number, number][] = [];
    bar = progress('sparsity sweep', 5, { quiet });
    for (const [i, s] of [0.5, 0.7, 0.8, 0.9, 0.95].entries()) {
      const m = await prune(denseModel, { sparsity: s, method: 'magnitude' });
      const b = await benchmark(m, { batch: [64], threads: [threads], time: 120, rounds: 2 });
      sweep.push([100 * s, b.speedups[0].vsOnnxruntime ?? NaN]);
      bar.update(i + 1, `${100 * s}%`);
    }
    bar.done();

    const sections: ReportSection[] = [
      {
        title: 'LeNet-300-100 on MNIST, step by step',
        text: `Dense model ${dense.cached ? 'read from the cache' : `trained in ${dense.seconds.toFixed(1)} s`}; pruning to 90% with gradual magnitude pruning and fine-tuning ${pruned.cached ? '(cached)' : `took ${pruned.seconds.toFixed(1)} s`}. Accuracy on the 2,000 held-out digits; sizes are the files sparq writes; speed against onnxruntime-node running the same weights (fp32, and int8 for the int8 step), both computing on the calling thread (sparq's execution 'inline', as onnxruntime-node's run() does).`,
        charts: [
          { title: 'accuracy vs compression ratio', xLabel: 'compression ratio (x)', yLabel: 'test accuracy %', yFromZero: false, yMax: 100, series: [{ name: 'LeNet-300-100', points: steps.map((s) => [base.bytes / s.bytes, 100 * s.accuracy]) }] },
          { title: 'latency vs batch', xLabel: 'batch', yLabel: 'p50 ms', logX: true, logY: true, series: [...steps.map((s) => ({ name: `sparq ${s.short}`, points: s.bench.cases.filter((c) => c.runtime === 'sparq').map((c) => [c.batch, c.p50] as [number, number]) })), { name: 'ORT fp32', points: base.bench.cases.filter((c) => c.runtime === 'onnxruntime').map((c) => [c.batch, c.p50] as [number, number]) }, { name: 'ORT int8', points: steps[2].bench.cases.filter((c) => c.runtime === 'onnxruntime-int8').map((c) => [c.batch, c.p50] as [number, number]) }] },
          { title: 'speedup vs sparsity (one-shot, batch 64)', xLabel: 'sparsity %', yLabel: 'x vs onnxruntime fp32', referenceY: 1, series: [{ name: 'sparq pruned fp32', points: sweep }] },
        ],
        table: {
          columns: ['step', 'test accuracy %', 'size KiB', 'compression', 'sparq p50 ms (b=1)', 'ORT fp32 p50 ms (b=1)', 'speedup b=1', 'speedup b=64', 'vs ORT int8 b=1', 'kernel formats'],
          rows: steps.map((s) => [s.name, 100 * s.accuracy, s.bytes / 1024, `${(base.bytes / s.bytes).toFixed(1)}x`, p50(s.bench, 'sparq', 1), p50(s.bench, 'onnxruntime', 1), p50(s.bench, 'onnxruntime', 1) / p50(s.bench, 'sparq', 1), p50(s.bench, 'onnxruntime', 64) / p50(s.bench, 'sparq', 64), s.bench.speedups.find((x) => x.batch === 1)?.vsOnnxruntimeInt8 ?? '—', s.format]),
        },
      },
    ];

    const summary = [
      `LeNet-300-100: ${(100 * base.accuracy).toFixed(2)}% dense → ${(100 * steps[2].accuracy).toFixed(2)}% pruned 90% + int8, ${(base.bytes / steps[2].bytes).toFixed(1)}x smaller, ${(p50(steps[2].bench, 'onnxruntime', 64) / p50(steps[2].bench, 'sparq', 64)).toFixed(2)}x onnxruntime-node's speed at batch 64`,
    ];

    if (values['no-bert'] !== true) {
      say('\nBERT-base-shaped encoder (hidden 768, 12 heads, FFN 3072, 4 layers, sequence 128, batch 1), seeded weights:');
      bar = progress('encoder: prune 90% (1x4 blocks) + int8', 3, { quiet });
      const enc = await loadModel(encoderModel({ hidden: 768, heads: 12, ffn: 3072, layers: 4, vocab: 1000, maxPosition: 128, seed: 1 }));
      const encInt8Ort = exportOnnx(await quantize(enc, { mode: 'dynamic' }));
      bar.update(1);
      const compressed = await quantize(await prune(enc, { sparsity: 0.9, pattern: 'block' }), { mode: 'dynamic' });
      bar.update(2);
      const denseBench = await benchmark(enc, { batch: [1], seq: 128, threads: [threads], time: 400, rounds: 2, ortInt8: encInt8Ort });
      const compBench = await benchmark(compressed, { batch: [1], seq: 128, threads: [threads], time: 400, rounds: 2, ortInt8: encInt8Ort });
      bar.done();
      const ortFp32 = p50(denseBench, 'onnxruntime', 1);
      const ortI8 = p50(denseBench, 'onnxruntime-int8', 1);
      const rows: (string | number)[][] = [
        ['onnxruntime-node fp32', ortFp32, 1],
        ['onnxruntime-node int8 (dynamic)', ortI8, ortFp32 / ortI8],
        ['sparq dense fp32', p50(denseBench, 'sparq', 1), ortFp32 / p50(denseBench, 'sparq', 1)],
        ['sparq pruned 90% (1x4 blocks) + int8', p50(compBench, 'sparq', 1), ortFp32 / p50(compBench, 'sparq', 1)],
      ];
      say(textTable(['runtime', 'p50 ms', 'speedup vs ORT fp32'], rows));
      sections.push({
        title: 'BERT-base-shaped encoder, dense vs compressed',
        text: 'Hidden 768, 12 heads, FFN 3072, 4 layers, sequence 128, batch 1, seeded random weights (speed only: a random encoder has no accuracy to keep). The compressed model is pruned to 90% in 1x4 blocks along K and quantized to int8; onnxruntime-node runs the dense fp32 model and its dynamically quantized int8 version.',
        table: { columns: ['runtime', 'p50 ms', 'speedup vs ORT fp32'], rows },
        charts: [{ kind: 'bar', title: 'encoder speed vs onnxruntime-node fp32 (batch 1, seq 128)', xLabel: 'speedup (x, higher is faster)', referenceX: 1, bars: rows.map((r) => ({ label: String(r[0]), value: Number(r[2]) })) }],
      });
      summary.push(`BERT-base-shaped encoder (4 layers, seq 128, batch 1): sparq 90% block + int8 runs ${(ortFp32 / p50(compBench, 'sparq', 1)).toFixed(2)}x onnxruntime-node fp32 and ${(ortI8 / p50(compBench, 'sparq', 1)).toFixed(2)}x its int8`);
    }

    // Which pixels made the dense model call each digit what it did: integrated gradients on a few test digits.
    bar = progress('explain digits (integrated gradients)', 1, { quiet });
    const explained = await digitAttributions(denseModel, data.test, 6);
    bar.done();
    sections.push(explained.section);

    const seconds = (performance.now() - started) / 1000;
    summary.push(`demo took ${seconds.toFixed(0)} s`);
    const report: ReportData = { title: 'sparq demo report', generatedAt: new Date().toISOString(), environment: { ...environment(), 'benchmark threads': threads }, summary, sections };
    const html = join(outDir, 'sparq-report.html');
    const json = join(outDir, 'sparq-report.json');
    writeText(html, renderReport(report));
    writeJson(json, { ...report, lenet: steps.map((s) => ({ name: s.name, accuracy: s.accuracy, bytes: s.bytes, format: s.format, bench: s.bench })), sweep });
    say(`\n${summary.join('\n')}\nwrote ${html} and ${json}`);
    return 0;
  },
};

/** The kernel formats a session actually runs the model's linear layers on, e.g. 'sparse-int8 x1, int8 x2'. */
async function formatsOf(model: Model): Promise<string> {
  const session = await InferenceSession.create(model, { threads: 1 });
  try {
    const counts = new Map<string, number>();
    for (const w of session.weights.values()) counts.set(w.format, (counts.get(w.format) ?? 0) + 1);
    return [...counts].map(([f, n]) => `${f} x${n}`).join(', ');
  } finally {
    await session.release();
  }
}
