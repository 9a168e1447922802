// train() / distill() on small synthetic problems: gradients against finite differences, determinism,
// pruning masks, data and option errors, cancellation, iterables, and the ONNX round trip through
// onnxruntime-node.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { distill, InferenceSession, mlp, Model, saveModel, SparqError, Tensor, train } from '../src/index.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { parseTrainable } from '../src/train/graph.js';
import { Network } from '../src/train/network.js';
import { randomFloats, rng } from './helpers.js';

/** A chain using every trainable op: Gemm(transB, alpha, beta) → LayerNorm → Gelu → MatMul+Add → Tanh → MatMul → Sigmoid → Softmax. */
function everyOpModel(seed: number): Uint8Array {
  const g = new GraphBuilder();
  g.opset = 20; // Gelu
  g.input('x', 'FLOAT', ['batch', 5]);
  g.float('w1', randomFloats(6 * 5, seed, -0.6, 0.6), [6, 5]);
  g.float('c1', randomFloats(6, seed + 1, -0.3, 0.3), [6]);
  g.float('ln_s', randomFloats(6, seed + 2, 0.5, 1.5), [6]);
  g.float('ln_b', randomFloats(6, seed + 3, -0.2, 0.2), [6]);
  g.float('w2', randomFloats(6 * 4, seed + 4, -0.6, 0.6), [6, 4]);
  g.float('b2', randomFloats(4, seed + 5, -0.2, 0.2), [1, 4]);
  g.float('w3', randomFloats(4 * 3, seed + 6, -0.9, 0.9), [4, 3]);
  const [h1] = g.node('Gemm', ['x', 'w1', 'c1'], 1, { transB: 1, alpha: 0.75, beta: 1.25 });
  const [h2] = g.node('LayerNormalization', [h1, 'ln_s', 'ln_b'], 1, { axis: -1, epsilon: 1e-5 });
  const [h3] = g.node('Gelu', [h2]);
  const [h4] = g.node('MatMul', [h3, 'w2']);
  const [h5] = g.node('Add', [h4, 'b2']);
  const [h6] = g.node('Tanh', [h5]);
  const [h7] = g.node('MatMul', [h6, 'w3']);
  const [h8] = g.node('Sigmoid', [h7]);
  g.node('Softmax', [h8], ['y'], { axis: -1 });
  g.output('y', 'FLOAT', ['batch', 3]);
  return g.build('every_op');
}

/** Two Gaussian blobs per class in 8-d: a small problem a tiny MLP learns in a few epochs. */
function blobs(rows: number, classes: number, seed: number): { inputs: Tensor<'float32'>; labels: Tensor<'int32'> } {
  const r = rng(seed);
  const centers = randomFloats(classes * 8, seed + 100, -2, 2);
  const x = new Float32Array(rows * 8);
  const y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = Math.floor(r() * classes);
    y[i] = c;
    for (let k = 0; k < 8; k++) x[i * 8 + k] = centers[c * 8 + k] + 0.6 * (r() + r() + r() - 1.5);
  }
  return { inputs: new Tensor('float32', x, [rows, 8]), labels: new Tensor('int32', y, [rows]) };
}

function sameBytes(a: Model, b: Model): boolean {
  const x = a.toOnnx();
  const y = b.toOnnx();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function weightsOf(model: Model): Float32Array[] {
  return parseTrainable(model.toOnnx()).params.map((p) => p.value);
}

describe('gradients', () => {
  it('match finite differences through every trainable op', () => {
    const graph = parseTrainable(everyOpModel(7));
    const net = new Network(graph, 1);
    const M = 3;
    const x = randomFloats(M * 5, 11, -1, 1);
    const R = randomFloats(M * 3, 12, -1, 1);
    const objective = (): number => {
      const y = net.forward(x, M);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * R[i];
      return s;
    };
    net.forward(x, M, { train: true });
    net.backward(R);
    const h = 1e-2;
    for (const p of graph.params) {
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < p.value.length; i++) {
        const keep = p.value[i];
        p.value[i] = keep + h;
        const up = objective();
        p.value[i] = keep - h;
        const down = objective();
        p.value[i] = keep;
        const numeric = (up - down) / (2 * h);
        worst = Math.max(worst, Math.abs(numeric - p.grad[i]));
        scale = Math.max(scale, Math.abs(numeric));
      }
      expect(worst, `gradient of ${p.name}`).toBeLessThan(2e-3 + 2e-2 * scale);
      expect(scale, `gradient of ${p.name} is not trivially zero`).toBeGreaterThan(1e-4);
    }
  });
});

describe('train', () => {
  const data = blobs(600, 4, 1);
  const test = blobs(300, 4, 1);
  const spec = { inputs: 8, hidden: [16], outputs: 4 };

  it('learns a small problem with each optimizer, reporting history and validation', async () => {
    for (const optimizer of ['adam', 'adamw', 'sgd'] as const) {
      const seen: number[] = [];
      const { model, history } = await train(mlp({ ...spec, seed: 3 }), data, {
        epochs: 6,
        batchSize: 32,
        optimizer,
        learningRate: optimizer === 'sgd' ? 0.05 : 0.01,
        schedule: 'cosine',
        validation: test,
        onEpoch: (s) => void seen.push(s.epoch),
      });
      expect(model).toBeInstanceOf(Model);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
      expect(history).toHaveLength(6);
      expect(history[5].loss).toBeLessThan(history[0].loss);
      expect(history[5].valAccuracy, optimizer).toBeGreaterThan(0.9);
      expect(history[5].learningRate).toBeLessThan(history[0].learningRate);
    }
  });

  it('fits float targets with MSE', async () => {
    // y = x · A for a fixed A: a linear model must fit it.
    const A = randomFloats(8 * 2, 5, -1, 1);
    const x = randomFloats(400 * 8, 6, -1, 1);
    const y = new Float32Array(400 * 2);
    for (let i = 0; i < 400; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 8; k++) y[i * 2 + j] += x[i * 8 + k] * A[k * 2 + j];
    const { history } = await train(mlp({ inputs: 8, hidden: [], outputs: 2, seed: 1 }), { inputs: new Tensor('float32', x, [400, 8]), labels: new Tensor('float32', y, [400, 2]) }, { epochs: 40, batchSize: 20, learningRate: 0.02 });
    expect(history[0].accuracy).toBeUndefined();
    expect(history[39].loss).toBeLessThan(1e-3 * history[0].loss);
  });

  it('gives the same weights bit for bit for the same seed, and different ones for another', async () => {
    const run = (seed: number) => train(mlp({ ...spec, seed }), data, { epochs: 2, batchSize: 16, seed, prune: { sparsity: 0.5 } });
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(sameBytes(a.model, b.model)).toBe(true);
    expect(a.history.map((h) => h.loss)).toEqual(b.history.map((h) => h.loss));
    expect(sameBytes(a.model, c.model)).toBe(false);
    // mlp() itself: same seed, same initial weights; another seed, others.
    expect(sameBytes(mlp({ ...spec, seed: 9 }), mlp({ ...spec, seed: 9 }))).toBe(true);
    expect(sameBytes(mlp({ ...spec, seed: 9 }), mlp({ ...spec, seed: 10 }))).toBe(false);
  });

  it('prunes gradually to the target sparsity and keeps an already pruned model pruned', async () => {
    const sparsities: number[] = [];
    const { model } = await train(mlp({ ...spec, seed: 4 }), data, { epochs: 5, batchSize: 16, prune: { sparsity: 0.75 }, onEpoch: (s) => void sparsities.push(s.sparsity as number) });
    // The cubic schedule rises over the first 60% of training, then the mask holds.
    expect(sparsities[0]).toBeGreaterThan(0);
    expect(sparsities[0]).toBeLessThan(0.75);
    expect(sparsities[4]).toBeCloseTo(0.75, 2);
    const before = weightsOf(model);
    const tuned = await train(model, data, { epochs: 2, batchSize: 16, seed: 5 });
    const after = weightsOf(tuned.model);
    let changed = 0;
    for (const [l, w] of before.entries()) {
      for (let i = 0; i < w.length; i++) {
        if (w[i] === 0 && l % 2 === 0) expect(after[l][i]).toBe(0);
        if (w[i] !== after[l][i]) changed++;
      }
    }
    expect(changed).toBeGreaterThan(0);
  });

  it("prunes to 2:4 along K with pattern '2:4'", async () => {
    const { model } = await train(mlp({ ...spec, seed: 4 }), data, { epochs: 2, batchSize: 32, prune: { sparsity: 0.5, pattern: '2:4' } });
    const graph = parseTrainable(model.toOnnx());
    for (const p of graph.params.filter((q) => q.prunable)) {
      for (let n = 0; n < p.cols; n++)
        for (let k0 = 0; k0 < p.rows; k0 += 4) {
          let nz = 0;
          for (let k = k0; k < Math.min(k0 + 4, p.rows); k++) if (p.value[k * p.cols + n] !== 0) nz++;
          expect(nz).toBeLessThanOrEqual(2);
        }
    }
  });

  it("prunes whole aligned blocks with pattern 'block'", async () => {
    for (const [block, C, L] of [
      ['1x4', 1, 4],
      ['8x1', 8, 1],
    ] as const) {
      for (const scope of ['layer', 'global'] as const) {
        const { model } = await train(mlp({ inputs: 8, hidden: [24], outputs: 4, seed: 4 }), data, { epochs: 3, batchSize: 32, prune: { sparsity: 0.5, pattern: 'block', block, scope } });
        let zeroBlocks = 0;
        let blocks = 0;
        for (const p of parseTrainable(model.toOnnx()).params.filter((q) => q.prunable)) {
          for (let k0 = 0; k0 < p.rows; k0 += L)
            for (let n0 = 0; n0 < p.cols; n0 += C) {
              let nz = 0;
              let size = 0;
              for (let k = k0; k < Math.min(k0 + L, p.rows); k++)
                for (let n = n0; n < Math.min(n0 + C, p.cols); n++) {
                  size++;
                  if (p.value[k * p.cols + n] !== 0) nz++;
                }
              blocks++;
              if (nz === 0) zeroBlocks++;
              else expect(nz, `${block} ${scope}: a block is either pruned whole or kept whole`).toBe(size);
            }
        }
        expect(zeroBlocks / blocks).toBeGreaterThan(0.45);
        expect(zeroBlocks / blocks).toBeLessThan(0.55);
      }
    }
  });

  it('trains from an async iterable of batches', async () => {
    const X = data.inputs.data;
    const Y = data.labels.data;
    const batches = {
      async *[Symbol.asyncIterator]() {
        for (let r = 0; r < 600; r += 50)
          yield { inputs: new Tensor('float32', X.slice(r * 8, (r + 50) * 8), [50, 8]), labels: new Tensor('int32', Y.slice(r, r + 50), [50]) };
      },
    };
    const { history } = await train(mlp({ ...spec, seed: 3 }), batches, { epochs: 4, learningRate: 0.01, validation: test });
    expect(history[0].steps).toBe(12);
    expect(history[3].valAccuracy).toBeGreaterThan(0.9);
  });

  it('augments batches with a seeded callback and checks what it returns', async () => {
    const calls: number[] = [];
    const noise = (x: Float32Array, rows: number, random: () => number): Float32Array => {
      calls.push(rows);
      return x.map((v) => v + 0.1 * (random() - 0.5));
    };
    const a = await train(mlp({ ...spec, seed: 3 }), data, { epochs: 3, batchSize: 40, learningRate: 0.01, augment: noise, validation: test });
    const b = await train(mlp({ ...spec, seed: 3 }), data, { epochs: 3, batchSize: 40, learningRate: 0.01, augment: noise });
    expect(calls).toEqual(new Array(90).fill(40));
    expect(sameBytes(a.model, b.model)).toBe(true);
    expect(a.history[2].valAccuracy).toBeGreaterThan(0.9);
    await expect(train(mlp(spec), data, { augment: (x) => x.subarray(1) })).rejects.toMatchObject({ code: 'ERR_INVALID_DATA' });
  });

  it('stops with ERR_ABORTED when the signal fires', async () => {
    const controller = new AbortController();
    const run = train(mlp({ ...spec, seed: 3 }), data, { epochs: 1000, batchSize: 4, signal: controller.signal, onEpoch: (s) => (s.epoch === 2 ? controller.abort() : undefined) });
    await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const pre = new AbortController();
    pre.abort();
    await expect(train(mlp({ ...spec }), data, { signal: pre.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});

describe('bad data and options fail before the first step', () => {
  const spec = { inputs: 8, hidden: [4], outputs: 3 };
  const good = blobs(20, 3, 2);
  const steps: number[] = [];
  const opts = { epochs: 1, onEpoch: () => void steps.push(1) };

  it('rejects NaN inputs, out-of-range labels and mismatched lengths with ERR_INVALID_DATA', async () => {
    const nan = Float32Array.from(good.inputs.data);
    nan[13] = NaN;
    await expect(train(mlp(spec), { inputs: new Tensor('float32', nan, [20, 8]), labels: good.labels }, opts)).rejects.toThrow(/NaN at row 1, feature 5/);
    const bad = Int32Array.from(good.labels.data);
    bad[7] = 3;
    await expect(train(mlp(spec), { inputs: good.inputs, labels: new Tensor('int32', bad) }, opts)).rejects.toThrow(/labels\[7\] is 3: class ids must lie in \[0, 2\]/);
    await expect(train(mlp(spec), { inputs: good.inputs, labels: new Tensor('int64', new BigInt64Array(20).fill(-1n)) }, opts)).rejects.toMatchObject({ code: 'ERR_INVALID_DATA' });
    await expect(train(mlp(spec), { inputs: good.inputs, labels: new Tensor('int32', good.labels.data.slice(0, 19)) }, opts)).rejects.toThrow(/20 input rows but 19 labels/);
    await expect(train(mlp(spec), { inputs: good.inputs }, opts)).rejects.toMatchObject({ code: 'ERR_INVALID_DATA' });
    await expect(train(mlp(spec), { inputs: good.inputs, labels: good.labels }, { ...opts, validation: { inputs: good.inputs, labels: new Tensor('int32', bad) } })).rejects.toThrow(/validation\.labels\[7\]/);
    expect(steps).toEqual([]);
  });

  it('rejects inputs of the wrong width or type', async () => {
    await expect(train(mlp(spec), { inputs: new Tensor('float32', new Float32Array(20 * 7), [20, 7]), labels: good.labels }, opts)).rejects.toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
    await expect(train(mlp(spec), { inputs: new Tensor('int32', new Int32Array(160), [20, 8]), labels: good.labels }, opts)).rejects.toThrow(TypeError);
    await expect(train(mlp(spec), { inputs: good.inputs, labels: new Tensor('float32', new Float32Array(20), [20]) }, { ...opts, loss: 'cross-entropy' })).rejects.toMatchObject({ code: 'ERR_INVALID_DATA' });
  });

  it('rejects bad options with the house message', async () => {
    await expect(train(mlp(spec), good, { epochs: 0 })).rejects.toThrow('Expected an integer in [1, 1000000] for options.epochs but received 0');
    await expect(train(mlp(spec), good, { optimizer: 'lamb' as never })).rejects.toThrow(RangeError);
    await expect(train(mlp(spec), good, { prune: { sparsity: 1.5 } })).rejects.toThrow(/options\.prune\.sparsity/);
    await expect(train(mlp(spec), good, { prune: { sparsity: 0.9, pattern: '2:4' } })).rejects.toThrow(/sparsity 0\.5 with pattern '2:4'/);
    await expect(train('model.onnx' as never, good)).rejects.toThrow(/a Model or ONNX bytes \(a Uint8Array\) for model/);
  });

  it('names the ops it cannot train', async () => {
    const g = new GraphBuilder();
    g.input('x', 'FLOAT', ['batch', 4]);
    g.float('w', new Float32Array(16), [4, 4]);
    const [a] = g.node('MatMul', ['x', 'w']);
    const [b] = g.node('Exp', [a]);
    g.node('Dropout', [b], ['y']);
    g.output('y', 'FLOAT', ['batch', 4]);
    await expect(train(g.build(), good)).rejects.toThrow(/this model also has Exp, Dropout/);
    await expect(train(new Uint8Array([1, 2, 3, 4]), good)).rejects.toMatchObject({ code: 'ERR_INVALID_MODEL' });
  });
});

describe('distill', () => {
  const data = blobs(600, 4, 8);
  const test = blobs(300, 4, 8);

  it('trains a student spec on the teacher, with and without labels, and with mixup', async () => {
    const teacher = (await train(mlp({ inputs: 8, hidden: [32], outputs: 4, seed: 1 }), data, { epochs: 6, learningRate: 0.01 })).model;
    const teacherAcc = (await train(teacher, data, { epochs: 1, learningRate: 1e-9, validation: test })).history[0].valAccuracy as number;
    for (const variant of [{}, { mixup: 0.4 }, { unlabeled: true }]) {
      const { model, history } = await distill(teacher, {
        student: { hidden: [8] },
        data: 'unlabeled' in variant ? { inputs: data.inputs } : data,
        epochs: 6,
        learningRate: 0.01,
        temperature: 2,
        alpha: 0.7,
        validation: test,
        ...('mixup' in variant ? { mixup: variant.mixup } : {}),
      });
      expect(parseTrainable(model.toOnnx()).params.map((p) => p.value.length)).toEqual([64, 8, 32, 4]);
      expect(history[5].valAccuracy as number).toBeGreaterThan(teacherAcc - 0.05);
    }
  });

  it('learns from any teacher the runtime runs, including ops it cannot train and a Softmax output', async () => {
    const trained = (await train(mlp({ inputs: 8, hidden: [32], outputs: 4, seed: 1 }), data, { epochs: 6, learningRate: 0.01 })).model;
    const params = parseTrainable(trained.toOnnx()).params;
    // The same network with an Identity (not trainable) and a Softmax at the end.
    const g = new GraphBuilder();
    g.input('pixels', 'FLOAT', ['batch', 8]);
    params.forEach((p) => g.float(p.name, p.value, p.dims));
    const [a] = g.node('MatMul', ['pixels', params[0].name]);
    const [b] = g.node('Add', [a, params[1].name]);
    const [c] = g.node('Relu', [b]);
    const [d] = g.node('Identity', [c]);
    const [e] = g.node('MatMul', [d, params[2].name]);
    const [f] = g.node('Add', [e, params[3].name]);
    g.node('Softmax', [f], ['probs'], { axis: -1 });
    g.output('probs', 'FLOAT', ['batch', 4]);
    const teacher = g.build();
    await expect(train(teacher, data)).rejects.toThrow(/also has Identity/);
    const { history } = await distill(teacher, { student: { hidden: [8] }, data: { inputs: data.inputs }, epochs: 6, learningRate: 0.01, validation: test });
    expect(history[5].valAccuracy as number).toBeGreaterThan(0.9);
  });

  it('checks the student against the teacher', async () => {
    const teacher = mlp({ inputs: 8, hidden: [4], outputs: 3 });
    await expect(distill(teacher, { student: mlp({ inputs: 8, hidden: [4], outputs: 5 }), data: blobs(20, 3, 1) })).rejects.toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
    await expect(distill(teacher, { student: { hidden: 'wide' as never }, data: blobs(20, 3, 1) })).rejects.toThrow(TypeError);
    await expect(distill(teacher, { student: { hidden: [4] }, data: undefined as never })).rejects.toThrow(/options\.data/);
  });
});

describe('trained models are ordinary ONNX', () => {
  it('onnxruntime-node reproduces sparq’s outputs', async () => {
    const data = blobs(200, 3, 3);
    const labels = new Tensor('int32', data.labels.data, [200]);
    const { model } = await train(everyOpModel(3), { inputs: new Tensor('float32', data.inputs.data.slice(0, 200 * 5), [200, 5]), labels }, { epochs: 2, prune: { sparsity: 0.5 } });
    const mlpModel = (await train(mlp({ inputs: 8, hidden: [16, 8], outputs: 3, seed: 2 }), data, { epochs: 2 })).model;
    const dir = mkdtempSync(join(tmpdir(), 'sparq-train-'));
    try {
      for (const [trained, K] of [
        [model, 5],
        [mlpModel, 8],
      ] as const) {
        const path = join(dir, 'trained.onnx');
        await saveModel(trained, path);
        const graph = parseTrainable(trained.toOnnx());
        const x = randomFloats(37 * K, 21, -1, 1);
        const session = await InferenceSession.create(trained, { threads: 1 });
        const ours = (await session.run({ [graph.inputName]: new Tensor('float32', x, [37, K]) }))[graph.outputName].data as Float32Array;
        await session.release();
        const training = new Network(graph, 1).predict(x, 37);
        const ortSession = await ort.InferenceSession.create(path);
        const out = await ortSession.run({ [graph.inputName]: new ort.Tensor('float32', x, [37, K]) });
        const theirs = out[graph.outputName].data as Float32Array;
        expect(theirs.length).toBe(ours.length);
        let worst = 0;
        let worstTraining = 0;
        for (let i = 0; i < ours.length; i++) {
          worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
          worstTraining = Math.max(worstTraining, Math.abs(training[i] - theirs[i]));
        }
        expect(worst).toBeLessThan(1e-4);
        expect(worstTraining).toBeLessThan(1e-4);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SparqError', () => {
  it('is what model errors are', async () => {
    await expect(train(new Uint8Array(0), blobs(4, 2, 1))).rejects.toBeInstanceOf(SparqError);
  });
});
