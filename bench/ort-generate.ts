// The greedy loop users write over onnxruntime-node for a decoder with past (optimum's names): the
// present outputs fed back as the next step's past through JS. The peer of sparq's generate() in
// bench/generate.bench.ts, and the check in test/generate.test.ts that an export decodes the same there.
import * as ort from 'onnxruntime-node';

export interface OrtGreedyRun {
  tokens: number[];
  /** The prompt's step (with its first token), and the whole loop. */
  prefillMs: number;
  totalMs: number;
}

/** Greedy tokens after `prompt` (batch 1): `count` of them. heads / headDim size the empty first past. */
export async function ortGreedy(s: ort.InferenceSession, prompt: readonly number[], count: number, heads: number, headDim: number): Promise<OrtGreedyRun> {
  const t0 = performance.now();
  const pasts = s.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const feeds: Record<string, ort.Tensor> = {};
  for (const p of pasts) feeds[p] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
  let ids = [...prompt];
  let past = 0;
  let t1 = t0;
  const tokens: number[] = [];
  for (let step = 0; step < count; step++) {
    feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids, (_, j) => BigInt(past + j)), [1, ids.length]);
    feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(past + ids.length).fill(1n), [1, past + ids.length]);
    const r = await s.run(feeds);
    const logits = r.logits.data as Float32Array;
    const V = r.logits.dims[2];
    const at = (ids.length - 1) * V;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[at + v] > logits[at + best]) best = v;
    tokens.push(best);
    for (const p of pasts) feeds[p] = r[p.replace('past_key_values', 'present')];
    past += ids.length;
    ids = [best];
    if (step === 0) t1 = performance.now();
  }
  return { tokens, prefillMs: t1 - t0, totalMs: performance.now() - t0 };
}
