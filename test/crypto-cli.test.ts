// The CLI with protected models: SPARQ_MODEL_KEY for every command, inspect showing encryption and
// signer, sparq sign / sparq verify, SPARQ_MODEL_VERIFY.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { mlp, saveModel, Tensor } from '../src/index.js';
import { encodeNpy } from '../src/cli/tensor-files.js';
import { cli } from './cli-capture.js';
import { modelHandler } from '../src/serve/index.js';
import { setDefaultProtection } from '../src/io/crypto/defaults.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-crypto-cli-'));
const key = randomBytes(32);
const enc = join(dir, 'enc.sparq');
const plain = join(dir, 'plain.sparq');
const alice = generateKeyPairSync('ed25519');
const bob = generateKeyPairSync('ed25519');
const pem = (name: string, k: import('node:crypto').KeyObject) => {
  const path = join(dir, name);
  writeFileSync(path, k.type === 'private' ? (k.export({ format: 'pem', type: 'pkcs8' }) as string) : (k.export({ format: 'pem', type: 'spki' }) as string));
  return path;
};

describe('CLI with encrypted and signed models', () => {
  beforeAll(async () => {
    const model = mlp({ inputs: 16, hidden: [8], outputs: 4, seed: 2 });
    await saveModel(model, enc, { key });
    await saveModel(model, plain);
    writeFileSync(join(dir, 'x.npy'), encodeNpy(new Tensor('float32', new Float32Array(16).fill(0.25), [1, 16])));
  });
  afterEach(() => {
    delete process.env.SPARQ_MODEL_KEY;
    delete process.env.SPARQ_MODEL_VERIFY;
  });

  it('runs an encrypted model with SPARQ_MODEL_KEY (hex or base64), refuses it without', async () => {
    const args = ['run', enc, '--input', `input=${join(dir, 'x.npy')}`];
    const none = await cli(...args);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^sparq: ERR_KEY_REQUIRED: /);
    const want = (await cli('run', plain, '--input', `input=${join(dir, 'x.npy')}`)).out;
    process.env.SPARQ_MODEL_KEY = key.toString('hex');
    expect((await cli(...args)).out).toBe(want);
    process.env.SPARQ_MODEL_KEY = key.toString('base64');
    expect((await cli(...args)).out).toBe(want);
    process.env.SPARQ_MODEL_KEY = randomBytes(32).toString('hex');
    expect((await cli(...args)).err).toMatch(/ERR_DECRYPT/);
    process.env.SPARQ_MODEL_KEY = 'not a key';
    expect((await cli(...args)).code).toBe(1);
  });

  it('inspect shows encryption and signer, and the contents with the key', async () => {
    const locked = await cli('inspect', enc);
    expect(locked.code).toBe(0);
    expect(locked.out).toMatch(/encryption: aes-256-gcm, key given directly/);
    expect(locked.out).toMatch(/set SPARQ_MODEL_KEY/);
    process.env.SPARQ_MODEL_KEY = key.toString('hex');
    const open = await cli('inspect', enc);
    expect(open.out).toMatch(/encryption: aes-256-gcm/);
    expect(open.out).toMatch(/signature: none/);
    expect(open.out).toMatch(/MatMul/);
  });

  it('signs and verifies, also encrypted files and by SPARQ_MODEL_VERIFY', async () => {
    const signed = join(dir, 'signed.sparq');
    const s = await cli('sign', enc, '--key', pem('alice.pem', alice.privateKey), '-o', signed);
    expect(s.code, s.err).toBe(0);
    expect(s.out).toMatch(/signed .* by sha256:[0-9a-f]{64}/);
    const ok = await cli('verify', signed, '--key', pem('bob.pub.pem', bob.publicKey), '--key', pem('alice.pub.pem', alice.publicKey));
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/signature OK, signed by sha256:.*encrypted/);
    const other = await cli('verify', signed, '--key', join(dir, 'bob.pub.pem'));
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/ERR_SIGNATURE/);
    expect((await cli('verify', plain, '--key', join(dir, 'alice.pub.pem'))).err).toMatch(/ERR_SIGNATURE: The model is not signed/);
    // Re-signing replaces the signature.
    expect((await cli('sign', signed, '--key', pem('bob.pem', bob.privateKey))).code).toBe(0);
    expect((await cli('verify', signed, '--key', join(dir, 'bob.pub.pem'))).code).toBe(0);
    expect((await cli('inspect', signed)).out).toMatch(/signature: ed25519 by sha256:/);
    process.env.SPARQ_MODEL_KEY = key.toString('hex');
    process.env.SPARQ_MODEL_VERIFY = join(dir, 'alice.pub.pem');
    expect((await cli('run', signed, '--input', `input=${join(dir, 'x.npy')}`)).err).toMatch(/ERR_SIGNATURE/);
    process.env.SPARQ_MODEL_VERIFY = `${join(dir, 'alice.pub.pem')},${join(dir, 'bob.pub.pem')}`;
    expect((await cli('run', signed, '--input', `input=${join(dir, 'x.npy')}`)).code).toBe(0);
    expect((await cli('sign', signed, '--key', join(dir, 'alice.pub.pem'))).err).toMatch(/private key/);
  });

  it('serves an encrypted model with the key the CLI installs (sparq serve), refuses it without', async () => {
    setDefaultProtection({});
    await expect(modelHandler({ models: { enc } })).rejects.toMatchObject({ code: 'ERR_KEY_REQUIRED' });
    setDefaultProtection({ key });
    try {
      const h = await modelHandler({ models: { enc } });
      const res = await h.plane.infer('enc', undefined, { inputs: [{ name: 'input', shape: [1, 16], datatype: 'FP32', data: new Array(16).fill(0.25) }] });
      expect(JSON.stringify(res)).toMatch(/"output"/);
      await h.close();
    } finally {
      setDefaultProtection({});
    }
  });
});
