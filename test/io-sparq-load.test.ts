// Loading .sparq files for sessions (format 2.0, sparq-format.ts): packed weights are adopted without
// their dense fp32 values ever being made; every section of a damaged or truncated file is a coded
// SparqError; files of format 1.0 still load; a session's weights are its own copy, so a model file
// replaced, truncated or rewritten on disk under a running session changes nothing.
import { mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InferenceSession, SparqError, Tensor, loadModel, prune, quantize } from '../src/index.js';
import { LazyTensor } from '../src/graph/ir.js';
import type { Model } from '../src/model.js';
import { SECTION_KIND, crc32, sparqLayout } from '../src/io/sparq-format.js';
import { encodeSparqModel } from '../src/io/sparq-model.js';
import { prepackedOf } from '../src/io/prepacked.js';
import { encoderModel, mlpModel } from '../src/onnx/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-io-load-'));
const x = new Tensor('float32', Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 0.37)), [3, 64]);
let model: Model;
let file: Uint8Array;

async function outputOf(source: string | Uint8Array | Model): Promise<Float32Array> {
  const s = await InferenceSession.create(source, { threads: 1 });
  try {
    return (await s.run({ input: x })).output.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** The code of the SparqError `fn` throws (a test failure for anything else, or nothing). */
async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SparqError);
    return (e as SparqError).code;
  }
  throw new Error('a damaged file was accepted');
}

beforeAll(async () => {
  const dense = await loadModel(mlpModel({ sizes: [64, 48, 10], seed: 4 }));
  model = await quantize(await prune(dense, { sparsity: 0.8, pattern: 'block' }), { mode: 'dynamic' });
  file = encodeSparqModel(model);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('.sparq 2.0 layout', () => {
  it('has a 64-byte header, kinds per section, and 64-byte-aligned packed weights', () => {
    const layout = sparqLayout(file);
    expect(layout.version).toEqual({ major: 2, minor: 0 });
    expect(layout.header.length).toBe(64);
    expect(layout.table.length).toBe(64 * layout.sections.size);
    const kinds = Object.fromEntries([...layout.sections].map(([name, s]) => [name, s.kind]));
    expect(kinds).toEqual({ model: SECTION_KIND.graph, consts: SECTION_KIND.consts, weights: SECTION_KIND.weights, packed: SECTION_KIND.packed });
    for (const s of layout.sections.values()) expect(s.offset % 64).toBe(0);
    // The packed weights inside their section: each at a multiple of 64 (the model JSON says where).
    const loaded = sparqLayout(file);
    const json = JSON.parse(new TextDecoder().decode(loaded.sections.get('model')!.bytes())) as { weights: Record<string, { packed?: { offset: number } }> };
    const offsets = Object.values(json.weights).flatMap((w) => (w.packed ? [w.packed.offset] : []));
    expect(offsets.length).toBeGreaterThan(0);
    for (const o of offsets) expect(o % 64).toBe(0);
  });
});

describe('loading for a session', () => {
  it('adopts packed weights without making their dense fp32 values; those are decoded on request', async () => {
    const loaded = await loadModel(file);
    // Every weight is lazy; those the file carries packed (here the 'sparse-int8' one) are adopted as they are.
    const lazy = [...loaded.initializers].filter(([, t]) => t instanceof LazyTensor) as [string, LazyTensor][];
    expect(lazy.length).toBe(2);
    const packed = prepackedOf(loaded)!;
    const adopted = lazy.filter(([name]) => packed.has(name));
    expect(adopted.length).toBeGreaterThan(0);
    const s = await InferenceSession.create(loaded, { threads: 1 });
    await s.run({ input: x });
    await s.release();
    for (const [name, t] of adopted) expect(t.computed, name).toBe(false);
    // A consumer that needs the values (export, training) decodes them: the model's own fp32 weights.
    const [name, t] = adopted[0];
    expect(t.data).toEqual(model.initializers.get(name)!.data);
  });

  it('create(path), loadModel(path) + create(model) and create(bytes) give the same outputs as the model', async () => {
    const path = join(dir, 'same.sparq');
    writeFileSync(path, file);
    const want = await outputOf(model);
    expect(await outputOf(path)).toEqual(want);
    expect(await outputOf(await loadModel(path))).toEqual(want);
    expect(await outputOf(file)).toEqual(want);
  });

  it('a file of format 1.0 still loads and runs as its 2.0 re-save does', async () => {
    const v1 = new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', 'mlp-v1.sparq')));
    expect(v1[8]).toBe(1);
    const old = await loadModel(v1);
    expect(sparqLayout(encodeSparqModel(old)).version.major).toBe(2);
    const input = new Tensor('float32', Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i)), [2, 64]);
    const run = async (m: Model | Uint8Array) => {
      const s = await InferenceSession.create(m, { threads: 1 });
      const y = (await s.run({ input })).output.data as Float32Array;
      await s.release();
      return y;
    };
    const y = await run(old);
    expect(y.length).toBe(20);
    expect(await run(encodeSparqModel(old))).toEqual(y);
  });
});

describe('damaged files are coded SparqErrors, section by section', () => {
  const regions = () => {
    const layout = sparqLayout(file);
    return [
      { name: 'header', start: 0, end: 64 },
      { name: 'table', start: 64, end: 64 + layout.table.length },
      ...[...layout.sections.values()].map((s) => ({ name: s.name, start: s.offset, end: s.offset + s.stored })),
    ];
  };

  it('a truncation inside or at the start of every region', async () => {
    for (const r of regions())
      for (const at of [r.start, r.start + 1, (r.start + r.end) >> 1, r.end - 1])
        expect(await codeOf(() => loadModel(file.subarray(0, at))), `truncated at ${at} (${r.name})`).toBe('ERR_INVALID_MODEL');
  });

  it('a flipped bit in every region, from bytes and from a path', async () => {
    const path = join(dir, 'flipped.sparq');
    for (const r of regions())
      for (const at of [r.start, (r.start + r.end) >> 1, r.end - 1]) {
        if (r.name === 'header' && at >= 8 && at < 12) continue; // the version: below
        const bad = Uint8Array.from(file);
        bad[at] ^= 0x10;
        expect(await codeOf(() => loadModel(bad)), `bit flipped at ${at} (${r.name})`).toBe('ERR_INVALID_MODEL');
        writeFileSync(path, bad);
        expect(await codeOf(() => InferenceSession.create(path)), `bit flipped at ${at} (${r.name}), create(path)`).toBe('ERR_INVALID_MODEL');
      }
    // A flipped version is damage (the header checksum); a real future version is refused by its own code.
    const flipped = Uint8Array.from(file);
    flipped[8] ^= 4;
    expect(await codeOf(() => loadModel(flipped))).toBe('ERR_INVALID_MODEL');
    flipped[8] = 9;
    new DataView(flipped.buffer).setUint32(60, crc32(flipped.subarray(0, 60)), true);
    const e = await loadModel(flipped).catch((err: unknown) => err as SparqError);
    expect((e as SparqError).code).toBe('ERR_UNSUPPORTED_VERSION');
    expect((e as SparqError).message).toMatch(/version 9\.0/);
  });

  it('a missing file or a directory is ERR_IO', async () => {
    expect(await codeOf(() => InferenceSession.create(join(dir, 'absent.sparq')))).toBe('ERR_IO');
    expect(await codeOf(() => loadModel(dir))).toBe('ERR_IO');
  });
});

describe('a model file changed on disk under a running session', () => {
  it('replaced (new file renamed over it), truncated in place, or rewritten: the session runs on unchanged', async () => {
    const path = join(dir, 'live.sparq');
    writeFileSync(path, file);
    const s = await InferenceSession.create(path, { threads: 1 });
    try {
      const want = (await s.run({ input: x })).output.data;
      const other = encodeSparqModel(await quantize(await prune(await loadModel(mlpModel({ sizes: [64, 48, 10], seed: 99 })), { sparsity: 0.5 }), { mode: 'dynamic' }));
      writeFileSync(join(dir, 'next.sparq'), other);
      renameSync(join(dir, 'next.sparq'), path);
      expect((await s.run({ input: x })).output.data).toEqual(want);
      truncateSync(path, 100);
      expect((await s.run({ input: x })).output.data).toEqual(want);
      truncateSync(path, 0);
      writeFileSync(path, new Uint8Array(file.length).fill(0xa5));
      expect((await s.run({ input: x })).output.data).toEqual(want);
      // And the file as it now is: refused, coded.
      expect(await codeOf(() => InferenceSession.create(path))).toBe('ERR_INVALID_MODEL');
    } finally {
      await s.release();
    }
  });
});

/** A 1-layer encoder whose embedding (4000 x 32 fp32) is most of its constants. */
const smallEncoder = (seed: number) => encoderModel({ hidden: 32, heads: 2, ffn: 64, layers: 1, vocab: 4000, maxPosition: 16, seed });

/** That encoder pruned 75% in blocks + int8, as .sparq bytes: packed Linears beside the embedding. */
async function packedEncoderSparq(seed: number): Promise<Uint8Array> {
  return encodeSparqModel(await quantize(await prune(await loadModel(smallEncoder(seed)), { sparsity: 0.75, pattern: 'block' }), { mode: 'dynamic' }));
}

/** A session's first output for 8 token ids `step` apart. */
async function encoderOutput(s: InferenceSession, step: number): Promise<unknown> {
  const ids = new Tensor('int64', BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i * step)), [1, 8]);
  const mask = new Tensor('int64', new BigInt64Array(8).fill(1n), [1, 8]);
  return Object.values(await s.run({ input_ids: ids, attention_mask: mask }))[0].data;
}

/** `path` truncated, rewritten, then replaced by `next` under `s`, whose output stays the same throughout. */
async function expectRunsOnAsFileChanges(s: InferenceSession, path: string, step: number, next: Uint8Array): Promise<void> {
  const want = await encoderOutput(s, step);
  // A view into the mapping kept past create() would fault (SIGBUS) on the pages past the new end.
  truncateSync(path, 0);
  expect(await encoderOutput(s, step)).toEqual(want);
  writeFileSync(path, new Uint8Array(1 << 16).fill(7));
  expect(await encoderOutput(s, step)).toEqual(want);
  writeFileSync(`${path}.next`, next);
  renameSync(`${path}.next`, path);
  expect(await encoderOutput(s, step)).toEqual(want);
}

describe('a .sparq file (mapped while the session is created) changed on disk under a running session', () => {
  it('an encoder with packed block + int8 weights and a large embedding: truncated, rewritten, replaced, the session runs on unchanged', async () => {
    const path = join(dir, 'encoder.sparq');
    writeFileSync(path, await packedEncoderSparq(3));
    const s = await InferenceSession.create(path, { threads: 1 });
    try {
      await expectRunsOnAsFileChanges(s, path, 499, file);
    } finally {
      await s.release();
    }
  });
});

describe('sessions from loaded Models keep their constants safe', () => {
  it('from loadModel(path) (constants viewing its private copy) and from a caller\'s bytes that change afterwards: the outputs of create(path)', async () => {
    const path = join(dir, 'encoder-views.sparq');
    const bytes = await packedEncoderSparq(5);
    writeFileSync(path, bytes);
    const fromPath = await InferenceSession.create(path, { threads: 1 });
    const fromModel = await InferenceSession.create(await loadModel(path), { threads: 1 });
    const mine = Uint8Array.from(bytes);
    const fromBytes = await InferenceSession.create(await loadModel(mine), { threads: 1 });
    try {
      const want = await encoderOutput(fromPath, 487);
      expect(await encoderOutput(fromModel, 487)).toEqual(want);
      expect(await encoderOutput(fromBytes, 487)).toEqual(want);
      mine.fill(0x5a);
      expect(await encoderOutput(fromBytes, 487)).toEqual(want);
    } finally {
      await Promise.all([fromPath.release(), fromModel.release(), fromBytes.release()]);
    }
  });
});

describe('an ONNX file (mapped while the session is created) changed on disk under a running session', () => {
  it('truncated in place, then rewritten and replaced: the session keeps no view of the mapping and runs on unchanged', async () => {
    const path = join(dir, 'encoder.onnx');
    // Its embedding is most of the file: a constant a session would otherwise keep as a view.
    writeFileSync(path, smallEncoder(3));
    const s = await InferenceSession.create(path, { threads: 1 });
    try {
      await expectRunsOnAsFileChanges(s, path, 5, mlpModel({ sizes: [8, 4], seed: 1 }));
    } finally {
      await s.release();
    }
  });
});
