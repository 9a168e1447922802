import { describe, expect, it } from 'vitest';

import { Tensor } from '../src/index.js';

describe('Tensor', () => {
  it('holds typed data and dims like onnxruntime-node', () => {
    const t = new Tensor('float32', new Float32Array(6), [2, 3]);
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([2, 3]);
    expect(t.size).toBe(6);
    expect(new Tensor('int64', [1, 2, 3]).data).toEqual(new BigInt64Array([1n, 2n, 3n]));
    expect(new Tensor('bool', new Uint8Array([1, 0])).dims).toEqual([2]);
    expect(new Tensor('float32', new Float32Array(1), []).size).toBe(1);
    expect(new Tensor('int8', new Int8Array(0), [0, 5]).size).toBe(0);
  });

  it('rejects bad input with the argument named', () => {
    expect(() => new Tensor('complex64' as 'float32', new Float32Array(1))).toThrow(/for type/);
    expect(() => new Tensor('float32', new Float64Array(2) as never)).toThrow(/Expected a Float32Array .* for data but received a Float64Array/);
    expect(() => new Tensor('int32', new Float32Array(2) as never)).toThrow(TypeError);
    expect(() => new Tensor('float32', new Float32Array(6), [2, 2])).toThrow(/data of 4 elements/);
    expect(() => new Tensor('float32', new Float32Array(6), [-2, -3])).toThrow(/dims\[0\]/);
    expect(() => new Tensor('float32', new Float32Array(6), [2, 3.5] as never)).toThrow(RangeError);
    expect(() => new Tensor('float32', ['a'] as never)).toThrow(TypeError);
  });
});
