// The gRPC front end of the Open Inference Protocol (inference.GRPCInferenceService, @grpc/grpc-js) over
// the same data plane as REST: a ModelInfer request becomes the V2 request the REST handler would see
// (raw_input_contents as binary tensor data, typed contents as JSON data), and outputs go back as
// raw_output_contents. InferenceError.status maps onto gRPC status codes.
import { createHash, timingSafeEqual } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';

import type { DataPlane } from './dataplane.js';
import { InferenceError } from './errors.js';
import { inferenceProtocol } from './grpc-protocol.js';

export interface GrpcOptions {
  port: number;
  host: string;
  apiKey?: string;
  /** Largest request message in bytes. */
  maxMessageBytes: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface GrpcFrontEnd {
  server: grpc.Server;
  port: number;
  close(graceMs: number): Promise<void>;
}

/** Where each V2 datatype's values sit in InferTensorContents. */
const CONTENTS: Readonly<Record<string, string>> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents', FP32: 'fp32_contents', FP64: 'fp64_contents',
}; // FP16 has no typed field: raw_input_contents only

const STATUS: Readonly<Record<number, grpc.status>> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  404: grpc.status.NOT_FOUND,
  413: grpc.status.RESOURCE_EXHAUSTED,
  429: grpc.status.RESOURCE_EXHAUSTED,
  499: grpc.status.CANCELLED,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

function toStatus(e: unknown): Partial<grpc.ServiceError> {
  const status = e instanceof InferenceError ? e.status : 500;
  return { code: STATUS[status] ?? grpc.status.INTERNAL, details: (e as Error)?.message ?? String(e) };
}

interface InferTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: Record<string, unknown[]> | null;
}
interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  inputs: InferTensor[];
  outputs: { name: string }[];
  raw_input_contents: Buffer[];
}

/** The V2 REST request a ModelInfer message stands for, and its binary tensor data. */
function toV2(req: ModelInferRequest): { body: unknown; binary?: Uint8Array } {
  const raw = req.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== req.inputs.length)
    throw new InferenceError(400, `Expected raw_input_contents for every input (${req.inputs.length}) but received ${raw.length}`);
  const inputs = req.inputs.map((t, i) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    ...(raw.length > 0 ? { parameters: { binary_data_size: raw[i].length } } : { data: t.contents?.[CONTENTS[t.datatype] ?? ''] ?? [] }),
  }));
  const outputs = req.outputs.length > 0 ? req.outputs.map((o) => ({ name: o.name })) : undefined;
  return { body: { id: req.id || undefined, inputs, outputs, parameters: { binary_data_output: true } }, binary: raw.length > 0 ? Buffer.concat(raw) : undefined };
}

type Method = (req: never, call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<unknown>;

function service(plane: DataPlane): Record<string, Method> {
  type Req = { name: string; version: string };
  const version = (v: string) => v || undefined;
  return {
    ServerLive: async () => ({ live: plane.live() }),
    ServerReady: async () => ({ ready: plane.ready() }),
    ModelReady: async (r: Req) => ({ ready: plane.modelReady(r.name, version(r.version)) }),
    ServerMetadata: async () => plane.serverMetadata(),
    ModelMetadata: async (r: Req) => plane.modelMetadata(r.name, version(r.version)),
    ModelInfer: async (r: ModelInferRequest, call: grpc.ServerUnaryCall<unknown, unknown>) => {
      const { body, binary } = toV2(r);
      const abort = new AbortController();
      call.once('cancelled', () => abort.abort());
      const out = await plane.infer(r.model_name, version(r.model_version), body, binary, abort.signal);
      const outputs = (out.json.outputs as { name: string; datatype: string; shape: number[] }[]).map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape }));
      return { model_name: out.json.model_name, model_version: out.json.model_version, id: r.id, outputs, raw_output_contents: out.binary.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) };
    },
  };
}

/** Starts inference.GRPCInferenceService on host:port (0: a free port). */
export async function startGrpc(plane: DataPlane, options: GrpcOptions): Promise<GrpcFrontEnd> {
  const definition = (grpc.loadPackageDefinition(inferenceProtocol()).inference as grpc.GrpcObject).GRPCInferenceService as grpc.ServiceClientConstructor;
  const digest = options.apiKey !== undefined ? createHash('sha256').update(options.apiKey).digest() : undefined;
  const open = new Set(['ServerLive', 'ServerReady']); // health checks need no key, as over REST
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(service(plane))) {
    implementation[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (digest && !open.has(name)) {
        const auth = String(call.metadata.get('authorization')[0] ?? '');
        const given = /^bearer /i.test(auth) ? auth.slice(7).trim() : String(call.metadata.get('x-api-key')[0] ?? '');
        if (!timingSafeEqual(createHash('sha256').update(given).digest(), digest)) return callback(toStatus(new InferenceError(401, 'Expected a valid API key (authorization: Bearer <key>) for this server')));
      }
      fn(call.request as never, call).then(
        (r) => callback(null, r),
        (e: unknown) => callback(toStatus(e)),
      );
    };
  }
  const server = new grpc.Server({ 'grpc.max_receive_message_length': options.maxMessageBytes });
  server.addService(definition.service, implementation);
  const credentials = options.tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }]) : grpc.ServerCredentials.createInsecure();
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${options.port}`, credentials, (e, p) => (e ? reject(e) : resolve(p))));
  return {
    server,
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** A client of the service (tests, and callers without generated stubs). */
export function inferenceClient(address: string, credentials = grpc.credentials.createInsecure()): grpc.Client & Record<string, (req: unknown, meta: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void> {
  const Ctor = (grpc.loadPackageDefinition(inferenceProtocol()).inference as grpc.GrpcObject).GRPCInferenceService as grpc.ServiceClientConstructor;
  return new Ctor(address, credentials) as never;
}
