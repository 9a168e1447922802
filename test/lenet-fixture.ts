// LeNet-300-100 trained by sparq on the fixed MNIST split (first 8,000 train / last 2,000 test), cached
// in the OS temp dir between runs (training is seeded: the same weights every time).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist } from '../src/data/mnist.js';
import { mlp } from '../src/train/mlp.js';
import { train } from '../src/train/train.js';
import { Tensor } from '../src/tensor.js';

export const LENET_EPOCHS = 12;

export function mnist() {
  return loadMnist();
}

export async function lenet(): Promise<Uint8Array> {
  const path = join(tmpdir(), `sparq-lenet-300-100-e${LENET_EPOCHS}-s1.onnx`);
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  const { train: tr } = loadMnist();
  const r = await train(mlp({ inputs: 784, hidden: [300, 100], outputs: 10, seed: 1 }), { inputs: tr.inputs, labels: tr.labels }, { epochs: LENET_EPOCHS, batchSize: 64, learningRate: 1e-3, schedule: 'cosine', seed: 1 });
  writeFileSync(path, r.model);
  return r.model;
}

/** Rows [start, end) of a [rows, 784] tensor. */
export function rows(t: Tensor, start: number, end: number): Tensor {
  const K = t.dims[1];
  return new Tensor('float32', (t.data as Float32Array).slice(start * K, end * K), [end - start, K]);
}
