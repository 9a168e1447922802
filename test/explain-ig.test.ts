// Integrated gradients on an MLP trained on real MNIST, against PyTorch autograd's integrated gradients of
// the same weights and digits (scripts/ig-reference.py, Debian's python3-torch; CI installs it). Also the
// completeness gap at 50 steps, and saliency against central finite differences.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { explain, InferenceSession, loadMnist, mlp, Tensor, train, type Model } from '../src/index.js';
import { encodeNpy, parseNpy } from '../src/cli/tensor-files.js';

const PYTHON = '/usr/bin/python3';
const torchMissing = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status !== 0;
if (torchMissing) console.warn('explain-ig.test.ts: /usr/bin/python3 with torch and numpy not found (apt-get install python3-torch); the PyTorch comparison is skipped');

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('integrated gradients on an MNIST MLP', () => {
  let model: Model;
  let digits: Tensor<'float32'>;
  let labels: Int32Array;

  beforeAll(async () => {
    const data = loadMnist();
    // 784-64-32-10, two epochs: ~95% on the held-out digits, seconds on one thread.
    ({ model } = await train(mlp({ inputs: 784, hidden: [64, 32], outputs: 10, seed: 3 }), data.train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 3, threads: 1 }));
    digits = data.test.inputs;
    labels = data.test.labels.data;
  });

  const digit = (i: number) => new Tensor('float32', digits.data.slice(i * 784, (i + 1) * 784), [1, 784]);

  it.skipIf(torchMissing)('matches PyTorch autograd (correlation >= 0.995) with a completeness gap <= 2% at 50 steps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparq-ig-'));
    const layers = [1, 2, 3].map((l) => {
      for (const part of ['weight', 'bias']) {
        const t = model.initializers.get(`fc${l}.${part}`);
        if (!t) throw new Error(`fc${l}.${part} missing`);
        writeFileSync(join(dir, `fc${l}.${part}.npy`), encodeNpy(new Tensor('float32', t.data as Float32Array, [...t.dims])));
      }
      return { weight: `fc${l}.weight.npy`, bias: `fc${l}.bias.npy`, activation: l < 3 ? 'relu' : 'none' };
    });
    writeFileSync(join(dir, 'b.npy'), encodeNpy(new Tensor('float32', new Float32Array(784), [1, 784])));
    const figures: string[] = [];
    for (const [i, method] of [[0, 'gausslegendre'], [1, 'gausslegendre'], [2, 'riemann_trapezoid']] as const) {
      const x = digit(i);
      const target = labels[i];
      writeFileSync(join(dir, 'x.npy'), encodeNpy(x));
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ layers, input: 'x.npy', baseline: 'b.npy', target, steps: 50, method }));
      const r = spawnSync(PYTHON, ['scripts/ig-reference.py', dir], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const reference = parseNpy(readFileSync(join(dir, 'attributions.npy')), 'reference').data as Float32Array;
      const ref = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { delta: number; f_input: number; f_baseline: number };

      const e = await explain(model, { input: x }, { target, steps: 50, integration: method });
      const a = e.attributions.input.data;
      expect(e.attributions.input.dims).toEqual([1, 784]);
      const corr = pearson(a, reference);
      const change = Math.abs(ref.f_input - ref.f_baseline);
      const gap = Math.abs(e.delta as number) / change;
      figures.push(`digit ${i} (label ${target}, ${method}): correlation ${corr.toFixed(7)}, completeness gap ${(100 * gap).toFixed(3)}% of |f(x) - f(b)| = ${change.toFixed(3)} (PyTorch's own gap ${((100 * Math.abs(ref.delta)) / change).toFixed(3)}%)`);
      expect(corr).toBeGreaterThanOrEqual(0.995);
      expect(gap).toBeLessThanOrEqual(0.02);
      expect(Math.abs(e.value - ref.f_input)).toBeLessThan(1e-3 * Math.max(1, Math.abs(ref.f_input)));
      // Completeness: the attributions add up to f(x) - f(baseline), up to the reported delta.
      expect(sum(a)).toBeCloseTo(ref.f_input - ref.f_baseline + (e.delta as number), 3);
    }
    console.log(`[explain] integrated gradients vs PyTorch autograd, 50 steps:\n  ${figures.join('\n  ')}`);
  });

  it('gives the predicted class by default and a finite-difference saliency', async () => {
    const x = digit(5);
    const session = await InferenceSession.create(model, { threads: 1 });
    const logits = (await session.run({ input: x })).output.data as Float32Array;
    await session.release();
    const predicted = logits.indexOf(Math.max(...logits));
    const s = await explain(model, { input: x }, { method: 'saliency', abs: false });
    expect(s.target).toEqual({ output: 'output', index: predicted });
    expect(s.delta).toBeNull();
    // Central differences in float64 on the pixels with the largest gradients (ReLU is piecewise linear).
    const g = s.attributions.input.data;
    const order = Array.from(g.keys()).sort((p, q) => Math.abs(g[q]) - Math.abs(g[p])).slice(0, 5);
    const session2 = await InferenceSession.create(model, { threads: 1 });
    for (const k of order) {
      const at = async (h: number) => {
        const d = Float32Array.from(x.data);
        d[k] += h;
        return ((await session2.run({ input: new Tensor('float32', d, [1, 784]) })).output.data as Float32Array)[predicted];
      };
      const fd = ((await at(1e-2)) - (await at(-1e-2))) / 2e-2;
      expect(Math.abs(fd - g[k])).toBeLessThan(2e-2 * Math.max(1, Math.abs(g[k])));
    }
    await session2.release();
    const absolute = await explain(model, { input: x }, { method: 'saliency' });
    expect(Array.from(absolute.attributions.input.data)).toEqual(Array.from(g, Math.abs));
  });
});
