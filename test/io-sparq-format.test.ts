import { describe, expect, it } from 'vitest';
import { crc32, readSparq, writeSparq } from '../src/io/sparq-format.js';
import { SparqError } from '../src/errors.js';
import { randomFloats, rng } from './helpers.js';

const payload = new Uint8Array(randomFloats(1000, 1).buffer);
const text = new TextEncoder().encode('{"hello":"world"}'.repeat(50));

function sample(): Uint8Array {
  return writeSparq([
    { name: 'manifest', data: text, compress: true },
    { name: 'weights/0', data: payload },
    { name: 'empty', data: new Uint8Array(0) },
  ]);
}

function expectInvalid(bytes: Uint8Array): void {
  try {
    readSparq(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(SparqError);
    expect((e as SparqError).code).toBe('ERR_INVALID_MODEL');
    return;
  }
  throw new Error('readSparq accepted a damaged file');
}

describe('.sparq container', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('crc32 (the native fold) matches a bitwise CRC-32 at every length and offset around its blocks', () => {
    const bitwise = (d: Uint8Array) => {
      let c = 0xffffffff;
      for (const b of d) {
        c ^= b;
        for (let j = 0; j < 8; j++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    const r = rng(3);
    const buf = Uint8Array.from({ length: 5000 }, () => Math.floor(r() * 256));
    for (const offset of [0, 1, 7, 15])
      for (const n of [0, 1, 15, 16, 63, 64, 65, 79, 80, 127, 128, 129, 200, 1000, 4097]) expect(crc32(buf.subarray(offset, offset + n))).toBe(bitwise(buf.subarray(offset, offset + n)));
  });

  it('round-trips sections, aligned, compressed or not', () => {
    const file = sample();
    const s = readSparq(file);
    expect([...s.keys()]).toEqual(['manifest', 'weights/0', 'empty']);
    expect(s.get('manifest')).toEqual(text);
    expect(s.get('weights/0')).toEqual(payload);
    expect(s.get('empty')!.length).toBe(0);
    // Uncompressed sections are views into the file, 64-byte aligned.
    const w = s.get('weights/0')!;
    expect(w.buffer).toBe(file.buffer);
    expect(w.byteOffset % 64).toBe(0);
    // The compressible manifest shrank.
    expect(file.length).toBeLessThan(text.length + payload.length);
  });

  it('refuses bad names and duplicates on write', () => {
    expect(() => writeSparq([{ name: '', data: text }])).toThrow(RangeError);
    expect(() => writeSparq([{ name: 'x'.repeat(25), data: text }])).toThrow(RangeError);
    expect(() => writeSparq([{ name: 'a', data: text }, { name: 'a', data: text }])).toThrow(RangeError);
  });

  it('every truncation is refused', () => {
    const file = sample();
    for (const n of [0, 5, 31, 32, 63, 64, 100, file.length >> 1, file.length - 1]) expectInvalid(file.subarray(0, n));
  });

  it('every single flipped byte is refused (header, table, sections, padding)', () => {
    const file = sample();
    for (let i = 0; i < file.length; i++) {
      const copy = Uint8Array.from(file);
      copy[i] ^= 0x5a;
      expectInvalid(copy);
    }
  });

  it('random bytes, a foreign file and a future version are refused', () => {
    const r = rng(9);
    expectInvalid(Uint8Array.from({ length: 4096 }, () => Math.floor(r() * 256)));
    expectInvalid(new TextEncoder().encode('this is not a model at all, but it is long enough to have a header'));
    // A future major version, with a valid header checksum: refused with a code naming the version.
    const future = sample();
    future[8] = 3;
    new DataView(future.buffer).setUint32(60, crc32(future.subarray(0, 60)), true);
    expect(() => readSparq(future)).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_VERSION', message: expect.stringMatching(/version 3\.0/) }));
    // A later minor version of the same major reads; file flags this reader does not know are refused.
    const minor = sample();
    minor[10] = 7;
    new DataView(minor.buffer).setUint32(60, crc32(minor.subarray(0, 60)), true);
    expect(readSparq(minor).get('weights/0')).toEqual(payload);
    const flagged = sample();
    flagged[12] = 1;
    new DataView(flagged.buffer).setUint32(60, crc32(flagged.subarray(0, 60)), true);
    expect(() => readSparq(flagged)).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_VERSION' }));
  });
});
