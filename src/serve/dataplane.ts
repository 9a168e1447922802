// The data plane, as MLServer's handlers/dataplane.py: health, metadata and inference with no
// transport in sight. The REST front end (http.ts) and any other (gRPC) call these and map
// InferenceError.status onto their own codes.
import { backend } from '../backend.js';
import { InferenceError } from './errors.js';
import { V2_DATATYPE, decodeInferRequest, encodeInferResponse, type EncodedResponse, type TensorSignature } from './codecs.js';
import { type GenerateDelta, type GenerateOutcome, decodeGenerateRequest, runGeneration } from './generation.js';
import type { ServeMetrics } from './metrics.js';
import type { ModelRegistry } from './registry.js';

/** The protocol extensions this server speaks (GET /v2); 'generate' too while it serves a decoder. */
export const EXTENSIONS = ['binary_tensor_data'];
export const GENERATE_EXTENSION = 'generate';

export interface GenerateResponse extends GenerateOutcome {
  model_name: string;
  model_version: string;
  id?: string;
}

/** An event of the generate stream: a step's tokens, with the model's name, version and the request's id. */
export type GenerateEvent = GenerateDelta & Omit<GenerateResponse, keyof GenerateOutcome>;

/** What the session still refuses in a request checked against the model's signature (a dim the graph cannot take, a value out of range) is the request's fault (400), anything else the server's (500). */
function asInferenceError(e: unknown): InferenceError {
  if (e instanceof InferenceError) return e;
  const err = e as Error & { code?: string };
  const bad = err instanceof TypeError || err instanceof RangeError || ['ERR_SHAPE_MISMATCH', 'ERR_INVALID_ARGUMENT', 'ERR_INDEX_OUT_OF_RANGE', 'ERR_INVALID_DATA'].includes(err.code ?? '');
  return new InferenceError(bad ? 400 : 500, err.message, { cause: e });
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
  /** ['generate'] for a decoder with a KV cache (POST .../generate and .../generate_stream). */
  extensions?: string[];
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
    const generate = [...this.registry].some((m) => m.decoder);
    return { name: 'sparq', version: backend().version, extensions: generate ? [...EXTENSIONS, GENERATE_EXTENSION] : [...EXTENSIONS] };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const m = this.registry.get(name, version);
    const meta: ModelMetadata = { name: m.name, versions: this.registry.versions(name), platform: m.platform, inputs: m.inputs.map(describe), outputs: m.outputs.map(describe) };
    if (m.decoder) meta.extensions = [GENERATE_EXTENSION];
    return meta;
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
      // Only the outputs asked for are returned (the others' buffers are the session's to reuse).
      const results = await m.queue.submit(request.inputs, signal, request.outputs.map((o) => o.name));
      return encodeInferResponse(m.name, m.version, request.id, request.outputs, results);
    } catch (e) {
      throw asInferenceError(e);
    } finally {
      gauge?.dec({ model: m.name });
    }
  }

  /**
   * One generation (the generate extension): `body` is the parsed request JSON (input_ids or text_input,
   * parameters). It waits in the model's queue like a request, then holds one instance until its last
   * token; `onEvent` receives each step (streaming). `signal` aborts it, waiting or generating (its
   * client went away), which frees the instance after the step in flight.
   */
  async generate(name: string, version: string | undefined, body: unknown, options: { signal?: AbortSignal; onEvent?: (event: GenerateEvent) => void } = {}): Promise<GenerateResponse> {
    const m = this.registry.get(name, version);
    const decoder = m.decoder;
    if (!decoder)
      throw new InferenceError(400, `Model "${m.name}" is not a decoder with a KV cache (inputs input_ids, attention_mask, position_ids and past_key_values.N.key/value or past_key_N/past_value_N, with the matching present outputs): the generate extension cannot serve it; use .../infer`);
    const request = await decodeGenerateRequest(body, m.name, decoder);
    const head = { model_name: m.name, model_version: m.version, ...(request.id !== undefined && { id: request.id }) };
    const metrics = this.metrics;
    const arrived = performance.now();
    metrics?.inFlight.inc({ model: m.name });
    try {
      const outcome = await m.queue.exclusive(async (instance, signal) => {
        const queuedMs = performance.now() - arrived;
        metrics?.queueSeconds.observe({ model: m.name }, queuedMs / 1000);
        return runGeneration(m.sessions[instance], request, decoder, {
          signal,
          queuedMs,
          onTokens: metrics && ((n) => metrics.generatedTokens.inc({ model: m.name }, n)),
          onStep: options.onEvent && ((delta) => options.onEvent!({ ...head, ...delta })),
        });
      }, options.signal);
      return { ...head, ...outcome };
    } catch (e) {
      throw asInferenceError(e);
    } finally {
      metrics?.inFlight.dec({ model: m.name });
    }
  }
}
