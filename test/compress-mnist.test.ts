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
async function ortAcc(bytes: Uint8Array): Promise<number> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ input: new ort.Tensor('float32', data.test.inputs.data as Float32Array, [...data.test.inputs.dims]) });
  return accuracy(new Tensor('float32', out.output.data as Float32Array, [...out.output.dims]), data.test.labels);
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
    const onnxAcc = await ortAcc(exportOnnx(m90));
    expect(Math.abs(onnxAcc - a90)).toBeLessThanOrEqual(0.002);

    const p92 = await compress(dense, [
      { prune: { sparsity: 0.92, method: 'sparsegpt', minParams: 0 } },
      { quantize: { mode: 'dynamic' } },
    ], { calibration });
    const sparq = encodeSparqModel(p92.model);
    const raw = encodeSparqModel(p92.model, { compress: false });
    const ratio = denseBytes.length / sparq.length;
    console.log(`90% + int8 fine-tuned: ${(a90 * 100).toFixed(2)}% (${((a90 - denseAcc) * 100).toFixed(2)} pt), onnxruntime on the export ${(onnxAcc * 100).toFixed(2)}%`);
    console.log(`92% + int8: .sparq ${sparq.length} bytes = ${ratio.toFixed(1)}x smaller than the fp32 ONNX (${denseBytes.length}); without brotli ${raw.length} bytes = ${(denseBytes.length / raw.length).toFixed(1)}x`);
    expect(ratio).toBeGreaterThanOrEqual(20);
  });
});
