// Models from and to files: loadModel / saveModel. The Model (src/model.ts) knows no file format; this
// module picks the codec by content (.sparq signature, else ONNX) when reading and by extension when
// writing. A path is read by the native reader (native/runtime/read_file.cpp: one private, page-aligned
// copy), so .sparq sections lie aligned and can be viewed in place; an encrypted one is mapped and
// decrypted into a buffer of its own (openProtectedModel). Sessions map files (io/session-source.ts).
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { SparqError, rethrowNative, typeError } from '../errors.js';
import { Model } from '../model.js';
import { native } from '../native.js';
import { decodeModel } from '../onnx/decode.js';
import { checkObject } from '../validate.js';
import type { OnnxExportOptions } from './export-onnx.js';
import { defaultProtection } from './crypto/defaults.js';
import { type OpenOptions, type ProtectOptions, openProtected, unsignedFormat, writeProtected } from './crypto/secure.js';
import { decryptedInto } from './crypto/unseal.js';
import { isSparq } from './sparq-format.js';
import { type SparqWriteOptions, decodeSparqModel, decodeSparqSections, encodeSparqModel, sparqModelSections } from './sparq-model.js';

export interface LoadOptions extends OpenOptions {
  /** Where an ONNX model's external-data files are (default: the model's directory). */
  baseDir?: string;
}

const privateFileBuffers = new WeakSet<ArrayBufferLike>();

/** Reads a model file (the one copy of its bytes): SparqError ERR_IO where it can't be read. */
export function readModelFile(path: string): Uint8Array {
  if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
  try {
    const bytes = native().readFile(path);
    privateFileBuffers.add(bytes.buffer);
    return bytes;
  } catch (e) {
    rethrowNative(e);
  }
}

/** Whether `buffer` holds a file readModelFile read: private, and written by nobody (a Model views it). */
export function isPrivateFileBuffer(buffer: ArrayBufferLike): boolean {
  return privateFileBuffers.has(buffer);
}

/**
 * Maps a model file read-only in effect (MAP_PRIVATE, nothing writes it): the page cache in place, no
 * copy. Whoever maps keeps no view into it once done (a file truncated under a mapping faults the next
 * read past its new end). SparqError ERR_IO where it can't be mapped.
 */
export function mapModelFile(path: string): Uint8Array {
  try {
    return native().mapFile(path);
  } catch (e) {
    rethrowNative(e);
  }
}

/**
 * Loads a model from a path or bytes (.onnx or .sparq). External-data files are read from the model's
 * directory. An encrypted .sparq needs { key } (ERR_KEY_REQUIRED without, ERR_DECRYPT for a wrong key or
 * a changed byte); { verify: publicKey | publicKey[] } refuses a file not signed by one of them
 * (ERR_SIGNATURE).
 */
export async function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Promise<Model> {
  const opts = checkObject(options, 'options') as LoadOptions;
  const protection = protectionOf(opts);
  if (protection.key === undefined && protection.verify === undefined) return loadModelSync(source, opts);
  return (await openProtectedModel(source, protection))?.model ?? loadModelSync(source, opts);
}

/** The options' key and verify, else the CLI's defaults (crypto/defaults.ts). */
export function protectionOf(options: OpenOptions): OpenOptions {
  return { key: options.key ?? defaultProtection().key, verify: options.verify ?? defaultProtection().verify };
}

/**
 * A .sparq model opened with a key or keys to verify: the signature checked and every section decrypted
 * before the Model exists. A path is read here (`file`: that private copy, decrypted in place, which the
 * model's constants and packed weights view); a caller's bytes are never written. null: an ONNX model
 * and no verify (ONNX has nothing to decrypt; the caller reads it as usual).
 */
export async function openProtectedModel(source: string | Uint8Array, options: OpenOptions): Promise<{ model: Model; file?: Uint8Array } | null> {
  if (typeof source !== 'string' && !(source instanceof Uint8Array)) throw typeError('a path or a Uint8Array of ONNX bytes', 'source', source);
  const path = typeof source === 'string' ? resolve(source) : undefined;
  if (!isSparq(path === undefined ? (source as Uint8Array) : firstBytes(path))) {
    if (options.verify !== undefined) throw unsignedFormat('An ONNX model');
    return null;
  }
  // With a key, a path is mapped and its sections decrypt from the page cache straight into a buffer of
  // their own (one pass; reading a private copy to decrypt it in place was two): that buffer is then
  // the file the caller owns. Without one (a signed file to verify), the file is read (a private copy).
  const mapped = path !== undefined && options.key !== undefined && process.platform !== 'win32';
  let bytes = path === undefined ? (source as Uint8Array) : mapped ? mapModelFile(path) : readModelFile(path);
  let sections = await openProtected(bytes, options, 'options', path !== undefined && !mapped);
  const decrypted = mapped ? decryptedInto(sections) : undefined;
  if (mapped) {
    native().discardPages(bytes);
    // A plain .sparq opened with a key: nothing decrypted, its sections view the mapping (a Model's
    // packed weights would keep views into it). It is read as a private copy after all, as without a key.
    if (!decrypted) sections = await openProtected((bytes = readModelFile(path as string)), options, 'options', true);
  }
  // A file read or decrypted here is owned here: constants view its buffer.
  const file = decrypted ?? (path !== undefined ? bytes : undefined);
  return { model: decodeSparqSections(sections, file !== undefined), file };
}

/** The first 8 bytes of a file (fewer if it is shorter): enough to tell a .sparq from ONNX. */
export function firstBytes(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SparqError('ERR_IO', `Could not read the model file "${path}": ${(e as Error).message}`, { cause: e });
  }
  try {
    const head = new Uint8Array(8);
    return head.subarray(0, readSync(fd, head, 0, 8, 0));
  } catch (e) {
    throw new SparqError('ERR_IO', `Could not read the model file "${path}": ${(e as Error).message}`, { cause: e });
  } finally {
    closeSync(fd);
  }
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
export async function saveModel(model: Model, path: string, options: SparqWriteOptions & OnnxExportOptions & ProtectOptions = {}): Promise<void> {
  if (!(model instanceof Model)) throw typeError('a Model', 'model', model);
  if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
  const opts = checkObject(options, 'options') as SparqWriteOptions & OnnxExportOptions & ProtectOptions;
  const sparq = path.toLowerCase().endsWith('.sparq');
  const protect = opts.key !== undefined || opts.sign !== undefined;
  if (protect && !sparq) throw typeError('a .sparq path (only .sparq files are encrypted or signed)', 'path', path);
  // Encryption and signing load node:crypto (crypto/secure.ts), and the ONNX exporter (with the int8
  // rewriting it brings) loads on first save: only for the files that use them, not with `import('sparq')`.
  const bytes = protect
    ? await writeProtected(sparqModelSections(model, opts), opts)
    : sparq
      ? encodeSparqModel(model, opts)
      : (await import('./export-onnx.js')).exportOnnx(model, opts);
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new SparqError('ERR_IO', `Could not write the model to "${path}": ${(e as Error).message}`, { cause: e });
  }
}
