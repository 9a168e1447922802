// The weights inside kernels' packed bytes, read in JS, by column: a .sparq file may carry a weight only
// in packed form (where those bytes hold it exactly), and a host whose kernels can't adopt the bytes
// (an AVX2 CPU reading 8-bit codes), or a pass that reads the fp32 values, needs them back. Every count
// and position is checked: damaged bytes give SparqError 'ERR_INVALID_MODEL'.
//
// 'sparse-int8' (native/runtime/sparse_int8.cpp, SparseInt8::serialize, version 2): s8 codes.
//   header 72 bytes: "SPI8" u32 version u32 isa i32 weightMax i64 K i64 N i64 blocks i64 nonzeros
//                    f64 maxAbsError f64 relRmsError u32 layout (0 words, 1 masks + codes: the nonzeros layout) u32 0
//   u64 bitmap per (output n, chunk of 64 quads) range: bit q = the block at quad 64·chunk + q
//   words layout: i32 per block (4 codes, k ascending); nonzeros layout: 4-bit masks, two to a byte, then
//   the nonzero codes; then f32 scales [N].
// 'sparse' and 'block' (native/runtime/sparse_f32.cpp, GroupedCsc::serialize, version 1): fp32 values.
//   "SPF3" u32 version i32 C i32 L i64 K i64 N i64 entries, u32 ptr [groups + 1] (groups of C outputs),
//   u16 k0 per entry (increasing in a group), padding to 4, f32 values [entries · L · C] (l major).
import { SparqError } from '../errors.js';
import type { SparseColumns } from './sparq-weights.js';

const MAGIC = 0x38495053;
const VERSION = 2;
const HEADER = 72;
const CHUNK = 64;

function invalid(why: string, format = 'sparse-int8'): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected valid packed weights of format '${format}' but ${why}`);
}

/** The weight in packed bytes of `format` by column (s8 codes or fp32 values); undefined for a format with no reader. */
export function packedColumns(format: string, bytes: Uint8Array, K: number, N: number): SparseColumns | undefined {
  if (format === 'sparse-int8') return sparseInt8Codes(bytes, K, N);
  if (format === 'sparse' || format === 'block') return groupedCscValues(format, bytes, K, N);
  return undefined;
}

/** The s8 codes of W [K, N] by column, from sparse-int8 packed bytes (version 2). */
export function sparseInt8Codes(bytes: Uint8Array, K: number, N: number): SparseColumns<Int8Array> {
  if (bytes.length < HEADER) throw invalid('the data ends early (truncated)');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== MAGIC) throw invalid("its bytes do not start with the format's signature");
  if (v.getUint32(4, true) !== VERSION) throw invalid(`they are of version ${v.getUint32(4, true)}, not ${VERSION}`);
  const weightMax = v.getInt32(12, true);
  if (Number(v.getBigInt64(16, true)) !== K || Number(v.getBigInt64(24, true)) !== N) throw invalid("their K, N differ from the weight's");
  const blocks = Number(v.getBigInt64(32, true));
  const nonzeros = Number(v.getBigInt64(40, true));
  const layout = v.getUint32(64, true);
  const kq = Math.ceil(K / 4);
  const chunks = Math.ceil(kq / CHUNK);
  const ranges = N * chunks;
  if (layout > 1 || blocks < 0 || blocks > N * kq || nonzeros < 0 || nonzeros > 4 * blocks || weightMax < 1 || weightMax > 127) throw invalid('their counts are impossible');
  const masked = layout === 1;
  const body = ranges * 8 + (masked ? Math.ceil(blocks / 2) + nonzeros : blocks * 4) + N * 4;
  if (bytes.length !== HEADER + body) throw invalid(`they are ${bytes.length} bytes long where ${HEADER + body} are expected (truncated?)`);
  const maskAt = HEADER + ranges * 8;
  const codeAt = maskAt + (masked ? Math.ceil(blocks / 2) : 0);
  const colPtr = new Int32Array(N + 1);
  const rows = new Int32Array(masked ? nonzeros : 4 * blocks);
  const codes = new Int8Array(rows.length);
  let b = 0, c = 0, j = 0;
  for (let n = 0; n < N; n++) {
    for (let ch = 0; ch < chunks; ch++) {
      const at = HEADER + (n * chunks + ch) * 8;
      // Two 32-bit halves: quads 0..31 and 32..63 of the chunk.
      for (let half = 0; half < 2; half++) {
        let bits = v.getUint32(at + 4 * half, true);
        while (bits !== 0) {
          const q = 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          const k0 = 4 * (ch * CHUNK + 32 * half + q);
          if (k0 >= K) throw invalid('a block lies past K');
          if (b >= blocks) throw invalid('their bitmaps hold more blocks than they say');
          const mask = masked ? (bytes[maskAt + (b >> 1)] >> (4 * (b & 1))) & 15 : 15;
          for (let l = 0; l < 4; l++) {
            if (!((mask >> l) & 1)) continue;
            if (masked && c >= nonzeros) throw invalid('their masks name more codes than they hold');
            const code = masked ? v.getInt8(codeAt + c++) : v.getInt8(maskAt + 4 * b + l);
            if (code === 0) continue;
            if (code < -weightMax || code > weightMax || k0 + l >= K) throw invalid('a weight code is out of range');
            rows[j] = k0 + l;
            codes[j++] = code;
          }
          b++;
        }
      }
    }
    colPtr[n + 1] = j;
  }
  if (b !== blocks || (masked && c !== nonzeros)) throw invalid('their bitmaps do not hold their counts');
  return { colPtr, rows: rows.subarray(0, j), values: codes.subarray(0, j) };
}

const F32_MAGIC = 0x33465053;
const F32_HEADER = 40;

/** The fp32 nonzeros of W [K, N] by column, from 'sparse' / 'block' packed bytes (version 1). */
export function groupedCscValues(format: string, bytes: Uint8Array, K: number, N: number): SparseColumns<Float32Array> {
  const bad = (why: string) => invalid(why, format);
  if (bytes.length < F32_HEADER) throw bad('the data ends early (truncated)');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== F32_MAGIC) throw bad("its bytes do not start with the format's signature");
  if (v.getUint32(4, true) !== 1) throw bad(`they are of version ${v.getUint32(4, true)}, not 1`);
  const C = v.getInt32(8, true), L = v.getInt32(12, true);
  if (!(C >= 1 && C <= 16 && L >= 1 && L <= 4)) throw bad('their block shape is not one the format has');
  if (Number(v.getBigInt64(16, true)) !== K || Number(v.getBigInt64(24, true)) !== N) throw bad("their K, N differ from the weight's");
  const entries = Number(v.getBigInt64(32, true));
  const groups = Math.ceil(N / C);
  if (entries < 0 || entries > groups * Math.ceil(K / L)) throw bad('their entry count is impossible');
  const ptrAt = F32_HEADER, idxAt = ptrAt + 4 * (groups + 1);
  const valAt = idxAt + ((2 * entries + 3) & ~3);
  if (bytes.length !== valAt + 4 * entries * L * C) throw bad(`they are ${bytes.length} bytes long where ${valAt + 4 * entries * L * C} are expected (truncated?)`);
  if (v.getUint32(ptrAt, true) !== 0 || v.getUint32(ptrAt + 4 * groups, true) !== entries) throw bad('their group pointers do not span the entries');
  const colPtr = new Int32Array(N + 1);
  const rows = new Int32Array(entries * L * C);
  const values = new Float32Array(rows.length);
  let j = 0;
  for (let n = 0; n < N; n++) {
    const g = Math.floor(n / C), c = n % C;
    const e0 = v.getUint32(ptrAt + 4 * g, true), e1 = v.getUint32(ptrAt + 4 * g + 4, true);
    if (e1 < e0 || e1 > entries) throw bad('their group pointers decrease');
    let last = -1;
    for (let e = e0; e < e1; e++) {
      const k0 = v.getUint16(idxAt + 2 * e, true);
      if (k0 % L !== 0 || k0 >= K || k0 <= last) throw bad('an entry index is out of range or out of order');
      last = k0;
      for (let l = 0; l < L; l++) {
        const x = v.getFloat32(valAt + 4 * ((e * L + l) * C + c), true);
        if (x === 0) continue;
        if (k0 + l >= K) throw bad('a value lies outside the matrix');
        rows[j] = k0 + l;
        values[j++] = x;
      }
    }
    colPtr[n + 1] = j;
  }
  // Values of a last group's columns past N must be zero (no byte escapes the check).
  for (let c = N - (groups - 1) * C; c < C; c++)
    for (let e = v.getUint32(ptrAt + 4 * (groups - 1), true); e < entries; e++)
      for (let l = 0; l < L; l++) if (v.getFloat32(valAt + 4 * ((e * L + l) * C + c), true) !== 0) throw bad('a value lies outside the matrix');
  return { colPtr, rows: rows.subarray(0, j), values: values.subarray(0, j) };
}
