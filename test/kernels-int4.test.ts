// Weight-only decode formats ('int4', 'int8-wo') through the JS API: kernels.pack / matmul against a
// reference built from the dequantized weights, quantize({ mode: 'weight-only', bits, groupSize }),
// the .sparq round trip, and the ONNX export as com.microsoft MatMulNBits run by onnxruntime-node.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession, Model, Tensor, compress, kernels, loadModel, quantize, saveModel } from '../src/index.js';
import { linearLayers, weightOf } from '../src/compress/layers.js';
import { quantizationOf } from '../src/compress/quantize.js';
import { quantizeGroupwise } from '../src/compress/quantize-weight-only.js';
import { exportOnnx } from '../src/io/export-onnx.js';
import { prepackedOf } from '../src/io/prepacked.js';
import { onnx } from '../src/onnx/proto.js';
import { mlpOnnx } from '../src/train/mlp.js';
import { randomFloats } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-int4-'));

/** y = x · Wq in double, and the bound the s8 activation rounding keeps sparq within (weight_only.h). */
function reference(x: Float32Array, M: number, Wq: Float32Array, K: number, N: number, group: number) {
  const y = new Float64Array(M * N);
  const bound = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let g = 0; g * group < K; g++) {
      let maxabs = 0;
      for (let k = g * group; k < Math.min(K, (g + 1) * group); k++) maxabs = Math.max(maxabs, Math.abs(x[m * K + k]));
      for (let n = 0; n < N; n++) {
        let absw = 0;
        for (let k = g * group; k < Math.min(K, (g + 1) * group); k++) {
          y[m * N + n] += x[m * K + k] * Wq[k * N + n];
          absw += Math.abs(Wq[k * N + n]);
        }
        bound[m * N + n] += (maxabs / 127 / 2) * absw;
      }
    }
  return { y, bound };
}

describe('kernels.pack int4 / int8-wo', () => {
  it('multiplies within the activation rounding bound up to M = 64, and exactly in fp32 tiles above', () => {
    const K = 200;
    const N = 45;
    const W = randomFloats(K * N, 1, -1, 1);
    for (const format of ['int4', 'int8-wo'] as const)
      for (const symmetric of [true, false]) {
        const groupSize = 32;
        const w = kernels.pack(W, K, N, { format, groupSize, symmetric });
        expect(w.format).toBe(format);
        expect(w.info.groupSize).toBe(groupSize);
        const Wq = quantizeGroupwise(W, K, N, { bits: format === 'int4' ? 4 : 8, groupSize, symmetric }).dequantized;
        for (const M of [1, 3, 8, 20, 70]) {
          const x = randomFloats(M * K, M, -2, 2);
          const got = kernels.matmulSync(x, M, w, { out: new Float32Array(M * N).fill(NaN) });
          const { y, bound } = reference(x, M, Wq, K, N, groupSize);
          for (let i = 0; i < M * N; i++) {
            const limit = M <= 64 ? bound[i] * 1.001 + 1e-4 : 1e-4 * (1 + Math.abs(y[i]));
            expect(Math.abs(got[i] - y[i])).toBeLessThanOrEqual(limit);
          }
        }
        w.release();
      }
  });

  it('takes at most 0.14x the fp32 bytes for a 768x3072 layer at group 64, and refuses bad options', () => {
    const K = 768;
    const N = 3072;
    const w = kernels.pack(randomFloats(K * N, 2), K, N, { format: 'int4', groupSize: 64 });
    expect((w.info.weightBytes as number) / (4 * K * N)).toBeLessThanOrEqual(0.14);
    w.release();
    const W = randomFloats(64, 3);
    expect(() => kernels.pack(W, 8, 8, { format: 'int4', groupSize: 12 })).toThrow(/groupSize/);
    expect(() => kernels.pack(W, 8, 8, { format: 'int4', groupSize: 'x' as never })).toThrow(/options\.groupSize/);
    expect(() => kernels.pack(W, 8, 8, { format: 'int8-wo', symmetric: 1 as never })).toThrow(/options\.symmetric/);
  });
});

async function mlp(): Promise<Model> {
  return loadModel(mlpOnnx({ inputs: 128, hidden: [96], outputs: 64, seed: 4 }));
}
const input = (M: number, seed = 9) => new Tensor('float32', randomFloats(M * 128, seed, -1, 1), [M, 128]);

async function runSparq(m: Model | string, x: Tensor): Promise<Float32Array> {
  const s = await InferenceSession.create(m as Model);
  try {
    return (await s.run({ input: x })).output.data as Float32Array;
  } finally {
    await s.release();
  }
}

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await s.run({ input: new ort.Tensor('float32', x.data as Float32Array, [...x.dims]) });
    return out.output.data as Float32Array;
  } finally {
    await s.release();
  }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};
const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));

describe("quantize({ mode: 'weight-only', bits, groupSize })", () => {
  it('keeps the dequantized weights, runs on the decode formats, saves to .sparq and exports MatMulNBits that onnxruntime runs', async () => {
    const model = await mlp();
    for (const [bits, symmetric] of [[4, true], [4, false], [8, true]] as const) {
      const q = await quantize(model, { mode: 'weight-only', bits, groupSize: 32, symmetric });
      const rec = quantizationOf(q).get(linearLayers(q.graph)[0].weight)!;
      expect(rec).toMatchObject({ mode: 'weight-only', bits, groupSize: 32, symmetric });
      const l = linearLayers(q.graph)[0];
      const g = quantizeGroupwise(weightOf(model.graph, l), l.K, l.N, { bits, groupSize: 32, symmetric });
      expect(weightOf(q.graph, l)).toEqual(g.dequantized);
      expect(q.weightFormats.get(l.weight)?.format).toBe(bits === 4 ? 'int4' : 'int8-wo');

      // M > 64 is fp32 arithmetic on the dequantized weights: the quantized model's own fp32 graph.
      const big = input(72);
      const fp = await runSparq(Model.fromGraph(q.graph), big);
      expect(maxDiff(await runSparq(q, big), fp)).toBeLessThan(1e-4 * maxAbs(fp));
      // M <= 64 (decode, prompts): s8 activations, close to the same.
      const small = input(2);
      const fpSmall = await runSparq(Model.fromGraph(q.graph), small);
      const decode = await runSparq(q, small);
      expect(maxDiff(decode, fpSmall)).toBeLessThan(0.02 * maxAbs(fpSmall));

      const path = join(dir, `q${bits}${symmetric}.sparq`);
      await saveModel(q, path);
      const back = await loadModel(path);
      expect(prepackedOf(back)?.get(l.weight)?.format).toBe(bits === 4 ? 'int4' : 'int8-wo');
      expect(await runSparq(back, small)).toEqual(decode);

      const bytes = exportOnnx(q, { accuracyLevel: 0 });
      const ops = onnx.ModelProto.decode(bytes).graph!.node!.map((n) => `${n.domain ? `${n.domain}.` : ''}${n.opType}`);
      expect(ops.filter((o) => o === 'com.microsoft.MatMulNBits').length).toBe(2);
      // accuracy_level 0: onnxruntime dequantizes and multiplies in fp32, as sparq's prefill path does.
      expect(maxDiff(await runOrt(bytes, big), fp)).toBeLessThan(1e-4 * maxAbs(fp));
      // accuracy_level 4: int8 activations on both sides.
      const ort4 = await runOrt(exportOnnx(q), small);
      expect(maxDiff(ort4, decode)).toBeLessThan(0.02 * maxAbs(fpSmall));
    }
  });

  it('reports the drift in compress and validates its options', async () => {
    const model = await mlp();
    const calibration = { input: input(32, 5) };
    const { report } = await compress(model, [{ quantize: { mode: 'weight-only', bits: 4, groupSize: 64 } }], { calibration });
    expect(report.layers.every((l) => l.dtype === 'int4' && l.format === 'int4')).toBe(true);
    expect(report.model.drift!.cosine).toBeGreaterThan(0.99);
    expect(report.layers[0].fileBytes).toBeLessThan(report.layers[0].params * 0.6);
    await expect(quantize(model, { mode: 'weight-only', bits: 3 as never })).rejects.toThrow(/options\.bits/);
    await expect(quantize(model, { mode: 'weight-only', groupSize: 48 })).rejects.toThrow(/options\.groupSize/);
    await expect(quantize(model, { mode: 'dynamic', bits: 4 })).rejects.toThrow(/options\.mode/);
  });
});
