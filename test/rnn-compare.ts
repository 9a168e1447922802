// Runs the same model and feeds in sparq and onnxruntime-node and measures how far apart the outputs
// are (shared by the recurrent-layer and npm-model tests).
import * as ort from 'onnxruntime-node';

import { InferenceSession, Tensor } from '../src/index.js';
import { relError } from './helpers.js';

export type Feed = { type: 'float32' | 'int32' | 'int64'; data: Float32Array | Int32Array | BigInt64Array; dims: number[] };

export interface Comparison {
  /** Worst relError over the outputs. */
  worst: number;
  /** Per output: dims in sparq and in ORT, and the error. */
  outputs: Record<string, { dims: readonly number[]; ortDims: readonly number[]; error: number }>;
}

/** Runs both; throws when sparq refuses the model (the caller's test then fails with the reason). */
export async function compareWithOrt(bytes: Uint8Array, feeds: Record<string, Feed>, threads = 1): Promise<Comparison> {
  const s = await InferenceSession.create(bytes, { threads });
  const o = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const entries = Object.entries(feeds);
    const a = await s.run(Object.fromEntries(entries.map(([k, f]) => [k, new Tensor(f.type, f.data as never, f.dims)])));
    const b = await o.run(Object.fromEntries(entries.map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)])));
    const outputs: Comparison['outputs'] = {};
    let worst = 0;
    for (const name of Object.keys(b)) {
      const sa = a[name];
      const error = sa && sa.dims.join() === b[name].dims.join() ? relError(sa.data as Float32Array, b[name].data as Float32Array) : Infinity;
      outputs[name] = { dims: sa?.dims ?? [], ortDims: b[name].dims, error };
      worst = Math.max(worst, error);
    }
    return { worst, outputs };
  } finally {
    await s.release();
    await o.release();
  }
}
