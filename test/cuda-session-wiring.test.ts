// How an InferenceSession on device 'cuda' drives the addon, checked without a GPU: the addon is wrapped
// so that backend().cuda reports a device, createCudaSession() hands out a recorded context and the
// 'cuda-*' formats pack as CPU 'dense' weights. What is checked is the session's side of the contract:
// one context per session passed to every pack, the GPU format chosen per weight, runs always through
// the async worker, and the context released with the session (or when creation fails).
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { NativeAddon, NativePackOptions, NativePlanHandle } from '../src/native.js';

interface FakeContext {
  released: number;
  info(): { released: boolean; kind: string };
  release(): void;
}

const record = { packs: [] as { format: string; options: NativePackOptions }[], contexts: [] as FakeContext[], runSync: 0, run: 0 };

vi.mock('../src/native.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../src/native.js')>();
  let fake: NativeAddon | undefined;
  const cpuFormat = (f: string) => (f.startsWith('cuda-') ? 'dense' : f);
  const wrap = (real: NativeAddon): NativeAddon => ({
    ...real,
    backend: () => ({ ...real.backend(), cuda: { available: true, device: 'Test GPU', sms: 1, memory: 1 << 30, computeCapability: '9.0' } }),
    createCudaSession: () => {
      const c: FakeContext = { released: 0, info: () => ({ released: c.released > 0, kind: 'cuda' }), release: () => void c.released++ };
      record.contexts.push(c);
      return c;
    },
    pack: (format, W, K, N, options) => {
      record.packs.push({ format, options });
      return real.pack(cpuFormat(format), W, K, N, {});
    },
    packBytes: (format, bytes, K, N, options) => {
      record.packs.push({ format, options });
      return real.packBytes(cpuFormat(format), bytes, K, N, {});
    },
    createPlan: (spec) => {
      const h = real.createPlan(spec);
      const handle: NativePlanHandle = {
        run: (i, o, t) => (record.run++, h.run(i, o, t)),
        runSync: (i, o, t) => (record.runSync++, h.runSync(i, o, t)),
        release: () => h.release(),
        info: () => h.info(),
      };
      return handle;
    },
  });
  return { ...mod, native: () => (fake ??= wrap(mod.native())) };
});

const { loadModel } = await import('../src/io/model-file.js');
const { mlpModel } = await import('../src/onnx/zoo.js');
const { prune } = await import('../src/compress/prune.js');
const { quantize } = await import('../src/compress/quantize.js');
const { InferenceSession } = await import('../src/session.js');
const { Tensor } = await import('../src/tensor.js');
const { benchmark } = await import('../src/bench/benchmark.js');

describe("InferenceSession device 'cuda' (addon wrapped: no GPU needed)", () => {
  const bytes = mlpModel({ sizes: [32, 24, 8], seed: 9 });
  beforeEach(() => {
    record.packs = [];
    record.contexts = [];
    record.run = record.runSync = 0;
  });

  it('one context per session, passed to every weight; runs async; released with the session', async () => {
    const s = await InferenceSession.create(bytes, { device: 'cuda' });
    expect(s.device).toBe('cuda');
    expect(record.contexts).toHaveLength(1);
    expect(record.packs.map((p) => p.format)).toEqual(['cuda-auto', 'cuda-auto']);
    for (const p of record.packs) expect(p.options.device).toBe(record.contexts[0]);
    const feeds = { input: new Tensor('float32', new Float32Array(2 * 32).map((_, i) => Math.cos(i)), [2, 32]) };
    const got = await s.run(feeds);
    expect(record.run).toBe(1);
    expect(record.runSync).toBe(0);  // a tiny plan, yet not on the event loop
    const cpu = await InferenceSession.create(bytes);
    expect(record.packs.slice(2).every((p) => p.options.device === undefined)).toBe(true);
    const want = await cpu.run(feeds);
    expect(record.runSync).toBe(1);
    expect(Array.from(got[s.outputNames[0]].data as Float32Array)).toEqual(Array.from(want[cpu.outputNames[0]].data as Float32Array));
    await s.release();
    await cpu.release();
    expect(record.contexts[0].released).toBe(1);
  });

  it('the GPU format follows the weight: dense, quantized, pruned, or the caller’s', async () => {
    const model = await loadModel(bytes);
    const formats = async (m: typeof model, opts = {}) => {
      record.packs = [];
      const s = await InferenceSession.create(m, { device: 'cuda', ...opts });
      await s.release();
      return record.packs.map((p) => [p.format, p.options.int8 ?? false]);
    };
    // A model whose formats say 'dense' runs on fp16 tensor cores; unassigned weights go to cuda-auto.
    expect(await formats(model, { weightFormat: 'dense' })).toEqual([['cuda-f16', false], ['cuda-f16', false]]);
    expect(await formats(model, { weightFormat: 'cuda-f32' })).toEqual([['cuda-f32', false], ['cuda-f32', false]]);
    expect(await formats(await quantize(model, { mode: 'dynamic' }))).toEqual([['cuda-auto', true], ['cuda-auto', true]]);
    expect(await formats(await prune(model, { sparsity: 0.9 }))).toEqual([['cuda-auto', false], ['cuda-auto', false]]);
  });

  it("benchmark({ device: 'cuda' }): sparq's sessions on the device; onnxruntime-node on the CPU, said plainly", async () => {
    const r = await benchmark(bytes, { device: 'cuda', batch: [2], time: 5, rounds: 1 });
    expect(r.device).toBe('cuda');
    expect(record.contexts.length).toBeGreaterThan(0);
    expect(record.contexts.every((c) => c.released === 1)).toBe(true);
    expect(r.cases.map((c) => c.runtime)).toEqual(['sparq', 'onnxruntime']);
    expect(r.onnxruntime.provider).toBe('cpu');
    expect(r.onnxruntime.note).toMatch(/CUDA provider .*sparq's GPU with onnxruntime's CPU/);
  });

  it('a failed creation releases the context', async () => {
    await expect(InferenceSession.create(bytes, { device: 'cuda', weightFormat: 'no-such-format' })).rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT');
    expect(record.contexts).toHaveLength(1);
    expect(record.contexts[0].released).toBe(1);
  });
});
