// backend().cuda and assertCudaAvailable(): where there is no usable CUDA device (a CPU-only build, or a
// CUDA build on a machine without GPU/driver) the status says why and the check throws
// ERR_CUDA_UNAVAILABLE; where there is one, the status describes it.
import { describe, expect, it } from 'vitest';

import { backend } from '../src/backend.js';
import { assertCudaAvailable } from '../src/cuda.js';
import { SparqError } from '../src/errors.js';

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
});
