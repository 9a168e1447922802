// The data plane, as MLServer's handlers/dataplane.py: health, metadata and inference with no
// transport in sight. The REST front end (http.ts) and any other (gRPC) call these and map
// InferenceError.status onto their own codes.
import { backend } from '../backend.js';
import { InferenceError } from './errors.js';
import { V2_DATATYPE, decodeInferRequest, encodeInferResponse, type EncodedResponse, type TensorSignature } from './codecs.js';
import type { ServeMetrics } from './metrics.js';
import type { ModelRegistry } from './registry.js';

/** The protocol extensions this server speaks (GET /v2). */
export const EXTENSIONS = ['binary_tensor_data'];

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

const describe = (s: TensorSignature) => ({ name: s.name, datatype: V2_DATATYPE[s.type], shape: s.shape ? [...s.shape] : [-1] });

export class DataPlane {
  readonly registry: ModelRegistry;
  readonly metrics: ServeMetrics | undefined;
  #draining = false;

  constructor(registry: ModelRegistry, metrics?: ServeMetrics) {
    this.registry = registry;
    this.metrics = metrics;
  }

  live(): boolean {
    return true;
  }

  /** Ready while serving at least one model and not shutting down. */
  ready(): boolean {
    return !this.#draining && this.registry.size > 0;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Readiness turns false (the load balancer stops sending); requests already accepted still finish. */
  drain(): void {
    this.#draining = true;
  }

  serverMetadata(): { name: string; version: string; extensions: string[] } {
    return { name: 'sparq', version: backend().version, extensions: [...EXTENSIONS] };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const m = this.registry.get(name, version);
    return { name: m.name, versions: this.registry.versions(name), platform: m.platform, inputs: m.inputs.map(describe), outputs: m.outputs.map(describe) };
  }

  /** Whether a model version can take requests (404 for an unknown one). */
  modelReady(name: string, version?: string): boolean {
    this.registry.get(name, version);
    return !this.#draining;
  }

  /**
   * One inference: `body` is the parsed V2 request JSON, `binary` the bytes after it (binary tensor
   * data extension). `signal` aborts a request still waiting (its client went away).
   */
  async infer(name: string, version: string | undefined, body: unknown, binary?: Uint8Array, signal?: AbortSignal): Promise<EncodedResponse> {
    const m = this.registry.get(name, version);
    const request = decodeInferRequest(body, binary, m.inputs, m.outputs);
    const gauge = this.metrics?.inFlight;
    gauge?.inc({ model: m.name });
    try {
      const results = await m.queue.submit(request.inputs, signal);
      return encodeInferResponse(m.name, m.version, request.id, request.outputs, results);
    } catch (e) {
      if (e instanceof InferenceError) throw e;
      // The request was checked against the model's signature: what the session still refuses (a dim
      // the graph cannot take, a value out of range) is the request's fault, anything else the server's.
      const err = e as Error & { code?: string };
      const bad = err instanceof TypeError || err instanceof RangeError || ['ERR_SHAPE_MISMATCH', 'ERR_INVALID_ARGUMENT', 'ERR_INDEX_OUT_OF_RANGE', 'ERR_INVALID_DATA'].includes(err.code ?? '');
      throw new InferenceError(bad ? 400 : 500, err.message, { cause: e });
    } finally {
      gauge?.dec({ model: m.name });
    }
  }
}
