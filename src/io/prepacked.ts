// Weights a .sparq file carries in a form a session packs from without the dense fp32 matrix: already
// in a kernel's packed layout (native serialize / unpack: adopted as they are), or as their nonzeros by
// column (native packCsc: packed in O(nonzeros)). Kept beside the Model (a WeakMap: the Model itself
// stays a plain immutable graph), by weight name.
import { SparqError } from '../errors.js';
import type { Model, WeightFormatSpec } from '../model.js';
import { native, type NativePackedHandle } from '../native.js';
import type { SparseColumns } from './sparq-weights.js';

export interface Prepacked {
  format: string;
  options: Readonly<Record<string, number | string | boolean>>;
  K: number;
  N: number;
  bytes: Uint8Array;
}

/** A weight [K, N] as its fp32 nonzeros by column (validated when read; damage throws SparqError). */
export interface SparseWeight {
  K: number;
  N: number;
  columns: () => SparseColumns<Float32Array>;
}

interface Attached {
  packed: ReadonlyMap<string, Prepacked>;
  sparse: ReadonlyMap<string, SparseWeight>;
  /** How sessions got each weight without its dense matrix (the latest, by weight name). */
  sources: Map<string, PackSource>;
}

/** 'adopted': the packed bytes as they are (native unpack: a copy and a check); 'nonzeros': packed from the nonzeros (packCsc). */
export type PackSource = 'adopted' | 'nonzeros';

const attached = new WeakMap<Model, Attached>();

export function attachPrepacked(model: Model, packed: ReadonlyMap<string, Prepacked>, sparse: ReadonlyMap<string, SparseWeight> = new Map()): Model {
  if (packed.size > 0 || sparse.size > 0) attached.set(model, { packed, sparse, sources: new Map() });
  return model;
}

export function prepackedOf(model: Model): ReadonlyMap<string, Prepacked> | undefined {
  const p = attached.get(model)?.packed;
  return p && p.size > 0 ? p : undefined;
}

/** The same format options (flat: numbers, strings, booleans), in any key order. */
function sameOptions(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>> = {}): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.is(a[k], b[k])) return false;
  return true;
}

/**
 * The packed handle for a weight if the model carries matching packed bytes this CPU's kernels can use;
 * undefined otherwise (the caller packs from the fp32 weights: always correct, only slower).
 */
export function unpackPrepacked(model: Model, weight: string, spec: WeightFormatSpec, K: number, N: number): NativePackedHandle | undefined {
  const p = attached.get(model)?.packed.get(weight);
  if (!p || p.format !== spec.format || p.K !== K || p.N !== N || !sameOptions(p.options, spec.options)) return undefined;
  const unpack = native().unpackWeights as ((f: string, b: Uint8Array, k: number, n: number) => NativePackedHandle) | undefined;
  if (!unpack) return undefined;
  try {
    return unpack(p.format, p.bytes, K, N);
  } catch (e) {
    // Packed for another kernel width (an AVX2 host reading an AVX-512 file) or damaged: re-pack.
    if ((e as SparqError).code === 'ERR_INVALID_MODEL') return undefined;
    throw e;
  }
}

/**
 * The weight packed in `spec`'s format without its dense fp32 matrix: adopted from packed bytes, else
 * packed from the nonzeros the file stores (or that its packed bytes hold, where this CPU's kernels
 * can't adopt them); undefined where the model carries neither.
 */
export function packWithoutDense(model: Model, weight: string, spec: WeightFormatSpec, K: number, N: number): NativePackedHandle | undefined {
  const a = attached.get(model);
  const adopted = unpackPrepacked(model, weight, spec, K, N);
  if (adopted) {
    a?.sources.set(weight, 'adopted');
    return adopted;
  }
  const s = a?.sparse.get(weight);
  if (!s || s.K !== K || s.N !== N) return undefined;
  const c = s.columns();
  const handle = native().packCsc(spec.format, c.colPtr, c.rows, c.values, K, N, { ...(spec.options ?? {}) });
  a?.sources.set(weight, 'nonzeros');
  return handle;
}

/**
 * How sessions over this model got its weights without their dense fp32 matrices, by weight name
 * ('adopted' or 'nonzeros'; a weight absent was packed from fp32): what tests and benchmarks check.
 */
export function packSources(model: Model): ReadonlyMap<string, PackSource> {
  return new Map(attached.get(model)?.sources ?? []);
}

/** Serialised packed bytes of weights packed in `format`, or null where the format has no serialiser. */
export function serializePacked(handle: NativePackedHandle): Uint8Array | null {
  const serialize = native().serializePacked as ((h: NativePackedHandle) => Uint8Array | null) | undefined;
  return serialize ? serialize(handle) : null;
}
