// generate(session, options) / generateStream(session, options): autoregressive decoding over an
// InferenceSession of a decoder exported with its KV cache (past_* inputs, present_* outputs).
//
// The session is derived once into one whose cache concatenations write in place (kv-rewrite.ts): the
// cache is one buffer per cache tensor, [batch, heads, maxContext, head_dim], bound to the run as an
// input the native plan writes into, so no step copies the past and no cache tensor comes back to JS.
// Every step has the same shapes, so the prefill and the decode step each compile one plan, once.
// Batches of prompts of different lengths are left-padded (attention_mask 0, positions from 0 at the
// first real token). Ids in, ids out; an optional tokenizer ({ encode, decode }, e.g. transformers.js's)
// turns text into ids and back.
import { SparqError, rangeError, typeError } from '../errors.js';
import type { ValueInfo } from '../graph/ir.js';
import { mulberry32 } from '../random.js';
import type { InferenceSession } from '../session.js';
import { Tensor, type TensorType } from '../tensor.js';
import { checkInteger, checkNumber, checkObject } from '../validate.js';
import { type CachePair, findCachePairs } from './cache-names.js';
import { CACHE_POSITION, lastPositionLogits, rewriteKvCache } from './kv-rewrite.js';
import { type SamplingOptions, nextToken } from './sampling.js';

export interface Tokenizer {
  encode(text: string): ArrayLike<number> | Promise<ArrayLike<number>>;
  decode(ids: number[]): string | Promise<string>;
}

export interface GenerateOptions {
  /** Prompt ids: one row (number[]), rows of any lengths (left-padded), or an int64/int32 Tensor [batch, length]. */
  inputIds?: readonly number[] | readonly (readonly number[])[] | Tensor;
  /** With a Tensor inputIds: which positions are real (1) or padding (0), [batch, length]. */
  attentionMask?: Tensor;
  /** Prompt text (one or a batch), encoded with `tokenizer`. */
  prompt?: string | readonly string[];
  tokenizer?: Tokenizer;
  maxNewTokens: number;
  /** Cache capacity in tokens (default prompt length + maxNewTokens). */
  maxContext?: number;
  /** 0 (default): greedy. */
  temperature?: number;
  /** Sample among the k most likely tokens (0: all). */
  topK?: number;
  /** Sample among the most likely tokens holding this probability mass (1: all). */
  topP?: number;
  /** > 1 discourages tokens already in the row (1: off). */
  repetitionPenalty?: number;
  /** Seed of the sampler (default 0): the same seed gives the same tokens. */
  seed?: number;
  /** Token ids that end a row (kept as its last token). */
  stop?: readonly number[];
  /** Id used to left-pad shorter prompts (default 0; masked out either way). */
  padTokenId?: number;
  /** Called for every new token of every live row. */
  onToken?: (token: number, info: { row: number; step: number }) => void;
  signal?: AbortSignal;
  /** Threads per step (default: the session's). */
  threads?: number;
  /** Where steps compute (default 'inline': on the calling thread, as a loop over onnxruntime-node does). */
  execution?: 'auto' | 'inline' | 'worker';
}

export interface GenerateTimings {
  /** The prompt's forward pass (and its first token). */
  prefillMs: number;
  /** Per decode step after the prefill. */
  msPerToken: number;
  totalMs: number;
  /** New tokens per second over the whole call, per row. */
  tokensPerSecond: number;
}

export interface GenerateResult {
  /** The new tokens of each row (a row that met a stop token ends with it). */
  tokens: number[][];
  /** With a tokenizer: the new tokens of each row decoded. */
  text?: string[];
  timings: GenerateTimings;
}

export interface GenerateStep {
  step: number;
  /** This step's token of each row; -1 for a row that already stopped. */
  tokens: number[];
}

interface Decoder {
  session: InferenceSession;
  pairs: CachePair[];
  ids: ValueInfo;
  mask: ValueInfo;
  positions: ValueInfo;
  logits: string;
  /** [heads, headDim] per pair. */
  cacheDims: [number, number][];
}

const decoders = new WeakMap<InferenceSession, Map<string, Decoder>>();

type IntArray = BigInt64Array | Int32Array | Float32Array;

function makeArray(type: TensorType, n: number): IntArray {
  if (type === 'int64') return new BigInt64Array(n);
  if (type === 'int32') return new Int32Array(n);
  if (type === 'float32') return new Float32Array(n);
  throw new SparqError('ERR_UNSUPPORTED_DTYPE', `generate() needs int64, int32 or float32 ids, mask and positions, not ${type}`);
}

function put(a: IntArray, i: number, v: number): void {
  if (a instanceof BigInt64Array) a[i] = BigInt(v);
  else a[i] = v;
}

function decoderOf(session: InferenceSession, threads: number | undefined, execution: GenerateOptions['execution']): Decoder {
  let byKey = decoders.get(session);
  if (!byKey) decoders.set(session, (byKey = new Map()));
  const key = `${threads ?? ''}|${execution ?? 'inline'}`;
  const hit = byKey.get(key);
  if (hit) return hit;
  let pairs: CachePair[] = [];
  let inputs: readonly ValueInfo[] = [];
  let logits = '';
  const derived = session.derive(
    (g) => {
      inputs = g.inputs;
      pairs = findCachePairs(g.inputs, g.outputs);
      if (pairs.length === 0)
        throw new SparqError('ERR_UNSUPPORTED_OP', 'generate() needs a decoder exported with its KV cache (inputs past_key_values.N.key/value or past_key_N/past_value_N and the matching present outputs)');
      const presents = new Set(pairs.map((p) => p.present));
      logits = (g.outputs.find((o) => o.name === 'logits') ?? g.outputs.find((o) => !presents.has(o.name)))?.name ?? '';
      return lastPositionLogits(rewriteKvCache(g, pairs), logits);
    },
    { threads, execution: execution ?? 'inline' },
  );
  const input = (name: string): ValueInfo => {
    const v = inputs.find((i) => i.name === name);
    if (!v) throw new SparqError('ERR_UNSUPPORTED_OP', `generate() needs the decoder input "${name}" (inputs: ${inputs.map((i) => i.name).join(', ')})`);
    return v;
  };
  const cacheDims = pairs.map((p): [number, number] => {
    const d = input(p.past).dims;
    if (!d || d.length !== 4 || typeof d[1] !== 'number' || typeof d[3] !== 'number')
      throw new SparqError('ERR_UNSUPPORTED_OP', `generate() needs the cache input "${p.past}" as [batch, heads, sequence, head_dim] with fixed heads and head_dim`);
    return [d[1], d[3]];
  });
  const d: Decoder = { session: derived, pairs, ids: input('input_ids'), mask: input('attention_mask'), positions: input('position_ids'), logits, cacheDims };
  byKey.set(key, d);
  return d;
}

interface Prompt {
  rows: number;
  length: number;
  /** [rows · length], left-padded. */
  ids: number[];
  mask: number[];
}

async function promptOf(o: GenerateOptions): Promise<Prompt> {
  let rows: number[][] | undefined;
  if (o.prompt !== undefined) {
    if (!o.tokenizer || typeof o.tokenizer.encode !== 'function') throw typeError('a tokenizer with encode() to go with options.prompt', 'options.tokenizer', o.tokenizer);
    const texts = typeof o.prompt === 'string' ? [o.prompt] : o.prompt;
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw typeError('a string or an array of strings', 'options.prompt', o.prompt);
    rows = [];
    for (const t of texts) rows.push(Array.from(await o.tokenizer.encode(t), Number));
  } else if (o.inputIds instanceof Tensor) {
    const t = o.inputIds;
    if ((t.type !== 'int64' && t.type !== 'int32') || t.dims.length !== 2) throw typeError('an int64 or int32 Tensor [batch, length]', 'options.inputIds', `a ${t.type} tensor of dims [${t.dims.join(', ')}]`);
    const [B, S] = t.dims;
    const ids = Array.from(t.data as ArrayLike<number | bigint>, Number);
    let mask = new Array<number>(B * S).fill(1);
    if (o.attentionMask !== undefined) {
      const m = o.attentionMask;
      if (!(m instanceof Tensor) || m.dims.length !== 2 || m.dims[0] !== B || m.dims[1] !== S) throw typeError(`a Tensor [${B}, ${S}] like options.inputIds`, 'options.attentionMask', m);
      mask = Array.from(m.data as ArrayLike<number | bigint>, (v) => (Number(v) ? 1 : 0));
    }
    return checkPrompt({ rows: B, length: S, ids, mask });
  } else if (Array.isArray(o.inputIds)) {
    rows = o.inputIds.length > 0 && Array.isArray(o.inputIds[0]) ? (o.inputIds as number[][]).map((r) => [...r]) : [[...(o.inputIds as number[])]];
  } else {
    throw typeError('prompt ids (options.inputIds) or text (options.prompt with a tokenizer)', 'options.inputIds', o.inputIds);
  }
  const pad = o.padTokenId ?? 0;
  const length = Math.max(0, ...rows.map((r) => (Array.isArray(r) ? r.length : 0)));
  const ids: number[] = [];
  const mask: number[] = [];
  rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length === 0) throw typeError('a non-empty array of token ids', `options.inputIds[${i}]`, r);
    for (let j = r.length; j < length; j++) {
      ids.push(pad);
      mask.push(0);
    }
    for (const v of r) {
      ids.push(v);
      mask.push(1);
    }
  });
  return checkPrompt({ rows: rows.length, length, ids, mask });
}

function checkPrompt(p: Prompt): Prompt {
  if (p.rows < 1 || p.length < 1) throw rangeError('at least one prompt token', 'options.inputIds', `${p.rows} rows of ${p.length}`);
  p.ids.forEach((v, i) => {
    if (!Number.isSafeInteger(v) || v < 0) throw rangeError('non-negative integer token ids', 'options.inputIds', `${v} at ${i}`);
  });
  for (let b = 0; b < p.rows; b++) if (!p.mask.slice(b * p.length, (b + 1) * p.length).includes(1)) throw rangeError('a real token in every row', `options.inputIds[${b}]`, 'only padding');
  return p;
}

function sampling(o: GenerateOptions): SamplingOptions {
  return {
    temperature: checkNumber(o.temperature ?? 0, 'options.temperature', 0, 1e6),
    topK: checkInteger(o.topK ?? 0, 'options.topK', 0),
    topP: checkNumber(o.topP ?? 1, 'options.topP', 1e-9, 1),
    repetitionPenalty: checkNumber(o.repetitionPenalty ?? 1, 'options.repetitionPenalty', 1e-6, 1e6),
  };
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SparqError('ERR_ABORTED', 'generate() was aborted', { cause: signal.reason });
}

/** The steps of a generation, one token per row each; the core of generate() and generateStream(). */
async function* decodeSteps(session: InferenceSession, options: GenerateOptions, timings?: GenerateTimings): AsyncGenerator<GenerateStep> {
  const o = checkObject(options, 'options') as unknown as GenerateOptions;
  const maxNew = checkInteger(o.maxNewTokens, 'options.maxNewTokens', 1, 1 << 20);
  const sample = sampling(o);
  const seed = checkInteger(o.seed ?? 0, 'options.seed', 0, 2 ** 32 - 1);
  const stop = new Set(o.stop ?? []);
  if (o.stop !== undefined && (!Array.isArray(o.stop) || !o.stop.every((t) => Number.isSafeInteger(t)))) throw typeError('an array of token ids', 'options.stop', o.stop);
  if (o.onToken !== undefined && typeof o.onToken !== 'function') throw typeError('a function (token, { row, step })', 'options.onToken', o.onToken);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('an AbortSignal', 'options.signal', o.signal);
  if (o.threads !== undefined) checkInteger(o.threads, 'options.threads', 1, 1024);
  if (o.execution !== undefined && !['auto', 'inline', 'worker'].includes(o.execution)) throw typeError("'auto', 'inline' or 'worker'", 'options.execution', o.execution);
  const p = await promptOf(o);
  const capacity = checkInteger(o.maxContext ?? p.length + maxNew, 'options.maxContext', p.length + maxNew - 1, 1 << 24);
  aborted(o.signal);
  const dec = decoderOf(session, o.threads, o.execution);
  const B = p.rows;
  const t0 = performance.now();

  // The cache: one buffer per cache tensor, written in place by the plan (never read here).
  const feeds: Record<string, Tensor> = {};
  dec.pairs.forEach((pair, i) => {
    const [H, D] = dec.cacheDims[i];
    feeds[pair.past] = new Tensor('float32', new Float32Array(B * H * capacity * D), [B, H, capacity, D]);
  });
  const position = new BigInt64Array(1);
  feeds[CACHE_POSITION] = new Tensor('int64', position, [1]);
  const mask = makeArray(dec.mask.dtype, B * capacity);
  feeds[dec.mask.name] = new Tensor(dec.mask.dtype as TensorType, mask as never, [B, capacity]);

  // Prefill: the prompt fills the last rows of the cache (see kv-rewrite.ts), position ids count real tokens.
  const start = capacity - p.length;
  const ids = makeArray(dec.ids.dtype, B * p.length);
  const pos = makeArray(dec.positions.dtype, B * p.length);
  const real = new Array<number>(B).fill(0);
  const seen = Array.from({ length: B }, () => new Set<number>());
  for (let b = 0; b < B; b++)
    for (let j = 0; j < p.length; j++) {
      const k = b * p.length + j;
      put(ids, k, p.ids[k]);
      put(pos, k, Math.max(0, real[b] + p.mask[k] - 1));
      put(mask, b * capacity + start + j, p.mask[k]);
      real[b] += p.mask[k];
      if (p.mask[k]) seen[b].add(p.ids[k]);
    }
  feeds[dec.ids.name] = new Tensor(dec.ids.dtype as TensorType, ids as never, [B, p.length]);
  feeds[dec.positions.name] = new Tensor(dec.positions.dtype as TensorType, pos as never, [B, p.length]);
  position[0] = BigInt(start);
  const random = mulberry32(seed);
  const live = new Array<boolean>(B).fill(true);
  let out = (await dec.session.run(feeds, [dec.logits]))[dec.logits];
  const vocab = out.dims[out.dims.length - 1];
  const pick = (logits: Float32Array, rowStride: number, rowOffset: number, step: number): GenerateStep => {
    const tokens = new Array<number>(B).fill(-1);
    for (let b = 0; b < B; b++) {
      if (!live[b]) continue;
      const t = nextToken(logits, b * rowStride + rowOffset, vocab, sample, seen[b], random);
      tokens[b] = t;
      seen[b].add(t);
      o.onToken?.(t, { row: b, step });
      if (stop.has(t)) live[b] = false;
    }
    return { step, tokens };
  };
  // [B, length, vocab], or [B, 1, vocab] when only the last position's logits were computed.
  const rows = out.dims.length === 3 ? out.dims[1] : 1;
  let step = pick(out.data as Float32Array, rows * vocab, (rows - 1) * vocab, 0);
  const t1 = performance.now();
  if (timings) timings.prefillMs = t1 - t0;
  yield step;

  // Decode: one token per row per step, written to the next free row from the start of the cache.
  const stepIds = makeArray(dec.ids.dtype, B);
  const stepPos = makeArray(dec.positions.dtype, B);
  feeds[dec.ids.name] = new Tensor(dec.ids.dtype as TensorType, stepIds as never, [B, 1]);
  feeds[dec.positions.name] = new Tensor(dec.positions.dtype as TensorType, stepPos as never, [B, 1]);
  const logits = new Tensor('float32', new Float32Array(B * vocab), [B, 1, vocab]);
  let steps = 1;
  for (let s = 1; s < maxNew && live.some(Boolean); s++) {
    aborted(o.signal);
    const slot = s - 1;
    for (let b = 0; b < B; b++) {
      put(stepIds, b, live[b] ? step.tokens[b] : (o.padTokenId ?? 0));
      put(stepPos, b, real[b] + s - 1);
      put(mask, b * capacity + slot, 1);
    }
    position[0] = BigInt(slot);
    out = (await dec.session.run(feeds, { [dec.logits]: logits }))[dec.logits];
    step = pick(out.data as Float32Array, vocab, 0, s);
    steps++;
    yield step;
  }
  if (timings) {
    const t2 = performance.now();
    timings.totalMs = t2 - t0;
    timings.msPerToken = steps > 1 ? (t2 - t1) / (steps - 1) : 0;
    timings.tokensPerSecond = (1000 * steps) / (t2 - t0);
  }
}

/** Generates up to maxNewTokens tokens per row; resolves with them and the timings. */
export async function generate(session: InferenceSession, options: GenerateOptions): Promise<GenerateResult> {
  const timings: GenerateTimings = { prefillMs: 0, msPerToken: 0, totalMs: 0, tokensPerSecond: 0 };
  let tokens: number[][] | undefined;
  for await (const step of decodeSteps(session, options, timings)) {
    tokens ??= step.tokens.map(() => []);
    step.tokens.forEach((t, b) => {
      if (t >= 0) tokens![b].push(t);
    });
  }
  const result: GenerateResult = { tokens: tokens ?? [], timings };
  if (options.tokenizer && typeof options.tokenizer.decode === 'function') {
    result.text = [];
    for (const row of result.tokens) result.text.push(await options.tokenizer.decode(row));
  }
  return result;
}

/** The same generation as an async iterator of steps (one token per row each), for streaming. */
export function generateStream(session: InferenceSession, options: GenerateOptions): AsyncGenerator<GenerateStep> {
  return decodeSteps(session, options);
}
