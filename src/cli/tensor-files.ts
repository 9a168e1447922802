// Reading inputs for `sparq run` / `sparq eval` and writing outputs: NumPy .npy (v1-3, little-endian,
// C order) and JSON ({ "dims": [...], "data": [...], "type"?: "float32" } or a nested array).
import { readFileSync } from 'node:fs';

import { SparqError } from '../errors.js';
import { Tensor, arrayTypeOf, type TensorType } from '../tensor.js';

const NPY_TYPES: Record<string, TensorType> = { '<f4': 'float32', '|i1': 'int8', '|u1': 'uint8', '<i4': 'int32', '<i8': 'int64', '|b1': 'bool' };

export function parseNpy(bytes: Uint8Array, name: string): Tensor {
  const bad = (why: string) => new SparqError('ERR_INVALID_DATA', `Expected a NumPy .npy file for ${name} but ${why}`);
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw bad('the magic string is missing');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw bad('the header is truncated');
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) throw bad('the header has no descr or shape');
  if (fortran) throw bad('it is in Fortran order (save it with np.ascontiguousarray)');
  const type = NPY_TYPES[descr];
  if (!type) throw bad(`its dtype ${descr} is not one of ${Object.keys(NPY_TYPES).join(', ')}`);
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`its shape (${shapeText}) is not valid`);
  const count = dims.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const Ctor = arrayTypeOf(type) as unknown as { new (b: ArrayBuffer): Tensor['data']; BYTES_PER_ELEMENT: number };
  const itemSize = Ctor.BYTES_PER_ELEMENT;
  if (bytes.length - dataStart < count * itemSize) throw bad(`it holds fewer than the ${count} elements its shape needs`);
  // A copy into a fresh buffer: a Node Buffer's slice() is a view into a shared pool, so .buffer would be the pool.
  const raw = new Uint8Array(bytes.subarray(dataStart, dataStart + count * itemSize)).buffer;
  const data = new Ctor(raw);
  return new Tensor(type, data as never, dims);
}

export function encodeNpy(t: Tensor): Uint8Array {
  const descr = Object.entries(NPY_TYPES).find(([, v]) => v === t.type)?.[0] ?? '<f4';
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + t.data.byteLength);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 10 + header.length);
  return out;
}

function flatten(v: unknown, dims: number[], depth: number, out: number[]): void {
  if (Array.isArray(v)) {
    if (dims.length <= depth) dims.push(v.length);
    else if (dims[depth] !== v.length) throw new SparqError('ERR_INVALID_DATA', 'Expected a rectangular nested array but rows differ in length');
    for (const x of v) flatten(x, dims, depth + 1, out);
  } else if (typeof v === 'number') {
    out.push(v);
  } else {
    throw new SparqError('ERR_INVALID_DATA', `Expected numbers in the JSON tensor but found ${typeof v}`);
  }
}

export function parseJsonTensor(text: string, name: string): Tensor {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SparqError('ERR_INVALID_DATA', `Expected JSON for ${name} but it does not parse: ${(e as Error).message}`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && 'data' in value) {
    const o = value as { data: unknown; dims?: number[]; type?: TensorType };
    const dims: number[] = [];
    const flat: number[] = [];
    flatten(o.data, dims, 0, flat);
    const type = o.type ?? 'float32';
    const data = type === 'int64' ? flat.map((x) => BigInt(x)) : flat;
    return new Tensor(type, data as never, o.dims ?? dims);
  }
  const dims: number[] = [];
  const flat: number[] = [];
  flatten(value, dims, 0, flat);
  return new Tensor('float32', flat, dims);
}

/** Reads a .npy or .json tensor file. */
export function readTensorFile(path: string, name: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SparqError('ERR_IO', `Cannot read ${name} from ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (path.endsWith('.npy')) return parseNpy(bytes, name);
  if (path.endsWith('.json')) return parseJsonTensor(new TextDecoder().decode(bytes), name);
  throw new SparqError('ERR_INVALID_DATA', `Expected a .npy or .json file for ${name} but received ${path}`);
}
