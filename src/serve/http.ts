// The REST front end of the Open Inference Protocol (KServe V2): a request handler over the data plane
// that mounts in node:http, https, or an express/connect app (it calls `next` for paths it does not
// own when given one). It reads bodies under a size limit, splits the binary tensor data extension's
// JSON header from the tensor bytes, and maps InferenceError.status onto HTTP. The generate extension's
// .../generate answers one JSON object, .../generate_stream server-sent events (`data: {json}` per step,
// then a final event with the finish reason), as Triton does.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { InferenceError, badRequest } from './errors.js';
import type { DataPlane } from './dataplane.js';

export interface HandlerOptions {
  /** Requests must carry `Authorization: Bearer <key>` (or `X-API-Key: <key>`); health checks need none. */
  apiKey?: string;
  /** Largest request body in bytes (default 64 MiB), checked while reading: beyond it 413. */
  maxBodyBytes?: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

export const DEFAULT_MAX_BODY = 64 * 1024 * 1024;
const HEADER_LENGTH = 'inference-header-content-length';
const MODEL_ROUTE = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer|\/generate|\/generate_stream)?\/?$/;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, e: unknown): number {
  const err = e instanceof InferenceError ? e : new InferenceError(500, (e as Error)?.message ?? String(e));
  const headers: Record<string, string | number> = {};
  if (err.retryAfter !== undefined) headers['retry-after'] = err.retryAfter;
  if (err.status === 401) headers['www-authenticate'] = 'Bearer';
  // A body we stopped reading cannot leave the connection reusable.
  if (err.status === 413) headers.connection = 'close';
  send(res, err.status, { error: err.message }, headers);
  return err.status;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const pre = (req as { body?: unknown }).body;
  if (Buffer.isBuffer(pre)) return Promise.resolve(pre);
  // A body parser ahead of us (express.json()) has read the stream already: splitBody takes its result.
  if (pre !== undefined || req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new InferenceError(413, `The request body (${declared} bytes) is over the limit of ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (c: Buffer) => {
      total += c.length;
      if (total > limit) {
        req.off('data', onData);
        req.pause();
        reject(new InferenceError(413, `The request body is over the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    };
    let read = false;
    req.on('data', onData);
    req.once('end', () => {
      read = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    });
    req.once('error', (e) => reject(new InferenceError(400, `The request body could not be read: ${e.message}`)));
    // Every request closes, most long after their body was read: an error (and its stack) only for those
    // that close before (~15 µs a request otherwise, 5% of the event loop's time under load).
    req.once('close', () => {
      if (!read) reject(new InferenceError(499, 'The client closed the request'));
    });
  });
}

/** Splits a body into its JSON part and the binary tensor data after it. */
function splitBody(req: IncomingMessage, body: Buffer): { json: unknown; binary?: Uint8Array } {
  const pre = (req as { body?: unknown }).body;
  if (pre !== undefined && !Buffer.isBuffer(pre)) return { json: pre }; // parsed by an express body parser
  const header = req.headers[HEADER_LENGTH];
  let jsonBytes = body;
  let binary: Uint8Array | undefined;
  if (header !== undefined) {
    const text = Array.isArray(header) ? header.join(',') : header;
    const n = /^\s*\d{1,15}\s*$/.test(text) ? Number(text) : NaN;
    if (!(n <= body.length)) throw badRequest(`an integer no larger than the body (${body.length} bytes)`, 'the Inference-Header-Content-Length header', text);
    jsonBytes = body.subarray(0, n);
    binary = body.subarray(n);
  }
  try {
    return { json: JSON.parse(jsonBytes.toString('utf8')), binary };
  } catch (e) {
    throw new InferenceError(400, `Expected a JSON request body but it does not parse: ${(e as Error).message}`);
  }
}

function keyMatches(req: IncomingMessage, digest: Buffer): boolean {
  const auth = req.headers.authorization;
  const given = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : req.headers['x-api-key'];
  if (typeof given !== 'string') return false;
  return timingSafeEqual(createHash('sha256').update(given).digest(), digest);
}

function decodeSegment(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    throw badRequest('a URL-encoded path segment', 'the path', s);
  }
}

/** The V2 REST handler over a data plane. */
export function createHandler(plane: DataPlane, options: HandlerOptions = {}): Handler {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const digest = options.apiKey !== undefined ? createHash('sha256').update(options.apiKey).digest() : undefined;
  const metrics = plane.metrics;

  async function infer(req: IncomingMessage, res: ServerResponse, name: string, version: string | undefined): Promise<void> {
    const model = plane.registry.has(name) ? name : '';
    let status = 200;
    try {
      const body = await readBody(req, limit);
      const { json, binary } = splitBody(req, body);
      const abort = new AbortController();
      const onClose = () => {
        if (!res.writableFinished) abort.abort();
      };
      res.once('close', onClose);
      const out = await plane.infer(name, version, json, binary, abort.signal);
      res.off('close', onClose);
      const text = Buffer.from(JSON.stringify(out.json));
      const headers: Record<string, string | number> = plane.draining ? { connection: 'close' } : {};
      if (res.destroyed) return;
      if (out.binary.length === 0) {
        res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': text.length });
        res.end(text);
      } else {
        const payload = Buffer.concat([text, ...out.binary]);
        res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': payload.length, [HEADER_LENGTH]: text.length });
        res.end(payload);
      }
    } catch (e) {
      status = sendError(res, e);
    } finally {
      metrics?.requests.inc({ model, status: String(status) });
    }
  }

  async function generate(req: IncomingMessage, res: ServerResponse, name: string, version: string | undefined, stream: boolean): Promise<void> {
    const model = plane.registry.has(name) ? name : '';
    let status = 200;
    const abort = new AbortController();
    // The client went away (a stream's reader closed): the generation stops and frees its instance.
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    const headers: Record<string, string | number> = plane.draining ? { connection: 'close' } : {};
    let opened = false;
    const event = (data: unknown) => {
      if (res.destroyed || res.writableEnded) return;
      // Headers go with the first event: an error before it (queue full, timeout, a failing prefill)
      // is still a JSON error with its status.
      if (!opened) res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      opened = true;
      res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    try {
      const { json } = splitBody(req, await readBody(req, limit));
      res.once('close', onClose);
      try {
        const out = await plane.generate(name, version, json, { signal: abort.signal, onEvent: stream ? event : undefined });
        if (!stream) return send(res, 200, out, headers);
        const { output_ids: _ids, text_output: _text, ...final } = out;
        event(final);
        res.end();
      } catch (e) {
        if (!opened) throw e;
        // Past the first event the status is sent: the error is the stream's last event.
        const err = e instanceof InferenceError ? e : new InferenceError(500, (e as Error)?.message ?? String(e));
        status = err.status;
        event({ error: err.message });
        res.end();
      }
    } catch (e) {
      status = sendError(res, e);
    } finally {
      res.off('close', onClose);
      metrics?.generateRequests.inc({ model, status: String(status) });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    const allow = (m: string) => send(res, 405, { error: `Expected ${m} for ${path} but received ${method}` }, { allow: m });
    if (path === '/v2/health/live' || path === '/v2/health/ready') {
      if (!get) return allow('GET');
      const ok = path.endsWith('live') ? plane.live() : plane.ready();
      return send(res, ok ? 200 : 503, path.endsWith('live') ? { live: ok } : { ready: ok });
    }
    const owned = path === '/v2' || path === '/metrics' || path.startsWith('/v2/');
    if (!owned && next) return next();
    if (digest && !keyMatches(req, digest)) {
      req.resume();
      return void sendError(res, new InferenceError(401, 'Expected a valid API key (Authorization: Bearer <key>) for this server'));
    }
    if (path === '/v2') return get ? send(res, 200, plane.serverMetadata()) : allow('GET');
    if (path === '/metrics') {
      if (!get || !metrics) return get ? send(res, 404, { error: 'Metrics are off' }) : allow('GET');
      const text = await metrics.text();
      res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
      return void res.end(text);
    }
    const m = MODEL_ROUTE.exec(path);
    if (!m) return send(res, 404, { error: `No route for ${method} ${path}` });
    const name = decodeSegment(m[1])!;
    const version = decodeSegment(m[2]);
    if (m[3] === '/infer') {
      if (method !== 'POST') return allow('POST');
      return infer(req, res, name, version);
    }
    if (m[3] === '/generate' || m[3] === '/generate_stream') {
      if (method !== 'POST') return allow('POST');
      return generate(req, res, name, version, m[3] === '/generate_stream');
    }
    if (!get) return allow('GET');
    if (m[3] === '/ready') {
      const ready = plane.modelReady(name, version);
      return send(res, ready ? 200 : 503, { name, ready });
    }
    return send(res, 200, plane.modelMetadata(name, version));
  }

  return (req, res, next) => {
    route(req, res, next).catch((e: unknown) => {
      // The body of a request answered early is read and dropped, so keep-alive clients stay in step.
      if (!req.readableEnded && !res.headersSent) req.resume();
      sendError(res, e);
    });
  };
}
