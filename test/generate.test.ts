// generate() / generateStream() on a small GPT-2-shaped decoder exported by PyTorch with its KV cache
// (scripts/export-gpt.py, Debian's python3-torch; skipped without it): greedy tokens equal PyTorch's
// own greedy loop exactly, batches with left padding, streaming, seeded sampling, stop tokens, abort,
// weight-only int4 models, and the errors.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, generate, generateStream, loadModel, quantize } from '../src/index.js';
import { mlpOnnx } from '../src/train/mlp.js';
import { ortGreedy } from '../bench/ort-generate.js';
import { exportGpt, torchMissing } from './gpt-fixture.js';

if (torchMissing) console.warn('generate.test.ts: /usr/bin/python3 with torch and onnx not found (apt-get install python3-torch python3-onnx); skipped');

const dir = mkdtempSync(join(tmpdir(), 'sparq-generate-'));
const modelPath = join(dir, 'gpt.onnx');
interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  tokens: number[][];
  layers: number;
  heads: number;
  d: number;
}
let ref: Reference;
const NEW = 10;

/** The prompt rows without their padding. */
const rows = () => ref.input_ids.map((r, b) => r.filter((_, j) => ref.attention_mask[b][j] === 1));

describe.skipIf(torchMissing)('generate on a PyTorch GPT-2 export', () => {
  beforeAll(() => {
    exportGpt(modelPath, ['--reference', join(dir, 'ref.json'), '--prompt-len', '8', '--new', String(NEW), '--batch', '2']);
    ref = JSON.parse(readFileSync(join(dir, 'ref.json'), 'utf8')) as Reference;
  }, 240_000);

  it("greedy tokens equal PyTorch's, one row and a left-padded batch; onnxruntime's loop agrees", async () => {
    expect(new Set(ref.tokens.flat()).size).toBeGreaterThan(3); // not degenerate
    const s = await InferenceSession.create(modelPath, { threads: 1 });
    const batch = await generate(s, { inputIds: rows(), maxNewTokens: NEW });
    expect(batch.tokens).toEqual(ref.tokens);
    const one = await generate(s, { inputIds: rows()[0], maxNewTokens: NEW });
    expect(one.tokens).toEqual([ref.tokens[0]]);
    expect(one.timings.prefillMs).toBeGreaterThan(0);
    expect(one.timings.msPerToken).toBeGreaterThan(0);
    // A larger cache than needed changes nothing.
    expect((await generate(s, { inputIds: rows(), maxNewTokens: NEW, maxContext: 40 })).tokens).toEqual(ref.tokens);
    // An int64 Tensor with its mask, as a user holding padded ids passes them.
    const ids = new Tensor('int64', BigInt64Array.from(ref.input_ids.flat(), BigInt), [2, ref.input_ids[0].length]);
    const mask = new Tensor('int64', BigInt64Array.from(ref.attention_mask.flat(), BigInt), [2, ref.input_ids[0].length]);
    expect((await generate(s, { inputIds: ids, attentionMask: mask, maxNewTokens: NEW })).tokens).toEqual(ref.tokens);
    expect(await ortTokens(rows()[0], NEW)).toEqual(ref.tokens[0]);
    await s.release();
  });

  it('streams the same tokens, calls onToken, stops rows at a stop token, and samples deterministically per seed', async () => {
    const s = await InferenceSession.create(modelPath, { threads: 1 });
    const seen: [number, number, number][] = [];
    const streamed: number[][] = [[], []];
    for await (const step of generateStream(s, { inputIds: rows(), maxNewTokens: NEW, onToken: (t, i) => seen.push([t, i.row, i.step]) }))
      step.tokens.forEach((t, b) => streamed[b].push(t));
    expect(streamed).toEqual(ref.tokens);
    expect(seen.length).toBe(2 * NEW);
    const stopAt = ref.tokens[0][3];
    const stopped = await generate(s, { inputIds: rows(), maxNewTokens: NEW, stop: [stopAt] });
    expect(stopped.tokens[0]).toEqual(ref.tokens[0].slice(0, ref.tokens[0].indexOf(stopAt) + 1));
    const sample = { inputIds: rows(), maxNewTokens: NEW, temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.2 };
    const a = await generate(s, { ...sample, seed: 11 });
    const b = await generate(s, { ...sample, seed: 11 });
    const c = await generate(s, { ...sample, seed: 12 });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).not.toEqual(c.tokens);
    expect(a.tokens.flat().every((t) => t >= 0 && t < 512)).toBe(true);
    await s.release();
  });

  it('runs weight-only int4 models, with a tokenizer; aborts; refuses bad input', async () => {
    const q = await quantize(await loadModel(modelPath), { mode: 'weight-only', bits: 4, groupSize: 32 });
    const s = await InferenceSession.create(q, { threads: 1 });
    expect([...s.weights.values()].some((w) => w.format === 'int4')).toBe(true);
    const tokenizer = { encode: (t: string) => [...t].map((c) => c.charCodeAt(0) % 512), decode: (ids: number[]) => ids.join(' ') };
    const out = await generate(s, { prompt: ['hello world', 'hi'], tokenizer, maxNewTokens: 4 });
    expect(out.tokens.map((r) => r.length)).toEqual([4, 4]);
    expect(out.text![0]).toBe(out.tokens[0].join(' '));
    const ac = new AbortController();
    ac.abort();
    await expect(generate(s, { inputIds: [1, 2], maxNewTokens: 3, signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await expect(generate(s, { inputIds: [1, 2], maxNewTokens: 0 })).rejects.toThrow(/options\.maxNewTokens/);
    await expect(generate(s, { inputIds: [1, 2], maxNewTokens: 4, maxContext: 3 })).rejects.toThrow(/options\.maxContext/);
    await expect(generate(s, { inputIds: [[1], []], maxNewTokens: 2 })).rejects.toThrow(/options\.inputIds\[1\]/);
    await expect(generate(s, { inputIds: [1, -2], maxNewTokens: 2 })).rejects.toThrow(/token ids/);
    await expect(generate(s, { prompt: 'x', maxNewTokens: 2 })).rejects.toThrow(/options\.tokenizer/);
    await expect(generate(s, { inputIds: [1], maxNewTokens: 2, temperature: -1 })).rejects.toThrow(/options\.temperature/);
    await s.release();
    const mlp = await InferenceSession.create(await loadModel(mlpOnnx({ inputs: 4, hidden: [4], outputs: 4, seed: 1 })));
    await expect(generate(mlp, { inputIds: [1], maxNewTokens: 2 })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_OP' });
    await mlp.release();
  });
});

/** onnxruntime-node's greedy loop over the export (bench/ort-generate.ts: the cache through JS). */
async function ortTokens(prompt: number[], count: number): Promise<number[]> {
  const s = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const r = await ortGreedy(s, prompt, count, ref.heads, ref.d / ref.heads);
  await s.release();
  return r.tokens;
}
