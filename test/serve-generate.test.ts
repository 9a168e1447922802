// sparq serve's generate extension (Triton's POST .../generate and .../generate_stream) over a small
// GPT-2-shaped decoder exported by PyTorch with its KV cache: the server's tokens equal a direct
// generate() with the same options (greedy, seeded sampling, left-padded batches, stop tokens, text with
// a tokenizer), the stream's server-sent events and final event, a disconnect that aborts the generation
// and frees the instance, queue-full / deadline / API key / TLS, metadata, metrics and every 400 and 404.
// Servers bind 127.0.0.1 on a free port.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generate, type GenerateOptions, type Tokenizer } from '../src/generate/lazy.js';
import { mlpModel } from '../src/onnx/zoo.js';
import { serve, type ModelServer } from '../src/serve/index.js';
import { InferenceSession } from '../src/session.js';
import { GPT, exportGpt, torchMissing } from './gpt-fixture.js';
import { call, httpsCall, selfSignedCert } from './serve-helpers.js';

if (torchMissing) console.warn('serve-generate.test.ts: /usr/bin/python3 with torch and onnx not found (apt-get install python3-torch python3-onnx); skipped');

const modelPath = join(mkdtempSync(join(tmpdir(), 'sparq-serve-generate-')), 'gpt.onnx');
/** Characters to ids and back: a tokenizer as transformers.js's looks to serve(). */
const chars: Tokenizer = { encode: (t) => [...t].map((c) => c.charCodeAt(0) % GPT.vocab), decode: (ids) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('') };
const PROMPT = [260, 11, 90, 4, 210];
const SHORT = [100, 200, 300];
const SAMPLING = { temperature: 0.9, top_k: 50, top_p: 0.95, repetition_penalty: 1.2, seed: 11 };

let server: ModelServer;
let base: string;
let direct: InferenceSession;

/** generate() on the test's own session: what the server must answer. */
const expected = async (o: Omit<GenerateOptions, 'maxNewTokens'> & { maxNewTokens: number }) => (await generate(direct, o)).tokens;

interface Sse {
  status: number;
  type: string | null;
  events: Record<string, unknown>[];
}

/** A generate_stream request read to its end, its body parsed as server-sent events (`data: {json}` blocks). */
async function stream(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Sse> {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers });
  const text = await r.text();
  const events = text
    .split('\n\n')
    .filter((b) => b !== '')
    .map((block) => {
      expect(block.startsWith('data: '), block).toBe(true);
      return JSON.parse(block.slice('data: '.length)) as Record<string, unknown>;
    });
  return { status: r.status, type: r.headers.get('content-type'), events };
}

const metric = async (url: string, line: RegExp, headers: Record<string, string> = {}): Promise<number> => {
  const r = await call(`${url}/metrics`, { headers });
  expect(r.status).toBe(200);
  const m = line.exec(r.json.text as string);
  return m ? Number(m[1]) : 0;
};

/** Polls until `check` holds (the server has seen what the test did). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((t) => setTimeout(t, 10));
}

describe.skipIf(torchMissing)('sparq serve: the generate extension', () => {
  beforeAll(async () => {
    exportGpt(modelPath);
    direct = await InferenceSession.create(modelPath, { threads: 1 });
    server = await serve({ models: { gpt: modelPath, chat: modelPath, mlp: mlpModel({ sizes: [8, 16, 4], seed: 1 }) }, tokenizers: { chat: chars }, port: 0, instances: 1, threads: 1 });
    base = server.url;
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await direct?.release();
  });

  it('answers the tokens generate() gives: greedy, one row and a left-padded batch, seeded sampling, stop tokens', async () => {
    const one = await call(`${base}/v2/models/gpt/generate`, { json: { input_ids: PROMPT, parameters: { max_new_tokens: 12 } } });
    expect(one.status).toBe(200);
    expect(one.headers.get('content-type')).toBe('application/json');
    const greedy = (await expected({ inputIds: PROMPT, maxNewTokens: 12 }))[0];
    expect(new Set(greedy).size).toBeGreaterThan(2); // not degenerate
    expect(one.json).toMatchObject({ model_name: 'gpt', model_version: '1', output_ids: greedy, finish_reason: 'length' });
    const timings = one.json.timings as Record<string, number>;
    for (const k of ['queue_ms', 'prefill_ms', 'ms_per_token', 'total_ms', 'tokens_per_second']) expect(typeof timings[k], k).toBe('number');

    const batch = await call(`${base}/v2/models/gpt/versions/1/generate`, { json: { id: 'b1', input_ids: [PROMPT, SHORT], parameters: { max_tokens: 9 } } });
    expect(batch.json).toMatchObject({ id: 'b1', output_ids: await expected({ inputIds: [PROMPT, SHORT], maxNewTokens: 9 }), finish_reason: ['length', 'length'] });

    const sampled = await call(`${base}/v2/models/gpt/generate`, { json: { input_ids: [PROMPT, SHORT], parameters: { max_new_tokens: 10, ...SAMPLING } } });
    const sampling = { temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.2 };
    expect(sampled.json.output_ids).toEqual(await expected({ inputIds: [PROMPT, SHORT], maxNewTokens: 10, ...sampling, seed: 11 }));
    const reseeded = await call(`${base}/v2/models/gpt/generate`, { json: { input_ids: [PROMPT, SHORT], parameters: { max_new_tokens: 10, ...SAMPLING, seed: 12 } } });
    expect(reseeded.json.output_ids).toEqual(await expected({ inputIds: [PROMPT, SHORT], maxNewTokens: 10, ...sampling, seed: 12 }));
    expect(reseeded.json.output_ids).not.toEqual(sampled.json.output_ids);

    const stopAt = greedy[4];
    const stopped = await call(`${base}/v2/models/gpt/generate`, { json: { input_ids: PROMPT, parameters: { max_new_tokens: 12, stop: [stopAt] } } });
    expect(stopped.json).toMatchObject({ output_ids: greedy.slice(0, greedy.indexOf(stopAt) + 1), finish_reason: 'stop' });
  });

  it('streams one server-sent event per step and a final event with the finish reason', async () => {
    const greedy = (await expected({ inputIds: PROMPT, maxNewTokens: 8 }))[0];
    const one = await stream(`${base}/v2/models/gpt/generate_stream`, { id: 's1', input_ids: PROMPT, parameters: { max_new_tokens: 8, stream: true } });
    expect(one.status).toBe(200);
    expect(one.type).toBe('text/event-stream; charset=utf-8');
    expect(one.events.length).toBe(9);
    const tokens = one.events.slice(0, -1);
    tokens.forEach((e, i) => expect(e).toEqual({ model_name: 'gpt', model_version: '1', id: 's1', step: i, output_ids: [greedy[i]] }));
    const last = one.events.at(-1)!;
    expect(last).toMatchObject({ model_name: 'gpt', model_version: '1', id: 's1', finish_reason: 'length' });
    expect(last.output_ids).toBeUndefined();
    expect(typeof (last.timings as Record<string, number>).ms_per_token).toBe('number');

    // A batch: each event holds every row's token ([] once a row has stopped); the rows concatenate to /generate's.
    const rows = await expected({ inputIds: [PROMPT, SHORT], maxNewTokens: 8 });
    const stopAt = rows[1][2];
    const batch = await stream(`${base}/v2/models/gpt/generate_stream`, { input_ids: [PROMPT, SHORT], parameters: { max_new_tokens: 8, stop: stopAt } });
    const joined: number[][] = [[], []];
    for (const e of batch.events.slice(0, -1)) (e.output_ids as number[][]).forEach((d, b) => joined[b].push(...d));
    const done = await call(`${base}/v2/models/gpt/generate`, { json: { input_ids: [PROMPT, SHORT], parameters: { max_new_tokens: 8, stop: stopAt } } });
    expect(joined).toEqual(done.json.output_ids);
    expect(joined[1]).toEqual(rows[1].slice(0, 3));
    expect(batch.events.at(-1)!.finish_reason).toEqual(done.json.finish_reason);
    expect((done.json.finish_reason as string[])[1]).toBe('stop');
  });

  it('takes text_input only with a tokenizer, and answers text_output', async () => {
    const out = await call(`${base}/v2/models/chat/generate`, { json: { text_input: 'hello', parameters: { max_new_tokens: 6 } } });
    const ref = await generate(direct, { prompt: 'hello', tokenizer: chars, maxNewTokens: 6 });
    expect(out.json).toMatchObject({ model_name: 'chat', output_ids: ref.tokens[0], text_output: ref.text![0] });
    const s = await stream(`${base}/v2/models/chat/generate_stream`, { text_input: ['hello', 'hi'], parameters: { max_new_tokens: 4 } });
    const texts = ['', ''];
    for (const e of s.events.slice(0, -1)) (e.text_output as string[]).forEach((t, b) => (texts[b] += t));
    expect(texts).toEqual((await generate(direct, { prompt: ['hello', 'hi'], tokenizer: chars, maxNewTokens: 4 })).text);
    // The same model served without a tokenizer wants ids.
    const refused = await call(`${base}/v2/models/gpt/generate`, { json: { text_input: 'hello' } });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/input_ids.*without a tokenizer/);
  });

  it('400 for a model that is not a decoder and for bad requests, naming the parameter; 404, 405', async () => {
    const notDecoder = await call(`${base}/v2/models/mlp/generate`, { json: { input_ids: [1, 2] } });
    expect(notDecoder.status).toBe(400);
    expect(notDecoder.json.error).toMatch(/not a decoder with a KV cache/);
    expect((await call(`${base}/v2/models/mlp/generate_stream`, { json: { input_ids: [1, 2] } })).status).toBe(400);
    expect((await call(`${base}/v2/models/nope/generate`, { json: { input_ids: [1] } })).status).toBe(404);
    expect((await call(`${base}/v2/models/gpt/versions/7/generate_stream`, { json: { input_ids: [1] } })).status).toBe(404);
    expect((await call(`${base}/v2/models/gpt/generate`)).status).toBe(405);

    const bad: [unknown, RegExp][] = [
      [{ input_ids: [1], parameters: { top_k: 1.5 } }, /^Expected an integer in \[0, 2147483647\] for parameters\.top_k but received 1\.5$/],
      [{ input_ids: [1], parameters: { top_p: 0 } }, /Expected a number in \(0, 1\] for parameters\.top_p but received 0/],
      [{ input_ids: [1], parameters: { temperature: -1 } }, /for parameters\.temperature but received -1/],
      [{ input_ids: [1], parameters: { repetition_penalty: 'x' } }, /for parameters\.repetition_penalty but received "x"/],
      [{ input_ids: [1], parameters: { seed: -3 } }, /for parameters\.seed/],
      [{ input_ids: [1], parameters: { max_new_tokens: 0 } }, /for parameters\.max_new_tokens but received 0/],
      [{ input_ids: [1], parameters: { max_tokens: 2, max_new_tokens: 2 } }, /one of max_new_tokens and max_tokens/],
      [{ input_ids: [1], parameters: { stop: ['a'] } }, /for parameters\.stop\[0\] but received "a"/],
      [{ input_ids: [1], parameters: { stream: 'yes' } }, /for parameters\.stream/],
      [{ input_ids: [1], parameters: { topk: 3 } }, /Expected one of the parameters .* for parameters but received "topk"/],
      [{ input_ids: [1], parameters: 3 }, /an object for parameters/],
      [{ input_ids: [1, -2] }, /for input_ids\[1\] but received -2/],
      [{ input_ids: [GPT.vocab] }, /token id in \[0, 511\] \(the model's vocabulary\) for input_ids\[0\] but received 512/],
      [{ input_ids: [] }, /a non-empty array of token ids for input_ids/],
      [{ input_ids: [[1], []] }, /for input_ids\[1\]/],
      [{ input_ids: [1], text_input: 'x' }, /either input_ids or text_input/],
      [{ parameters: {} }, /token ids in input_ids/],
      [{ input_ids: [1], extra: 1 }, /one of the fields .* but received "extra"/],
      [{ input_ids: Array.from({ length: 64 }, () => [1]), parameters: { max_new_tokens: 65536 } }, /KV cache limit .* for parameters\.max_new_tokens/],
      [[1, 2], /a JSON object for the request/],
      // Past the model's 64 positions: the graph refuses the context, which is the request's doing.
      [{ input_ids: [1, 2], parameters: { max_new_tokens: GPT.maxPos } }, /a context the model takes .* for the prompt and parameters\.max_new_tokens but received "1 rows of 2 \+ 64 tokens"/],
    ];
    for (const [body, message] of bad) {
      for (const route of ['generate', 'generate_stream']) {
        const r = await call(`${base}/v2/models/gpt/${route}`, { json: body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        // An error before the first event is a JSON error, on the stream's route too.
        expect(r.headers.get('content-type')).toBe('application/json');
        expect(r.json.error).toMatch(message);
      }
    }
    expect((await call(`${base}/v2/models/gpt/generate`, { body: '{"input_ids": [1' })).status).toBe(400);
  });

  it('lists the generate extension in server and model metadata; counts generate requests and tokens', async () => {
    expect((await call(`${base}/v2`)).json.extensions).toEqual(['binary_tensor_data', 'generate']);
    expect((await call(`${base}/v2/models/gpt`)).json.extensions).toEqual(['generate']);
    expect((await call(`${base}/v2/models/mlp`)).json.extensions).toBeUndefined();
    const tokens = await metric(base, /^sparq_generated_tokens_total\{model="gpt"\} (\d+)$/m);
    const ok = await metric(base, /^sparq_generate_requests_total\{model="gpt",status="200"\} (\d+)$/m);
    await call(`${base}/v2/models/gpt/generate`, { json: { input_ids: [PROMPT, SHORT], parameters: { max_new_tokens: 5 } } });
    await call(`${base}/v2/models/gpt/generate`, { json: { input_ids: [1], parameters: { top_k: -1 } } });
    expect(await metric(base, /^sparq_generated_tokens_total\{model="gpt"\} (\d+)$/m)).toBe(tokens + 10);
    expect(await metric(base, /^sparq_generate_requests_total\{model="gpt",status="200"\} (\d+)$/m)).toBe(ok + 1);
    expect(await metric(base, /^sparq_generate_requests_total\{model="gpt",status="400"\} (\d+)$/m)).toBeGreaterThan(0);
  });

  it('a client that disconnects mid-stream aborts its generation and frees the instance; 503 when the queue is full, 504 past the deadline; API key', async () => {
    // decode() of this tokenizer waits, from its `holdAt`-th call on, until `release()`: it holds a
    // generation between two steps.
    let decodes = 0;
    let holdAt = Infinity;
    let release = () => {};
    let gate = Promise.resolve();
    const hold = (from: number) => {
      holdAt = from;
      gate = new Promise((r) => (release = r));
    };
    const held: Tokenizer = {
      encode: chars.encode,
      decode: async (ids) => {
        if (++decodes >= holdAt) await gate;
        return chars.decode(ids);
      },
    };
    const s = await serve({ models: { chat: modelPath }, tokenizers: { chat: held }, port: 0, instances: 1, threads: 1, maxQueue: 1, timeoutMs: 3000, apiKey: 'k' });
    const auth = { authorization: 'Bearer k' };
    const url = `${s.url}/v2/models/chat/generate_stream`;
    const count = (line: RegExp) => metric(s.url, line, auth);
    try {
      expect((await call(url, { json: { text_input: 'hi' } })).status).toBe(401);

      // Disconnect: read the first event, hold the next step, go away.
      hold(decodes + 2);
      const abort = new AbortController();
      const r = await fetch(url, { method: 'POST', headers: auth, body: JSON.stringify({ text_input: 'hello', parameters: { max_new_tokens: 50 } }), signal: abort.signal });
      expect(r.status).toBe(200);
      const first = new TextDecoder().decode((await r.body!.getReader().read()).value);
      expect(first).toMatch(/^data: \{.*"step":0/);
      abort.abort();
      await until(async () => (await count(/^sparq_generate_requests_total\{model="chat",status="499"\} (\d+)$/m)) === 1);
      release();
      // The next request is served (one instance): the aborted generation stopped after its step in flight.
      const next = await call(`${s.url}/v2/models/chat/generate`, { json: { text_input: 'hey', parameters: { max_new_tokens: 3 } }, headers: auth });
      expect(next.status).toBe(200);
      expect(await count(/^sparq_generated_tokens_total\{model="chat"\} (\d+)$/m)).toBe(2 + 3);

      // Queue full: one generation holds the only instance, one waits, the third is refused.
      hold(decodes + 1);
      const holding = call(url, { json: { text_input: 'hold', parameters: { max_new_tokens: 4 } }, headers: auth });
      await until(async () => decodes >= holdAt);
      const waiting = call(`${s.url}/v2/models/chat/generate`, { json: { text_input: 'wait' }, headers: auth });
      await until(async () => (await count(/^sparq_inflight_requests\{model="chat"\} (\d+)$/m)) === 2);
      const busy = await call(`${s.url}/v2/models/chat/generate`, { json: { text_input: 'x' }, headers: auth });
      expect(busy.status).toBe(503);
      expect(busy.headers.get('retry-after')).toBe('1');
      // Both pass their deadline before a first event: JSON 504s (the held one's generation is aborted).
      for (const late of [await holding, await waiting]) {
        expect(late.status).toBe(504);
        expect(late.headers.get('content-type')).toBe('application/json');
        expect(late.json.error).toMatch(/within 3000 ms/);
      }
      release();
      expect((await call(`${s.url}/v2/models/chat/generate`, { json: { text_input: 'x', parameters: { max_new_tokens: 2 } }, headers: auth })).status).toBe(200);
    } finally {
      release();
      await s.close();
    }
  });

  it('serves generate over HTTPS', async (ctx) => {
    const pem = selfSignedCert();
    if (!pem) return ctx.skip(); // no openssl on this machine
    const s = await serve({ models: { gpt: modelPath }, port: 0, instances: 1, threads: 1, tls: pem });
    try {
      const r = await httpsCall(`${s.url}/v2/models/gpt/generate`, pem.cert, { method: 'POST', body: JSON.stringify({ input_ids: PROMPT, parameters: { max_new_tokens: 5 } }) });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).output_ids).toEqual((await expected({ inputIds: PROMPT, maxNewTokens: 5 }))[0]);
    } finally {
      await s.close();
    }
  });
});
