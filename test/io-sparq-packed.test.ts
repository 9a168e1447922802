// Weights a .sparq file carries in kernel form: 'sparse-int8' packed bytes read back in JS (codes exact,
// damage refused), packed-only files (codes in the packed bytes, scales in the compact section) that
// give back the same fp32 weights and outputs, and packing from nonzeros (packCsc) guarded at the door.
import { describe, expect, it } from 'vitest';
import { InferenceSession, SparqError, Tensor, loadModel, prune as prunePass, quantize } from '../src/index.js';
import { quantizeWeights } from '../src/compress/quantize-math.js';
import { decodeSparqModel, encodeSparqModel } from '../src/io/sparq-model.js';
import { prepackedOf, serializePacked } from '../src/io/prepacked.js';
import { readSparq, writeSparq } from '../src/io/sparq-format.js';
import { groupedCscValues, sparseInt8Codes } from '../src/io/packed-columns.js';
import { pack } from '../src/kernels.js';
import { native } from '../src/native.js';
import { mlpModel } from '../src/onnx/zoo.js';
import { prune, randomFloats, rng } from './helpers.js';

function packedSparseInt8(W: Float32Array, K: number, N: number): Uint8Array {
  const p = pack(W, K, N, { format: 'sparse-int8' });
  try {
    return serializePacked(p.handle)!;
  } finally {
    p.release();
  }
}

describe("'sparse-int8' packed bytes read in JS", () => {
  for (const [K, N, sparsity, block] of [[601, 13, 0.92, false], [300, 40, 0.9, true], [5, 3, 0.5, false]] as const) {
    it(`${K}x${N} at ${sparsity}${block ? ' (1x4 blocks)' : ''}: the codes are the quantizer's, exactly`, () => {
      const W = block ? randomFloats(K * N, K) : prune(randomFloats(K * N, K), sparsity, N);
      if (block) {
        // Whole 1x4 blocks zeroed (block pruning): the words layout.
        const r = rng(K);
        for (let k0 = 0; k0 < K; k0 += 4) for (let n = 0; n < N; n++) if (r() < sparsity) for (let k = k0; k < Math.min(K, k0 + 4); k++) W[k * N + n] = 0;
      }
      const q = quantizeWeights(W, K, N, true);
      const bytes = packedSparseInt8(W, K, N);
      const c = sparseInt8Codes(bytes, K, N);
      const back = new Int8Array(K * N);
      for (let n = 0; n < N; n++) for (let j = c.colPtr[n]; j < c.colPtr[n + 1]; j++) back[c.rows[j] * N + n] = c.values[j];
      if (native().backend().isa !== 'avx2') expect(back).toEqual(q.values); // AVX2 packs 7-bit codes
    });
  }

  it('truncated or bit-flipped bytes give SparqError, never another error', () => {
    const K = 131, N = 19;
    const bytes = packedSparseInt8(prune(randomFloats(K * N, 3), 0.9, 4), K, N);
    for (let n = 0; n < bytes.length; n += 3) expect(() => sparseInt8Codes(bytes.subarray(0, n), K, N)).toThrow(SparqError);
    expect(() => sparseInt8Codes(bytes, K + 1, N)).toThrow(SparqError);
    const r = rng(9);
    for (let i = 0; i < bytes.length; i++) {
      const bad = Uint8Array.from(bytes);
      bad[i] ^= 1 << Math.floor(r() * 8);
      try {
        sparseInt8Codes(bad, K, N);
      } catch (e) {
        expect(e).toBeInstanceOf(SparqError);
      }
    }
  });
});

describe("'sparse' / 'block' packed bytes read in JS", () => {
  for (const [format, block] of [['sparse', undefined], ['block', '1x4'], ['block', '8x1']] as const) {
    it(`${format}${block ? ` ${block}` : ''}: the values exactly; damage gives SparqError`, () => {
      const K = 67, N = 21;
      const W = prune(randomFloats(K * N, 11), 0.85, 12);
      const p = pack(W, K, N, { format, ...(block ? { block } : {}) });
      const bytes = serializePacked(p.handle)!;
      p.release();
      const c = groupedCscValues(format, bytes, K, N);
      const back = new Float32Array(K * N);
      for (let n = 0; n < N; n++) for (let j = c.colPtr[n]; j < c.colPtr[n + 1]; j++) back[c.rows[j] * N + n] = c.values[j];
      expect(back).toEqual(W);
      for (let n = 0; n < bytes.length; n += 7) expect(() => groupedCscValues(format, bytes.subarray(0, n), K, N)).toThrow(SparqError);
      const r = rng(2);
      for (let i = 0; i < bytes.length; i += 3) {
        const bad = Uint8Array.from(bytes);
        bad[i] ^= 1 << Math.floor(r() * 8);
        try {
          groupedCscValues(format, bad, K, N);
        } catch (e) {
          expect(e).toBeInstanceOf(SparqError);
        }
      }
    });
  }
});

describe('packed-only .sparq weights', () => {
  it("unstructured fp32 ('sparse'): values only in the packed section, the same weights and outputs", async () => {
    const onnx = mlpModel({ sizes: [96, 64, 10], seed: 2 });
    const m = await prunePass(await loadModel(onnx), { sparsity: 0.9, minParams: 0 });
    expect([...m.weightFormats.values()].every((f) => f.format === 'sparse')).toBe(true);
    const bytes = encodeSparqModel(m);
    const json = JSON.parse(new TextDecoder().decode(readSparq(bytes).get('model')!));
    expect(Object.values(json.weights).map((w) => (w as { meta: { layout: string } }).meta.layout)).toEqual(['packed', 'packed']);
    const back = decodeSparqModel(bytes);
    for (const [name, t] of m.initializers) expect(back.initializers.get(name)!.data).toEqual(t.data);
    const x = new Tensor('float32', Float32Array.from({ length: 2 * 96 }, (_, i) => Math.cos(i)), [2, 96]);
    const y = async (model: typeof m) => {
      const s = await InferenceSession.create(model);
      const out = (await s.run({ [s.inputNames[0]]: x }))[s.outputNames[0]].data;
      await s.release();
      return out;
    };
    expect(await y(back)).toEqual(await y(m));
  });

  it('LeNet 92% + int8: codes only in the packed section, the same fp32 weights and outputs, ≥ 20x smaller', async () => {
    const onnx = mlpModel({ sizes: [784, 300, 100, 10], seed: 1 });
    const m = await quantize(await prunePass(await loadModel(onnx), { sparsity: 0.92, minParams: 0 }), { mode: 'dynamic' });
    const bytes = encodeSparqModel(m, { compress: false });
    expect(onnx.length / bytes.length).toBeGreaterThanOrEqual(20);
    const json = JSON.parse(new TextDecoder().decode(readSparq(bytes).get('model')!));
    expect(Object.values(json.weights).map((w) => (w as { meta: { layout: string } }).meta.layout)).toEqual(['packed', 'packed', 'packed']);
    const back = decodeSparqModel(bytes);
    expect(prepackedOf(back)!.size).toBe(3);
    for (const [name, t] of m.initializers) expect(back.initializers.get(name)!.data).toEqual(t.data);
    const x = new Tensor('float32', Float32Array.from({ length: 3 * 784 }, (_, i) => Math.sin(i)), [3, 784]);
    const outputs = async (model: typeof m) => {
      const s = await InferenceSession.create(model);
      const y = (await s.run({ [s.inputNames[0]]: x }))[s.outputNames[0]].data;
      expect([...s.weights.values()].every((w) => w.format === 'sparse-int8')).toBe(true);
      await s.release();
      return y;
    };
    expect(await outputs(back)).toEqual(await outputs(m));
    // prepack: false keeps the compact codes (smallest with brotli); the session packs from the nonzeros.
    const compact = decodeSparqModel(encodeSparqModel(m, { prepack: false }));
    expect(prepackedOf(compact)).toBeUndefined();
    expect(await outputs(compact)).toEqual(await outputs(m));
    // Hostile packed bytes behind valid checksums: the session refuses them with SparqError.
    const sections = readSparq(bytes);
    const packed = Uint8Array.from(sections.get('packed')!);
    for (let i = 80; i < packed.length; i += 5) packed[i] = 0xff;
    const forged = decodeSparqModel(writeSparq([...sections].map(([name, data]) => ({ name, data: name === 'packed' ? packed : data }))));
    await expect(InferenceSession.create(forged)).rejects.toBeInstanceOf(SparqError);
    expect(() => forged.initializers.get('fc0.weight')!.data).toThrow(SparqError);
  });
});

describe('packCsc', () => {
  it('refuses pointers and rows that do not describe a matrix', () => {
    const nat = native();
    const ok = () => nat.packCsc('sparse-int8', Int32Array.of(0, 1, 2), Int32Array.of(0, 3), Float32Array.of(1, 2), 4, 2, {});
    ok().release();
    expect(() => nat.packCsc('sparse-int8', Int32Array.of(0, 1, 2), Int32Array.of(0, 4), Float32Array.of(1, 2), 4, 2, {})).toThrow();
    expect(() => nat.packCsc('sparse-int8', Int32Array.of(0, 2, 1), Int32Array.of(0, 3), Float32Array.of(1, 2), 4, 2, {})).toThrow();
    expect(() => nat.packCsc('sparse-int8', Int32Array.of(0, 1, 3), Int32Array.of(0, 3), Float32Array.of(1, 2), 4, 2, {})).toThrow();
    expect(() => nat.packCsc('sparse-int8', Int32Array.of(0, 2), Int32Array.of(3, 1), Float32Array.of(1, 2), 4, 1, {})).toThrow();
    expect(() => nat.packCsc('sparse-int8', Int32Array.of(0, 1), Int32Array.of(0), Float32Array.of(1, 2), 4, 1, {})).toThrow(RangeError);
    expect(() => nat.packCsc('sparse-int8', [0, 1] as never, Int32Array.of(0), Float32Array.of(1), 4, 1, {})).toThrow(TypeError);
  });
});
