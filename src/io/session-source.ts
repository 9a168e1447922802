// What InferenceSession.create needs from files: the Model for a path, bytes or Model, and — for a
// session that read the model file itself — a releaser that hands a weight's pages in that file back
// to the OS once the weight is packed, so the session's weights cost about the file's bytes once.
//
// How a path is read. The file is mapped (native mapFile: the page cache in place, no copy, no fresh
// memory): its weights are packed (ONNX) or unpacked (.sparq) into the kernels' own memory and every other
// constant the session keeps is copied out (keptGraph, and a .sparq's constants as they are decoded), so
// no view into the mapping outlives create() and a file replaced, rewritten or truncated afterwards cannot
// reach the session. (A truncation in the middle of create() could still fault it with SIGBUS: the one
// window, the cost of not copying the file; onnxruntime maps external data the same way.) For the 90%
// block + int8 encoder .sparq (8.8 MB, 4.8 MB of it constants) mapping instead of reading a private copy
// took create from 30 to 27 ms (median of 15, Zen 4): the packed sections are never copied whole, and
// no fresh page is faulted in for them. loadModel(path) still reads a private copy: the Model it returns
// views it for as long as the caller keeps it.
import { dirname, resolve } from 'node:path';

import { typeError } from '../errors.js';
import { isPackedWeightInput } from '../graph/packed-inputs.js';
import { allNodes } from '../graph/subgraphs.js';
import { type Attribute, type ConstTensor, type Graph, type Node, type TypedData, LazyTensor } from '../graph/ir.js';
import { Model } from '../model.js';
import { native } from '../native.js';
import { isPrivateFileBuffer, loadModelSync, mapModelFile, modelFromBytes, openProtectedModel, protectionOf, readModelFile } from './model-file.js';
import type { OpenOptions } from './crypto/secure.js';
import { prepackedOf } from './prepacked.js';

/** A model file the session read itself: nobody else sees these bytes. */
export interface SessionFile {
  bytes: Uint8Array;
  /** Mapped: nothing the session keeps may view it. Else a private copy (Windows; a decrypted .sparq file). */
  mapped: boolean;
}

export interface SessionSource {
  model: Model;
  file?: SessionFile;
}

/** The Model a session is created from (a path is read once, natively; see model-file.ts). */
export function sessionSource(source: string | Uint8Array | Model): SessionSource {
  if (source instanceof Model) return { model: source };
  if (source instanceof Uint8Array) return { model: loadModelSync(source) };
  if (typeof source !== 'string') throw typeError('a path, a Uint8Array of ONNX bytes or a Model', 'source', source);
  const path = resolve(source);
  // (Windows: no native mapping; the file is read.)
  const mapped = process.platform !== 'win32';
  const bytes = mapped ? mapModelFile(path) : readModelFile(path);
  return { model: modelFromBytes(bytes, dirname(path), !mapped), file: { bytes, mapped } };
}

/**
 * The same for a session given a key or keys to verify (options, else the CLI's defaults): a .sparq file
 * decrypted and verified whole before the Model exists, in place where the session read the file itself
 * (then the session keeps that buffer as a file of its own, as for a plain .sparq file).
 */
export async function protectedSessionSource(source: string | Uint8Array, options: OpenOptions): Promise<SessionSource> {
  const opened = await openProtectedModel(source, protectionOf(options));
  if (!opened) return sessionSource(source);
  return { model: opened.model, file: opened.file && { bytes: opened.file, mapped: false } };
}

const HUGE = 2 << 20;

const viewsFile = (v: ArrayBufferView | undefined, file: Uint8Array) => v !== undefined && v.buffer === file.buffer;

/** A constant's own copy of its data, where it views the file (the data of a raw-backed tensor is a copy already). */
function detached(t: ConstTensor, file: Uint8Array): ConstTensor {
  if (!(viewsFile(t.raw, file) || viewsFile(t.data, file))) return t;
  const data = viewsFile(t.data, file) ? (t.data.slice() as TypedData) : t.data;
  return Object.freeze({ dtype: t.dtype, dims: t.dims, data });
}

/**
 * What a session keeps of its graph: no packed weight's initializer (its data lives in the packed
 * handle); constants that view a larger buffer copied out (so a session made from bytes doesn't keep
 * them alive), except views into a .sparq file the session read itself (its packed weights' pages are
 * discarded as they are adopted: what stays is the constants' own bytes); and, for a mapped ONNX file,
 * every constant and tensor attribute that views it copied, so no view into the mapping outlives create().
 */
export function keptGraph(graph: Graph, packed: ReadonlySet<string>, file?: SessionFile): Graph {
  // The bytes the kept constants view in each private file buffer (a .sparq Model from loadModel(path)):
  // where they are most of it, the session keeps the views rather than copying them all again (for the
  // 90% block + int8 encoder, constants are 4.8 of its 8.8 MB: loadModel + create took 1.14x create(path)
  // copying them). A caller's bytes are never kept as views of many small constants: they may change.
  const viewed = new Map<ArrayBufferLike, number>();
  for (const [name, t] of graph.initializers)
    if (!packed.has(name) && !(t instanceof LazyTensor) && !t.raw && isPrivateFileBuffer(t.data.buffer))
      viewed.set(t.data.buffer, (viewed.get(t.data.buffer) ?? 0) + t.data.byteLength);
  const own = (t: ConstTensor): ConstTensor => {
    if (file?.mapped) return detached(t, file.bytes);
    const d = t.data;
    if (file && !t.raw && d.buffer === file.bytes.buffer) return t;
    const ownsBuffer = (t.raw ? d.byteLength : (viewed.get(d.buffer) ?? d.byteLength)) * 2 >= d.buffer.byteLength;
    return ownsBuffer && !t.raw ? t : Object.freeze({ dtype: t.dtype, dims: t.dims, data: ownsBuffer ? d : (d.slice() as TypedData) });
  };
  const initializers = new Map<string, ConstTensor>();
  for (const [name, t] of graph.initializers) if (!packed.has(name)) initializers.set(name, own(t));
  const nodes = !file?.mapped
    ? graph.nodes
    : graph.nodes.map((n): Node => {
        let attrs: Record<string, Attribute> | undefined;
        for (const [k, a] of Object.entries(n.attrs))
          if (a.type === 'tensor' && detached(a.value, file.bytes) !== a.value) (attrs ??= { ...n.attrs })[k] = { type: 'tensor', value: detached(a.value, file.bytes) };
        return attrs ? Object.freeze({ ...n, attrs: Object.freeze(attrs) }) : n;
      });
  return Object.freeze({ ...graph, initializers, nodes });
}

/**
 * Once a session is created: a mapped file's pages all handed back to the OS (nothing the session keeps
 * views it, keptGraph), so none stays in RSS until the mapping is collected. A .sparq file read into
 * private memory is left as it is: the constants the session keeps view it.
 */
export function releaseFile(file: SessionFile): void {
  if (file.mapped && file.bytes.length > 0) native().discardPages(file.bytes);
}

/**
 * For a session that read the model file itself: a function, called once a Linear's weight is packed
 * (`weight`: the model's name for it), that hands the weight's pages in that file back to the OS — its
 * fp32 bytes (ONNX) or its packed bytes (.sparq) — once every Linear reading the weight (a weight may
 * feed two, one of them through a transpose) is packed, and unless a constant the graph still uses views
 * the same bytes (a weight tied to an embedding). Lazy tensors (a .sparq's weights, decoded on request)
 * are never read here: that would decode them.
 */
export function fileReleaser(graph: Graph, model: Model, source: SessionFile): (weight: string) => void {
  const file = source.bytes;
  const buffer = file.buffer;
  const range = (v: ArrayBufferView | undefined): [number, number] | undefined => (v && v.buffer === buffer ? [v.byteOffset, v.byteOffset + v.byteLength] : undefined);
  const bytesOf = (t: ConstTensor | undefined) => (t === undefined || t instanceof LazyTensor ? undefined : (t.raw ?? t.data));
  const used = new Set<string>(graph.outputs.map((o) => o.name));
  const pending = new Map<string, number>();
  const seen = new Set<string>();
  // Bodies of If / Loop / Scan too: they read the top graph's constants (src/graph/subgraphs.ts).
  for (const n of allNodes(graph))
    n.inputs.forEach((name, i) => {
      if (!isPackedWeightInput(n, i)) return used.add(name);
      if (seen.has(name)) return;
      seen.add(name);
      const original = n.attrs.weight_name?.type === 'string' ? n.attrs.weight_name.value : name;
      pending.set(original, (pending.get(original) ?? 0) + 1);
    });
  const kept: [number, number][] = [];
  for (const [name, t] of graph.initializers) {
    const r = used.has(name) ? range(bytesOf(t)) : undefined;
    if (r) kept.push(r);
  }
  const packed = prepackedOf(model);
  const discard = native().discardPages;
  const release = (v: ArrayBufferView | undefined) => {
    const r = range(v);
    if (!r || r[1] - r[0] < 1 << 16 || kept.some(([a, b]) => a < r[1] && r[0] < b)) return;
    if (!source.mapped) return void discard(v as ArrayBufferView);
    // A mapped file is never written: its pages come back from the page cache if read again, so the
    // range is widened to whole 2 MiB blocks (the page cache holds large files in large folios, which a
    // partial discard leaves mapped: the 118 MB encoder kept ~50 MB of its file in RSS that way). Not
    // always enough: a file written moments before (its page cache still being written back) kept ~47 MB
    // mapped even so on the 2-core VM (peak 228 MB against 186-190 MB for an older copy of the same bytes).
    const from = Math.max(file.byteOffset, Math.floor(r[0] / HUGE) * HUGE);
    const to = Math.min(file.byteOffset + file.length, Math.ceil(r[1] / HUGE) * HUGE);
    discard(new Uint8Array(buffer, from, to - from));
  };
  return (weight) => {
    const left = (pending.get(weight) ?? 1) - 1;
    pending.set(weight, left);
    if (left > 0) return;
    release(bytesOf(model.graph.initializers.get(weight) ?? graph.initializers.get(weight)));
    release(packed?.get(weight)?.bytes);
  };
}
