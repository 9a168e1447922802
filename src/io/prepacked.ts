// Weights a .sparq file carries already in a kernel's packed layout (native serialize / unpack): a
// session created from such a Model adopts them instead of packing the fp32 weights again. Kept
// beside the Model (a WeakMap: the Model itself stays a plain immutable graph), by weight name.
import { SparqError } from '../errors.js';
import type { Model, WeightFormatSpec } from '../model.js';
import { native, type NativePackedHandle } from '../native.js';

export interface Prepacked {
  format: string;
  options: Readonly<Record<string, number | string | boolean>>;
  K: number;
  N: number;
  bytes: Uint8Array;
}

const attached = new WeakMap<Model, ReadonlyMap<string, Prepacked>>();

export function attachPrepacked(model: Model, packed: ReadonlyMap<string, Prepacked>): Model {
  if (packed.size > 0) attached.set(model, packed);
  return model;
}

export function prepackedOf(model: Model): ReadonlyMap<string, Prepacked> | undefined {
  return attached.get(model);
}

const sameOptions = (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>> | undefined) => JSON.stringify(a) === JSON.stringify(b ?? {});

/**
 * The packed handle for a weight if the model carries matching packed bytes this CPU's kernels can use;
 * undefined otherwise (the caller packs from the fp32 weights: always correct, only slower).
 */
export function unpackPrepacked(model: Model, weight: string, spec: WeightFormatSpec, K: number, N: number): NativePackedHandle | undefined {
  const p = attached.get(model)?.get(weight);
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

/** Serialised packed bytes of weights packed in `format`, or null where the format has no serialiser. */
export function serializePacked(handle: NativePackedHandle): Uint8Array | null {
  const serialize = native().serializePacked as ((h: NativePackedHandle) => Uint8Array | null) | undefined;
  return serialize ? serialize(handle) : null;
}
