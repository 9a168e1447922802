// The generate extension's codec and loop (Triton's POST .../generate and .../generate_stream): which
// served models are decoders with a KV cache, the request (token ids, or text with a tokenizer, and
// sampling parameters) checked at the door with the house message, and one generation on one instance
// as generateStream() steps, turned into the response JSON and the stream's events.
// Tokenization is the caller's: `input_ids` carries ids; `text_input` needs a tokenizer given to serve().
import type { Model } from '../model.js';
import { findCachePairs } from '../generate/cache-names.js';
import type { GenerateOptions, Tokenizer } from '../generate/generate.js';
import { generateStream } from '../generate/lazy.js';
import type { InferenceSession } from '../session.js';
import { InferenceError, badRequest } from './errors.js';

export interface DecoderInfo {
  /** The vocabulary (the logits' last dim) when the graph fixes it: ids at or above it are refused. */
  vocab?: number;
  /** Cache bytes one token of one row takes (every layer's key and value, fp32). */
  cacheBytesPerToken: number;
  tokenizer?: Tokenizer;
}

/** Per-request bounds: what a request may make the server allocate. */
export const GENERATE_LIMITS = { maxNewTokens: 1 << 16, cacheBytes: 1 << 30, stopTokens: 1024 } as const;

const DEFAULT_NEW_TOKENS = 16;
const PARAMETERS = ['max_new_tokens', 'max_tokens', 'temperature', 'top_k', 'top_p', 'repetition_penalty', 'seed', 'stop', 'pad_token_id', 'stream'];
const FIELDS = ['input_ids', 'text_input', 'parameters', 'id'];

/** The model's decoder description when generate() can drive it (KV cache by name, ids, mask, positions), else undefined. */
export function decoderOf(model: Model, tokenizer?: Tokenizer): DecoderInfo | undefined {
  const pairs = findCachePairs(model.inputs, model.outputs);
  if (pairs.length === 0) return undefined;
  const input = new Map(model.inputs.map((i) => [i.name, i]));
  if (!['input_ids', 'attention_mask', 'position_ids'].every((n) => input.has(n))) return undefined;
  let cacheBytesPerToken = 0;
  for (const p of pairs) {
    const d = input.get(p.past)!.dims;
    if (!d || d.length !== 4 || typeof d[1] !== 'number' || typeof d[3] !== 'number') return undefined;
    cacheBytesPerToken += 4 * d[1] * d[3];
  }
  const presents = new Set(pairs.map((p) => p.present));
  const logits = model.outputs.find((o) => o.name === 'logits') ?? model.outputs.find((o) => !presents.has(o.name));
  const last = logits?.dims?.at(-1);
  return { ...(typeof last === 'number' && { vocab: last }), cacheBytesPerToken, ...(tokenizer && { tokenizer }) };
}

export type FinishReason = 'stop' | 'length';

export interface GenerateRequest {
  id?: string;
  /** Prompt rows (left-padded by generate() when their lengths differ). */
  rows: number[][];
  /** The prompt was one row (a flat input_ids, one text_input string): per-row response fields are flat. */
  single: boolean;
  options: Required<Pick<GenerateOptions, 'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty' | 'seed'>> & { stop: number[]; padTokenId?: number };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function integer(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badRequest(`an integer in [${min}, ${max}]`, name, v);
  return v;
}

function number(v: unknown, name: string, what: string, ok: (x: number) => boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw badRequest(what, name, v);
  return v;
}

function tokenRow(v: unknown, name: string, vocab: number | undefined): number[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest('a non-empty array of token ids', name, v);
  const max = vocab === undefined ? Number.MAX_SAFE_INTEGER : vocab - 1;
  v.forEach((t, j) => {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > max)
      throw badRequest(vocab === undefined ? 'a non-negative integer token id' : `a token id in [0, ${max}] (the model's vocabulary)`, `${name}[${j}]`, t);
  });
  return v as number[];
}

async function promptRows(body: Record<string, unknown>, model: string, decoder: DecoderInfo): Promise<{ rows: number[][]; single: boolean }> {
  const ids = body.input_ids;
  const text = body.text_input;
  if (text !== undefined && ids !== undefined) throw badRequest('either input_ids or text_input, not both', 'the request', body);
  if (text !== undefined) {
    if (!decoder.tokenizer)
      throw new InferenceError(400, `Expected token ids in input_ids (an array of integers, or an array of them per row) for the request but received text_input: model "${model}" is served without a tokenizer`);
    const single = typeof text === 'string';
    const texts = single ? [text] : text;
    if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) throw badRequest('a string or a non-empty array of strings', 'text_input', text);
    const rows: number[][] = [];
    for (const [i, t] of (texts as string[]).entries()) rows.push(tokenRow(Array.from(await decoder.tokenizer.encode(t), Number), single ? 'text_input (encoded)' : `text_input[${i}] (encoded)`, decoder.vocab));
    return { rows, single };
  }
  if (ids === undefined) throw badRequest('token ids in input_ids (an array of integers, or an array of them per row)', 'the request', body);
  if (Array.isArray(ids) && ids.length > 0 && Array.isArray(ids[0])) return { rows: ids.map((r, i) => tokenRow(r, `input_ids[${i}]`, decoder.vocab)), single: false };
  return { rows: [tokenRow(ids, 'input_ids', decoder.vocab)], single: true };
}

/** Checks a generate request (400 with the house message for anything wrong) and reads its prompt. */
export async function decodeGenerateRequest(body: unknown, model: string, decoder: DecoderInfo): Promise<GenerateRequest> {
  if (!isObject(body)) throw badRequest('a JSON object', 'the request', body);
  for (const k of Object.keys(body)) if (!FIELDS.includes(k)) throw badRequest(`one of the fields ${FIELDS.join(', ')}`, 'the request', k);
  if (body.id !== undefined && typeof body.id !== 'string') throw badRequest('a string', 'id', body.id);
  const params = body.parameters ?? {};
  if (!isObject(params)) throw badRequest('an object', 'parameters', params);
  for (const k of Object.keys(params)) if (!PARAMETERS.includes(k)) throw badRequest(`one of the parameters ${PARAMETERS.join(', ')}`, 'parameters', k);
  if (params.max_new_tokens !== undefined && params.max_tokens !== undefined) throw badRequest('one of max_new_tokens and max_tokens', 'parameters', 'both');
  const newName = params.max_tokens !== undefined ? 'parameters.max_tokens' : 'parameters.max_new_tokens';
  const newValue = params.max_tokens ?? params.max_new_tokens;
  const maxNewTokens = newValue === undefined ? DEFAULT_NEW_TOKENS : integer(newValue, newName, 1, GENERATE_LIMITS.maxNewTokens);
  const p = (name: string) => params[name];
  const options: GenerateRequest['options'] = {
    maxNewTokens,
    temperature: p('temperature') === undefined ? 0 : number(p('temperature'), 'parameters.temperature', 'a number >= 0 (0: greedy)', (x) => x >= 0 && x <= 1e6),
    topK: p('top_k') === undefined ? 0 : integer(p('top_k'), 'parameters.top_k', 0, 2 ** 31 - 1),
    topP: p('top_p') === undefined ? 1 : number(p('top_p'), 'parameters.top_p', 'a number in (0, 1]', (x) => x > 0 && x <= 1),
    repetitionPenalty: p('repetition_penalty') === undefined ? 1 : number(p('repetition_penalty'), 'parameters.repetition_penalty', 'a number > 0 (1: off)', (x) => x > 0 && x <= 1e6),
    seed: p('seed') === undefined ? 0 : integer(p('seed'), 'parameters.seed', 0, 2 ** 32 - 1),
    stop: [],
  };
  const stop = p('stop');
  if (stop !== undefined) {
    const list = typeof stop === 'number' ? [stop] : stop;
    if (!Array.isArray(list) || list.length > GENERATE_LIMITS.stopTokens) throw badRequest(`a token id or an array of at most ${GENERATE_LIMITS.stopTokens} token ids`, 'parameters.stop', stop);
    options.stop = list.map((t, i) => integer(t, `parameters.stop[${i}]`, 0, Number.MAX_SAFE_INTEGER));
  }
  if (p('pad_token_id') !== undefined) options.padTokenId = integer(p('pad_token_id'), 'parameters.pad_token_id', 0, Number.MAX_SAFE_INTEGER);
  // The endpoint decides whether to stream; the flag is accepted as Triton's clients send it.
  if (p('stream') !== undefined && typeof p('stream') !== 'boolean') throw badRequest('a boolean', 'parameters.stream', p('stream'));
  const { rows, single } = await promptRows(body, model, decoder);
  const context = Math.max(...rows.map((r) => r.length)) + maxNewTokens;
  const bytes = rows.length * context * decoder.cacheBytesPerToken;
  if (bytes > GENERATE_LIMITS.cacheBytes) {
    const most = Math.floor(GENERATE_LIMITS.cacheBytes / (rows.length * decoder.cacheBytesPerToken));
    throw badRequest(`rows x (prompt + new tokens) within the KV cache limit (${GENERATE_LIMITS.cacheBytes} bytes: at most ${most} tokens per row for ${rows.length} rows)`, newName, `${rows.length} x ${context}`);
  }
  return { ...(body.id !== undefined && { id: body.id as string }), rows, single, options };
}

export interface GenerateTimingsJson {
  /** Waiting for a free instance. */
  queue_ms: number;
  /** The prompt's forward pass and the first token. */
  prefill_ms: number;
  /** Per token after the first. */
  ms_per_token: number;
  total_ms: number;
  /** New tokens per second and row. */
  tokens_per_second: number;
}

/** One step of the stream: this step's token of each live row ([] for a row that already stopped). */
export interface GenerateDelta {
  step: number;
  output_ids: number[] | number[][];
  text_output?: string | string[];
}

export interface GenerateOutcome {
  output_ids: number[] | number[][];
  text_output?: string | string[];
  finish_reason: FinishReason | FinishReason[];
  timings: GenerateTimingsJson;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * One generation on `session` (the instance the queue gave this request): generateStream()'s steps,
 * each handed to `onStep` as the stream's delta, gathered into the response. Steps compute on a worker
 * thread, so the event loop keeps serving while tokens are made.
 */
export async function runGeneration(session: InferenceSession, request: GenerateRequest, decoder: DecoderInfo, run: { signal: AbortSignal; queuedMs: number; onStep?: (delta: GenerateDelta) => void; onTokens?: (n: number) => void }): Promise<GenerateOutcome> {
  const { rows, single, options } = request;
  const tokenizer = decoder.tokenizer;
  const tokens: number[][] = rows.map(() => []);
  const shown = rows.map(() => '');
  const t0 = performance.now();
  let first = t0;
  let steps = 0;
  const stream = generateStream(session, { ...options, inputIds: rows, signal: run.signal, execution: 'worker' });
  try {
    for await (const step of stream) {
      if (run.signal.aborted) break; // the step that was computing when the client went away
      if (steps++ === 0) first = performance.now();
      const delta = step.tokens.map((t) => (t >= 0 ? [t] : []));
      delta.forEach((d, b) => tokens[b].push(...d));
      run.onTokens?.(delta.reduce((n, d) => n + d.length, 0));
      if (run.onStep) {
        const event: GenerateDelta = { step: step.step, output_ids: single ? delta[0] : delta };
        if (tokenizer) {
          // The text each step adds: the row decoded so far past what was already sent.
          const texts: string[] = [];
          for (let b = 0; b < rows.length; b++) {
            const text = delta[b].length > 0 ? await tokenizer.decode(tokens[b]) : shown[b];
            texts.push(text.startsWith(shown[b]) ? text.slice(shown[b].length) : text);
            shown[b] = text;
          }
          event.text_output = single ? texts[0] : texts;
        }
        run.onStep(event);
      }
    }
  } catch (e) {
    // The model loaded and ran shorter contexts: a graph that cannot take this one (a position table
    // shorter than prompt + new tokens) refuses the request, not the server.
    const code = (e as { code?: string }).code;
    if (!run.signal.aborted && (code === 'ERR_INVALID_MODEL' || code === 'ERR_SHAPE_MISMATCH')) {
      const length = Math.max(...rows.map((r) => r.length));
      throw badRequest(`a context the model takes (${(e as Error).message})`, 'the prompt and parameters.max_new_tokens', `${rows.length} rows of ${length} + ${options.maxNewTokens} tokens`);
    }
    throw e;
  }
  if (run.signal.aborted) throw run.signal.reason;
  const end = performance.now();
  const stop = new Set(options.stop);
  const reasons = tokens.map((r): FinishReason => (r.length > 0 && stop.has(r[r.length - 1]) ? 'stop' : 'length'));
  const outcome: GenerateOutcome = {
    output_ids: single ? tokens[0] : tokens,
    finish_reason: single ? reasons[0] : reasons,
    timings: {
      queue_ms: round(run.queuedMs),
      prefill_ms: round(first - t0),
      ms_per_token: round(steps > 1 ? (end - first) / (steps - 1) : 0),
      total_ms: round(end - t0),
      tokens_per_second: round((1000 * steps) / Math.max(end - t0, 1e-3)),
    },
  };
  if (tokenizer) {
    const texts: string[] = [];
    for (const r of tokens) texts.push(await tokenizer.decode(r));
    outcome.text_output = single ? texts[0] : texts;
  }
  return outcome;
}
