// InferenceSession on device 'cuda' and benchmark({ device: 'cuda' }): where there is no usable CUDA device
// (a CPU-only build, or a CUDA build on a machine without GPU/driver) both refuse with ERR_CUDA_UNAVAILABLE
// and the reason; where there is one, the session's linear layers run on the GPU in the format each weight
// needs and agree with the CPU session. The format mapping and onnxruntime-node's provider check run anywhere.
import { describe, expect, it } from 'vitest';

import { backend } from '../src/backend.js';
import { benchmark } from '../src/bench/benchmark.js';
import { loadOnnxruntime, ortCudaProvider } from '../src/bench/onnxruntime.js';
import { cudaFormatFor } from '../src/cuda.js';
import { SparqError } from '../src/errors.js';
import { loadModel } from '../src/io/model-file.js';
import { mlpModel } from '../src/onnx/zoo.js';
import { prune } from '../src/compress/prune.js';
import { quantize } from '../src/compress/quantize.js';
import { InferenceSession } from '../src/session.js';
import { Tensor } from '../src/tensor.js';

const status = backend().cuda;

async function refusal(p: Promise<unknown>): Promise<SparqError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(SparqError);
  return e as SparqError;
}

describe("device: 'cuda'", () => {
  const bytes = mlpModel({ sizes: [64, 96, 10], seed: 5 });

  it('maps each CPU weight format to its GPU counterpart', () => {
    expect(cudaFormatFor(undefined)).toEqual({ format: 'cuda-auto' });
    expect(cudaFormatFor({ format: 'dense' })).toEqual({ format: 'cuda-f16' });
    for (const format of ['int8', 'sparse-int8']) expect(cudaFormatFor({ format, options: { perChannel: true } })).toEqual({ format: 'cuda-auto', options: { int8: true } });
    for (const format of ['sparse', 'block', '2:4', 'auto']) expect(cudaFormatFor({ format })).toEqual({ format: 'cuda-auto' });
    expect(cudaFormatFor({ format: 'cuda-f32' })).toEqual({ format: 'cuda-f32' });
    expect(cudaFormatFor({ format: 'no-such-format' })).toEqual({ format: 'no-such-format' });
  });

  it('without a device: ERR_CUDA_UNAVAILABLE naming why; CPU sessions unaffected', async () => {
    if (status.available) return;
    const e = await refusal(InferenceSession.create(bytes, { device: 'cuda' }));
    expect(e.code).toBe('ERR_CUDA_UNAVAILABLE');
    expect(e.message).toContain(status.reason!);
    const cpu = await InferenceSession.create(bytes, { device: 'cpu' });
    expect(cpu.device).toBe('cpu');
    const out = await cpu.run({ input: new Tensor('float32', new Float32Array(2 * 64).fill(0.5), [2, 64]) });
    expect(out[cpu.outputNames[0]].dims).toEqual([2, 10]);
    await cpu.release();
  });

  it('benchmark({ device: "cuda" }) without a device: ERR_CUDA_UNAVAILABLE before anything runs', async () => {
    if (status.available) return;
    const e = await refusal(benchmark(bytes, { device: 'cuda', compare: false, time: 1, rounds: 1 }));
    expect(e.code).toBe('ERR_CUDA_UNAVAILABLE');
    await expect(benchmark(bytes, { device: 'tpu' as never })).rejects.toThrow(/options.device/);
  });

  it("onnxruntime-node's CUDA provider: installed, or a plain reason why not", async () => {
    const ort = await loadOnnxruntime();
    if (!ort.module) return;
    const p = ortCudaProvider(ort.module);
    if (!p.installed) expect(p.reason).toMatch(/CUDA provider/);
  });

  it('with a device: linear layers on the GPU in the fitting format, agreeing with the CPU', async () => {
    if (!status.available) return;
    const model = await loadModel(bytes);
    const pruned = await prune(model, { sparsity: 0.9 });
    const q = await quantize(await prune(model, { pattern: '2:4' }), { mode: 'dynamic' });
    // Unpruned fp32 weights on fp16 tensor cores, 90%-pruned ones on the sparse fp16 kernels, 2:4 + int8 on
    // the 2:4 sparse tensor cores (dense int8 if this device's mma.sp metadata layout was not found).
    const cases = [[model, 2e-2, /^cuda-f16$/], [pruned, 2e-2, /^cuda-(sparse|block)$/], [q, 1e-1, /^cuda-(2:4|int8)$/]] as const;
    for (const [m, tol, format] of cases) {
      const cpu = await InferenceSession.create(m);
      const gpu = await InferenceSession.create(m, { device: 'cuda' });
      expect(gpu.device).toBe('cuda');
      for (const w of gpu.weights.values()) expect(w.format).toMatch(format);
      for (const batch of [1, 7, 64]) {
        const x = new Float32Array(batch * 64).map((_, i) => Math.sin(i * 0.7));
        const feeds = { input: new Tensor('float32', x, [batch, 64]) };
        const [a, b] = [await cpu.run(feeds), await gpu.run(feeds)];
        const name = cpu.outputNames[0];
        const want = a[name].data as Float32Array, got = b[name].data as Float32Array;
        const peak = want.reduce((p, v) => Math.max(p, Math.abs(v)), 0) + 1;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]) / peak).toBeLessThan(tol);
      }
      await cpu.release();
      await gpu.release();
    }
    const exact = await InferenceSession.create(model, { device: 'cuda', weightFormat: 'cuda-f32' });
    expect([...exact.weights.values()].map((w) => w.format)).toEqual(['cuda-f32', 'cuda-f32']);
    await exact.release();
  });
});
