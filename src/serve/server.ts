// serve(): the model server in one call (repository -> registry -> data plane -> REST handler ->
// node:http or https), and modelHandler() for mounting the same handler in an app of one's own.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { Model } from '../model.js';
import { checkInteger, checkObject } from '../validate.js';
import { typeError } from '../errors.js';
import type { BatchingOptions } from './batching.js';
import { DataPlane } from './dataplane.js';
import { InferenceError } from './errors.js';
import type { GrpcFrontEnd } from './grpc.js';
import { DEFAULT_MAX_BODY, createHandler, type Handler, type HandlerOptions } from './http.js';
import { ServeMetrics } from './metrics.js';
import { ModelRegistry, type InstanceOptions } from './registry.js';
import { checkModelName, findModels } from './repository.js';
import { loadModel } from '../io/model-file.js';
import type { Tokenizer } from '../generate/generate.js';

/** Model files and repository directories, or models by name (a path, ONNX/.sparq bytes or a Model). */
export type ModelsOption = string | readonly string[] | Readonly<Record<string, string | Uint8Array | Model>>;

export interface HandlerSetup extends InstanceOptions, HandlerOptions, Partial<BatchingOptions> {
  models: ModelsOption;
  /** The name of the one model `models` holds (e.g. KServe's InferenceService name), instead of its file's. */
  modelName?: string;
  /** Prometheus metrics at GET /metrics (default true). */
  metrics?: boolean;
  /**
   * Tokenizers of decoder models by model name ({ encode, decode }, e.g. transformers.js's): the generate
   * extension then takes `text_input` and answers `text_output` too. Without one, requests carry ids.
   */
  tokenizers?: Readonly<Record<string, Tokenizer>>;
}

export interface ServeOptions extends HandlerSetup {
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** Address to bind (default 127.0.0.1; 0.0.0.0 in a container). */
  host?: string;
  /** PEM certificate and key: serve HTTPS (and gRPC over TLS). */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
  /** Also serve inference.GRPCInferenceService (the V2 gRPC API) on this port (0: a free one). */
  grpcPort?: number;
}

export interface ModelHandler {
  handler: Handler;
  plane: DataPlane;
  /** Readiness turns 503, queued and running requests finish (at most `graceMs`), sessions are freed. */
  close(graceMs?: number): Promise<void>;
}

export interface ModelServer extends ModelHandler {
  server: Server;
  url: string;
  port: number;
  /** The gRPC port, when `grpcPort` was given. */
  grpcPort?: number;
}

export const DEFAULTS = { port: 8000, host: '127.0.0.1', maxBatch: 1, maxDelayMs: 2, maxQueue: 1024, timeoutMs: 60_000, graceMs: 10_000 } as const;

function batchingOf(o: HandlerSetup): BatchingOptions {
  return {
    maxBatch: o.maxBatch === undefined ? DEFAULTS.maxBatch : checkInteger(o.maxBatch, 'options.maxBatch', 1, 1 << 16),
    maxDelayMs: o.maxDelayMs === undefined ? DEFAULTS.maxDelayMs : checkInteger(o.maxDelayMs, 'options.maxDelayMs', 0, 60_000),
    maxQueue: o.maxQueue === undefined ? DEFAULTS.maxQueue : checkInteger(o.maxQueue, 'options.maxQueue', 0, 1 << 24),
    timeoutMs: o.timeoutMs === undefined ? DEFAULTS.timeoutMs : checkInteger(o.timeoutMs, 'options.timeoutMs', 0, 24 * 3600_000),
  };
}

async function loadAll(registry: ModelRegistry, o: HandlerSetup, batching: BatchingOptions, metrics: ServeMetrics | undefined): Promise<void> {
  const observer = (name: string) => metrics?.observer(name) ?? {};
  const instances = { instances: o.instances === undefined ? undefined : checkInteger(o.instances, 'options.instances', 1, 256), threads: o.threads === undefined ? undefined : checkInteger(o.threads, 'options.threads', 0, 1024) };
  const tokenizers = o.tokenizers === undefined ? {} : checkObject(o.tokenizers, 'options.tokenizers');
  for (const [name, t] of Object.entries(tokenizers))
    if (!t || typeof (t as Tokenizer).encode !== 'function' || typeof (t as Tokenizer).decode !== 'function') throw typeError('a tokenizer with encode() and decode()', `options.tokenizers["${name}"]`, t);
  const add = async (source: Parameters<ModelRegistry['add']>[0]) => {
    const tokenizer = tokenizers[source.name] as Tokenizer | undefined;
    const served = await registry.add(source, instances, batching, observer, tokenizer);
    if (tokenizer && !served.decoder) throw typeError('the name of a served decoder with a KV cache', `options.tokenizers["${source.name}"]`, `model "${source.name}" (not a decoder)`);
  };
  const models = o.models;
  if (typeof models === 'string' || Array.isArray(models)) {
    const paths = typeof models === 'string' ? [models] : (models as readonly string[]);
    paths.forEach((p, i) => {
      if (typeof p !== 'string') throw typeError('a path', `options.models[${i}]`, p);
    });
    let sources = findModels(paths);
    if (o.modelName !== undefined) {
      if (typeof o.modelName !== 'string') throw typeError('a model name', 'options.modelName', o.modelName);
      const names = new Set(sources.map((s) => s.name));
      if (names.size !== 1) throw typeError('one model (options.modelName names it)', 'options.models', `${names.size} models (${[...names].join(', ')})`);
      const name = checkModelName(o.modelName, 'options.modelName');
      sources = sources.map((s) => ({ ...s, name }));
    }
    for (const source of sources) await add(source);
  } else {
    const byName = checkObject(models, 'options.models');
    if (Object.keys(byName).length === 0) throw typeError('at least one model', 'options.models', models);
    for (const [name, v] of Object.entries(byName)) {
      checkModelName(name, 'options.models');
      if (typeof v === 'string') await add({ name, version: '1', path: v });
      else if (v instanceof Model || v instanceof Uint8Array) await add({ name, version: '1', model: v instanceof Model ? v : await loadModel(v) });
      else throw typeError('a path, model bytes or a Model', `options.models["${name}"]`, v);
    }
  }
  for (const name of Object.keys(tokenizers)) if (!registry.has(name)) throw typeError('the name of a served model', 'options.tokenizers', `"${name}"`);
}

/** Loads the models and returns the V2 REST handler, to mount in an app of one's own. */
export async function modelHandler(options: HandlerSetup): Promise<ModelHandler> {
  const o = checkObject(options, 'options') as unknown as HandlerSetup;
  if (o.apiKey !== undefined && (typeof o.apiKey !== 'string' || o.apiKey === '')) throw typeError('a non-empty string', 'options.apiKey', o.apiKey);
  if (o.maxBodyBytes !== undefined) checkInteger(o.maxBodyBytes, 'options.maxBodyBytes', 1);
  const batching = batchingOf(o);
  const metrics = o.metrics === false ? undefined : new ServeMetrics();
  const registry = new ModelRegistry();
  try {
    await loadAll(registry, o, batching, metrics);
  } catch (e) {
    await registry.release();
    throw e;
  }
  const plane = new DataPlane(registry, metrics);
  let closing: Promise<void> | undefined;
  return {
    handler: createHandler(plane, { apiKey: o.apiKey, maxBodyBytes: o.maxBodyBytes }),
    plane,
    close(graceMs = DEFAULTS.graceMs) {
      closing ??= (async () => {
        plane.drain();
        await waitAtMost(registry.idle(), graceMs);
        // Generations outlasting the grace period end here (their streams get an error event).
        await waitAtMost(registry.stopJobs(new InferenceError(503, 'The server is shutting down')), Math.min(graceMs, 1000));
        await registry.release();
      })();
      return closing;
    },
  };
}

function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.then(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}

const toBuffer = (v: string | Uint8Array): string | Buffer => (typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

/** Starts a V2 inference server; resolves once it listens. */
export async function serve(options: ServeOptions): Promise<ModelServer> {
  const o = checkObject(options, 'options') as unknown as ServeOptions;
  const port = o.port === undefined ? DEFAULTS.port : checkInteger(o.port, 'options.port', 0, 65535);
  const host = o.host ?? DEFAULTS.host;
  if (typeof host !== 'string') throw typeError('a host name or address', 'options.host', host);
  if (o.tls !== undefined) checkObject(o.tls, 'options.tls');
  const mounted = await modelHandler(o);
  const server = o.tls ? createHttpsServer({ cert: toBuffer(o.tls.cert), key: toBuffer(o.tls.key) }) : createHttpServer();
  // Keep-alive clients behind a load balancer: the idle timeout must outlive the balancer's.
  server.keepAliveTimeout = 65_000;
  server.on('request', (req, res) => mounted.handler(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await mounted.close(0);
    throw e;
  }
  let grpc: GrpcFrontEnd | undefined;
  if (o.grpcPort !== undefined) {
    try {
      const { startGrpc } = await import('./grpc.js'); // loaded only when asked for
      const tls = o.tls ? { cert: toBuffer(o.tls.cert), key: toBuffer(o.tls.key) } : undefined;
      grpc = await startGrpc(mounted.plane, { port: checkInteger(o.grpcPort, 'options.grpcPort', 0, 65535), host, apiKey: o.apiKey, maxMessageBytes: o.maxBodyBytes ?? DEFAULT_MAX_BODY, tls });
    } catch (e) {
      server.close();
      await mounted.close(0);
      throw e;
    }
  }
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    ...mounted,
    server,
    port: actual,
    url: `${o.tls ? 'https' : 'http'}://${shownHost}:${actual}`,
    grpcPort: grpc?.port,
    close(graceMs = DEFAULTS.graceMs) {
      closing ??= (async () => {
        // No new connections; requests on open ones are still answered (with Connection: close)
        // until the queues are empty, then every connection goes.
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const grpcClosed = grpc?.close(graceMs);
        await mounted.close(graceMs);
        await grpcClosed;
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
