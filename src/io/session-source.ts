// What InferenceSession.create needs from files: the Model for a path, bytes or Model, and — for a
// session that read the model file itself — a releaser that hands a weight's pages in that file back
// to the OS once the weight is packed, so the session's weights cost about the file's bytes once.
import { dirname, resolve } from 'node:path';

import { typeError } from '../errors.js';
import { type ConstTensor, type Graph, LazyTensor } from '../graph/ir.js';
import { Model } from '../model.js';
import { native } from '../native.js';
import { loadModelSync, modelFromBytes, readModelFile } from './model-file.js';
import { prepackedOf } from './prepacked.js';

export interface SessionSource {
  model: Model;
  /** The file's bytes where the session read them itself: nobody else sees them. */
  file?: Uint8Array;
}

/** The Model a session is created from (a path is read once, natively; see model-file.ts). */
export function sessionSource(source: string | Uint8Array | Model): SessionSource {
  if (source instanceof Model) return { model: source };
  if (source instanceof Uint8Array) return { model: loadModelSync(source) };
  if (typeof source !== 'string') throw typeError('a path, a Uint8Array of ONNX bytes or a Model', 'source', source);
  const path = resolve(source);
  const file = readModelFile(path);
  return { model: modelFromBytes(file, dirname(path)), file };
}

/**
 * For a session that read the model file itself: a function, called once a Linear's weight is packed
 * (`weight`: the model's name for it), that hands the weight's pages in that file back to the OS — its
 * fp32 bytes (ONNX) or its packed bytes (.sparq) — once every Linear reading the weight (a weight may
 * feed two, one of them through a transpose) is packed, and unless a constant the graph still uses views
 * the same bytes (a weight tied to an embedding). Lazy tensors (a .sparq's weights, decoded on request)
 * are never read here: that would decode them.
 */
export function fileReleaser(graph: Graph, model: Model, file: Uint8Array): (weight: string) => void {
  const buffer = file.buffer;
  const range = (v: ArrayBufferView | undefined): [number, number] | undefined => (v && v.buffer === buffer ? [v.byteOffset, v.byteOffset + v.byteLength] : undefined);
  const bytesOf = (t: ConstTensor | undefined) => (t === undefined || t instanceof LazyTensor ? undefined : (t.raw ?? t.data));
  const used = new Set<string>(graph.outputs.map((o) => o.name));
  const pending = new Map<string, number>();
  const seen = new Set<string>();
  for (const n of graph.nodes)
    n.inputs.forEach((name, i) => {
      if (!(n.op === 'Linear' && n.domain === 'sparq' && i === 1)) return used.add(name);
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
    discard(v as ArrayBufferView);
  };
  return (weight) => {
    const left = (pending.get(weight) ?? 1) - 1;
    pending.set(weight, left);
    if (left > 0) return;
    release(bytesOf(model.graph.initializers.get(weight) ?? graph.initializers.get(weight)));
    release(packed?.get(weight)?.bytes);
  };
}
