// The weight codec of .sparq files: one matrix W [K, N] as compact bytes, independent of any kernel's
// packed layout (so a file outlives kernel changes and loads on every ISA).
//   dense:  the values, row-major [K, N] (fp32 or s8).
//   sparse: by output column; a column is a list of stored groups of `bk` consecutive k (bk = 1 for
//           unstructured, 4 for 1x4 blocks). Group positions are u8 gaps from the previous stored group
//           (Deep Compression's relative indices); a gap over 255 stores a filler group of zeros.
//           Parts: colCount u32[N], gaps u8[G], values (fp32 or s8) [G·bk].
// s8 values carry their per-column (or per-tensor) fp32 scales. Pruned weights are exact zeros in either.
import { SparqError } from '../errors.js';

export type WeightDType = 'f32' | 's8';

export interface WeightMeta {
  K: number;
  N: number;
  dtype: WeightDType;
  /** 'packed': the weights only in their packed bytes (src/io/packed-columns.ts); here just s8 scales. */
  layout: 'dense' | 'sparse' | 'packed';
  /** Group length along K of the sparse layout. */
  bk: number;
  /** Stored groups (sparse), fillers included. */
  groups: number;
  /** s8: one scale per column (true) or one for the tensor. */
  perChannel: boolean;
  /** Byte length of the encoded matrix. */
  bytes: number;
}

export interface WeightInput {
  K: number;
  N: number;
  /** fp32 values [K, N]; zeros are pruned weights. */
  f32?: Float32Array;
  /** or s8 values [K, N] with their scales (N per channel, or 1). */
  s8?: { values: Int8Array; scales: Float32Array };
  /** Group length along K for the sparse layout (default 1; 4 for 1x4-block-pruned weights). */
  bk?: number;
  /** Force a layout; by default the smaller one. */
  layout?: 'dense' | 'sparse';
}

const pad4 = (n: number) => (n + 3) & ~3;

function invalid(why: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected valid weights in the .sparq file but ${why}`);
}

/** Encodes one matrix; returns its bytes and the metadata needed to read them back. */
export function encodeWeight(w: WeightInput): { meta: WeightMeta; bytes: Uint8Array } {
  const { K, N } = w;
  const bk = w.bk ?? 1;
  const dtype: WeightDType = w.s8 ? 's8' : 'f32';
  const src: Float32Array | Int8Array = w.s8 ? w.s8.values : (w.f32 as Float32Array);
  const scales = w.s8?.scales ?? new Float32Array(0);
  const perChannel = scales.length === N && N !== 1 ? true : scales.length === N;
  const vsize = dtype === 's8' ? 1 : 4;
  const scaleBytes = scales.length * 4;

  // Sparse pass: count stored groups per column (fillers included).
  const colCount = new Uint32Array(N);
  const GK = Math.ceil(K / bk);
  let groups = 0;
  for (let n = 0; n < N; n++) {
    let prev = -1;
    for (let g = 0; g < GK; g++) {
      let nz = false;
      for (let k = g * bk; k < Math.min(K, g * bk + bk); k++) if (src[k * N + n] !== 0) nz = true;
      if (!nz) continue;
      colCount[n] += 1 + Math.floor((g - prev - 1) / 256);
      prev = g;
    }
    groups += colCount[n];
  }
  const sparseBytes = scaleBytes + 4 * N + pad4(groups) + groups * bk * vsize;
  const denseBytes = scaleBytes + K * N * vsize;
  const layout = w.layout ?? (sparseBytes < denseBytes ? 'sparse' : 'dense');
  const total = layout === 'sparse' ? sparseBytes : denseBytes;
  const out = new Uint8Array(total);
  let at = 0;
  out.set(new Uint8Array(scales.buffer, scales.byteOffset, scaleBytes), 0);
  at += scaleBytes;
  if (layout === 'dense') {
    out.set(new Uint8Array(src.buffer, src.byteOffset, K * N * vsize), at);
  } else {
    out.set(new Uint8Array(colCount.buffer), at);
    at += 4 * N;
    const gaps = out.subarray(at, at + groups);
    at += pad4(groups);
    const vals = dtype === 's8' ? new Int8Array(out.buffer, at, groups * bk) : new Float32Array(out.buffer, at, groups * bk);
    let gi = 0;
    for (let n = 0; n < N; n++) {
      let prev = -1;
      for (let g = 0; g < GK; g++) {
        let nz = false;
        for (let k = g * bk; k < Math.min(K, g * bk + bk); k++) if (src[k * N + n] !== 0) nz = true;
        if (!nz) continue;
        while (g - prev - 1 > 255) {
          gaps[gi++] = 255; // a filler group of zeros 256 groups on
          prev += 256;
        }
        gaps[gi] = g - prev - 1;
        for (let j = 0; j < bk; j++) {
          const k = g * bk + j;
          vals[gi * bk + j] = k < K ? src[k * N + n] : 0;
        }
        gi++;
        prev = g;
      }
    }
  }
  return { meta: { K, N, dtype, layout, bk, groups: layout === 'sparse' ? groups : 0, perChannel, bytes: total }, bytes: out };
}

/** The typed array of `len` elements at `offset` of `bytes`, copied only when misaligned. */
function view<T extends Float32Array | Uint32Array>(ctor: { new (b: ArrayBufferLike, o: number, l: number): T; new (l: number): T }, bytes: Uint8Array, offset: number, len: number): T {
  const abs = bytes.byteOffset + offset;
  if (abs % 4 === 0) return new ctor(bytes.buffer, abs, len);
  const copy = new ctor(len);
  new Uint8Array(copy.buffer).set(bytes.subarray(offset, offset + len * 4));
  return copy;
}

/** A matrix's nonzeros by column: column n holds rows[j], values[j] for j in [colPtr[n], colPtr[n+1]). */
export interface SparseColumns<V extends Int8Array | Float32Array = Int8Array | Float32Array> {
  colPtr: Int32Array;
  rows: Int32Array;
  values: V;
}

/** Checks a matrix's metadata against its bytes (a damaged file gives SparqError 'ERR_INVALID_MODEL'). */
export function checkWeight(meta: WeightMeta, bytes: Uint8Array): void {
  const { K, N, bk, groups } = meta;
  if (![K, N, bk, groups].every((v) => Number.isSafeInteger(v) && v >= 0) || K < 1 || N < 1 || bk < 1 || bk > 64 || K * N > 2 ** 31)
    throw invalid(`a matrix has impossible dimensions ${JSON.stringify({ K, N, bk, groups })}`);
  if (meta.dtype !== 'f32' && meta.dtype !== 's8') throw invalid(`a matrix has unknown type ${JSON.stringify(meta.dtype)}`);
  if (meta.layout !== 'dense' && meta.layout !== 'sparse' && meta.layout !== 'packed') throw invalid(`a matrix has unknown layout ${JSON.stringify(meta.layout)}`);
  const vsize = meta.dtype === 's8' ? 1 : 4;
  const nScales = scaleCount(meta);
  const expected = meta.layout === 'packed' ? nScales * 4 : meta.layout === 'dense' ? nScales * 4 + K * N * vsize : nScales * 4 + 4 * N + pad4(groups) + groups * bk * vsize;
  if (bytes.length !== expected || meta.bytes !== expected) throw invalid(`a ${K}x${N} matrix holds ${bytes.length} bytes where ${expected} are expected`);
}

/** The 'packed' entry of weights held exactly by their packed bytes: the s8 scales alone (nothing for fp32). */
export function encodeWithPacked(K: number, N: number, scales?: Float32Array): { meta: WeightMeta; bytes: Uint8Array } {
  const bytes = scales ? new Uint8Array(scales.slice().buffer) : new Uint8Array(0);
  return { meta: { K, N, dtype: scales ? 's8' : 'f32', layout: 'packed', bk: 1, groups: 0, perChannel: scales?.length === N, bytes: bytes.length }, bytes };
}

/** fp32 nonzeros from s8 codes by column and the checked 'packed' entry's scales. */
export function scaledCodes(meta: WeightMeta, scaleBytes: Uint8Array, codes: SparseColumns<Int8Array>): SparseColumns<Float32Array> {
  const scales = scalesOf(meta, scaleBytes);
  const values = new Float32Array(codes.values.length);
  for (let n = 0; n < meta.N; n++) {
    const s = scales[meta.perChannel ? n : 0];
    for (let j = codes.colPtr[n]; j < codes.colPtr[n + 1]; j++) values[j] = codes.values[j] * s;
  }
  return { colPtr: codes.colPtr, rows: codes.rows, values };
}

const scaleCount = (meta: WeightMeta) => (meta.dtype === 's8' ? (meta.perChannel ? meta.N : 1) : 0);

/** The s8 scales of a checked matrix (none for f32). */
function scalesOf(meta: WeightMeta, bytes: Uint8Array): Float32Array {
  return view(Float32Array, bytes, 0, scaleCount(meta)).slice();
}

/**
 * The nonzeros of a checked sparse-layout matrix by column, every group position validated, fillers
 * and zeros inside groups left out: as stored (s8 codes or fp32), or `scaled` (s8 codes times their
 * scales: fp32 either way). One pass over the stored groups.
 */
export function sparseColumns(meta: WeightMeta, bytes: Uint8Array, scaled: true): SparseColumns<Float32Array>;
export function sparseColumns(meta: WeightMeta, bytes: Uint8Array, scaled?: boolean): SparseColumns;
export function sparseColumns(meta: WeightMeta, bytes: Uint8Array, scaled = false): SparseColumns {
  const { K, N, bk, groups } = meta;
  const s8 = meta.dtype === 's8';
  const scales = scalesOf(meta, bytes);
  let at = scales.length * 4;
  const colCount = view(Uint32Array, bytes, at, N);
  at += 4 * N;
  const gaps = bytes.subarray(at, at + groups);
  at += pad4(groups);
  const vals = s8 ? new Int8Array(bytes.buffer, bytes.byteOffset + at, groups * bk) : view(Float32Array, bytes, at, groups * bk);
  // Sized for every stored value; trimmed (a view) once the zeros are known.
  const colPtr = new Int32Array(N + 1);
  const rows = new Int32Array(groups * bk);
  const values = s8 && !scaled ? new Int8Array(groups * bk) : new Float32Array(groups * bk);
  let gi = 0, j = 0;
  const GK = Math.ceil(K / bk);
  for (let n = 0; n < N; n++) {
    const count = colCount[n];
    if (count > groups - gi) throw invalid('its column counts exceed the stored groups');
    const scale = s8 && scaled ? scales[meta.perChannel ? n : 0] : 1;
    let g = -1;
    for (let c = 0; c < count; c++, gi++) {
      g += gaps[gi] + 1;
      if (g >= GK) throw invalid(`a stored group lies past K = ${K}`);
      for (let l = 0; l < bk; l++) {
        const v = vals[gi * bk + l];
        if (v === 0) continue;
        const k = g * bk + l;
        if (k >= K) throw invalid('a value lies past K');
        rows[j] = k;
        values[j++] = v * scale;
      }
    }
    colPtr[n + 1] = j;
  }
  if (gi !== groups) throw invalid('its column counts do not add up to the stored groups');
  return { colPtr, rows: rows.subarray(0, j), values: values.subarray(0, j) };
}

/** fp32 [K, N] from fp32 nonzeros by column. */
export function denseFromColumns(c: SparseColumns<Float32Array>, K: number, N: number): Float32Array {
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) for (let j = c.colPtr[n]; j < c.colPtr[n + 1]; j++) out[c.rows[j] * N + n] = c.values[j];
  return out;
}

/**
 * Decodes a matrix written by encodeWeight, checking every length and index against the metadata (a
 * damaged file gives SparqError 'ERR_INVALID_MODEL'). Returns fp32 [K, N] — s8 values times their scales —
 * and, for s8, the s8 values and scales themselves.
 */
export function decodeWeight(meta: WeightMeta, bytes: Uint8Array, options: { f32Only?: boolean } = {}): { f32: Float32Array; s8?: { values: Int8Array; scales: Float32Array } } {
  checkWeight(meta, bytes);
  const { K, N } = meta;
  const s8 = meta.dtype === 's8';
  if (meta.layout === 'packed') throw invalid('a matrix kept in packed form was read without its packed bytes');
  const scales = scalesOf(meta, bytes);
  const at = scales.length * 4;
  if (meta.layout === 'sparse') {
    if (!s8 || options.f32Only === true) return { f32: denseFromColumns(sparseColumns(meta, bytes, true), K, N) };
    const c = sparseColumns(meta, bytes);
    const values = new Int8Array(K * N);
    for (let n = 0; n < N; n++) for (let j = c.colPtr[n]; j < c.colPtr[n + 1]; j++) values[c.rows[j] * N + n] = c.values[j];
    return withF32(values, scales, meta);
  }
  if (!s8) return { f32: view(Float32Array, bytes, at, K * N).slice() };
  return withF32(new Int8Array(bytes.buffer, bytes.byteOffset + at, K * N).slice(), scales, meta);
}

function withF32(values: Int8Array, scales: Float32Array, meta: WeightMeta): { f32: Float32Array; s8: { values: Int8Array; scales: Float32Array } } {
  const { K, N } = meta;
  const f32 = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) f32[k * N + n] = values[k * N + n] * scales[meta.perChannel ? n : 0];
  return { f32, s8: { values, scales } };
}
