// Acceptance on real data: LeNet-300-100 trained by sparq on MNIST (first 8,000 train / last 2,000 test).
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Model, Tensor, compress, loadModel, prune } from '../src/index.js';
import { outputsOf } from '../src/compress/calibration.js';
import { accuracy } from '../src/compress/metrics.js';
import { exportOnnx } from '../src/io/export-onnx.js';
import { encodeSparqModel } from '../src/io/sparq-model.js';
import { lenet, mnist, rows } from './lenet-fixture.js';

const data = mnist();
const test = { input: data.test.inputs };
const calibration = { input: rows(data.train.inputs, 0, 2048) };
const trainData = { inputs: data.train.inputs, labels: data.train.labels };
let dense: Model;
let denseBytes: Uint8Array;
let denseAcc: number;

async function acc(m: Model): Promise<number> {
  return accuracy((await outputsOf(m, [test]))[0].output, data.test.labels);
}
/**
 * onnxruntime's accuracy on the exported model, one request at a time (`rowsPerRun` 1: then its
 * per-tensor DynamicQuantizeLinear quantizes each row on its own, as sparq's int8 kernels do) or the
 * whole test set in one batch (one activation range for all 2,000 rows).
 */
async function ortAcc(bytes: Uint8Array, rowsPerRun = 1): Promise<number> {
  const s = await ort.InferenceSession.create(bytes);
  const x = data.test.inputs.data as Float32Array;
  const n = data.test.inputs.dims[0];
  const logits = new Float32Array(n * 10);
  for (let r = 0; r < n; r += rowsPerRun) {
    const m = Math.min(rowsPerRun, n - r);
    const out = await s.run({ input: new ort.Tensor('float32', x.subarray(r * 784, (r + m) * 784), [m, 784]) });
    logits.set(out.output.data as Float32Array, r * 10);
  }
  await s.release();
  return accuracy(new Tensor('float32', logits, [n, 10]), data.test.labels);
}

beforeAll(async () => {
  denseBytes = await lenet();
  dense = await loadModel(denseBytes);
  denseAcc = await acc(dense);
  console.log(`LeNet-300-100 dense: ${(denseAcc * 100).toFixed(2)}% test accuracy, ONNX ${denseBytes.length} bytes`);
}, 300_000);

describe('LeNet-300-100 on MNIST', () => {
  it('one-shot SparseGPT to 80% unstructured loses at most 2 pt (magnitude and Wanda shown for scale)', async () => {
    const figures: string[] = [];
    for (const method of ['sparsegpt', 'wanda', 'magnitude'] as const) {
      const p = await prune(dense, { sparsity: 0.8, method, calibration });
      const a = await acc(p);
      figures.push(`${method} ${(a * 100).toFixed(2)}% (${((a - denseAcc) * 100).toFixed(2)} pt)`);
      if (method === 'sparsegpt') expect(denseAcc - a).toBeLessThanOrEqual(0.02);
    }
    // Every layer at 80%, the small output layer included.
    const all = await prune(dense, { sparsity: 0.8, method: 'sparsegpt', calibration, minParams: 0 });
    figures.push(`sparsegpt, all layers ${((await acc(all)) * 100).toFixed(2)}%`);
    console.log(`one-shot 80%: ${figures.join('; ')}`);
  });

  it('90% + int8 with fine-tuning loses at most 0.5 pt; the .onnx export agrees in onnxruntime to 0.2 pt; 92% + int8 .sparq is ≥ 20x smaller', async () => {
    const ft = (epochs: number, seed: number) => ({ finetune: { data: trainData, epochs, learningRate: 1e-3, schedule: 'cosine' as const, seed } });
    // Iterative pruning (Han et al.): one-shot SparseGPT steps, each followed by fine-tuning that keeps the zeros.
    const { model: m90, report } = await compress(dense, [
      { prune: { sparsity: 0.7, method: 'sparsegpt', minParams: 0, calibration } }, ft(3, 2),
      { prune: { sparsity: 0.85, method: 'sparsegpt', minParams: 0, calibration } }, ft(3, 3),
      { prune: { sparsity: 0.9, method: 'sparsegpt', minParams: 0, calibration } }, ft(5, 4),
      { quantize: { mode: 'dynamic' } },
    ], { calibration: test, labels: data.test.labels }); // the report's drift and accuracy on the test split
    console.log(String(report));
    const a90 = await acc(m90);
    expect(report.model.sparsity).toBeGreaterThanOrEqual(0.899);
    expect(report.layers.every((l) => l.dtype === 'int8')).toBe(true);
    expect(denseAcc - a90).toBeLessThanOrEqual(0.005);
    const exported = exportOnnx(m90);
    const onnxAcc = await ortAcc(exported);
    const onnxBatchAcc = await ortAcc(exported, 2000);
    expect(Math.round(Math.abs(onnxAcc - a90) * 2000)).toBeLessThanOrEqual(4); // 0.2 pt = 4 of 2,000 digits

    const p92 = await compress(dense, [
      { prune: { sparsity: 0.92, method: 'sparsegpt', minParams: 0 } },
      { quantize: { mode: 'dynamic' } },
    ], { calibration });
    const sparq = encodeSparqModel(p92.model);
    const raw = encodeSparqModel(p92.model, { compress: false });
    const ratio = denseBytes.length / sparq.length;
    console.log(`90% + int8 fine-tuned: ${(a90 * 100).toFixed(2)}% (${((a90 - denseAcc) * 100).toFixed(2)} pt), onnxruntime on the export ${(onnxAcc * 100).toFixed(2)}% one digit per run, ${(onnxBatchAcc * 100).toFixed(2)}% all 2,000 in one batch`);
    console.log(`92% + int8: .sparq ${sparq.length} bytes = ${ratio.toFixed(1)}x smaller than the fp32 ONNX (${denseBytes.length}); without brotli ${raw.length} bytes = ${(denseBytes.length / raw.length).toFixed(1)}x`);
    expect(ratio).toBeGreaterThanOrEqual(20);
  });
});
