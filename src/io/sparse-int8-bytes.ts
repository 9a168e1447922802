// The codes inside 'sparse-int8' packed bytes (native/runtime/sparse_int8.cpp, SparseInt8::serialize,
// version 2), read in JS: a .sparq file may carry a weight only in that form (its s8 codes and the
// model's scales recover the fp32 values exactly), and a host whose kernels can't adopt the bytes (an
// AVX2 CPU reading 8-bit codes) or a pass that reads the fp32 values needs them back. Every count and
// position is checked: damaged bytes give SparqError 'ERR_INVALID_MODEL'.
//   header 72 bytes: "SPI8" u32 version u32 isa i32 weightMax i64 K i64 N i64 blocks i64 nonzeros
//                    f64 maxAbsError f64 relRmsError u32 layout (0 words, 1 compressed) u32 0
//   u64 bitmap per (output n, chunk of 64 quads) range: bit q = the block at quad 64·chunk + q
//   words layout: i32 per block (4 codes, k ascending); compressed: 4-bit masks, two to a byte, then
//   the nonzero codes; then f32 scales [N].
import { SparqError } from '../errors.js';
import type { SparseColumns } from './sparq-weights.js';

const MAGIC = 0x38495053;
const VERSION = 2;
const HEADER = 72;
const CHUNK = 64;

function invalid(why: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected valid packed weights of format 'sparse-int8' but ${why}`);
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
  const compressed = layout === 1;
  const body = ranges * 8 + (compressed ? Math.ceil(blocks / 2) + nonzeros : blocks * 4) + N * 4;
  if (bytes.length !== HEADER + body) throw invalid(`they are ${bytes.length} bytes long where ${HEADER + body} are expected (truncated?)`);
  const maskAt = HEADER + ranges * 8;
  const codeAt = maskAt + (compressed ? Math.ceil(blocks / 2) : 0);
  const colPtr = new Int32Array(N + 1);
  const rows = new Int32Array(compressed ? nonzeros : 4 * blocks);
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
          const mask = compressed ? (bytes[maskAt + (b >> 1)] >> (4 * (b & 1))) & 15 : 15;
          for (let l = 0; l < 4; l++) {
            if (!((mask >> l) & 1)) continue;
            if (compressed && c >= nonzeros) throw invalid('their masks name more codes than they hold');
            const code = compressed ? v.getInt8(codeAt + c++) : v.getInt8(maskAt + 4 * b + l);
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
  if (b !== blocks || (compressed && c !== nonzeros)) throw invalid('their bitmaps do not hold their counts');
  return { colPtr, rows: rows.subarray(0, j), values: codes.subarray(0, j) };
}
