// .sparq files of 'int8' (quantize dynamic), '2:4' and 'int4' (weight-only) models: the weights only in
// their kernel's packed bytes, adopted by a session as they are (no dense fp32 built, outputs identical to
// the in-memory model's), refused with a coded SparqError when damaged; the JS readers of those bytes
// (what a host whose kernels can't adopt them, and the lazy fp32 values, go through) check every index.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceSession, type Model, SparqError, Tensor, loadModel, prune, quantize, saveModel } from '../src/index.js';
import { LazyTensor } from '../src/graph/ir.js';
import { linearLayers } from '../src/compress/layers.js';
import { int8Codes, packedColumns, sparse24Values, weightOnlyValues } from '../src/io/packed-columns.js';
import { packSources, prepackedOf, serializePacked } from '../src/io/prepacked.js';
import { openSparq, readSparq, writeSparq } from '../src/io/sparq-format.js';
import { decodeSparqModel, encodeSparqModel } from '../src/io/sparq-model.js';
import { pack } from '../src/kernels.js';
import { type NativePackedHandle, native } from '../src/native.js';
import { encoderModel, mlpModel } from '../src/onnx/zoo.js';
import { randomFloats, rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-packed-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The three kinds of model, from one small encoder (attention, FFN: the linear layers of a BERT). */
async function models(): Promise<[string, string, Model][]> {
  const dense = await loadModel(encoderModel({ hidden: 64, heads: 4, ffn: 128, layers: 1, vocab: 100, maxPosition: 64, seed: 3 }));
  const pruned = await prune(dense, { sparsity: 0.5, pattern: '2:4', minParams: 0 });
  // prune() assigns '2:4' itself; pinned by name here so the test is about the file, not prune's defaults.
  const sparse24 = pruned.withWeightFormats(Object.fromEntries(linearLayers(pruned.graph).map((l) => [l.weight, { format: '2:4' }])));
  return [
    ['int8', 'int8', await quantize(dense, { mode: 'dynamic' })],
    ['2:4', '2:4', sparse24],
    ['int4', 'int4', await quantize(dense, { mode: 'weight-only', bits: 4 })],
  ];
}

const feeds = () => ({
  input_ids: new Tensor('int64', BigInt64Array.from({ length: 12 }, (_, i) => BigInt((i * 37) % 100)), [1, 12]),
  attention_mask: new Tensor('int64', new BigInt64Array(12).fill(1n), [1, 12]),
});

async function outputs(model: Model | string): Promise<Float32Array> {
  const s = await InferenceSession.create(model, { threads: 1 });
  try {
    return (await s.run(feeds()))[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

/** fn throws SparqError 'ERR_INVALID_MODEL'. */
function expectInvalid(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SparqError);
  expect((err as SparqError).code).toBe('ERR_INVALID_MODEL');
}

const layouts = (bytes: Uint8Array) =>
  Object.values(JSON.parse(new TextDecoder().decode(readSparq(bytes).get('model')!)).weights as Record<string, { meta: { layout: string }; packed?: { format: string } }>);

describe('int8, 2:4 and int4 weights in .sparq files', async () => {
  for (const [label, format, model] of await models()) {
    it(`${label}: packed only, adopted by the session (no fp32 built), the same outputs; fp32 values decoded on request`, async () => {
      const linear = linearLayers(model.graph).map((l) => l.weight);
      expect(linear.every((k) => model.weightFormats.get(k)?.format === format)).toBe(true);
      expect(linear.length).toBeGreaterThanOrEqual(6);
      const path = join(dir, `${label.replace(':', '')}.sparq`);
      await saveModel(model, path);
      const bytes = readFileSync(path);
      const entries = layouts(bytes).filter((w) => w.packed?.format === format);
      expect(entries.length).toBe(linear.length);
      expect(entries.every((w) => w.meta.layout === 'packed')).toBe(true);

      const back = await loadModel(path);
      expect(prepackedOf(back)!.size).toBe(linear.length);
      const want = await outputs(model);
      expect(await outputs(back)).toEqual(want);
      const sources = packSources(back);
      for (const name of linear) {
        expect(sources.get(name)).toBe('adopted');
        const t = back.initializers.get(name);
        expect(t).toBeInstanceOf(LazyTensor);
        expect((t as LazyTensor).computed).toBe(false);
      }
      // create(path): the same outputs.
      expect(await outputs(path)).toEqual(want);
      // fp32 values (what export and training read) decode lazily from the packed bytes, exactly (zeros
      // come back as +0, as from any sparse encoding).
      const plusZero = (d: ArrayLike<number>) => Float32Array.from(d, (v) => v + 0);
      for (const name of linear) expect(plusZero(back.initializers.get(name)!.data as Float32Array)).toEqual(plusZero(model.initializers.get(name)!.data as Float32Array));
    });

    it(`${label}: a truncated file or a damaged packed section is a coded SparqError`, async () => {
      const bytes = encodeSparqModel(model);
      for (const cut of [1, 64, bytes.length >> 1, bytes.length - 1]) expectInvalid(() => decodeSparqModel(bytes.subarray(0, cut)));
      // A flipped bit anywhere in the stored packed section: its checksum.
      const at = openSparq(bytes).get('packed')!.offset + 100;
      const flipped = Uint8Array.from(bytes);
      flipped[at] ^= 0x10;
      expectInvalid(() => decodeSparqModel(flipped));
      // Flips behind valid checksums (the sections rewritten): the session refuses, and so does the fp32 decode.
      const sections = readSparq(bytes);
      const packed = sections.get('packed')!;
      const forge = (edit: (p: Uint8Array) => void) => {
        const p = Uint8Array.from(packed);
        edit(p);
        return decodeSparqModel(writeSparq([...sections].map(([name, data]) => ({ name, data: name === 'packed' ? p : data }))));
      };
      const first = [...model.weightFormats.keys()].find((k) => model.weightFormats.get(k)!.format === format)!;
      for (const edit of [
        (p: Uint8Array) => (p[0] ^= 1), // the first weight's signature
        (p: Uint8Array) => (p[16] ^= 4), // its K (2:4) or its panel group / code group (int8, int4)
      ]) {
        const forged = forge(edit);
        const err = await InferenceSession.create(forged).then(
          (s) => (s.release(), undefined),
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SparqError);
        expect((err as SparqError).code).toBe('ERR_INVALID_MODEL');
        expectInvalid(() => forged.initializers.get(first)!.data);
      }
    });
  }
});

function serialized(W: Float32Array, K: number, N: number, format: string, options: Record<string, number | string | boolean> = {}): Uint8Array {
  const p = pack(W, K, N, { format: format as never, ...options });
  try {
    return serializePacked(p.handle)!;
  } finally {
    p.release();
  }
}

function pattern24(K: number, N: number, seed: number): Float32Array {
  const W = randomFloats(K * N, seed);
  const r = rng(seed);
  for (let k0 = 0; k0 < K; k0 += 4)
    for (let n = 0; n < N; n++) {
      const keep = [Math.floor(r() * 4), Math.floor(r() * 4)];
      for (let k = k0; k < Math.min(K, k0 + 4); k++) if (!keep.includes(k - k0) || r() < 0.1) W[k * N + n] = 0;
    }
  return W;
}

const unpack = native().unpackWeights as (format: string, bytes: Uint8Array, K: number, N: number) => NativePackedHandle;

describe('packed bytes read in JS', () => {
  const K = 37, N = 21;
  const cases: [string, Float32Array, Record<string, number | string | boolean>][] = [
    ['int8', randomFloats(K * N, 4), {}],
    ['int8', randomFloats(K * N, 5), { perChannel: false }],
    ['2:4', pattern24(K, N, 6), {}],
    ['int4', randomFloats(K * N, 7), { groupSize: 16, symmetric: false }],
    ['int8-wo', randomFloats(K * N, 8), { groupSize: 16 }],
  ];
  for (const [format, W, options] of cases)
    it(`${format} ${JSON.stringify(options)}: what the native unpacker accepts, exactly; truncation and flips give SparqError or the same acceptance`, () => {
      const bytes = serialized(W, K, N, format, options);
      const c = packedColumns(format, bytes, K, N)!;
      const nativeAccepts = (b: Uint8Array) => {
        try {
          unpack(format, b, K, N).release();
          return true;
        } catch (e) {
          expect((e as SparqError).code).toBe('ERR_INVALID_MODEL');
          return false;
        }
      };
      const jsAccepts = (b: Uint8Array) => {
        try {
          packedColumns(format, b, K, N);
          return true;
        } catch (e) {
          expect(e).toBeInstanceOf(SparqError);
          expect((e as SparqError).code).toBe('ERR_INVALID_MODEL');
          return false;
        }
      };
      expect(nativeAccepts(bytes)).toBe(true);
      const dense = new Float32Array(K * N);
      for (let n = 0; n < N; n++) for (let j = c.colPtr[n]; j < c.colPtr[n + 1]; j++) dense[c.rows[j] * N + n] = c.values[j];
      if (format === '2:4') expect(dense).toEqual(W);
      if (format === 'int8') {
        const q = quantizeLike(W, K, N, options.perChannel !== false);
        for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) expect(dense[k * N + n]).toBe(q[k * N + n]);
      }
      // (code − zero) · scale is within half a step of W.
      if (format === 'int4' || format === 'int8-wo') for (let i = 0; i < K * N; i++) expect(Math.abs(dense[i] - W[i])).toBeLessThan(0.2);
      for (let n = 0; n < bytes.length; n++) expect(jsAccepts(bytes.subarray(0, n))).toBe(false);
      const r = rng(9);
      let refused = 0;
      for (let i = 0; i < bytes.length; i++) {
        const bad = Uint8Array.from(bytes);
        bad[i] ^= 1 << Math.floor(r() * 8);
        const js = jsAccepts(bad);
        refused += Number(!js);
        // The JS reader refuses what the native one does, but for the fields only native code reads: the
        // ISA packed for; int8's code range (the kernel's), per-channel flag, error figures and scales (JS
        // takes the scales of the compact entry).
        const nativeOnly: [number, number][] = format === 'int8' ? [[8, 16], [20, 24], [40, 64], [bytes.length - 4 * N, bytes.length]] : format === '2:4' ? [[8, 12]] : [];
        if (!nativeAccepts(bad) && !nativeOnly.some(([a, b]) => i >= a && i < b)) expect(js).toBe(false);
      }
      expect(refused).toBeGreaterThan(0);
    });

  it('the readers name their format', () => {
    expect(() => int8Codes(new Uint8Array(8), 4, 4)).toThrow(/'int8'/);
    expect(() => sparse24Values(new Uint8Array(8), 4, 4)).toThrow(/'2:4'/);
    expect(() => weightOnlyValues('int4', new Uint8Array(8), 4, 4)).toThrow(/'int4'/);
  });
});

/** The int8 format's codes for W (its rule: symmetric, max|w| / 127, round half to even), where the kernel is 8-bit. */
function quantizeLike(W: Float32Array, K: number, N: number, perChannel: boolean): Float32Array {
  const maxAbs = new Float32Array(perChannel ? N : 1);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) maxAbs[perChannel ? n : 0] = Math.max(maxAbs[perChannel ? n : 0], Math.abs(W[k * N + n]));
  const weightMax = int8WeightMax();
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      const s = Math.fround(maxAbs[perChannel ? n : 0] / weightMax);
      const x = Math.max(-weightMax, Math.min(weightMax, Math.fround(W[k * N + n] / s)));
      const f = Math.floor(x);
      out[k * N + n] = (x - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(x)) + 0;
    }
  return out;
}

/** The code range of this CPU's int8 kernel, from the header of its packed bytes. */
function int8WeightMax(): number {
  const b = serialized(Float32Array.of(1), 1, 1, 'int8');
  return new DataView(b.buffer, b.byteOffset).getInt32(12, true);
}

describe('int4 file size', () => {
  it('a 768x3072 int4 layer (group 64) takes at most 0.14x its fp32 bytes in the .sparq file, scales included', async () => {
    const K = 768, N = 3072;
    const m = await quantize(await loadModel(mlpModel({ sizes: [K, N], seed: 4 })), { mode: 'weight-only', bits: 4, groupSize: 64 });
    const bytes = encodeSparqModel(m);
    const sections = readSparq(bytes);
    const weight = layouts(bytes)[0] as { meta: { bytes: number; layout: string }; packed?: { length: number } };
    expect(weight.meta.layout).toBe('packed');
    const ratio = (weight.packed!.length + weight.meta.bytes) / (4 * K * N);
    expect(ratio).toBeLessThanOrEqual(0.14);
    // The whole file (graph, bias, headers) too.
    expect(bytes.length / (4 * K * N)).toBeLessThanOrEqual(0.14);
    expect(sections.get('weights')!.length).toBeLessThan(1024);
    // Loads and runs as the in-memory model does.
    const x = new Tensor('float32', Float32Array.from({ length: 2 * K }, (_, i) => Math.sin(i)), [2, K]);
    const run = async (model: Model) => {
      const s = await InferenceSession.create(model, { threads: 1 });
      const y = (await s.run({ [s.inputNames[0]]: x }))[s.outputNames[0]].data;
      await s.release();
      return y;
    };
    expect(await run(decodeSparqModel(bytes))).toEqual(await run(m));
  });
});

describe('a file packed for another kernel', () => {
  const dist = new URL('../dist/index.js', import.meta.url);
  // Where the default int8 kernel is AVX512-VNNI (8-bit codes, two panels per group), an AVX2 process's is another.
  const avx512 = !process.env.SPARQ_ISA && existsSync('/proc/cpuinfo') && /avx512_vnni/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  it.skipIf(!avx512)('an AVX-512 int8 file loads on an AVX2 process (SPARQ_ISA=avx2): re-packed from its codes, outputs within the 7-bit codes\' error', async () => {
    if (!existsSync(dist)) {
      const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
      expect(tsc.status, tsc.stdout).toBe(0);
    }
    const model = (await models())[0][2];
    const path = join(dir, 'int8-avx512.sparq');
    await saveModel(model, path);
    const want = await outputs(model);
    const script = `
      const { InferenceSession, Tensor, loadModel } = await import(${JSON.stringify(dist.href)});
      const { packSources } = await import(${JSON.stringify(new URL('../dist/io/prepacked.js', import.meta.url).href)});
      const m = await loadModel(${JSON.stringify(path)});
      const s = await InferenceSession.create(m, { threads: 1 });
      const ids = new Tensor('int64', BigInt64Array.from({ length: 12 }, (_, i) => BigInt((i * 37) % 100)), [1, 12]);
      const mask = new Tensor('int64', new BigInt64Array(12).fill(1n), [1, 12]);
      const y = (await s.run({ input_ids: ids, attention_mask: mask }))[s.outputNames[0]].data;
      console.log(JSON.stringify({ sources: [...new Set(packSources(m).values())], y: [...y] }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, SPARQ_ISA: 'avx2' } });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sources: string[]; y: number[] };
    expect(got.sources).toEqual(['nonzeros']);
    expect(got.y.length).toBe(want.length);
    let err = 0, norm = 0;
    for (let i = 0; i < want.length; i++) {
      err += (got.y[i] - want[i]) ** 2;
      norm += want[i] ** 2;
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(0.05);
  });

  it.skipIf(!avx512)('an int8 file saved by an AVX2 process loads here: its 7-bit packed bytes are refused, the compact codes give the same outputs', async () => {
    const path = join(dir, 'int8-avx2.sparq');
    const script = `
      const { loadModel, quantize, saveModel } = await import(${JSON.stringify(dist.href)});
      const { encoderModel } = await import(${JSON.stringify(new URL('../dist/onnx/zoo.js', import.meta.url).href)});
      const dense = await loadModel(encoderModel({ hidden: 64, heads: 4, ffn: 128, layers: 1, vocab: 100, maxPosition: 64, seed: 3 }));
      await saveModel(await quantize(dense, { mode: 'dynamic' }), ${JSON.stringify(path)});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, SPARQ_ISA: 'avx2' } });
    expect(r.status, r.stderr).toBe(0);
    const entries = layouts(readFileSync(path)).filter((w) => w.packed?.format === 'int8');
    expect(entries.length).toBe(6);
    // 7-bit codes are not the model's 8-bit ones: stored beside the compact codes, not instead of them.
    expect(entries.every((w) => w.meta.layout !== 'packed')).toBe(true);
    const back = await loadModel(path);
    expect(await outputs(back)).toEqual(await outputs((await models())[0][2]));
    expect(packSources(back).size).toBe(0);
  });
});
