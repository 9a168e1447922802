// The V2 gRPC API (inference.GRPCInferenceService) beside REST: health, metadata, ModelInfer with raw
// and typed contents (raw float32 bit for bit), status codes, API key.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { serve, type ModelServer } from '../src/serve/index.js';
import { inferenceClient } from '../src/serve/grpc.js';
import { makeRepository } from './serve-helpers.js';

const repo = makeRepository();
let server: ModelServer;
let client: ReturnType<typeof inferenceClient>;

function rpc(method: string, request: unknown, meta = new Metadata()): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => client[method](request, meta, (e, r) => (e ? reject(e) : resolve(r as Record<string, unknown>))));
}
const code = (p: Promise<unknown>) => p.then(() => status.OK, (e: ServiceError) => e.code);

beforeAll(async () => {
  server = await serve({ models: repo, port: 0, grpcPort: 0, instances: 1, apiKey: 'k' });
  client = inferenceClient(`127.0.0.1:${server.grpcPort}`);
});
afterAll(async () => {
  client?.close();
  await server?.close();
});

const auth = () => {
  const m = new Metadata();
  m.set('authorization', 'Bearer k');
  return m;
};

describe('gRPC', () => {
  it('answers health without a key, metadata and inference with it', async () => {
    expect(await rpc('ServerLive', {})).toEqual({ live: true });
    expect(await rpc('ServerReady', {})).toEqual({ ready: true });
    expect(await code(rpc('ServerMetadata', {}))).toBe(status.UNAUTHENTICATED);
    expect(await rpc('ServerMetadata', {}, auth())).toMatchObject({ name: 'sparq', extensions: ['binary_tensor_data'] });
    expect(await rpc('ModelReady', { name: 'mlp', version: '1' }, auth())).toEqual({ ready: true });
    const meta = await rpc('ModelMetadata', { name: 'mlp' }, auth());
    expect(meta).toMatchObject({ name: 'mlp', versions: ['1', '2'], platform: 'onnx', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 8] }] });
    expect(await code(rpc('ModelMetadata', { name: 'nope' }, auth()))).toBe(status.NOT_FOUND);
  });

  it('ModelInfer: raw contents round-trip float32 bit for bit; typed contents give what REST gives', async () => {
    const bits = Uint32Array.of(0x7fc00001, 0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x3f800000, 0x12345678, 0xdeadbeef);
    const raw = Buffer.from(bits.buffer);
    const r = await rpc('ModelInfer', { model_name: 'identity', id: 'g1', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [raw] }, auth());
    expect(r).toMatchObject({ model_name: 'identity', id: 'g1', outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 4] }] });
    expect(Buffer.compare((r.raw_output_contents as Buffer[])[0], raw)).toBe(0);

    const x = Array.from({ length: 8 }, (_, i) => Math.cos(i));
    const g = await rpc('ModelInfer', { model_name: 'mlp', model_version: '1', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], contents: { fp32_contents: x } }] }, auth());
    const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: x }] });
    const rest = (await (await fetch(`${server.url}/v2/models/mlp/versions/1/infer`, { method: 'POST', headers: { authorization: 'Bearer k' }, body })).json()) as { outputs: { data: number[] }[] };
    const out = (g.raw_output_contents as Buffer[])[0];
    expect(Array.from(new Float32Array(Uint8Array.from(out).buffer))).toEqual(rest.outputs[0].data);
  });

  it('maps errors onto gRPC status codes', async () => {
    const infer = (req: unknown) => code(rpc('ModelInfer', req, auth()));
    expect(await infer({ model_name: 'nope', inputs: [] })).toBe(status.NOT_FOUND);
    expect(await infer({ model_name: 'mlp', inputs: [{ name: 'input', datatype: 'INT64', shape: [1, 8], contents: { int64_contents: [1, 2, 3, 4, 5, 6, 7, 8] } }] })).toBe(status.INVALID_ARGUMENT);
    expect(await infer({ model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], contents: { fp32_contents: [1, 2] } }] })).toBe(status.INVALID_ARGUMENT);
    expect(await infer({ model_name: 'identity', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [Buffer.alloc(31)] })).toBe(status.INVALID_ARGUMENT);
    expect(await infer({ model_name: 'identity', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4] }, { name: 'z', datatype: 'FP32', shape: [1] }], raw_input_contents: [Buffer.alloc(32)] })).toBe(status.INVALID_ARGUMENT);
  });
});
