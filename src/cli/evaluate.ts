// Accuracy and output drift of a model on a labelled data set, shared by `sparq eval` and the demo.
import type { Model } from '../model.js';
import { InferenceSession } from '../session.js';
import { Tensor } from '../tensor.js';

export interface EvalData {
  /** One input tensor per model input; the first dim is the example dim. */
  inputs: Record<string, Tensor>;
  /** Class ids, one per example. */
  labels?: Int32Array;
}

export interface EvalResult {
  examples: number;
  accuracy?: number;
  /** Against a reference model's first output: cosine similarity (mean over examples) and max abs error. */
  drift?: { cosine: number; maxAbsError: number };
}

function sliceRows(t: Tensor, start: number, end: number): Tensor {
  const row = t.size / t.dims[0];
  return new Tensor(t.type, t.data.subarray(start * row, end * row) as never, [end - start, ...t.dims.slice(1)]);
}

export interface BatchOutputs {
  /** The first output of each batch, rows concatenated per chunk. */
  chunks: Float32Array[];
  /** Values per example (e.g. the number of classes). */
  rowLength: number;
}

/** Runs `model` over `data` in batches; the first output is the logits (or the compared output). */
export async function runBatches(model: Model | string | Uint8Array, data: EvalData, batch = 256, threads?: number): Promise<BatchOutputs> {
  const session = await InferenceSession.create(model, { threads });
  try {
    const n = Object.values(data.inputs)[0].dims[0];
    const chunks: Float32Array[] = [];
    let rowLength = 0;
    for (let i = 0; i < n; i += batch) {
      const end = Math.min(n, i + batch);
      const feeds = Object.fromEntries(Object.entries(data.inputs).map(([k, t]) => [k, sliceRows(t, i, end)]));
      const result = await session.run(feeds);
      const first = result[session.outputNames[0]];
      rowLength = first.size / (end - i);
      chunks.push(first.data as Float32Array);
    }
    return { chunks, rowLength };
  } finally {
    await session.release();
  }
}

export function accuracyOf({ chunks, rowLength: classes }: BatchOutputs, labels: Int32Array): number {
  let correct = 0;
  let row = 0;
  for (const chunk of chunks) {
    for (let r = 0; r < chunk.length / classes; r++, row++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (chunk[r * classes + c] > chunk[r * classes + best]) best = c;
      if (best === labels[row]) correct++;
    }
  }
  return correct / labels.length;
}

export function driftOf(got: BatchOutputs, want: BatchOutputs): { cosine: number; maxAbsError: number } {
  let maxAbs = 0;
  let cosSum = 0;
  let rows = 0;
  const rowLength = got.rowLength;
  for (let b = 0; b < got.chunks.length; b++) {
    const g = got.chunks[b];
    const w = want.chunks[b];
    for (let r = 0; r * rowLength < g.length; r++, rows++) {
      let dot = 0;
      let ng = 0;
      let nw = 0;
      for (let j = r * rowLength; j < (r + 1) * rowLength; j++) {
        dot += g[j] * w[j];
        ng += g[j] * g[j];
        nw += w[j] * w[j];
        maxAbs = Math.max(maxAbs, Math.abs(g[j] - w[j]));
      }
      cosSum += ng === 0 && nw === 0 ? 1 : dot / Math.sqrt(ng * nw || 1);
    }
  }
  return { cosine: rows ? cosSum / rows : 1, maxAbsError: maxAbs };
}

export async function evaluate(model: Model | string | Uint8Array, data: EvalData, reference?: Model | string | Uint8Array, threads?: number): Promise<EvalResult> {
  const logits = await runBatches(model, data, 256, threads);
  const examples = Object.values(data.inputs)[0].dims[0];
  const result: EvalResult = { examples };
  if (data.labels) result.accuracy = accuracyOf(logits, data.labels);
  if (reference !== undefined) {
    const ref = await runBatches(reference, data, 256, threads);
    result.drift = driftOf(logits, ref);
  }
  return result;
}
