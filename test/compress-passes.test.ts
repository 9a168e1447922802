// prune / quantize / compress / saveModel on small seeded MLPs: behaviour, immutability, exports, errors.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession, Model, SparqError, Tensor, compress, loadModel, prune, quantize, saveModel } from '../src/index.js';
import { outputsOf } from '../src/compress/calibration.js';
import { linearLayers, weightOf } from '../src/compress/layers.js';
import { maskFromScores, parsePattern, satisfiesPattern, sparsityOf, weightScores } from '../src/compress/masks.js';
import { outputDrift } from '../src/compress/metrics.js';
import { quantizationOf } from '../src/compress/quantize.js';
import { onnx } from '../src/onnx/proto.js';
import { decodeSparqModel, encodeSparqModel } from '../src/io/sparq-model.js';
import { exportOnnx } from '../src/io/export-onnx.js';
import { prepackedOf, unpackPrepacked } from '../src/io/prepacked.js';
import { readSparq, writeSparq } from '../src/io/sparq-format.js';
import { mlpOnnx } from '../src/train/mlp.js';
import { maxScaledError, randomFloats } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-compress-'));

/** 64-96-48-10 MLP with nonzero biases (so structured pruning's bias folding matters). */
async function smallModel(seed = 1): Promise<Model> {
  const m = await loadModel(mlpOnnx({ inputs: 64, hidden: [96, 48], outputs: 10, seed }));
  const init = new Map(m.initializers);
  for (const [k, t] of m.initializers) if (k.endsWith('.bias')) init.set(k, { dtype: t.dtype, dims: t.dims, data: randomFloats(t.data.length, seed + k.length, -0.3, 0.3) });
  return Model.fromGraph({ ...m.graph, initializers: init });
}
const calibration = { input: new Tensor('float32', randomFloats(256 * 64, 7, 0, 1), [256, 64]) };
const feeds = { input: new Tensor('float32', randomFloats(32 * 64, 8, 0, 1), [32, 64]) };

function snapshot(m: Model): Map<string, Float32Array> {
  return new Map([...m.initializers].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
}
function unchanged(m: Model, snap: Map<string, Float32Array>): boolean {
  return [...snap].every(([k, v]) => {
    const d = m.initializers.get(k)!.data as Float32Array;
    return d.length === v.length && d.every((x, i) => Object.is(x, v[i]));
  });
}
async function run(m: Model | string, f = feeds): Promise<Float32Array> {
  const s = await InferenceSession.create(m as Model);
  try {
    return (await s.run(f)).output.data as Float32Array;
  } finally {
    await s.release();
  }
}
async function runOrt(bytes: Uint8Array, f = feeds): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ input: new ort.Tensor('float32', f.input.data as Float32Array, [...f.input.dims]) });
  return out.output.data as Float32Array;
}
const layerSparsity = (m: Model) => linearLayers(m.graph).map((l) => sparsityOf(weightOf(m.graph, l)));

describe('prune', () => {
  it('every method prunes to the target and never mutates its input', async () => {
    const model = await smallModel();
    const snap = snapshot(model);
    for (const method of ['magnitude', 'random', 'wanda', 'sparsegpt'] as const) {
      const p = await prune(model, { sparsity: 0.6, method, calibration, minParams: 0 });
      expect(p).not.toBe(model);
      for (const s of layerSparsity(p)) expect(s).toBeCloseTo(0.6, 1);
      expect((await run(p)).every(Number.isFinite)).toBe(true);
    }
    expect(unchanged(model, snap)).toBe(true);
  });

  it('calibration-aware methods drift least, random most (one layer pruned alone)', async () => {
    const model = await loadModel(mlpOnnx({ inputs: 64, hidden: [96, 48], outputs: 10, seed: 1 }));
    const ref = await outputsOf(model, [calibration]);
    const drift = async (method: 'magnitude' | 'random' | 'sparsegpt') => outputDrift(ref, await outputsOf(await prune(model, { sparsity: 0, layers: { 'fc1.weight': 0.7 }, method, calibration }), [calibration])).cosine;
    const [mag, rnd, sg] = [await drift('magnitude'), await drift('random'), await drift('sparsegpt')];
    expect(sg).toBeGreaterThan(mag);
    expect(mag).toBeGreaterThan(rnd);
  });

  it('minParams leaves small layers dense; include / exclude / per-layer overrides select', async () => {
    const model = await smallModel();
    expect(layerSparsity(await prune(model, { sparsity: 0.5, minParams: 1000 }))).toEqual([0.5, 0.5, 0]);
    const names = linearLayers(model.graph).map((l) => l.node.name);
    expect(layerSparsity(await prune(model, { sparsity: 0.5, minParams: 0, exclude: [names[0]] }))).toEqual([0, 0.5, 0.5]);
    expect(layerSparsity(await prune(model, { sparsity: 0.5, minParams: 0, include: [/fc2/] }))).toEqual([0, 0.5, 0]);
    expect(layerSparsity(await prune(model, { sparsity: 0.5, minParams: 0, layers: { 'fc3.weight': 0.9 } }))).toEqual([0.5, 0.5, 0.9]);
  });

  it('global scope reaches the sparsity over all layers together, unevenly per layer', async () => {
    const model = await smallModel();
    const p = await prune(model, { sparsity: 0.7, scope: 'global', minParams: 0 });
    const layers = linearLayers(p.graph);
    let zeros = 0;
    let total = 0;
    for (const l of layers) {
      const W = weightOf(p.graph, l);
      zeros += sparsityOf(W) * W.length;
      total += W.length;
    }
    expect(zeros / total).toBeCloseTo(0.7, 2);
    const s = layerSparsity(p);
    expect(Math.max(...s) - Math.min(...s)).toBeGreaterThan(0.02);
  });

  it('2:4 and 1x4 block patterns hold', async () => {
    const model = await smallModel();
    for (const method of ['magnitude', 'sparsegpt'] as const) {
      const p = await prune(model, { pattern: '2:4', method, calibration, minParams: 0 });
      for (const l of linearLayers(p.graph)) expect(satisfiesPattern(weightOf(p.graph, l), l.K, l.N, parsePattern('2:4'))).toBe(true);
      if (method === 'magnitude') {
        // 2:4 is 50%, below the sparse formats' threshold: it still gets its own packed format, and a
        // session runs it there with the masked model's outputs.
        for (const l of linearLayers(p.graph)) expect(p.weightFormats.get(l.weight)).toEqual({ format: '2:4' });
        const s = await InferenceSession.create(p);
        for (const w of s.weights.values()) expect(w.format).toBe('2:4');
        const masked = await InferenceSession.create(p.withWeightFormats(Object.fromEntries(linearLayers(p.graph).map((l) => [l.weight, { format: 'dense' }]))));
        for (const w of masked.weights.values()) expect(w.format).toBe('dense');
        const [a, b] = [(await s.run(feeds)).output.data as Float32Array, (await masked.run(feeds)).output.data as Float32Array];
        expect(maxScaledError(a, b)).toBeLessThan(1e-4);
        await s.release();
        await masked.release();
      }
      const b = await prune(model, { pattern: 'block', sparsity: 0.75, method, calibration, minParams: 0 });
      const l = linearLayers(b.graph)[0];
      const W = weightOf(b.graph, l);
      for (let n = 0; n < l.N; n++)
        for (let k = 0; k < l.K; k += 4) {
          const zeros = [0, 1, 2, 3].filter((j) => W[(k + j) * l.N + n] === 0).length;
          expect(zeros === 0 || zeros === 4).toBe(true);
        }
    }
  });

  it('structured pruning shrinks the layers and keeps the function of the masked model', async () => {
    const model = await smallModel();
    const p = await prune(model, { sparsity: 0.5, pattern: 'structured', minParams: 0 });
    expect(p.initializers.get('fc1.weight')!.dims).toEqual([64, 48]);
    expect(p.initializers.get('fc1.bias')!.dims).toEqual([48]);
    expect(p.initializers.get('fc2.weight')!.dims).toEqual([48, 24]);
    expect(p.initializers.get('fc3.weight')!.dims).toEqual([24, 10]); // the output layer cannot shrink
    // The same neurons zeroed in place (bias kept: they still emit relu(b)) computes the same function.
    const init = new Map(model.initializers);
    const fc1 = linearLayers(model.graph)[0];
    const W1 = weightOf(model.graph, fc1);
    const mask = maskFromScores(weightScores(W1, 64, 96, 'magnitude'), 64, 96, { sparsity: 0.5, pattern: parsePattern('structured') });
    init.set('fc1.weight', { dtype: 'float32', dims: [64, 96], data: W1.map((v, i) => (mask[i] ? v : 0)) });
    const masked = Model.fromGraph({ ...model.graph, initializers: init });
    const one = await prune(model, { sparsity: 0, layers: { 'fc1.weight': 0.5 }, pattern: 'structured', minParams: 0 });
    expect(one.initializers.get('fc2.weight')!.dims).toEqual([48, 48]);
    expect(maxScaledError(await run(one), await run(masked))).toBeLessThan(1e-5);
    // onnxruntime runs the smaller model too.
    expect(maxScaledError(await runOrt(one.toOnnx()), await run(one))).toBeLessThan(1e-5);
  });

  it('sensitivity analysis picks per-layer sparsities within the drift budget', async () => {
    const model = await smallModel();
    const ref = await outputsOf(model, [calibration]);
    const p = await prune(model, { method: 'magnitude', calibration, minParams: 0, sensitivity: { budget: 0.05, sparsities: [0.1, 0.2, 0.3, 0.5, 0.7] } });
    const drift = 1 - outputDrift(ref, await outputsOf(p, [calibration])).cosine;
    expect(drift).toBeLessThanOrEqual(0.05);
    expect(Math.max(...layerSparsity(p))).toBeGreaterThan(0.05); // something was pruned // something was pruned
  });

  it('bad options throw TypeError / RangeError naming the option', async () => {
    const model = await smallModel();
    await expect(prune({} as Model)).rejects.toThrow(/Expected a Model .* for model/);
    await expect(prune(model, { method: 'best' as never })).rejects.toThrow(RangeError);
    await expect(prune(model, { method: 'best' as never })).rejects.toThrow(/options\.method/);
    await expect(prune(model, { sparsity: 1.5 })).rejects.toThrow(/options\.sparsity/);
    await expect(prune(model, { method: 'wanda' })).rejects.toThrow(/options\.calibration/);
    await expect(prune(model, { method: 'wanda', calibration: { other: calibration.input } })).rejects.toThrow(/options\.calibration\.input/);
    await expect(prune(model, { pattern: '5:4' })).rejects.toThrow(RangeError);
    await expect(prune(model, { pattern: 'structured', method: 'sparsegpt', calibration })).rejects.toThrow(/sparsegpt/);
    await expect(prune(model, { include: 'fc1' as never })).rejects.toThrow(/options\.include/);
    const ac = new AbortController();
    ac.abort();
    await expect(prune(model, { signal: ac.signal, minParams: 0 })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});

describe('quantize', () => {
  it("'dynamic' puts every weight on an s8 grid per channel, records it, leaves the input alone", async () => {
    const model = await smallModel();
    const snap = snapshot(model);
    const q = await quantize(model, { mode: 'dynamic', exclude: ['fc3.weight'] });
    expect(unchanged(model, snap)).toBe(true);
    const rec = quantizationOf(q);
    expect([...rec.keys()]).toEqual(['fc1.weight', 'fc2.weight']);
    const l = linearLayers(q.graph)[0];
    const W = weightOf(q.graph, l);
    for (let n = 0; n < l.N; n++) {
      let max = 0;
      for (let k = 0; k < l.K; k++) max = Math.max(max, Math.abs(W[k * l.N + n]));
      const s = max / 127;
      for (let k = 0; k < l.K; k++) expect(Math.abs(W[k * l.N + n] / s - Math.round(W[k * l.N + n] / s))).toBeLessThan(1e-3);
    }
    expect(weightOf(q.graph, linearLayers(q.graph)[2])).toEqual(weightOf(model.graph, linearLayers(model.graph)[2]));
    const drift = outputDrift(await outputsOf(model, [feeds]), await outputsOf(q, [feeds]));
    expect(drift.cosine).toBeGreaterThan(0.999);
  });

  it("'static' inserts QuantizeLinear → DequantizeLinear with calibrated ranges; 'weight-only' does not", async () => {
    const model = await smallModel();
    const s = await quantize(model, { mode: 'static', calibration, rangeMethod: 'percentile', percentile: 99.9 });
    expect(s.nodes.filter((n) => n.op === 'QuantizeLinear').length).toBe(3);
    expect(quantizationOf(s).get('fc1.weight')!.input!.scale).toBeGreaterThan(0);
    expect(outputDrift(await outputsOf(model, [feeds]), await outputsOf(s, [feeds])).cosine).toBeGreaterThan(0.99);
    const w = await quantize(model, { mode: 'weight-only' });
    expect(w.nodes.some((n) => n.op === 'QuantizeLinear')).toBe(false);
    await expect(quantize(model, { mode: 'static' })).rejects.toThrow(/options\.calibration/);
    await expect(quantize(model, { mode: 'int4' as never })).rejects.toThrow(/options\.mode/);
  });
});

describe('saveModel / loadModel', () => {
  it('.sparq round-trips to the same outputs and is much smaller; sessions open it by path', async () => {
    const model = await smallModel();
    const p = await quantize(await prune(model, { sparsity: 0.9, minParams: 0 }), { mode: 'dynamic' });
    for (const compressed of [true, false]) {
      const path = join(dir, `m${compressed}.sparq`);
      await saveModel(p, path, { compress: compressed });
      const back = await loadModel(path);
      expect(await run(back)).toEqual(await run(p));
      expect([...quantizationOf(back).keys()]).toEqual([...quantizationOf(p).keys()]);
      expect(await run(path as never)).toEqual(await run(p));
      expect(readFileSync(path).length * 5).toBeLessThan(model.toOnnx().length);
    }
    const fp = await prune(model, { sparsity: 0.8, pattern: 'block', minParams: 0 });
    await saveModel(fp, join(dir, 'fp.sparq'));
    expect(await run(await loadModel(join(dir, 'fp.sparq')))).toEqual(await run(fp));
  });

  it('block-pruned int8 weights travel prepacked (codes only there): sessions adopt them, outputs identical; bad packed bytes are refused', async () => {
    const model = await smallModel();
    const q = await quantize(await prune(model, { sparsity: 0.9, pattern: 'block', minParams: 0 }), { mode: 'dynamic' });
    expect([...q.weightFormats.values()].every((f) => f.format === 'sparse-int8')).toBe(true);
    const bytes = encodeSparqModel(q, { compress: false });
    const back = decodeSparqModel(bytes);
    const pre = prepackedOf(back)!;
    expect([...pre.keys()]).toEqual(['fc1.weight', 'fc2.weight', 'fc3.weight']);
    const l = linearLayers(back.graph)[0];
    const handle = unpackPrepacked(back, l.weight, back.weightFormats.get(l.weight)!, l.K, l.N);
    expect(handle).toBeDefined();
    handle!.release();
    expect(await run(back)).toEqual(await run(q));
    // The fp32 values are still there for anything that reads them (a further pass, an export).
    expect(weightOf(back.graph, l)).toEqual(weightOf(q.graph, l));
    // Hostile packed bytes (valid checksums, broken maps and codes): refused by the unpacker and, the
    // codes living only there, by the JS reader a re-pack would need: SparqError, never a crash.
    const sections = readSparq(bytes);
    const packed = Uint8Array.from(sections.get('packed')!);
    for (let i = 100; i < packed.length; i += 7) packed[i] = 0xff;
    const forged = writeSparq([...sections].map(([name, data]) => ({ name, data: name === 'packed' ? packed : data })));
    const f = decodeSparqModel(forged);
    expect(unpackPrepacked(f, l.weight, f.weightFormats.get(l.weight)!, l.K, l.N)).toBeUndefined();
    await expect(run(f)).rejects.toMatchObject({ code: 'ERR_INVALID_MODEL' });
    // prepack: false stores none.
    expect(prepackedOf(decodeSparqModel(encodeSparqModel(q, { prepack: false })))).toBeUndefined();
  });

  it('a corrupted or truncated .sparq gives ERR_INVALID_MODEL, never a crash', async () => {
    const model = await smallModel();
    const path = join(dir, 'c.sparq');
    await saveModel(await prune(model, { sparsity: 0.5, minParams: 0 }), path);
    const good = new Uint8Array(readFileSync(path));
    const tries: Uint8Array[] = [good.subarray(0, 10), good.subarray(0, good.length - 1), good.subarray(0, good.length >> 1)];
    for (const at of [9, 40, 200, good.length >> 1, good.length - 3]) {
      const bad = Uint8Array.from(good);
      bad[at] ^= 0xff;
      tries.push(bad);
    }
    for (const bytes of tries) {
      const f = join(dir, 'bad.sparq');
      writeFileSync(f, bytes);
      await expect(loadModel(f)).rejects.toMatchObject({ code: 'ERR_INVALID_MODEL' });
      await expect(loadModel(bytes)).rejects.toBeInstanceOf(SparqError);
    }
  });

  it('.onnx export runs in onnxruntime with sparq outputs: fp32 pruned to 1e-4, int8 close; sparse initializers shrink it', async () => {
    const model = await smallModel();
    const p = await prune(model, { sparsity: 0.9, minParams: 0 });
    const path = join(dir, 'p.onnx');
    await saveModel(p, path);
    const bytes = new Uint8Array(readFileSync(path));
    const proto = onnx.ModelProto.decode(bytes);
    expect(proto.graph!.sparseInitializer!.length).toBeGreaterThan(0);
    expect(bytes.length).toBeLessThan(model.toOnnx().length / 2);
    expect(maxScaledError(await runOrt(bytes), await run(p))).toBeLessThan(1e-4);
    expect(maxScaledError(await run(await loadModel(path)), await run(p))).toBeLessThan(1e-6); // sparq reads it back
    for (const mode of ['dynamic', 'static', 'weight-only'] as const) {
      const q = await quantize(p, { mode, calibration });
      const out = await exportQ(q);
      const ops = onnx.ModelProto.decode(out).graph!.node!.map((n) => n.opType);
      expect(ops).toContain(mode === 'dynamic' ? 'MatMulInteger' : 'DequantizeLinear');
      const a = await runOrt(out);
      const b = await run(q);
      const cos = outputDrift([{ y: new Tensor('float32', b, [b.length]) }], [{ y: new Tensor('float32', a, [a.length]) }]).cosine;
      expect(cos).toBeGreaterThan(0.999);
    }
  });
});

async function exportQ(m: Model): Promise<Uint8Array> {
  const path = join(dir, `q${Math.random().toString(36).slice(2)}.onnx`);
  await saveModel(m, path);
  return new Uint8Array(readFileSync(path));
}

describe('compress', () => {
  it('runs the passes in order and reports layers, sizes, drift and accuracy', async () => {
    const model = await smallModel();
    const labels = new Tensor('int32', Int32Array.from({ length: 256 }, (_, i) => i % 10), [256]);
    const { model: out, report } = await compress(model, [{ prune: { sparsity: 0.8, method: 'sparsegpt', minParams: 0 } }, { quantize: { mode: 'dynamic' } }], { calibration, labels, evaluate: () => 0.5 });
    expect(report.layers.map((l) => l.dtype)).toEqual(['int8', 'int8', 'int8']);
    expect(report.layers[0].sparsity).toBeCloseTo(0.8, 1);
    expect(report.layers[0].format).toMatch(/int8|dense/);
    // ~5x: on this 11k-parameter toy the graph's JSON and the container are a third of the file (sections
    // under 1 MiB are stored raw: a brotli start-up would cost more load time than the KiB it saves).
    expect(report.model.compressionRatio).toBeGreaterThan(4.5);
    expect(report.model.drift!.cosine).toBeGreaterThan(0.5);
    expect(report.model.accuracyBefore).toBeGreaterThanOrEqual(0);
    expect(report.model.scoreAfter).toBe(0.5);
    expect(report.passes.map((p) => p.pass)).toEqual(['prune', 'quantize']);
    const json = JSON.parse(JSON.stringify(report));
    expect(json.model.bytesAfter).toBe(report.model.bytesAfter);
    expect(String(report)).toMatch(/smaller/);
    expect(quantizationOf(out).size).toBe(3);
    await expect(compress(model, [{ shrink: {} } as never])).rejects.toThrow(/passes\[0\]/);
    await expect(compress(model, [], { labels })).rejects.toThrow(/options\.labels/);
  });
});

describe('Gemm layers (transB = 1, as torch exports nn.Linear)', () => {
  it('prune (unstructured, structured), quantize, .sparq and .onnx all keep the function', async () => {
    const { mlpModel } = await import('../src/onnx/zoo.js');
    const model = await loadModel(mlpModel({ sizes: [64, 96, 48, 10], seed: 3, style: 'gemm' }));
    expect(model.nodes.some((n) => n.op === 'Gemm')).toBe(true);
    const sg = await prune(model, { sparsity: 0.7, method: 'sparsegpt', calibration, minParams: 0 });
    expect(sg.initializers.get(linearLayers(sg.graph)[0].weight)!.dims).toEqual([96, 64]); // still [N, K]
    for (const s of layerSparsity(sg)) expect(s).toBeCloseTo(0.7, 1);
    expect(maxScaledError(await runOrt(exportOnnx(sg)), await run(sg))).toBeLessThan(1e-4);
    const st = await prune(model, { sparsity: 0.5, pattern: 'structured', minParams: 0 });
    expect(linearLayers(st.graph).map((l) => [l.K, l.N])).toEqual([[64, 48], [48, 24], [24, 10]]);
    expect(maxScaledError(await runOrt(st.toOnnx()), await run(st))).toBeLessThan(1e-5);
    for (const mode of ['dynamic', 'static'] as const) {
      const q = await quantize(sg, { mode, calibration });
      const a = await runOrt(exportOnnx(q));
      const b = await run(q);
      expect(outputDrift([{ y: new Tensor('float32', b, [b.length]) }], [{ y: new Tensor('float32', a, [a.length]) }]).cosine).toBeGreaterThan(0.999);
      expect(await run(decodeSparqModel(encodeSparqModel(q, { prepack: true })))).toEqual(b);
    }
  });
});
