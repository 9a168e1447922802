import { describe, expect, it } from 'vitest';

import { kernels, SparqError } from '../src/index.js';

describe('kernels bad input', () => {
  const W = new Float32Array(6).fill(1);

  it('pack: wrong typed array, length, sizes, format', () => {
    expect(() => kernels.pack(new Float64Array(6) as unknown as Float32Array, 2, 3)).toThrow(TypeError);
    expect(() => kernels.pack(new Float64Array(6) as unknown as Float32Array, 2, 3)).toThrow(/Expected a Float32Array for W but received a Float64Array/);
    expect(() => kernels.pack(W, 2, 4)).toThrow(RangeError);
    expect(() => kernels.pack(W, 2, 4)).toThrow(/for W/);
    expect(() => kernels.pack(W, 0, 3)).toThrow(/Expected an integer in \[1, .*\] for K but received 0/);
    expect(() => kernels.pack(W, 2.5, 3)).toThrow(RangeError);
    expect(() => kernels.pack(W, NaN, 3)).toThrow(RangeError);
    expect(() => kernels.pack(W, Infinity, 3)).toThrow(RangeError);
    expect(() => kernels.pack(W, '2' as unknown as number, 3)).toThrow(TypeError);
    expect(() => kernels.pack(W, 2, 3, { format: 'csr' as never })).toThrow(/options.format/);
    expect(() => kernels.pack(W, 2, 3, null as never)).toThrow(/options/);
  });

  it('matmul: x length, M, bias, activation, threads, handle', async () => {
    const w = kernels.pack(W, 2, 3);
    expect(() => kernels.matmulSync(new Float32Array(3), 1, w)).toThrow(/Expected a Float32Array of M·K = 2 values for x/);
    expect(() => kernels.matmulSync(new Float32Array(2), 0, w)).toThrow(/for M/);
    expect(() => kernels.matmulSync(new Float32Array(2), -1, w)).toThrow(RangeError);
    expect(() => kernels.matmulSync(new Float32Array(2), 1, w, { bias: new Float32Array(2) })).toThrow(/N = 3 values for options.bias/);
    expect(() => kernels.matmulSync(new Float32Array(2), 1, w, { activation: 'tanh' as never })).toThrow(/options.activation/);
    expect(() => kernels.matmulSync(new Float32Array(2), 1, w, { threads: -3 })).toThrow(/options.threads/);
    expect(() => kernels.matmulSync(new Float32Array(2), 1, {} as never)).toThrow(/packed weights from kernels.pack\(\) for w/);
    expect(() => kernels.matmulSync(new Float32Array(2), 1, w, { out: new Float32Array(2) })).toThrow(/M·N = 3 values for options.out/);
    expect(() => kernels.matmulSync(new Float32Array(2), 1, w, { out: new Float64Array(3) as never })).toThrow(/options.out/);
    const shared = new Float32Array(5);
    expect(() => kernels.matmulSync(shared.subarray(0, 2), 1, w, { out: shared.subarray(1, 4) })).toThrow(/sharing no memory with x or options.bias for options.out/);
    await expect(kernels.matmul(new Float32Array(5), 1, w)).rejects.toThrow(RangeError);
    w.release();
    expect(w.released).toBe(true);
    const err = (() => {
      try {
        kernels.matmulSync(new Float32Array(2), 1, w);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SparqError);
    expect((err as SparqError).code).toBe('ERR_RELEASED');
    w.release(); // idempotent
  });

  it('native errors carry the JS caller stack', async () => {
    const w = kernels.pack(W, 2, 3);
    w.release();
    async function callerFrame() {
      return kernels.matmul(new Float32Array(2), 1, w);
    }
    const e = await callerFrame().catch((x: Error) => x);
    expect(e).toBeInstanceOf(SparqError);
    expect((e as Error).stack).toMatch(/kernels-errors\.test\.ts/);
  });

  it('NaN and Inf propagate through dense matmul', () => {
    const w = kernels.pack(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 3);
    const y = kernels.matmulSync(new Float32Array([NaN, 1, Infinity, 1]), 2, w, { activation: 'relu' });
    expect(Array.from(y.slice(0, 3)).every(Number.isNaN)).toBe(true);
    expect(Array.from(y.slice(3))).toEqual([Infinity, Infinity, Infinity]);
  });
});
