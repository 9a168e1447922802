// Decrypting encrypted .sparq sections: the native AES-256-GCM (the host Node's OpenSSL, in place, sections
// in parallel) and node:crypto's fallback give the same bytes and refuse the same damage; a caller's bytes
// are never written, a file the loader read itself is decrypted where it lies.
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { InferenceSession, loadModel, mlp, prune, quantize, saveModel, SparqError, Tensor } from '../src/index.js';
import { native } from '../src/native.js';
import { openSparq } from '../src/io/sparq-format.js';
import { openWithNodeCrypto } from '../src/io/crypto/seal.js';
import { gcmOpener, unsealSections, type GcmOpen } from '../src/io/crypto/unseal.js';
import { readModelFile } from '../src/io/model-file.js';

type Item = Parameters<GcmOpen>[1][number];

const dir = mkdtempSync(join(tmpdir(), 'sparq-unseal-'));
const key = new Uint8Array(randomBytes(32));
const encPath = join(dir, 'enc.sparq');
const plainPath = join(dir, 'plain.sparq');

/** Sealed items of these lengths (an empty one and an odd one among them) and their plaintexts. */
function sealed(lengths: number[]): { items: Item[]; plain: Uint8Array[] } {
  const items: Item[] = [];
  const plain: Uint8Array[] = [];
  for (const n of lengths) {
    const nonce = randomBytes(12);
    const aad = randomBytes(100);
    const data = randomBytes(n);
    const c = createCipheriv('aes-256-gcm', key, nonce).setAAD(aad);
    const ct = Buffer.concat([c.update(data), c.final()]);
    items.push([nonce, aad, new Uint8Array(ct), c.getAuthTag()]);
    plain.push(data);
  }
  return { items, plain };
}

const copyItems = (items: Item[]): Item[] => items.map(([n, a, d, t]) => [n, a, Uint8Array.from(d), t]);

describe('AES-GCM backends', () => {
  const lengths = [0, 1, 4093, 1 << 20, 3 * (1 << 20) + 17, 70_000];
  const backends: [string, GcmOpen | undefined][] = [
    ['native', native().aesGcmOpen ? (k, items) => (native().aesGcmOpen as GcmOpen)(k, items) : undefined],
    ['node:crypto', openWithNodeCrypto],
  ];

  it('has the native backend wherever Node carries OpenSSL', async () => {
    if (process.versions.openssl) expect(typeof native().aesGcmOpen).toBe('function');
    expect(await gcmOpener()).toBeTypeOf('function');
  });

  for (const [name, open] of backends)
    it(`${name}: decrypts in place, and names the first item that fails`, () => {
      if (!open) return expect(process.versions.openssl).toBeUndefined();
      const { items, plain } = sealed(lengths);
      const a = copyItems(items);
      expect(open(key, a)).toBe(-1);
      a.forEach((it, i) => expect(Buffer.compare(it[2], plain[i])).toBe(0));
      // A changed ciphertext byte, tag byte or associated byte; a wrong key.
      const b = copyItems(items);
      b[4][2][12345] ^= 1;
      expect(open(key, b)).toBe(4);
      const c = copyItems(items);
      c[2] = [c[2][0], c[2][1], c[2][2], Uint8Array.from(c[2][3], (v, i) => (i === 0 ? v ^ 1 : v))];
      expect(open(key, c)).toBe(2);
      const d = copyItems(items);
      d[1] = [d[1][0], Uint8Array.from(d[1][1], (v, i) => (i === 7 ? v ^ 0x80 : v)), d[1][2], d[1][3]];
      expect(open(key, d)).toBe(1);
      expect(open(new Uint8Array(randomBytes(32)), copyItems(items))).toBe(0);
    });

  for (const [name, open] of backends)
    it(`${name}: decrypts into a separate output, leaving the ciphertext as it was`, () => {
      if (!open) return expect(process.versions.openssl).toBeUndefined();
      const { items, plain } = sealed(lengths);
      const before = items.map((it) => Uint8Array.from(it[2]));
      const outs = lengths.map((n) => new Uint8Array(n).fill(0xee));
      expect(open(key, items.map(([n, a, d, t], i) => [n, a, d, t, outs[i]]))).toBe(-1);
      outs.forEach((o, i) => expect(Buffer.compare(o, plain[i])).toBe(0));
      items.forEach((it, i) => expect(Buffer.compare(it[2], before[i])).toBe(0));
      // A changed ciphertext byte still names its item.
      const b = copyItems(items);
      b[3][2][777] ^= 4;
      expect(open(key, b.map(([n, a, d, t], i) => [n, a, d, t, new Uint8Array(lengths[i])]))).toBe(3);
    });

  it('native: refuses outputs of the wrong length, or that overlap data or another output', () => {
    const open = native().aesGcmOpen;
    if (!open) return expect(process.versions.openssl).toBeUndefined();
    const { items } = sealed([64, 64]);
    const [a, b] = items;
    expect(() => open(key, [[a[0], a[1], a[2], a[3], new Uint8Array(63)]])).toThrow(/64 bytes \(as data\)/);
    expect(() => open(key, [[a[0], a[1], a[2], a[3], b[2]], b])).toThrow(/overlap/);
    const shared = new Uint8Array(200);
    expect(() => open(key, [[a[0], a[1], a[2], a[3], shared.subarray(0, 64)], [b[0], b[1], b[2], b[3], shared.subarray(32, 96)]])).toThrow(/overlap/);
    // Its own data, shifted: not in place, and overlapping.
    const own = new Uint8Array(128);
    own.set(a[2], 0);
    expect(() => open(key, [[a[0], a[1], own.subarray(0, 64), a[3], own.subarray(8, 72)]])).toThrow(/overlap/);
    // Exactly its own data: in place.
    expect(open(key, [[a[0], a[1], own.subarray(0, 64), a[3], own.subarray(0, 64)]])).toBe(-1);
  });

  it('native: refuses bad arguments and items that share bytes', () => {
    const open = native().aesGcmOpen;
    if (!open) return expect(process.versions.openssl).toBeUndefined();
    const { items } = sealed([64, 64]);
    expect(() => open(new Uint8Array(16), items)).toThrow(RangeError);
    expect(() => open(key, [[new Uint8Array(8), items[0][1], items[0][2], items[0][3]]])).toThrow(/12 bytes for items\[0\]\[0\]/);
    expect(() => open(key, [items[0].slice(0, 3) as unknown as Item])).toThrow(TypeError);
    expect(() => open(key, 'x' as never)).toThrow(TypeError);
    const shared = new Uint8Array(100);
    expect(() => open(key, [[items[0][0], items[0][1], shared.subarray(0, 60), items[0][3]], [items[1][0], items[1][1], shared.subarray(50, 100), items[1][3]]])).toThrow(/overlap/);
  });
});

describe('unsealSections', () => {
  beforeAll(async () => {
    const model = await quantize(await prune(mlp({ inputs: 48, hidden: [64], outputs: 6, seed: 5 }), { sparsity: 0.8 }), { mode: 'dynamic' });
    await saveModel(model, plainPath);
    await saveModel(model, encPath, { key });
  });

  it('gives the plain file\'s sections with either backend, in place only when owned', async () => {
    const plain = openSparq(new Uint8Array(readFileSync(plainPath)));
    const file = new Uint8Array(readFileSync(encPath));
    const before = Uint8Array.from(file);
    for (const open of [await gcmOpener(), openWithNodeCrypto]) {
      const got = await unsealSections(openSparq(file), key, false, open);
      expect([...got.keys()].sort()).toEqual([...plain.keys()].sort());
      for (const [name, s] of plain) expect(Buffer.compare(got.get(name)?.bytes() as Uint8Array, s.bytes())).toBe(0);
      expect(Buffer.compare(file, before)).toBe(0);
    }
    // Owned: decrypted over the ciphertext, 64-byte aligned where the file's sections are.
    const owned = readModelFile(encPath);
    const got = await unsealSections(openSparq(owned), key, true);
    for (const s of got.values()) {
      const b = s.bytes();
      if (s.stored === s.length && b.length > 0) {
        expect(b.buffer).toBe(owned.buffer);
        expect(b.byteOffset % 64).toBe(0);
      }
    }
    expect(Buffer.compare(got.get('packed')?.bytes() ?? new Uint8Array(0), plain.get('packed')?.bytes() ?? new Uint8Array(1))).toBe(0);
  });

  it('a session from the encrypted path computes what the plain one does; failures are coded', async () => {
    const x = new Tensor('float32', Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), [1, 48]);
    const run = async (s: InferenceSession) => {
      try {
        return (await s.run({ input: x })).output.data;
      } finally {
        await s.release();
      }
    };
    const want = await run(await InferenceSession.create(plainPath, { threads: 1 }));
    expect(await run(await InferenceSession.create(encPath, { key, threads: 1 }))).toEqual(want);
    expect(await run(await InferenceSession.create(await loadModel(encPath, { key }), { threads: 1 }))).toEqual(want);
    const e = await InferenceSession.create(encPath, { key: new Uint8Array(32) }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(SparqError);
    expect((e as SparqError).code).toBe('ERR_DECRYPT');
  });
});
