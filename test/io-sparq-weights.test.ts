import { describe, expect, it } from 'vitest';
import { decodeWeight, encodeWeight } from '../src/io/sparq-weights.js';
import { quantizeWeights } from '../src/compress/quantize-math.js';
import { applyMask, maskFromScores, parsePattern, weightScores } from '../src/compress/masks.js';
import { SparqError } from '../src/errors.js';
import { prune, randomFloats } from './helpers.js';

describe('.sparq weight codec', () => {
  const K = 601; // gaps over 255 groups occur: fillers are exercised
  const N = 13;
  const dense = randomFloats(K * N, 4);
  const sparse = prune(dense, 0.92, 5);
  for (let k = 2; k < 590; k++) sparse[k * N + 3] = 0; // a long gap in column 3
  sparse.fill(0, 0, N); // an all-zero first row

  it('fp32: sparse and dense layouts round-trip exactly, the smaller chosen', () => {
    const s = encodeWeight({ K, N, f32: sparse });
    expect(s.meta.layout).toBe('sparse');
    expect(decodeWeight(s.meta, s.bytes).f32).toEqual(sparse);
    const d = encodeWeight({ K, N, f32: dense });
    expect(d.meta.layout).toBe('dense');
    expect(decodeWeight(d.meta, d.bytes).f32).toEqual(dense);
    const forced = encodeWeight({ K, N, f32: sparse, layout: 'dense' });
    expect(decodeWeight(forced.meta, forced.bytes).f32).toEqual(sparse);
  });

  it('s8 sparse at 92%: about 2.2 bytes per nonzero, values and scales exact', () => {
    const q = quantizeWeights(sparse, K, N, true);
    const e = encodeWeight({ K, N, s8: q });
    let nnz = 0;
    for (const v of q.values) if (v !== 0) nnz++;
    expect(e.bytes.length).toBeLessThan(nnz * 2.3 + 4 * N * 2 + 64);
    const back = decodeWeight(e.meta, e.bytes);
    expect(back.s8!.values).toEqual(q.values);
    expect(back.s8!.scales).toEqual(q.scales);
    expect(back.f32[7 * N + 1]).toBe(q.values[7 * N + 1] * q.scales[1]);
  });

  it('1x4 blocks store one gap per block', () => {
    const m = maskFromScores(weightScores(dense, K, N, 'magnitude'), K, N, { sparsity: 0.9, pattern: parsePattern('block') });
    const blocked = applyMask(dense, m);
    const b4 = encodeWeight({ K, N, f32: blocked, bk: 4 });
    const b1 = encodeWeight({ K, N, f32: blocked, bk: 1 });
    expect(b4.bytes.length).toBeLessThan(b1.bytes.length);
    expect(decodeWeight(b4.meta, b4.bytes).f32).toEqual(blocked);
  });

  it('unaligned input bytes still decode', () => {
    const s = encodeWeight({ K, N, f32: sparse });
    const shifted = new Uint8Array(s.bytes.length + 1).fill(0);
    shifted.set(s.bytes, 1);
    expect(decodeWeight(s.meta, shifted.subarray(1)).f32).toEqual(sparse);
  });

  it('inconsistent metadata or damaged indices → ERR_INVALID_MODEL, never out of bounds', () => {
    const s = encodeWeight({ K, N, f32: sparse });
    const bad = (meta: object, bytes = s.bytes) => {
      try {
        decodeWeight({ ...s.meta, ...meta }, bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(SparqError);
        expect((e as SparqError).code).toBe('ERR_INVALID_MODEL');
        return;
      }
      throw new Error('accepted');
    };
    bad({ N: N + 1 });
    bad({ groups: s.meta.groups + 4 });
    bad({ dtype: 'f16' });
    bad({ K: -1 });
    bad({}, s.bytes.subarray(0, s.bytes.length - 4));
    const big = Uint8Array.from(s.bytes);
    new DataView(big.buffer).setUint32(0, 0xffffffff, true); // column 0 claims every group
    bad({}, big);
    // Gaps pointing past K.
    const far = Uint8Array.from(s.bytes);
    far.fill(255, 4 * N, 4 * N + s.meta.groups);
    bad({}, far);
  });
});
