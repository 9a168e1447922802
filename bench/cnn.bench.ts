// CNNs exported by PyTorch (torchvision resnet18 and mobilenet_v2, seeded random weights, 1x3x224x224,
// scripts/export-cnn.py into .cache/cnn): sparq vs onnxruntime-node in one process, batch 1, one
// thread, runs alternating between the runtimes in blocks.
//   - dense fp32: sparq's outputs against onnxruntime's (max |Δ| / max |y|) and the speed ratio;
//   - pruned with prune() (magnitude; resnet18 90%, mobilenet_v2 70%, in 1x4 blocks along
//     input channels; --pattern=unstructured for scattered zeros) then quantize() (dynamic int8): speed against onnxruntime's fp32, and the drift of
//     the outputs from the dense model. Random weights have no accuracy to lose: the drift is reported,
//     not an accuracy.
//   npm run bench -- cnn [--models=resnet18,mobilenet_v2] [--runs=30]
import { InferenceSession, Tensor, loadModel, prune, quantize } from '../src/index.js';
import { cnnInput, cnnModel } from './cnn-models.js';
import { flag, printTable } from './harness.js';
import { ort, ortSessionOptions } from './ort.js';

type Name = 'resnet18' | 'mobilenet_v2';
const MODELS = (flag('models') ?? 'resnet18,mobilenet_v2').split(',') as Name[];
const RUNS = Number(flag('runs') ?? 30);
const COMPRESSION: Record<Name, { sparsity: number; pattern: 'unstructured' | 'block'; label: string }> = {
  resnet18: { sparsity: 0.9, pattern: 'block', label: '90% 1x4 blocks' },
  mobilenet_v2: { sparsity: 0.7, pattern: 'block', label: '70% 1x4 blocks' },
};

/** Alternating blocks of 3 timed runs per runtime, each block after one untimed run; p50 and best in ms. */
async function alternate(tasks: Record<string, () => Promise<unknown>>, runs: number): Promise<Record<string, { p50: number; best: number }>> {
  const times: Record<string, number[]> = {};
  for (let r = 0; r < runs; r += 3)
    for (const [name, t] of Object.entries(tasks)) {
      await t();
      for (let i = 0; i < Math.min(3, runs - r); i++) {
        const t0 = process.hrtime.bigint();
        await t();
        (times[name] ??= []).push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  const out: Record<string, { p50: number; best: number }> = {};
  for (const [name, list] of Object.entries(times)) {
    const sorted = [...list].sort((a, b) => a - b);
    out[name] = { p50: sorted[Math.floor(sorted.length / 2)], best: sorted[0] };
  }
  return out;
}

function relError(a: Float32Array, b: Float32Array): number {
  let err = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / Math.max(scale, 1e-30);
}

const argmax = (v: Float32Array) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

async function main(): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const name of MODELS) {
    const path = cnnModel(name);
    const x = cnnInput(224);
    const dims = [1, 3, 224, 224];
    const o = await ort.InferenceSession.create(path, ortSessionOptions(1));
    const dense = await InferenceSession.create(path, { threads: 1, execution: 'inline' });
    const c = { ...COMPRESSION[name], ...(flag('pattern') === 'unstructured' ? { pattern: 'unstructured' as const, label: `${COMPRESSION[name].sparsity * 100}% unstructured` } : {}) };
    const t0 = Date.now();
    const pruned = await prune(await loadModel(path), { sparsity: c.sparsity, pattern: c.pattern, method: 'magnitude' });
    const small = await quantize(pruned, { mode: 'dynamic' });
    const compressSeconds = (Date.now() - t0) / 1000;
    const comp = await InferenceSession.create(small, { threads: 1, execution: 'inline' });
    const formats = new Map<string, number>();
    for (const w of comp.weights.values()) formats.set(w.format, (formats.get(w.format) ?? 0) + 1);

    const sFeeds = { input: new Tensor('float32', x, dims) };
    const oFeeds = { input: new ort.Tensor('float32', x, dims) };
    const yOrt = (await o.run(oFeeds)).output.data as Float32Array;
    const yDense = (await dense.run(sFeeds)).output.data as Float32Array;
    const yComp = (await comp.run(sFeeds)).output.data as Float32Array;
    const t = await alternate({ ort: () => o.run(oFeeds), dense: () => dense.run(sFeeds), compressed: () => comp.run(sFeeds) }, RUNS);
    const ratio = (a: { p50: number; best: number }) => `${(t.ort.p50 / a.p50).toFixed(2)} (${(t.ort.best / a.best).toFixed(2)})`;
    rows.push([
      name,
      t.ort.p50.toFixed(2),
      t.dense.p50.toFixed(2),
      ratio(t.dense),
      relError(yDense, yOrt).toExponential(1),
      `${c.label} + int8`,
      t.compressed.p50.toFixed(2),
      ratio(t.compressed),
      relError(yComp, yDense).toExponential(1),
      argmax(yComp) === argmax(yDense) ? 'same' : 'differs',
      [...formats].map(([f, n]) => `${f}:${n}`).join(' '),
    ]);
    console.log(`${name}: compressed in ${compressSeconds.toFixed(1)} s`);
    await dense.release();
    await comp.release();
  }
  printTable('CNNs at batch 1, one thread: sparq vs onnxruntime-node fp32 (p50 ms, alternating runs; ratio = ORT time / sparq time at p50, (best))', [
    'model', 'ORT fp32', 'sparq fp32', 'ratio', 'fp32 err vs ORT', 'compression', 'sparq compressed', 'ratio', 'drift vs fp32', 'top-1', 'formats',
  ], rows);
}

await main();
