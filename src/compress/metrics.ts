// How far a compressed model's outputs are from the original's: cosine similarity and max abs error
// over all outputs of all calibration batches, and accuracy (argmax over the last dim vs class labels).
import { rangeError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export interface Drift {
  /** Cosine similarity of all outputs, flattened (1 = same direction). */
  cosine: number;
  maxAbsError: number;
  /** max |a − b| / max |a|: the error relative to the outputs' scale. */
  relativeError: number;
}

export function outputDrift(reference: readonly Record<string, Tensor>[], other: readonly Record<string, Tensor>[]): Drift {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxAbs = 0;
  let maxRef = 0;
  reference.forEach((ref, i) => {
    for (const [name, a] of Object.entries(ref)) {
      const b = other[i]?.[name];
      if (!b || b.size !== a.size) throw rangeError(`an output "${name}" of ${a.size} values`, `outputs[${i}]`, b);
      const x = a.data as Float32Array;
      const y = b.data as Float32Array;
      for (let j = 0; j < x.length; j++) {
        dot += x[j] * y[j];
        na += x[j] * x[j];
        nb += y[j] * y[j];
        const e = Math.abs(x[j] - y[j]);
        if (e > maxAbs || Number.isNaN(e)) maxAbs = Number.isNaN(e) ? Infinity : e;
        if (Math.abs(x[j]) > maxRef) maxRef = Math.abs(x[j]);
      }
    }
  });
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  return { cosine, maxAbsError: maxAbs, relativeError: maxRef === 0 ? maxAbs : maxAbs / maxRef };
}

/** Share of rows whose argmax over the last dim equals the label. */
export function accuracy(logits: Tensor, labels: Tensor): number {
  const C = logits.dims[logits.dims.length - 1];
  const rows = logits.size / C;
  if (labels.size !== rows) throw rangeError(`${rows} labels (one per row of the output)`, 'labels', labels.size);
  const x = logits.data as Float32Array;
  let right = 0;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (x[r * C + c] > x[r * C + best]) best = c;
    if (best === Number(labels.data[r])) right++;
  }
  return rows === 0 ? 0 : right / rows;
}
