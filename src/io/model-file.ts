// Models from and to files: loadModel / saveModel. The Model (src/model.ts) knows no file format; this
// module picks the codec by content (.sparq signature, else ONNX) when reading and by extension when
// writing. A path is read by the native reader (native/runtime/read_file.cpp: one private copy in
// 64-byte-aligned, huge-page memory), so .sparq sections lie aligned and can be adopted in place.
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { SparqError, rethrowNative, typeError } from '../errors.js';
import { Model } from '../model.js';
import { native } from '../native.js';
import { decodeModel } from '../onnx/decode.js';
import { checkObject } from '../validate.js';
import type { OnnxExportOptions } from './export-onnx.js';
import { isSparq } from './sparq-format.js';
import { type SparqWriteOptions, decodeSparqModel, encodeSparqModel } from './sparq-model.js';

/** Reads a model file (the one copy of its bytes): SparqError ERR_IO where it can't be read. */
export function readModelFile(path: string): Uint8Array {
  if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
  try {
    return native().readFile(path);
  } catch (e) {
    rethrowNative(e);
  }
}

/** Loads an ONNX or .sparq model from a path or bytes. External-data files are read from the model's directory. */
export async function loadModel(source: string | Uint8Array, options: { baseDir?: string } = {}): Promise<Model> {
  return loadModelSync(source, options);
}

/** loadModel without the promise (for constructors that must stay synchronous). */
export function loadModelSync(source: string | Uint8Array, options: { baseDir?: string } = {}): Model {
  if (typeof source === 'string') {
    const path = resolve(source);
    return modelFromBytes(readModelFile(path), options.baseDir ?? dirname(path), true);
  }
  if (!(source instanceof Uint8Array)) throw typeError('a path or a Uint8Array of ONNX bytes', 'source', source);
  return modelFromBytes(source, options.baseDir);
}

/**
 * A Model from a file's bytes: .sparq by its signature, else ONNX. `owned`: the bytes are a private copy
 * nobody else writes (readModelFile's), so a .sparq model's constants may view them in place.
 */
export function modelFromBytes(bytes: Uint8Array, baseDir?: string, owned = false): Model {
  if (isSparq(bytes)) return decodeSparqModel(bytes, { owned });
  const d = decodeModel(bytes, { baseDir });
  return new Model(d.graph, d.metadata);
}

/**
 * Writes a model: `.sparq` → sparq's container (compact sparse / int8 weights, checksummed); anything
 * else → standard ONNX that onnxruntime runs (int8 layers as MatMulInteger or Q/DQ, pruned weights as
 * sparse initializers where smaller). Options: { compress } for .sparq, { sparseInitializers } for ONNX.
 */
export async function saveModel(model: Model, path: string, options: SparqWriteOptions & OnnxExportOptions = {}): Promise<void> {
  if (!(model instanceof Model)) throw typeError('a Model', 'model', model);
  if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
  const opts = checkObject(options, 'options');
  // The ONNX exporter (and the int8 rewriting it brings) loads on first save, not with `import('sparq')`.
  const bytes = path.toLowerCase().endsWith('.sparq') ? encodeSparqModel(model, opts) : (await import('./export-onnx.js')).exportOnnx(model, opts);
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new SparqError('ERR_IO', `Could not write the model to "${path}": ${(e as Error).message}`, { cause: e });
  }
}
