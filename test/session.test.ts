// InferenceSession: feed validation, fetches, release, plan cache, concurrency, devices.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, SparqError, Tensor, backend } from '../src/index.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { encoderModel, mlpModel } from '../src/onnx/zoo.js';
import { randomFloats } from './helpers.js';

function twoInputModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', 'FLOAT', ['batch', 8]);
  g.input('ids', 'INT64', ['batch']);
  g.float('W', randomFloats(8 * 4, 1), [8, 4]);
  g.float('table', randomFloats(10 * 4, 2), [10, 4]);
  const [xw] = g.node('MatMul', ['x', 'W']);
  const [emb] = g.node('Gather', ['table', 'ids'], 1, { axis: 0 });
  g.node('Add', [xw, emb], ['y']);
  g.node('Relu', ['y'], ['z']);
  g.output('y', 'FLOAT', ['batch', 4]);
  g.output('z', 'FLOAT', ['batch', 4]);
  return g.build();
}

describe('InferenceSession', () => {
  it('exposes inputNames and outputNames like onnxruntime-node', async () => {
    const s = await InferenceSession.create(twoInputModel());
    const o = await ort.InferenceSession.create(twoInputModel());
    expect(s.inputNames).toEqual(o.inputNames);
    expect(s.outputNames).toEqual(o.outputNames);
    await s.release();
  });

  it('validates feeds: missing, unknown, wrong dtype, rank or fixed dim, naming the input', async () => {
    const s = await InferenceSession.create(mlpModel({ sizes: [6, 3] }));
    const x = new Tensor('float32', new Float32Array(12), [2, 6]);
    await expect(s.run({})).rejects.toThrow(/feeds\["input"\].*undefined/);
    await expect(s.run({ input: x, other: x })).rejects.toThrow(/"other"/);
    await expect(s.run({ input: new Tensor('int32', new Int32Array(12), [2, 6]) })).rejects.toThrow(/Expected a float32 tensor for feeds\["input"\] but received an? int32 tensor/);
    await expect(s.run({ input: new Tensor('float32', new Float32Array(12), [12]) })).rejects.toThrow(/rank 2 \(\[batch, 6\]\).*dims \[12\]/);
    await expect(s.run({ input: new Tensor('float32', new Float32Array(12), [3, 4]) })).rejects.toThrow(/dims \[batch, 6\].*dims \[3, 4\]/);
    await expect(s.run({ input: Float32Array.of(1) as never })).rejects.toThrow(TypeError);
    await expect(s.run(null as never)).rejects.toThrow(TypeError);
    await expect(s.run({ input: x }, ['nope'])).rejects.toThrow(/fetches/);
    await s.release();
  });

  it('accepts onnxruntime-node tensors as feeds', async () => {
    const s = await InferenceSession.create(mlpModel({ sizes: [6, 3] }));
    const y = await s.run({ input: new ort.Tensor('float32', new Float32Array(12), [2, 6]) as never });
    expect(y.output.dims).toEqual([2, 3]);
    await s.release();
  });

  it('returns every output, or the fetched ones', async () => {
    const s = await InferenceSession.create(twoInputModel());
    const feeds = { x: new Tensor('float32', randomFloats(24, 3), [3, 8]), ids: new Tensor('int64', BigInt64Array.of(0n, 9n, 4n), [3]) };
    const all = await s.run(feeds);
    expect(Object.keys(all)).toEqual(['y', 'z']);
    const z = await s.run(feeds, ['z']);
    expect(Object.keys(z)).toEqual(['z']);
    expect(Object.keys(await s.run(feeds, { y: null }))).toEqual(['y']);
    expect(Object.keys(await s.run(feeds, { logSeverityLevel: 2 }))).toEqual(['y', 'z']);
    expect(Array.from(z.z.data as Float32Array)).toEqual(Array.from(all.y.data as Float32Array, (v) => Math.max(v, 0)));
    // Outputs not fetched go to buffers the session reuses: fetched ones stay the caller's, run after run,
    // concurrent runs included.
    const other = { x: new Tensor('float32', randomFloats(24, 4), [3, 8]), ids: feeds.ids };
    const [z1, z2, y1] = await Promise.all([s.run(feeds, ['z']), s.run(other, ['z']), s.run(other, ['y'])]);
    const zOther = await s.run(other, ['z']);
    expect(Array.from(z1.z.data as Float32Array)).toEqual(Array.from(z.z.data as Float32Array));
    expect(Array.from(z2.z.data as Float32Array)).toEqual(Array.from(zOther.z.data as Float32Array));
    expect(Array.from(z2.z.data as Float32Array)).toEqual(Array.from(y1.y.data as Float32Array, (v) => Math.max(v, 0)));
    expect(z1.z.data).not.toBe(z2.z.data);
    // A Gather index out of range is an error with a code, not a crash.
    await expect(s.run({ ...feeds, ids: new Tensor('int64', BigInt64Array.of(0n, 10n, 4n), [3]) })).rejects.toHaveProperty('code');
    await s.release();
  });

  it('writes into pre-allocated outputs given in fetches, as onnxruntime-node does', async () => {
    const s = await InferenceSession.create(twoInputModel());
    const feeds = { x: new Tensor('float32', randomFloats(24, 3), [3, 8]), ids: new Tensor('int64', BigInt64Array.of(0n, 9n, 4n), [3]) };
    const want = await s.run(feeds);
    const y = new Tensor('float32', new Float32Array(12).fill(Number.NaN), [3, 4]);
    for (let round = 0; round < 2; round++) {
      const got = await s.run(feeds, { y, z: round === 0 ? null : undefined });
      expect(got.y).toBe(y); // the given tensor itself, filled in
      expect(Array.from(y.data)).toEqual(Array.from(want.y.data as Float32Array));
      expect(Array.from(got.z.data as Float32Array)).toEqual(Array.from(want.z.data as Float32Array));
    }
    // An onnxruntime-node tensor works too; the result views its data.
    const o = new ort.Tensor('float32', new Float32Array(12), [3, 4]);
    const viaOrt = await s.run(feeds, { z: o as never });
    expect(viaOrt.z.data).toBe(o.data);
    expect(Array.from(o.data as Float32Array)).toEqual(Array.from(want.z.data as Float32Array));
    // onnxruntime-node agrees on what the record means.
    const ortSession = await ort.InferenceSession.create(twoInputModel());
    const oy = new ort.Tensor('float32', new Float32Array(12), [3, 4]);
    await ortSession.run({ x: new ort.Tensor('float32', feeds.x.data, [3, 8]), ids: new ort.Tensor('int64', feeds.ids.data, [3]) }, { y: oy });
    for (let i = 0; i < 12; i++) expect(oy.data[i]).toBeCloseTo(want.y.data[i] as number, 5);
    await s.release();
  });

  it('refuses pre-allocated outputs of the wrong type, dims or size, or sharing memory, and stays usable', async () => {
    const s = await InferenceSession.create(twoInputModel());
    const x = new Tensor('float32', randomFloats(24, 3), [3, 8]);
    const feeds = { x, ids: new Tensor('int64', BigInt64Array.of(0n, 9n, 4n), [3]) };
    await expect(s.run(feeds, { y: 5 as never })).rejects.toThrow(/Expected a Tensor to write the output into, or null for fetches\["y"\]/);
    await expect(s.run(feeds, { y: new Tensor('int32', new Int32Array(12), [3, 4]) })).rejects.toThrow(/Expected a float32 tensor for fetches\["y"\] but received an int32 tensor/);
    await expect(s.run(feeds, { y: new Tensor('float32', new Float32Array(12), [4, 3]) })).rejects.toThrow(/dims \[3, 4\].*fetches\["y"\] but received a tensor of dims \[4, 3\]/);
    await expect(s.run(feeds, { y: { type: 'float32', data: new Float32Array(5), dims: [3, 4] } as never })).rejects.toThrow(/Float32Array of 12 values for fetches\["y"\] but received a Float32Array of 5 values/);
    await expect(s.run(feeds, { y: { type: 'float32', data: new Int32Array(12), dims: [3, 4] } as never })).rejects.toThrow(TypeError);
    // Views of a feed's memory, or of each other's.
    const overFeed = new Tensor('float32', new Float32Array(x.data.buffer, 16, 12), [3, 4]);
    await expect(s.run(feeds, { y: overFeed })).rejects.toThrow(/fetches\["y"\] but received a tensor overlapping a feed/);
    const shared = new Float32Array(20);
    const y = new Tensor('float32', shared.subarray(0, 12), [3, 4]);
    const z = new Tensor('float32', shared.subarray(8, 20), [3, 4]);
    await expect(s.run(feeds, { y, z })).rejects.toThrow(/overlapping another output/);
    await expect(s.run(feeds, { y, z: y })).rejects.toThrow(/overlapping another output/);
    await expect(s.run(feeds, { y })).resolves.toHaveProperty('y', y);
    await s.release();
  });

  it('refuses runs after release', async () => {
    const s = await InferenceSession.create(mlpModel({ sizes: [6, 3] }));
    await s.release();
    await s.release();
    await expect(s.run({ input: new Tensor('float32', new Float32Array(6), [1, 6]) })).rejects.toMatchObject({ code: 'ERR_RELEASED' });
  });

  it('recompiles for new shapes and evicts old plans (cache of 1) with correct results', async () => {
    const bytes = mlpModel({ sizes: [20, 16, 5] });
    const s = await InferenceSession.create(bytes, { planCacheSize: 1 });
    const o = await ort.InferenceSession.create(bytes);
    for (const batch of [1, 4, 1, 9, 4]) {
      const x = randomFloats(batch * 20, batch);
      const a = await s.run({ input: new Tensor('float32', x, [batch, 20]) });
      const b = await o.run({ input: new ort.Tensor('float32', x, [batch, 20]) });
      const ya = a.output.data as Float32Array, yb = b.output.data as Float32Array;
      for (let i = 0; i < yb.length; i++) expect(Math.abs(ya[i] - yb[i])).toBeLessThan(1e-4 * (1 + Math.abs(yb[i])));
    }
    await s.release();
  });

  it('runs concurrent run() calls on one session safely', async () => {
    const bytes = mlpModel({ sizes: [256, 512, 512, 10], seed: 9 });
    const s = await InferenceSession.create(bytes, { threads: 2 });
    const batches = [64, 1, 33, 64, 7, 128, 64, 2];
    const inputs = batches.map((b, i) => randomFloats(b * 256, 100 + i));
    const sequential: Record<string, Tensor>[] = [];
    for (let i = 0; i < batches.length; i++) sequential.push(await s.run({ input: new Tensor('float32', inputs[i], [batches[i], 256]) }));
    for (let round = 0; round < 3; round++) {
      const concurrent = await Promise.all(batches.map((b, i) => s.run({ input: new Tensor('float32', inputs[i], [b, 256]) })));
      concurrent.forEach((r, i) => expect(Array.from(r.output.data as Float32Array)).toEqual(Array.from(sequential[i].output.data as Float32Array)));
    }
    // Releasing while runs are in flight lets them finish.
    const inflight = Promise.all(batches.map((b, i) => s.run({ input: new Tensor('float32', inputs[i], [b, 256]) })));
    await s.release();
    await expect(inflight).resolves.toHaveLength(batches.length);
  });

  it('options: threads, device, weightFormat', async () => {
    const bytes = mlpModel({ sizes: [6, 3] });
    await expect(InferenceSession.create(bytes, { threads: -1 })).rejects.toThrow(RangeError);
    await expect(InferenceSession.create(bytes, { device: 'tpu' as never })).rejects.toThrow(/options.device/);
    if (!backend().cuda.available) await expect(InferenceSession.create(bytes, { device: 'cuda' })).rejects.toMatchObject({ code: 'ERR_CUDA_UNAVAILABLE' });
    await expect(InferenceSession.create(bytes, { weightFormat: 'no-such-format' })).rejects.toHaveProperty('code');
    await expect(InferenceSession.create(42 as never)).rejects.toThrow(TypeError);
    const s = await InferenceSession.create(bytes, { threads: 1, weightFormat: 'dense' });
    expect([...s.weights.values()].map((w) => w.format)).toEqual(['dense']);
    await s.release();
  });

  it("options.execution: 'inline' computes before run() returns, as 'auto' does for small runs; every mode gives the same outputs", async () => {
    const bytes = mlpModel(); // 784-300-100-10: 266k multiply-adds per row
    await expect(InferenceSession.create(bytes, { execution: 'sync' as never })).rejects.toThrow(/options.execution/);
    await expect(InferenceSession.create(bytes, { execution: 1 as never })).rejects.toThrow(TypeError);
    await expect(InferenceSession.create(bytes, { device: 'cuda', execution: 'inline' })).rejects.toThrow(/options.execution \(device 'cuda'\)/);
    const outputs: number[][] = [];
    for (const execution of ['inline', 'auto', 'worker'] as const) {
      const s = await InferenceSession.create(bytes, { threads: 1, execution });
      for (const batch of [2, 64]) {
        const x = new Tensor('float32', randomFloats(batch * 784, batch), [batch, 784]);
        const out = new Tensor('float32', new Float32Array(batch * 10).fill(Number.NaN), [batch, 10]);
        const pending = s.run({ input: x }, { output: out });
        // Computed on this thread, before run() returned: always with 'inline'; with 'auto' below ~4M
        // multiply-adds (batch 2). Larger 'auto' runs and every 'worker' run may finish at any time.
        if (execution === 'inline' || (execution === 'auto' && batch === 2)) expect(out.data.every((v) => !Number.isNaN(v))).toBe(true);
        await pending;
        outputs.push(Array.from(out.data as Float32Array));
      }
      await s.release();
    }
    for (let i = 2; i < outputs.length; i++) expect(outputs[i]).toEqual(outputs[i % 2]);
  });

  it('errors are SparqErrors with codes', async () => {
    const e = await InferenceSession.create(new Uint8Array([1, 2, 3])).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SparqError);
    expect((e as SparqError).code).toBe('ERR_INVALID_MODEL');
  });

  it('a session created from a path (which releases packed weights from its file copy) matches one from bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparq-session-'));
    // A tied weight: the same 512x256 matrix feeds a Gather (embedding) and a MatMul (output layer).
    const g = new GraphBuilder();
    g.input('ids', 'INT64', ['n']);
    g.input('x', 'FLOAT', ['n', 256]);
    g.float('E', randomFloats(512 * 256, 5), [512, 256]);
    g.float('W', randomFloats(256 * 512, 6), [256, 512]);
    const [emb] = g.node('Gather', ['E', 'ids'], 1, { axis: 0 });
    const [h] = g.node('MatMul', ['x', 'W']);
    const [t] = g.node('Transpose', ['E'], 1, { perm: [1, 0] });
    g.node('MatMul', [emb, t], ['logits']);
    g.node('Relu', [h], ['hidden']);
    g.output('logits', 'FLOAT', ['n', 512]);
    g.output('hidden', 'FLOAT', ['n', 512]);
    const models = [g.build(), encoderModel({ hidden: 64, heads: 4, ffn: 256, layers: 2, vocab: 300 })];
    const feeds = [
      { ids: new Tensor('int64', BigInt64Array.of(3n, 511n, 0n), [3]), x: new Tensor('float32', randomFloats(3 * 256, 7), [3, 256]) },
      { input_ids: new Tensor('int64', BigInt64Array.from({ length: 20 }, (_, i) => BigInt(i * 13)), [2, 10]), attention_mask: new Tensor('int64', new BigInt64Array(20).fill(1n), [2, 10]) },
    ];
    for (let m = 0; m < models.length; m++) {
      const path = join(dir, `m${m}.onnx`);
      writeFileSync(path, models[m]);
      const fromPath = await InferenceSession.create(path);
      const fromBytes = await InferenceSession.create(models[m]);
      const a = await fromPath.run(feeds[m] as never);
      const b = await fromBytes.run(feeds[m] as never);
      for (const k of Object.keys(b)) expect(Array.from(a[k].data as Float32Array)).toEqual(Array.from(b[k].data as Float32Array));
      await fromPath.release();
      await fromBytes.release();
    }
  });

  it('packs each linear layer with the format its Model assigns (by weight name), others with the default', async () => {
    const bytes = mlpModel({ sizes: [64, 48, 32, 10], style: 'matmul', seed: 4 });
    const { loadModel } = await import('../src/index.js');
    const model = (await loadModel(bytes)).withWeightFormats({
      'fc0.weight': { format: 'sparse' },
      'fc1.weight': { format: 'int8', options: { perChannel: true } },
    });
    const s = await InferenceSession.create(model, { weightFormat: 'dense' });
    expect(Object.fromEntries([...s.weights].map(([k, w]) => [k, w.format]))).toEqual({ 'fc0.weight': 'sparse', 'fc1.weight': 'int8', 'fc2.weight': 'dense' });
    const o = await ort.InferenceSession.create(bytes);
    const x = randomFloats(5 * 64, 8);
    const a = await s.run({ input: new Tensor('float32', x, [5, 64]) });
    const b = await o.run({ input: new ort.Tensor('float32', x, [5, 64]) });
    const ya = a.output.data as Float32Array, yb = b.output.data as Float32Array;
    const scale = Math.max(...Array.from(yb, Math.abs));
    // int8 weights: close, not exact.
    for (let i = 0; i < yb.length; i++) expect(Math.abs(ya[i] - yb[i])).toBeLessThan(0.05 * scale);
    await s.release();
  });

  it('edge inputs: empty batches run, out-of-range ids and too-long sequences are errors with codes', async () => {
    const s = await InferenceSession.create(mlpModel({ sizes: [8, 4, 2] }));
    const y = await s.run({ input: new Tensor('float32', new Float32Array(0), [0, 8]) });
    expect(y.output.dims).toEqual([0, 2]);
    const e = await InferenceSession.create(encoderModel({ hidden: 16, heads: 2, ffn: 32, layers: 1, vocab: 10, maxPosition: 32 }));
    const feeds = (ids: BigInt64Array, dims: number[]) => ({ input_ids: new Tensor('int64', ids, dims), attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims) });
    const z = await e.run(feeds(new BigInt64Array(0), [0, 4]));
    expect(z.last_hidden_state.dims).toEqual([0, 4, 16]);
    await expect(e.run(feeds(BigInt64Array.of(1n, 99n), [1, 2]))).rejects.toHaveProperty('code', 'ERR_INDEX_OUT_OF_RANGE');
    // Longer than the position table: the sliced positions no longer broadcast against the tokens.
    await expect(e.run(feeds(new BigInt64Array(40), [1, 40]))).rejects.toHaveProperty('code', 'ERR_INVALID_MODEL');
    await s.release();
    await e.release();
  });
});
