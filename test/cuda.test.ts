// backend().cuda and assertCudaAvailable(): where there is no usable CUDA device (a CPU-only build, or a
// CUDA build on a machine without GPU/driver) the status says why and the check throws
// ERR_CUDA_UNAVAILABLE; where there is one, the status describes it.
import { describe, expect, it } from 'vitest';

import { backend } from '../src/backend.js';
import { assertCudaAvailable } from '../src/cuda.js';
import { SparqError } from '../src/errors.js';
import { pack } from '../src/kernels.js';

describe('cuda status', () => {
  const status = backend().cuda;

  it('is either available with a device description or unavailable with a reason', () => {
    expect(typeof status.available).toBe('boolean');
    if (status.available) {
      expect(typeof status.device).toBe('string');
      expect(status.sms).toBeGreaterThan(0);
      expect(status.memory).toBeGreaterThan(0);
    } else {
      expect(typeof status.reason).toBe('string');
      expect(status.reason!.length).toBeGreaterThan(0);
    }
  });

  it('assertCudaAvailable throws ERR_CUDA_UNAVAILABLE with the reason where there is no device', () => {
    if (status.available) {
      expect(assertCudaAvailable().device).toBe(status.device);
      return;
    }
    let caught: unknown;
    try {
      assertCudaAvailable();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SparqError);
    expect((caught as SparqError).code).toBe('ERR_CUDA_UNAVAILABLE');
    expect((caught as SparqError).message).toContain(status.reason!);
  });

  it("kernels.pack with a 'cuda-*' format: ERR_CUDA_UNAVAILABLE without a device, else matches the CPU", async () => {
    const K = 64, N = 48, M = 3;
    const W = new Float32Array(K * N).map((_, i) => Math.sin(i * 0.37));
    const x = new Float32Array(M * K).map((_, i) => Math.cos(i * 0.11));
    if (!status.available) {
      expect(() => pack(W, K, N, { format: 'cuda-int8' })).toThrow(expect.objectContaining({ code: 'ERR_CUDA_UNAVAILABLE' }));
      return;
    }
    const { matmul } = await import('../src/kernels.js');
    const ref = await matmul(x, M, pack(W, K, N, { format: 'dense' }));
    for (const format of ['cuda-f32', 'cuda-f16', 'cuda-int8'] as const) {
      const w = pack(W, K, N, { format });
      expect(w.format).toBe(format);
      const y = await matmul(x, M, w);
      const tol = format === 'cuda-f32' ? 1e-4 : format === 'cuda-f16' ? 2e-2 : 1e-1;
      for (let i = 0; i < y.length; i++) expect(Math.abs(y[i] - ref[i])).toBeLessThan(tol);
      w.release();
    }
  });
});
