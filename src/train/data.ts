// Training data: validation (before the first step) and minibatches. Data is either an in-memory
// dataset { inputs, labels } or an async iterable of such batches.
import { SparqError, typeError } from '../errors.js';
import type { Tensor } from '../tensor.js';

/** A batch or a whole dataset: inputs [rows, features]; labels [rows] class ids or [rows, outputs] targets. */
export interface Batch {
  inputs: Tensor;
  labels?: Tensor;
}
export type TrainData = Batch | AsyncIterable<Batch>;

/** Validated rows: float32 inputs, class ids and/or float targets. */
export interface Rows {
  rows: number;
  x: Float32Array;
  /** Class ids in [0, outputs), when the labels are integers. */
  classes: Int32Array | null;
  /** Float targets [rows, outputs], when the labels are floats. */
  targets: Float32Array | null;
  /** Distillation: the teacher's logits [rows, outputs]. */
  teacher?: Float32Array | null;
}

function invalidData(message: string): SparqError {
  return new SparqError('ERR_INVALID_DATA', message);
}

function isTensorLike(v: unknown): v is Tensor {
  return v !== null && typeof v === 'object' && 'type' in v && 'data' in v && 'dims' in v && ArrayBuffer.isView((v as Tensor).data);
}

export function isAsyncIterable(v: unknown): v is AsyncIterable<Batch> {
  return v !== null && typeof v === 'object' && typeof (v as AsyncIterable<Batch>)[Symbol.asyncIterator] === 'function';
}

/**
 * Checks a batch against the model (features, outputs) and normalises it. Every problem is reported with
 * where it is: NaN/∞ inputs, labels out of range, row counts that disagree, shapes that do not fit.
 */
export function checkBatch(batch: unknown, name: string, features: number, outputs: number, labelsRequired: boolean): Rows {
  if (batch === null || typeof batch !== 'object') throw typeError('an object { inputs: Tensor, labels?: Tensor }', name, batch);
  const { inputs, labels } = batch as Batch;
  if (!isTensorLike(inputs)) throw typeError('a Tensor', `${name}.inputs`, inputs);
  if (inputs.type !== 'float32' || !(inputs.data instanceof Float32Array)) throw typeError('a float32 Tensor', `${name}.inputs`, inputs.type);
  const dims = inputs.dims;
  const rows = dims.length === 0 ? 0 : dims[0];
  if (rows === 0 || inputs.data.length !== rows * features)
    throw new SparqError('ERR_SHAPE_MISMATCH', `${name}.inputs has dims [${dims.join(', ')}]; the model takes rows of ${features} features ([rows, ${features}])`);
  const x = inputs.data;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      const r = Math.floor(i / features);
      throw invalidData(`${name}.inputs holds ${x[i]} at row ${r}, feature ${i - r * features}: training needs finite inputs`);
    }
  }
  if (labels === undefined || labels === null) {
    if (labelsRequired) throw invalidData(`${name}.labels is missing: train() needs class ids (int32/int64) or float targets`);
    return { rows, x, classes: null, targets: null };
  }
  if (!isTensorLike(labels)) throw typeError('a Tensor', `${name}.labels`, labels);
  const ldims = labels.dims;
  const lrows = ldims.length === 0 ? 1 : ldims[0];
  if (lrows !== rows) throw invalidData(`${name} has ${rows} input rows but ${lrows} labels: their lengths must match`);
  if (labels.type === 'int32' || labels.type === 'int64') {
    if (labels.data.length !== rows) throw invalidData(`${name}.labels has dims [${ldims.join(', ')}]; class ids need one per row ([${rows}])`);
    const classes = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const v = Number(labels.data[i]);
      if (!Number.isInteger(v) || v < 0 || v >= outputs) throw invalidData(`${name}.labels[${i}] is ${v}: class ids must lie in [0, ${outputs - 1}] for a model with ${outputs} outputs`);
      classes[i] = v;
    }
    return { rows, x, classes, targets: null };
  }
  if (labels.type === 'float32') {
    if (labels.data.length !== rows * outputs) throw invalidData(`${name}.labels has dims [${ldims.join(', ')}]; float targets need [${rows}, ${outputs}]`);
    const t = labels.data as Float32Array;
    for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i])) throw invalidData(`${name}.labels holds ${t[i]} at row ${Math.floor(i / outputs)}: targets must be finite`);
    return { rows, x, classes: null, targets: t };
  }
  throw typeError('an int32, int64 or float32 Tensor', `${name}.labels`, labels.type);
}

/** Copies the selected rows into batch buffers (typed-array copies per row: memcpy, not per element). */
export function gather(src: Rows, order: Int32Array, start: number, count: number, features: number, outputs: number): Rows {
  const x = new Float32Array(count * features);
  const classes = src.classes ? new Int32Array(count) : null;
  const targets = src.targets ? new Float32Array(count * outputs) : null;
  const teacher = src.teacher ? new Float32Array(count * outputs) : null;
  for (let i = 0; i < count; i++) {
    const r = order[start + i];
    x.set(src.x.subarray(r * features, (r + 1) * features), i * features);
    if (classes) classes[i] = (src.classes as Int32Array)[r];
    if (targets) targets.set((src.targets as Float32Array).subarray(r * outputs, (r + 1) * outputs), i * outputs);
    if (teacher) teacher.set((src.teacher as Float32Array).subarray(r * outputs, (r + 1) * outputs), i * outputs);
  }
  return { rows: count, x, classes, targets, teacher };
}

/** One-hot float targets from class ids (MSE on class labels). */
export function oneHot(classes: Int32Array, outputs: number): Float32Array {
  const t = new Float32Array(classes.length * outputs);
  for (let i = 0; i < classes.length; i++) t[i * outputs + classes[i]] = 1;
  return t;
}
