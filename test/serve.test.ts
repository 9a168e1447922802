// sparq serve over HTTP: every V2 endpoint and error code, the binary tensor data extension, API key,
// TLS, metrics, queue limits, timeouts, disconnects and draining. Servers bind 127.0.0.1 on a free port.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { connect } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InferenceSession } from '../src/session.js';
import { Tensor } from '../src/tensor.js';
import { modelHandler, serve, type ModelServer } from '../src/serve/index.js';
import { call, httpsCall, makeRepository, MLP_SIZES, selfSignedCert } from './serve-helpers.js';

const repo = makeRepository();
let server: ModelServer;
let base: string;

const mlpRequest = (rows: number[][], extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, MLP_SIZES[0]], data: rows }],
  ...extra,
});
const row = (k: number) => Array.from({ length: MLP_SIZES[0] }, (_, i) => Math.sin(k * 7 + i));

beforeAll(async () => {
  server = await serve({ models: repo, port: 0, instances: 1 });
  base = server.url;
});
afterAll(async () => {
  await server?.close();
});

describe('V2 health and metadata', () => {
  it('answers live, ready, server and model metadata, model readiness', async () => {
    expect(await call(`${base}/v2/health/live`)).toMatchObject({ status: 200, json: { live: true } });
    expect(await call(`${base}/v2/health/ready`)).toMatchObject({ status: 200, json: { ready: true } });
    const meta = await call(`${base}/v2`);
    expect(meta.json).toMatchObject({ name: 'sparq', extensions: ['binary_tensor_data'] });
    const m = await call(`${base}/v2/models/mlp`);
    expect(m.json).toEqual({
      name: 'mlp',
      versions: ['1', '2'],
      platform: 'onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 8] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 4] }],
    });
    expect((await call(`${base}/v2/models/mlp/versions/1`)).status).toBe(200);
    expect(await call(`${base}/v2/models/identity/ready`)).toMatchObject({ status: 200, json: { name: 'identity', ready: true } });
    expect((await call(`${base}/v2/models/mlp/versions/2/ready`)).status).toBe(200);
  });

  it('404 for unknown models, versions and routes; 405 for wrong methods', async () => {
    for (const path of ['/v2/models/nope', '/v2/models/mlp/versions/9', '/v2/models/nope/ready', '/v2/models/mlp/versions/9/ready', '/v2/nothing', '/other']) {
      const r = await call(base + path);
      expect(r.status, path).toBe(404);
      expect(typeof r.json.error).toBe('string');
    }
    expect((await call(`${base}/v2/models/nope/infer`, { json: mlpRequest([row(0)]) })).status).toBe(404);
    expect((await call(`${base}/v2/models/mlp/versions/3/infer`, { json: mlpRequest([row(0)]) })).status).toBe(404);
    const wrong = await call(`${base}/v2/models/mlp/infer`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await call(`${base}/v2/health/ready`, { method: 'POST', body: '{}' })).status).toBe(405);
  });
});

describe('V2 inference (JSON)', () => {
  it('matches the session on flat and nested data, echoes the id, picks the version', async () => {
    const rows = [row(1), row(2), row(3)];
    const r = await call(`${base}/v2/models/mlp/versions/1/infer`, { json: mlpRequest(rows, { id: 'req-7' }) });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ model_name: 'mlp', model_version: '1', id: 'req-7' });
    const out = (r.json.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[])[0];
    expect(out).toMatchObject({ name: 'output', datatype: 'FP32', shape: [3, 4] });
    const session = await InferenceSession.create(join(repo, 'mlp', '1', 'model.onnx'));
    const want = (await session.run({ input: new Tensor('float32', Float32Array.from(rows.flat()), [3, 8]) })).output.data as Float32Array;
    expect(Float32Array.from(out.data)).toEqual(want);
    const flat = await call(`${base}/v2/models/mlp/versions/1/infer`, { json: { inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 8], data: rows.flat() }] } });
    expect((flat.json.outputs as { data: number[] }[])[0].data).toEqual(out.data);
    // No version: the newest (2), whose weights differ.
    const latest = await call(`${base}/v2/models/mlp/infer`, { json: mlpRequest(rows) });
    expect(latest.json.model_version).toBe('2');
    expect((latest.json.outputs as { data: number[] }[])[0].data).not.toEqual(out.data);
    await session.release();
  });

  it('returns only the requested outputs', async () => {
    const r = await call(`${base}/v2/models/mlp/infer`, { json: mlpRequest([row(0)], { outputs: [{ name: 'output' }] }) });
    expect((r.json.outputs as { name: string }[]).map((o) => o.name)).toEqual(['output']);
    const bad = await call(`${base}/v2/models/mlp/infer`, { json: mlpRequest([row(0)], { outputs: [{ name: 'logits' }] }) });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/outputs\[0\]\.name/);
  });

  it('400 for malformed JSON, unknown or missing inputs, wrong datatype, shape or element count', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['{"inputs": [', undefined, /JSON/],
      ['', { inputs: [{ name: 'nope', datatype: 'FP32', shape: [1, 8], data: row(0) }] }, /one of the model's inputs/],
      ['', { inputs: [] }, /input "input"/],
      ['', { inputs: [{ name: 'input', datatype: 'INT64', shape: [1, 8], data: row(0).map(Math.round) }] }, /datatype FP32/],
      ['', { inputs: [{ name: 'input', datatype: 'FP16', shape: [1, 8], data: row(0) }] }, /datatype FP32/],
      ['', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 9], data: [...row(0), 1] }] }, /shape matching \[-1, 8\]/],
      ['', { inputs: [{ name: 'input', datatype: 'FP32', shape: [8], data: row(0) }] }, /shape matching/],
      ['', { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 8], data: row(0) }] }, /16 elements/],
      ['', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: [...row(0).slice(1), 'x'] }] }, /a number/],
      ['', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, -8], data: row(0) }] }, /non-negative integer/],
      ['', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: row(0) }], id: 5 }, /id/],
      ['', [1, 2], /JSON object/],
    ];
    for (const [raw, json, pattern] of cases) {
      const r = await call(`${base}/v2/models/mlp/infer`, raw ? { body: raw } : { json });
      expect(r.status, JSON.stringify(json) ?? raw).toBe(400);
      expect(r.json.error).toMatch(pattern);
    }
  });
});

describe('binary tensor data extension', () => {
  function binaryBody(header: unknown, ...parts: Uint8Array[]): { body: Buffer; headers: Record<string, string> } {
    const h = Buffer.from(JSON.stringify(header));
    return { body: Buffer.concat([h, ...parts]), headers: { 'inference-header-content-length': String(h.length), 'content-type': 'application/octet-stream' } };
  }

  it('round-trips float32 bit for bit (NaN payloads, -0, denormals, infinities)', async () => {
    const bits = Uint32Array.of(0x7fc00001, 0xffc12345, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x3f800000);
    const sent = new Uint8Array(bits.buffer);
    const { body, headers } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: sent.length } }], outputs: [{ name: 'y', parameters: { binary_data: true } }] }, sent);
    const r = await call(`${base}/v2/models/identity/infer`, { method: 'POST', body, headers });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    const n = Number(r.headers.get('inference-header-content-length'));
    const out = (r.json.outputs as { parameters: { binary_data_size: number }; shape: number[]; data?: unknown }[])[0];
    expect(out).toMatchObject({ shape: [2, 4], parameters: { binary_data_size: 32 } });
    expect(out.data).toBeUndefined();
    expect(Buffer.from(r.bytes.subarray(n))).toEqual(Buffer.from(sent));
  });

  it('mixes binary and JSON inputs and outputs; binary_data_output for all', async () => {
    const x = new Float32Array(row(4));
    const { body, headers } = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], parameters: { binary_data_size: 32 } }], parameters: { binary_data_output: true } }, new Uint8Array(x.buffer));
    const bin = await call(`${base}/v2/models/mlp/infer`, { method: 'POST', body, headers });
    const json = await call(`${base}/v2/models/mlp/infer`, { json: mlpRequest([Array.from(x)]) });
    const n = Number(bin.headers.get('inference-header-content-length'));
    const fromBinary = new Float32Array(Uint8Array.from(bin.bytes.subarray(n)).buffer);
    expect(Array.from(fromBinary)).toEqual((json.json.outputs as { data: number[] }[])[0].data);
  });

  it('400 when binary sizes or the header length disagree with the body', async () => {
    const four = new Uint8Array(32);
    const header = (size: number) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: size } }] });
    const bad = [
      binaryBody(header(32), four.subarray(0, 16)), // fewer bytes than declared
      binaryBody(header(32), four, four), // bytes left over
      binaryBody(header(31), four.subarray(0, 31)), // not the element count
      binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: [1], parameters: { binary_data_size: 32 } }] }, four),
    ];
    for (const b of bad) expect((await call(`${base}/v2/models/identity/infer`, { method: 'POST', ...b })).status).toBe(400);
    for (const h of ['-1', 'abc', '99999999', '1e3']) {
      const b = binaryBody(header(32), four);
      const r = await call(`${base}/v2/models/identity/infer`, { method: 'POST', body: b.body, headers: { ...b.headers, 'inference-header-content-length': h } });
      expect(r.status, h).toBe(400);
    }
  });
});

describe('mounted in an app', () => {
  it('answers /v2 and /metrics, hands other paths to next()', async () => {
    const mounted = await modelHandler({ models: { mlp: join(repo, 'mlp', '1', 'model.onnx') }, instances: 1 });
    // As express.json() would: the body read and parsed before the handler sees the request.
    const app = createServer((req, res) => {
      if (!req.url?.startsWith('/parsed')) return mounted.handler(req, res, () => res.end('the app'));
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        Object.assign(req, { body: JSON.parse(text), url: req.url!.slice('/parsed'.length) });
        mounted.handler(req, res);
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
    try {
      expect((await call(`${url}/v2/models/mlp/infer`, { json: mlpRequest([row(0)]) })).status).toBe(200);
      expect((await call(`${url}/metrics`)).json.text).toMatch(/sparq_requests_total/);
      expect(await (await fetch(`${url}/checkout`)).text()).toBe('the app');
      const parsed = await call(`${url}/parsed/v2/models/mlp/infer`, { json: mlpRequest([row(0)], { id: 'p' }) });
      expect(parsed).toMatchObject({ status: 200, json: { id: 'p' } });
    } finally {
      await mounted.close();
      await new Promise((r) => app.close(r));
    }
  });
});

describe('operations', () => {
  it('serves Prometheus metrics: requests by model and status, queue, compute, batch, in flight, process', async () => {
    const text = (await call(`${base}/metrics`)).json.text as string;
    expect(text).toMatch(/sparq_requests_total\{model="mlp",status="200"\} \d+/);
    expect(text).toMatch(/sparq_requests_total\{model="mlp",status="400"\} \d+/);
    expect(text).toMatch(/sparq_requests_total\{model="",status="404"\} \d+/);
    for (const name of ['sparq_queue_seconds_bucket', 'sparq_compute_seconds_sum', 'sparq_batch_size_count', 'sparq_inflight_requests', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'])
      expect(text).toContain(name);
  });

  it('413 for a body over the limit, declared or streamed', async () => {
    const small = await serve({ models: { mlp: join(repo, 'mlp', '1', 'model.onnx') }, port: 0, instances: 1, maxBodyBytes: 1024 });
    try {
      const big = JSON.stringify(mlpRequest(Array.from({ length: 64 }, (_, k) => row(k))));
      expect((await call(`${small.url}/v2/models/mlp/infer`, { method: 'POST', body: big })).status).toBe(413);
      // Chunked (no Content-Length): the limit is checked while reading.
      const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
      const r = await fetch(`${small.url}/v2/models/mlp/infer`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
      expect(r.status).toBe(413);
      expect(((await r.json()) as { error: string }).error).toMatch(/limit of 1024 bytes/);
    } finally {
      await small.close();
    }
  });

  it('401 without the API key (health checks stay open)', async () => {
    const keyed = await serve({ models: { mlp: join(repo, 'mlp', '1', 'model.onnx') }, port: 0, instances: 1, apiKey: 's3cret' });
    try {
      expect((await call(`${keyed.url}/v2/health/ready`)).status).toBe(200);
      const none = await call(`${keyed.url}/v2/models/mlp`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect((await call(`${keyed.url}/v2/models/mlp/infer`, { json: mlpRequest([row(0)]), headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await call(`${keyed.url}/metrics`)).status).toBe(401);
      expect((await call(`${keyed.url}/v2/models/mlp/infer`, { json: mlpRequest([row(0)]), headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
      expect((await call(`${keyed.url}/v2/models/mlp`, { headers: { 'x-api-key': 's3cret' } })).status).toBe(200);
    } finally {
      await keyed.close();
    }
  });

  it('serves HTTPS with --tls-cert / --tls-key', async (ctx) => {
    const pem = selfSignedCert();
    if (!pem) return ctx.skip(); // no openssl on this machine
    const tls = await serve({ models: { mlp: join(repo, 'mlp', '1', 'model.onnx') }, port: 0, instances: 1, tls: pem });
    try {
      expect(tls.url).toMatch(/^https:/);
      expect((await httpsCall(`${tls.url}/v2/health/ready`, pem.cert)).status).toBe(200);
    } finally {
      await tls.close();
    }
  });

  it('503 + Retry-After when the queue is full, 504 past the deadline, a disconnect frees its slot, draining turns readiness 503', async () => {
    const s = await serve({ models: { mlp: join(repo, 'mlp', '1', 'model.onnx') }, port: 0, instances: 1, maxQueue: 1, timeoutMs: 0 });
    const m = s.plane.registry.get('mlp');
    const open = hold(m.sessions[0]);
    try {
      const first = call(`${s.url}/v2/models/mlp/infer`, { json: mlpRequest([row(0)]) });
      await until(() => m.queue.inFlight === 1);
      // The second waits in the queue; its client goes away: the slot frees.
      const body = JSON.stringify(mlpRequest([row(1)]));
      const socket = connect((s.server.address() as { port: number }).port, '127.0.0.1');
      socket.write(`POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await until(() => m.queue.inFlight === 2);
      socket.destroy();
      await until(() => m.queue.inFlight === 1);
      const second = call(`${s.url}/v2/models/mlp/infer`, { json: mlpRequest([row(2)]) });
      await until(() => m.queue.inFlight === 2);
      const full = await call(`${s.url}/v2/models/mlp/infer`, { json: mlpRequest([row(3)]) });
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBe('1');
      const closing = s.close(5000);
      expect(s.plane.ready()).toBe(false);
      open();
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      await closing;
    } finally {
      open();
      await s.close();
    }
    const t = await serve({ models: { mlp: join(repo, 'mlp', '1', 'model.onnx') }, port: 0, instances: 1, timeoutMs: 50 });
    const release = hold(t.plane.registry.get('mlp').sessions[0]);
    try {
      const r = await call(`${t.url}/v2/models/mlp/infer`, { json: mlpRequest([row(0)]) });
      expect(r.status).toBe(504);
      expect(r.json.error).toMatch(/50 ms/);
    } finally {
      release();
      await t.close();
    }
  });
});

/** Holds a session's runs until the returned function is called (the instance stays busy meanwhile). */
function hold(session: InferenceSession): () => void {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const run = session.run.bind(session);
  session.run = (async (feeds: Record<string, Tensor>) => {
    await gate;
    return run(feeds);
  }) as typeof session.run;
  return open;
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}
