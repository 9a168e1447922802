// Encrypted and signed .sparq files: no plaintext on disk, the same outputs as the plain file, and every
// failure (no key, wrong key, changed byte, unsigned, another signer) a coded SparqError.
import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { InferenceSession, loadModel, mlp, prune, quantize, saveModel, SparqError, Tensor, type Model } from '../src/index.js';
import { openSparq, writeSparq } from '../src/io/sparq-format.js';
import { describeProtection } from '../src/io/crypto/protection.js';
import { parseKeyText } from '../src/io/crypto/keys.js';
import { mulberry32 } from '../src/random.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-crypto-'));
const key = new Uint8Array(randomBytes(32));
const plainPath = join(dir, 'plain.sparq');
const encPath = join(dir, 'enc.sparq');
const r = mulberry32(4);
const x = new Tensor('float32', Float32Array.from({ length: 2 * 64 }, () => r()), [2, 64]);

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected a SparqError').toBeInstanceOf(SparqError);
  return (e as SparqError).code;
}

async function outputs(source: string | Uint8Array | Model, options: Parameters<typeof InferenceSession.create>[1] = {}): Promise<Float32Array> {
  const s = await InferenceSession.create(source, { threads: 1, ...options });
  try {
    return (await s.run({ input: x })).output.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** The file with one byte flipped. */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const b = Uint8Array.from(bytes);
  b[at] ^= 0x40;
  return b;
}

describe('encrypted .sparq', () => {
  let model: Model;
  beforeAll(async () => {
    // Pruned + int8: the file holds compact and packed sections, a brotli'd one among them.
    model = await quantize(await prune(mlp({ inputs: 64, hidden: [96], outputs: 10, seed: 3 }), { sparsity: 0.8 }), { mode: 'dynamic' });
    await saveModel(model, plainPath);
    await saveModel(model, encPath, { key });
  });

  it('has no 24-byte window of the plain file\'s contents', () => {
    const plain = readFileSync(plainPath);
    const enc = readFileSync(encPath);
    const windows = new Set<string>();
    for (let i = 0; i + 24 <= enc.length; i++) windows.add(enc.toString('latin1', i, i + 24));
    // Every section of the plain file, decoded (the graph JSON, constants, compact and packed weights):
    // the containers' structure (magic, zero padding between sections) is the same in both by design.
    let checked = 0;
    for (const [name, section] of openSparq(plain)) {
      const content = Buffer.from(section.bytes());
      for (let i = 0; i + 24 <= content.length; i++) {
        const w = content.subarray(i, i + 24);
        if (w.every((v) => v === w[0])) continue; // a run of one value (zeros of pruned weights) carries nothing
        checked++;
        if (windows.has(content.toString('latin1', i, i + 24))) throw new Error(`bytes ${i}..${i + 24} of the plain file's section "${name}" appear in the encrypted file: ${JSON.stringify(content.toString('latin1', i, i + 24))}`);
      }
    }
    expect(checked).toBeGreaterThan(plain.length / 2);
    expect(describeProtection(openSparq(enc))).toEqual({ signer: null, encrypted: { cipher: 'aes-256-gcm', keyId: null } });
  });

  it('gives outputs identical to the plain file, from a path, bytes, a KeyObject or loadModel', async () => {
    const want = await outputs(plainPath);
    expect(await outputs(encPath, { key })).toEqual(want);
    expect(await outputs(new Uint8Array(readFileSync(encPath)), { key: createSecretKey(key) })).toEqual(want);
    const m = await loadModel(encPath, { key });
    expect(await outputs(m)).toEqual(want);
    // A plain file with a key given loads as it is.
    expect(await outputs(plainPath, { key })).toEqual(want);
  });

  it('a session from an encrypted file (mapped while it decrypts) runs on unchanged when the file is truncated, rewritten or replaced', async () => {
    const path = join(dir, 'live-enc.sparq');
    writeFileSync(path, readFileSync(encPath));
    const s = await InferenceSession.create(path, { threads: 1, key });
    try {
      const want = (await s.run({ input: x })).output.data;
      truncateSync(path, 0);
      expect((await s.run({ input: x })).output.data).toEqual(want);
      writeFileSync(path, new Uint8Array(1 << 16).fill(9));
      expect((await s.run({ input: x })).output.data).toEqual(want);
      writeFileSync(join(dir, 'next.sparq'), readFileSync(plainPath));
      renameSync(join(dir, 'next.sparq'), path);
      expect((await s.run({ input: x })).output.data).toEqual(want);
    } finally {
      await s.release();
    }
    // And a Model loaded with the key keeps none of the mapping either, from an encrypted file or a
    // plain one (nothing to decrypt: its packed weights would view the mapping). Packed sections of
    // several pages: a view kept into the mapping faults once the file is truncated.
    const large = await quantize(await prune(mlp({ inputs: 64, hidden: [1024], outputs: 10, seed: 6 }), { sparsity: 0.5 }), { mode: 'dynamic' });
    for (const options of [{ key }, {}]) {
      await saveModel(large, path, options);
      const m = await loadModel(path, { key });
      const want = await outputs(m);
      truncateSync(path, 0);
      expect(await outputs(m)).toEqual(want);
    }
  });

  it('refuses no key, a wrong key and a changed byte with coded errors', async () => {
    expect(await codeOf(loadModel(encPath))).toBe('ERR_KEY_REQUIRED');
    expect(await codeOf(InferenceSession.create(encPath))).toBe('ERR_KEY_REQUIRED');
    expect(await codeOf(loadModel(encPath, { key: new Uint8Array(randomBytes(32)) }))).toBe('ERR_DECRYPT');
    expect(await codeOf(InferenceSession.create(encPath, { key: new Uint8Array(randomBytes(32)) }))).toBe('ERR_DECRYPT');
    const enc = new Uint8Array(readFileSync(encPath));
    for (const at of [20, 40, 200, enc.length >> 1, enc.length - 3]) expect(await codeOf(loadModel(flipped(enc, at), { key }))).toBe('ERR_DECRYPT');
    // Changes that keep every checksum right (rewritten containers) still fail authentication.
    const sections = openSparq(enc);
    const rebuilt = (edit: (name: string, data: Uint8Array) => Uint8Array) => writeSparq([...sections].map(([name, s]) => ({ name, data: edit(name, Uint8Array.from(s.bytes())) })));
    const ciphertext = rebuilt((name, d) => (name === 'aes.1' ? flipped(d, 5) : d));
    expect(await codeOf(loadModel(ciphertext, { key }))).toBe('ERR_DECRYPT');
    const header = rebuilt((name, d) => (name === 'sparq.crypto' ? new TextEncoder().encode(new TextDecoder().decode(d).replace('"brotli":false', '"brotli":true ')) : d));
    expect(await codeOf(loadModel(header, { key }))).toBe('ERR_DECRYPT');
    const swapped = writeSparq([...sections].map(([name, s]) => ({ name: name === 'aes.0' ? 'aes.1' : name === 'aes.1' ? 'aes.0' : name, data: s.bytes() })));
    expect(await codeOf(loadModel(swapped, { key }))).toBe('ERR_DECRYPT');
  });

  it('never crashes on damage: random flips and truncations are all coded errors', async () => {
    const enc = new Uint8Array(readFileSync(encPath));
    const rand = mulberry32(77);
    const codes = new Set<string | undefined>();
    for (let i = 0; i < 150; i++) {
      const damaged = i % 3 === 2 ? enc.subarray(0, Math.floor(rand() * enc.length)) : flipped(enc, Math.floor(rand() * enc.length));
      codes.add(await codeOf(loadModel(damaged, { key })));
    }
    expect([...codes].every((c) => c === 'ERR_DECRYPT' || c === 'ERR_INVALID_MODEL')).toBe(true);
  });

  it('finds the key through a keyProvider by the key id stored in the file (envelope encryption)', async () => {
    const kek = new Map([['kms://keys/model-a', createSecretKey(randomBytes(32))]]);
    const asked: string[] = [];
    const provider = async (id: string) => {
      asked.push(id);
      const k = kek.get(id);
      if (!k) throw new Error(`no key ${id}`);
      return k;
    };
    const path = join(dir, 'kms.sparq');
    await saveModel(model, path, { key: provider, keyId: 'kms://keys/model-a' });
    expect(describeProtection(openSparq(readFileSync(path))).encrypted?.keyId).toBe('kms://keys/model-a');
    expect(await outputs(path, { key: provider })).toEqual(await outputs(plainPath));
    expect(asked).toEqual(['kms://keys/model-a', 'kms://keys/model-a']);
    expect(await codeOf(loadModel(path, { key: async () => createSecretKey(randomBytes(32)) }))).toBe('ERR_DECRYPT');
    expect(await codeOf(loadModel(path, { key: async () => Promise.reject(new Error('KMS down')) }))).toBe('ERR_DECRYPT');
    // Two files of the same model and key: different data keys and nonces, different bytes.
    await saveModel(model, join(dir, 'kms2.sparq'), { key: provider, keyId: 'kms://keys/model-a' });
    expect(Buffer.compare(readFileSync(path), readFileSync(join(dir, 'kms2.sparq')))).not.toBe(0);
  });

  it('checks its arguments', async () => {
    await expect(saveModel(model, join(dir, 'x.sparq'), { key: new Uint8Array(16) })).rejects.toThrow(RangeError);
    await expect(saveModel(model, join(dir, 'x.onnx'), { key })).rejects.toThrow(/\.sparq path/);
    await expect(saveModel(model, join(dir, 'x.sparq'), { key: async () => key })).rejects.toThrow(/key id/);
    await expect(loadModel(encPath, { key: 'secret' as never })).rejects.toThrow(TypeError);
    expect(parseKeyText(Buffer.from(key).toString('hex'), 'k')).toEqual(key);
    expect(parseKeyText(Buffer.from(key).toString('base64'), 'k')).toEqual(key);
    expect(() => parseKeyText('abcd', 'SPARQ_MODEL_KEY')).toThrow(/32-byte key/);
  });
});

describe('signed .sparq', () => {
  const alice = generateKeyPairSync('ed25519');
  const bob = generateKeyPairSync('ed25519');
  const model = mlp({ inputs: 64, hidden: [32], outputs: 10, seed: 8 });
  const signedPath = join(dir, 'signed.sparq');
  const unsignedPath = join(dir, 'unsigned.sparq');
  beforeAll(async () => {
    await saveModel(model, signedPath, { sign: alice.privateKey });
    await saveModel(model, unsignedPath);
  });

  it('loads with the signer\'s public key (KeyObject or PEM), and refuses another signer and unsigned files', async () => {
    const want = await outputs(unsignedPath);
    expect(await outputs(signedPath, { verify: alice.publicKey })).toEqual(want);
    expect(await outputs(signedPath, { verify: [bob.publicKey, alice.publicKey.export({ format: 'pem', type: 'spki' }) as string] })).toEqual(want);
    expect(await codeOf(loadModel(signedPath, { verify: bob.publicKey }))).toBe('ERR_SIGNATURE');
    expect(await codeOf(InferenceSession.create(signedPath, { verify: bob.publicKey }))).toBe('ERR_SIGNATURE');
    expect(await codeOf(loadModel(unsignedPath, { verify: alice.publicKey }))).toBe('ERR_SIGNATURE');
    expect(await codeOf(loadModel(model.toOnnx(), { verify: alice.publicKey }))).toBe('ERR_SIGNATURE');
    // Without verify a signed file loads like any other.
    expect(await outputs(signedPath)).toEqual(want);
    expect(describeProtection(openSparq(readFileSync(signedPath))).signer).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses a signed file whose contents changed, checksums and all', async () => {
    const outer = openSparq(readFileSync(signedPath));
    const inner = openSparq(outer.get('sparq.signed')!.bytes());
    // The same model under another name: a valid inner file, but not the one signed.
    const changed = writeSparq([...inner].map(([name, s]) => ({ name, data: name === 'model' ? new TextEncoder().encode(new TextDecoder().decode(s.bytes()).replace('"name":"mlp"', '"name":"mlq"')) : s.bytes() })));
    const forged = writeSparq([{ name: 'sparq.signature', data: outer.get('sparq.signature')!.bytes() }, { name: 'sparq.signed', data: changed }]);
    expect(await codeOf(loadModel(forged, { verify: alice.publicKey }))).toBe('ERR_SIGNATURE');
    expect(await codeOf(loadModel(flipped(readFileSync(signedPath), 300), { verify: alice.publicKey }))).toBe('ERR_SIGNATURE');
  });

  it('signs encrypted files: verified before decryption, both checks enforced', async () => {
    const path = join(dir, 'signed-enc.sparq');
    await saveModel(model, path, { key, sign: alice.privateKey });
    expect(describeProtection(openSparq(readFileSync(path)))).toEqual({ signer: expect.stringMatching(/^sha256:/), encrypted: { cipher: 'aes-256-gcm', keyId: null } });
    expect(await outputs(path, { key, verify: alice.publicKey })).toEqual(await outputs(unsignedPath));
    expect(await codeOf(loadModel(path, { key, verify: bob.publicKey }))).toBe('ERR_SIGNATURE');
    expect(await codeOf(loadModel(path, { verify: alice.publicKey }))).toBe('ERR_KEY_REQUIRED');
    await expect(saveModel(model, join(dir, 'y.sparq'), { sign: bob.publicKey as never })).rejects.toThrow(TypeError);
    await expect(loadModel(path, { key, verify: 'not a key' })).rejects.toThrow(TypeError);
  });
});

writeFileSync(join(dir, '.keep'), '');
