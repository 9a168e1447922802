// The model registry: every served model version, its instances (sessions) and its batching queue.
// Instances are Triton's instance groups: N sessions of one model, each computing one batch at a time
// off the event loop ('worker' execution), so N requests compute at once and the event loop stays
// free for I/O. Intra-op threads come from sparq's native pool, which a run claims when it is free
// (concurrent runs that find it taken compute on their own thread).
import { availableParallelism } from 'node:os';

import { InferenceSession } from '../session.js';
import { Model } from '../model.js';
import { loadModel } from '../io/model-file.js';
import { BatchQueue, type BatchObserver, type BatchingOptions } from './batching.js';
import type { TensorSignature } from './codecs.js';
import { type InferenceError, notFound } from './errors.js';
import { decoderOf, type DecoderInfo } from './generation.js';
import type { Tokenizer } from '../generate/generate.js';
import type { ModelSource } from './repository.js';

export interface InstanceOptions {
  /** Sessions per model version (default: one per core, at most 4). */
  instances?: number;
  /** Intra-op threads per run (default: the cores shared out among the instances; 0: the whole native pool). */
  threads?: number;
}

export interface ServedModel {
  readonly name: string;
  readonly version: string;
  readonly platform: string;
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  readonly queue: BatchQueue;
  readonly sessions: readonly InferenceSession[];
  /** Set for a decoder exported with its KV cache: the generate extension serves it. */
  readonly decoder?: DecoderInfo;
}

/** Instances per model by default: one per core (at most 4: beyond that intra-op threads pay more). */
export function defaultInstances(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * Threads per run by default: every core. A run takes sparq's native pool only while no other run holds
 * it (a second run at the same moment computes on its own thread), so a request alone gets every core and
 * concurrent ones get one each. Measured on the 2-core VM (2 instances, the 2-layer hidden-128 BERT):
 * 1 connection 556-664 req/s against 399-498 with the cores shared out (one thread a run), 16 connections
 * the same (933-1033 against 908-1034).
 */
export function defaultThreads(): number {
  return availableParallelism();
}

function signature(model: Model, which: 'inputs' | 'outputs'): TensorSignature[] {
  return model[which].map((v) => ({ name: v.name, type: v.dtype, shape: v.dims ? v.dims.map((d) => (typeof d === 'number' ? d : -1)) : null }));
}

/** Batches can be concatenated along dim 0 when every input and output has a free first dim. */
function batchable(inputs: readonly TensorSignature[], outputs: readonly TensorSignature[]): boolean {
  return [...inputs, ...outputs].every((s) => s.shape !== null && s.shape.length > 0 && s.shape[0] === -1);
}

export class ModelRegistry {
  readonly #models = new Map<string, Map<string, ServedModel>>();

  get size(): number {
    let n = 0;
    for (const v of this.#models.values()) n += v.size;
    return n;
  }

  /** Loads a model version and creates its instances. */
  async add(source: ModelSource | { name: string; version: string; model: Model; platform?: string }, options: InstanceOptions, batching: BatchingOptions, observer: (name: string) => BatchObserver, tokenizer?: Tokenizer): Promise<ServedModel> {
    const model = 'model' in source ? source.model : await loadModel(source.path);
    const decoder = decoderOf(model, tokenizer);
    const platform = 'model' in source ? (source.platform ?? 'sparq') : source.path.toLowerCase().endsWith('.sparq') ? 'sparq' : 'onnx';
    const count = options.instances ?? defaultInstances();
    const sessions: InferenceSession[] = [];
    try {
      const threads = options.threads ?? defaultThreads();
      for (let i = 0; i < count; i++) sessions.push(await InferenceSession.create(model, { threads, execution: 'worker' }));
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw e;
    }
    const inputs = signature(model, 'inputs');
    const outputs = signature(model, 'outputs');
    const queue = new BatchQueue(
      sessions.map((s) => (feeds, fetches) => s.run(feeds, fetches)),
      batching,
      batchable(inputs, outputs),
      observer(source.name),
    );
    const served: ServedModel = Object.freeze({ name: source.name, version: source.version, platform, inputs, outputs, queue, sessions, ...(decoder && { decoder }) });
    let versions = this.#models.get(source.name);
    if (!versions) this.#models.set(source.name, (versions = new Map()));
    versions.set(source.version, served);
    return served;
  }

  /** A model's version, or its newest (highest) version; 404 when there is none. */
  get(name: string, version?: string): ServedModel {
    const versions = this.#models.get(name);
    if (!versions) throw notFound(`Unknown model "${name}"`);
    if (version === undefined) return versions.get(this.versions(name).at(-1)!)!;
    const m = versions.get(version);
    if (!m) throw notFound(`Unknown version "${version}" of model "${name}" (versions: ${this.versions(name).join(', ')})`);
    return m;
  }

  has(name: string): boolean {
    return this.#models.has(name);
  }

  /** A model's versions, oldest first. */
  versions(name: string): string[] {
    return [...(this.#models.get(name)?.keys() ?? [])].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  }

  *[Symbol.iterator](): IterableIterator<ServedModel> {
    for (const v of this.#models.values()) yield* v.values();
  }

  /** Resolves once every queue is empty and nothing computes. */
  async idle(): Promise<void> {
    await Promise.all([...this].map((m) => m.queue.idle()));
  }

  /** Ends the generations still running (each after the step in flight) and resolves once they have. */
  async stopJobs(error: InferenceError): Promise<void> {
    for (const m of this) m.queue.stopJobs(error);
    await this.idle();
  }

  /** Frees the sessions (runs in flight finish first). */
  async release(): Promise<void> {
    await Promise.all([...this].flatMap((m) => m.sessions.map((s) => s.release())));
    this.#models.clear();
  }
}
