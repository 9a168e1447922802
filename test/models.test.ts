// Every zoo model runs in sparq and in onnxruntime-node on the same bytes; every output is compared.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, Tensor, loadModel } from '../src/index.js';
import { encoderModel, mlpModel, quantizedMlpModel } from '../src/onnx/zoo.js';
import { relError, rng } from './helpers.js';

const TOL = 1e-4;

type Feeds = Record<string, { type: 'float32' | 'int64'; data: Float32Array | BigInt64Array; dims: number[] }>;

async function compare(bytes: Uint8Array, feeds: Feeds, session?: InferenceSession): Promise<number> {
  const s = session ?? (await InferenceSession.create(bytes));
  const o = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const sf: Record<string, Tensor> = {};
  const of: Record<string, ort.Tensor> = {};
  for (const [k, f] of Object.entries(feeds)) {
    sf[k] = new Tensor(f.type, f.data as never, f.dims);
    of[k] = new ort.Tensor(f.type, f.data, f.dims);
  }
  const a = await s.run(sf);
  const b = await o.run(of);
  let worst = 0;
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const name of Object.keys(b)) {
    expect(a[name].dims).toEqual(b[name].dims);
    expect(a[name].type).toBe(b[name].type);
    worst = Math.max(worst, relError(a[name].data as Float32Array, b[name].data as Float32Array));
  }
  if (!session) await s.release();
  return worst;
}

function floats(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

function encoderFeeds(batch: number, seq: number, vocab: number, seed: number): Feeds {
  const r = rng(seed);
  const ids = BigInt64Array.from({ length: batch * seq }, () => BigInt(Math.floor(r() * vocab)));
  // Each row keeps a random-length prefix (>= 1 token) unmasked, the rest padding.
  const mask = new BigInt64Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    const len = 1 + Math.floor(r() * seq);
    for (let t = 0; t < len; t++) mask[b * seq + t] = 1n;
  }
  return {
    input_ids: { type: 'int64', data: ids, dims: [batch, seq] },
    attention_mask: { type: 'int64', data: mask, dims: [batch, seq] },
  };
}

describe('MLP zoo vs onnxruntime-node', () => {
  for (const style of ['gemm', 'matmul'] as const)
    for (const activation of ['relu', 'gelu', 'sigmoid', 'tanh'] as const)
      it(`784-300-100-10 ${style} ${activation}, batch 1, 3, 64`, async () => {
        const bytes = mlpModel({ style, activation, seed: 3 });
        const s = await InferenceSession.create(bytes);
        for (const batch of [1, 3, 64]) {
          const err = await compare(bytes, { input: { type: 'float32', data: floats(batch * 784, batch), dims: [batch, 784] } }, s);
          expect(err).toBeLessThan(TOL);
        }
        await s.release();
      });

  it('dynamically quantized (DynamicQuantizeLinear + MatMulInteger), batch 1, 5, 32', async () => {
    const bytes = quantizedMlpModel({ sizes: [64, 48, 32, 10], seed: 2 });
    const s = await InferenceSession.create(bytes);
    for (const batch of [1, 5, 32]) {
      const err = await compare(bytes, { input: { type: 'float32', data: floats(batch * 64, batch + 50), dims: [batch, 64] } }, s);
      expect(err).toBeLessThan(TOL);
    }
    await s.release();
  });

  it('odd widths and a fixed batch', async () => {
    const bytes = mlpModel({ sizes: [13, 37, 5], batch: 7, seed: 5 });
    const err = await compare(bytes, { input: { type: 'float32', data: floats(7 * 13, 1), dims: [7, 13] } });
    expect(err).toBeLessThan(TOL);
  });
});

describe('BERT-style encoder zoo vs onnxruntime-node', () => {
  const configs = [
    { name: 'tiny opset 14 with pooler', opts: { hidden: 32, heads: 2, ffn: 64, layers: 1, vocab: 50, pooler: true } },
    { name: 'small opset 14', opts: { hidden: 64, heads: 4, ffn: 256, layers: 2, vocab: 100 } },
    { name: 'small opset 18', opts: { hidden: 48, heads: 3, ffn: 96, layers: 2, vocab: 80, opset: 18 } },
    { name: 'fused LayerNorm opset 17', opts: { hidden: 64, heads: 8, ffn: 128, layers: 2, vocab: 64, opset: 17, fusedLayerNorm: true, pooler: true } },
  ];
  for (const c of configs)
    it(`${c.name}: batch and sequence varied`, async () => {
      const bytes = encoderModel({ ...c.opts, seed: 11 });
      const s = await InferenceSession.create(bytes);
      for (const [batch, seq] of [[1, 1], [1, 7], [2, 16], [3, 33]]) {
        const err = await compare(bytes, encoderFeeds(batch, seq, c.opts.vocab, batch * 100 + seq), s);
        expect(err, `batch ${batch} seq ${seq}`).toBeLessThan(TOL);
      }
      await s.release();
    });

  it('runs from a loaded Model and from its re-serialised bytes', async () => {
    const bytes = encoderModel({ hidden: 32, heads: 4, ffn: 64, layers: 1, vocab: 40 });
    const model = await loadModel(bytes);
    const again = model.toOnnx();
    const err = await compare(again, encoderFeeds(2, 5, 40, 9));
    expect(err).toBeLessThan(TOL);
    const s = await InferenceSession.create(model);
    expect(s.inputNames).toEqual(['input_ids', 'attention_mask']);
    expect(s.outputNames).toEqual(['last_hidden_state']);
    await s.release();
  });
});
