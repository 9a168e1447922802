// 10,000 malformed requests (fuzzed JSON, headers, binary lengths, raw HTTP) against one server over
// keep-alive connections: every one is answered 4xx, the server stays ready and its memory flat.
import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { mulberry32 } from '../src/random.js';
import { serve, type ModelServer } from '../src/serve/index.js';
import { identityModel } from './serve-helpers.js';

let server: ModelServer;
let port = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

beforeAll(async () => {
  server = await serve({ models: { id: identityModel() }, port: 0, instances: 1, maxBodyBytes: 16 * 1024 });
  port = server.port;
});
afterAll(async () => {
  agent.destroy();
  await server?.close();
});

interface Case {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body: Buffer;
}

const rand = mulberry32(2024);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const valid = () => ({ id: 'r', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] }], outputs: [{ name: 'y' }] });
type Req = ReturnType<typeof valid> & Record<string, unknown>;
const INFER = '/v2/models/id/infer';

type Tensor = Record<string, unknown> & { shape: unknown; data: unknown };
/** Mutations that each make a valid request invalid. */
const onInput = (f: (t: Tensor) => void) => (r: Req) => {
  const t = Array.isArray(r.inputs) ? (r.inputs[0] as unknown) : undefined;
  if (t && typeof t === 'object') f(t as Tensor);
};
const mutations: ((r: Req) => void)[] = [
  onInput((t) => void (t.datatype = pick(['FP64', 'BYTES', 'fp32', '', 'INT64', 'FP16', 3, null, true, {}]))),
  onInput((t) => void (Array.isArray(t.shape) && (t.shape[Math.floor(rand() * 2)] = pick([-1, 1.5, 3, 0, 1e300, '4'])))),
  onInput((t) => void (t.shape = pick(['2,4', null, [2, '4'], Array(17).fill(1), [8], [2, 4, 1]]))),
  onInput((t) => void (Array.isArray(t.data) && t.data.splice(Math.floor(rand() * 8), 0, pick(['1', null, {}, true, [[]], 'NaN'])))),
  onInput((t) => void (Array.isArray(t.data) && t.data.splice(Math.floor(rand() * 8), 1))),
  onInput((t) => void (t.data = pick([null, 'abc', 5, {}, undefined]))),
  onInput((t) => void (t.name = pick(['', 'y', 'X', 'x ', '\u0000']))),
  onInput((t) => void (t.parameters = pick([{ binary_data_size: 32 }, { binary_data_size: -1 }, { binary_data_size: 'a' }, 7]))),
  (r) => void (Array.isArray(r.inputs) && r.inputs.push({ ...r.inputs[0] })),
  (r) => void ((r as Record<string, unknown>).inputs = pick([null, {}, 'x', [], [null], [1]])),
  (r) => void ((r as Record<string, unknown>).outputs = pick([[{ name: 'x' }], [{ name: 'z' }], [{ name: 'y', parameters: { binary_data: 'yes' } }], [{ name: 'y', parameters: 5 }], 'y', [7]])),
  (r) => void ((r as Record<string, unknown>).id = pick([5, null, {}, []])),
  (r) => void ((r as Record<string, unknown>).parameters = pick([5, 'x', []])),
];

function fuzzCase(): Case {
  const kind = rand();
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  if (kind < 0.45) {
    const r = valid() as Req;
    pick(mutations)(r); // one: two could cancel out (an insert and a removal)
    return { body: json(r) };
  }
  if (kind < 0.6) {
    const text = JSON.stringify(valid());
    return { body: Buffer.from(text.slice(0, Math.floor(rand() * (text.length - 1)))) }; // never closes the object
  }
  if (kind < 0.7) {
    const bytes = Buffer.alloc(1 + Math.floor(rand() * 64));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
    bytes[0] = pick([0x7b, 0x5b, 0x22, 0x00, 0xff]); // '{', '[', '"', NUL, invalid UTF-8: never a valid request
    return { body: bytes };
  }
  if (kind < 0.85) {
    // Binary extension: header length or binary_data_size that disagree with the bytes sent.
    const size = pick([0, 16, 31, 33, 64]);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: size === 0 ? 32 : size } }] }));
    const tail = Buffer.alloc(size === 0 ? 8 : size === 64 ? 64 : 32);
    const length = pick([String(header.length), String(header.length + 3), String(header.length - 1), '-5', 'x', '', '1e2', String(1e15)]);
    return { headers: { 'inference-header-content-length': length }, body: Buffer.concat([header, tail]) };
  }
  if (kind < 0.99) {
    const path = pick(['/v2/models/nope/infer', '/v2/models/id/versions/2/infer', '/v2/models/%E0%A4%A/infer', '/v2/x', '/v2/models/id/versions//infer']);
    return { path, method: pick(['POST', 'PUT', 'DELETE']), body: json(valid()) };
  }
  return { body: Buffer.alloc(16 * 1024 + 1 + Math.floor(rand() * 1024), 0x20) }; // over the body limit
}

function send(c: Case): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent, method: c.method ?? 'POST', path: c.path ?? INFER, headers: { 'content-length': c.body.length, ...c.headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(c.body);
  });
}

/** Malformed HTTP itself, answered by Node's parser (400) on its own connection. */
function sendRaw(text: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
    socket.on('error', () => undefined);
    socket.end(text);
  });
}

const rawCases = [
  `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}`,
  `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}`,
  `POST ${INFER} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
  `POST ${INFER} HTTP/1.1\r\nHo st: x\r\n\r\n`,
  `POST ${INFER} HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: 1\u0001\r\nContent-Length: 2\r\n\r\n{}`,
];

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function fire(count: number): Promise<number[]> {
  const statuses: number[] = [];
  const cases = Array.from({ length: count }, fuzzCase);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < cases.length) statuses.push(await send(cases[next++]));
    }),
  );
  return statuses;
}

it('answers 10,000 malformed requests with 4xx and stays ready with flat memory', async () => {
  const statuses = await fire(2000);
  for (let i = 0; i < 200; i++) statuses.push(await sendRaw(rawCases[i % rawCases.length]));
  gc();
  const before = process.memoryUsage().rss;
  statuses.push(...(await fire(10_000 - statuses.length)));
  gc();
  const grown = process.memoryUsage().rss - before;
  expect(statuses).toHaveLength(10_000);
  const bad = statuses.filter((s) => s < 400 || s > 499);
  expect(bad, `non-4xx statuses: ${[...new Set(bad)].join(', ')}`).toEqual([]);
  expect(new Set(statuses).size).toBeGreaterThan(3); // 400, 404, 405, 413 all occur
  const ready = await fetch(`${server.url}/v2/health/ready`);
  expect(ready.status).toBe(200);
  const ok = await fetch(`${server.url}${INFER}`, { method: 'POST', body: JSON.stringify(valid()) });
  expect(ok.status).toBe(200);
  // 8,000 requests' garbage is collected: what stays is bounded (no per-request leak).
  expect(grown).toBeLessThan(48 * 1024 * 1024);
});
