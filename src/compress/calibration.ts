// Calibration data and running a model to observe it: `calibration` is one batch of feeds
// (Record<inputName, Tensor>) or an array of them, everywhere it appears. Intermediate values (the
// inputs of the layers being compressed) are fetched by running a copy of the graph that also outputs
// them, on sparq's own InferenceSession.
import { SparqError, typeError } from '../errors.js';
import type { ValueInfo } from '../graph/ir.js';
import { Model } from '../model.js';
import { InferenceSession } from '../session.js';
import { Tensor } from '../tensor.js';

export type Feeds = Record<string, Tensor>;
export type Calibration = Feeds | readonly Feeds[];

/** Validates `calibration` against the model's inputs and returns it as a list of batches. */
export function calibrationBatches(calibration: unknown, model: Model, name = 'calibration'): Feeds[] {
  const list = Array.isArray(calibration) ? calibration : [calibration];
  if (list.length === 0) throw typeError('a batch of feeds (Record<inputName, Tensor>) or a non-empty array of them', name, calibration);
  return list.map((feeds, i) => {
    const what = Array.isArray(calibration) ? `${name}[${i}]` : name;
    if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds)) throw typeError('a Record<inputName, Tensor>', what, feeds);
    for (const input of model.inputs) {
      const t = (feeds as Feeds)[input.name];
      if (!(t instanceof Tensor)) throw typeError(`a Tensor for the model input "${input.name}"`, `${what}.${input.name}`, t);
    }
    return feeds as Feeds;
  });
}

/** Rows of a batch of activations [..., K] as a matrix [M, K]. */
export function asMatrix(t: Tensor): { data: Float32Array; M: number; K: number } {
  if (t.type !== 'float32' || t.dims.length < 1) throw new SparqError('ERR_INVALID_DATA', `Expected a float32 activation but received a ${t.type} tensor of dims [${t.dims.join(', ')}]`);
  const K = t.dims[t.dims.length - 1];
  return { data: t.data as Float32Array, M: K === 0 ? 0 : t.size / K, K };
}

/** The model with `values` added to its outputs (graph outputs first, in order). */
export function withOutputs(model: Model, values: readonly string[]): Model {
  const have = new Set(model.outputs.map((o) => o.name));
  const extra: ValueInfo[] = [];
  for (const v of values) {
    if (have.has(v)) continue;
    have.add(v);
    const info = model.valueInfo(v);
    extra.push({ name: v, dtype: (info?.dtype ?? 'float32') as ValueInfo['dtype'], dims: info ? [...info.dims] : null });
  }
  if (extra.length === 0) return model;
  return Model.fromGraph({ ...model.graph, outputs: [...model.outputs, ...extra] }, { metadata: { ...model.metadata }, weightFormats: model.weightFormats });
}

/**
 * Runs the model on every batch and hands each batch's outputs (plus the requested intermediate values)
 * to `visit`, one batch at a time so activations of big calibration sets are never all held at once.
 */
export async function observe(model: Model, batches: readonly Feeds[], values: readonly string[], visit: (out: Record<string, Tensor>, batch: number) => void | Promise<void>, options: { threads?: number; signal?: AbortSignal } = {}): Promise<void> {
  const session = await InferenceSession.create(withOutputs(model, values), { threads: options.threads });
  try {
    for (let i = 0; i < batches.length; i++) {
      if (options.signal?.aborted) throw new SparqError('ERR_ABORTED', 'The operation was aborted');
      const feeds: Feeds = {};
      for (const input of model.inputs) feeds[input.name] = batches[i][input.name];
      await visit(await session.run(feeds), i);
    }
  } finally {
    await session.release();
  }
}

/** The model's outputs on every batch. */
export async function outputsOf(model: Model, batches: readonly Feeds[], options: { threads?: number; signal?: AbortSignal } = {}): Promise<Record<string, Tensor>[]> {
  const all: Record<string, Tensor>[] = [];
  await observe(model, batches, [], (out) => {
    const o: Record<string, Tensor> = {};
    for (const v of model.outputs) o[v.name] = out[v.name];
    all.push(o);
  }, options);
  return all;
}
