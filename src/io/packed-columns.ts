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
// 'int8' (native/runtime/int8_f32.cpp, Int8F32::serialize, version 1): s8 codes.
//   header 64 bytes: "SQI8" u32 version u32 isa i32 weightMax i32 group u32 perChannel i64 K i64 N
//                    i64 nonFiniteColumns f64 maxAbsError f64 relRmsError
//   s8 codes in the VNNI layout of sparq/int8_gemm.h [groups · kq · group · 64], f32 scales [N].
// '2:4' (native/runtime/sparse_24.cpp, Sparse24::serialize, version 1): fp32 values.
//   header 64 bytes: "S24F" u32 version u32 isa u32 panel (16) i64 K i64 N i64 nonzeros, zeros
//   f32 values [panels · G · 2 · 16], u32 2-bit offsets [panels · G · 2] (G = ceil(K / 4)).
// 'int4' / 'int8-wo' (native/runtime/weight_only.cpp, version 1): fp32 values, (code − zero) · scale.
//   header 32 bytes: "WOQ1" u32 version u32 bits u32 symmetric i64 groupSize u32 K u32 N; codes by panel of 16
//   outputs and group (sparq/weight_only.h), bf16 scales [panels · groups · 16], u8 zero points (asymmetric).
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
  if (format === 'int8') return int8Codes(bytes, K, N);
  if (format === '2:4') return sparse24Values(bytes, K, N);
  if (format === 'int4' || format === 'int8-wo') return weightOnlyValues(format, bytes, K, N);
  return undefined;
}

/** A packed header's i64 at `at` as a number (K, N and counts fit 2^53). */
const i64 = (v: DataView, at: number) => Number(v.getBigInt64(at, true));

/** The bytes' view after checking their length covers `header` bytes, their signature and version. */
function openPacked(bytes: Uint8Array, format: string, magic: number, version: number, header: number): DataView {
  if (bytes.length < header) throw invalid('the data ends early (truncated)', format);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== magic) throw invalid("its bytes do not start with the format's signature", format);
  if (v.getUint32(4, true) !== version) throw invalid(`they are of version ${v.getUint32(4, true)}, not ${version}`, format);
  return v;
}

const I8_MAGIC = 0x38495153;
const I8_HEADER = 64;
const PANEL = 16;

/** The s8 codes of W [K, N] by column, from 'int8' packed bytes (version 1): codes in range, padding zero. */
export function int8Codes(bytes: Uint8Array, K: number, N: number): SparseColumns<Int8Array> {
  const bad = (why: string) => invalid(why, 'int8');
  const v = openPacked(bytes, 'int8', I8_MAGIC, 1, I8_HEADER);
  const weightMax = v.getInt32(12, true), group = v.getInt32(16, true);
  if (!(weightMax >= 1 && weightMax <= 127 && group >= 1 && group <= 16) || v.getUint32(20, true) > 1) throw bad('their header is damaged');
  if (i64(v, 24) !== K || i64(v, 32) !== N) throw bad("their K, N differ from the weight's");
  const kq = Math.ceil(K / 4), groups = Math.ceil(Math.ceil(N / PANEL) / group);
  const dataBytes = groups * kq * group * 64;
  if (bytes.length !== I8_HEADER + dataBytes + 4 * N) throw bad(`they are ${bytes.length} bytes long where ${I8_HEADER + dataBytes + 4 * N} are expected (truncated?)`);
  const codes = new Int8Array(bytes.buffer, bytes.byteOffset + I8_HEADER, dataBytes);
  // Every code in range and every padding code zero (k >= K, n >= N), in one pass over the layout.
  const count = new Int32Array(N + 1);
  for (let at = 0; at < dataBytes; at++) {
    const c = codes[at];
    if (c === 0) continue;
    const lane = (at >> 2) & 15, panel = (at >> 6) % group, q = Math.floor(at / (64 * group)) % kq, g = Math.floor(at / (64 * group * kq));
    const n = (g * group + panel) * PANEL + lane, k = 4 * q + (at & 3);
    if (c < -weightMax || c > weightMax || k >= K || n >= N) throw bad('a weight code is out of range, or a padding code is not zero');
    count[n + 1]++;
  }
  const colPtr = new Int32Array(N + 1);
  for (let n = 0; n < N; n++) colPtr[n + 1] = colPtr[n] + count[n + 1];
  const rows = new Int32Array(colPtr[N]);
  const values = new Int8Array(colPtr[N]);
  const fill = colPtr.slice(0, N);
  // k ascending per column: quads in order, the 4 k of a quad in order.
  for (let g = 0; g < groups; g++)
    for (let q = 0; q < kq; q++)
      for (let p = 0; p < group; p++) {
        const base = ((g * kq + q) * group + p) * 64;
        const n0 = (g * group + p) * PANEL;
        for (let j = 0; j < PANEL && n0 + j < N; j++)
          for (let l = 0; l < 4; l++) {
            const c = codes[base + 4 * j + l];
            if (c === 0) continue;
            const at = fill[n0 + j]++;
            rows[at] = 4 * q + l;
            values[at] = c;
          }
      }
  return { colPtr, rows, values };
}

const S24_MAGIC = 0x46343253;
const S24_HEADER = 64;

/** The fp32 nonzeros of W [K, N] by column, from '2:4' packed bytes (version 1), every slot checked as the native unpacker does. */
export function sparse24Values(bytes: Uint8Array, K: number, N: number): SparseColumns<Float32Array> {
  const bad = (why: string) => invalid(why, '2:4');
  const v = openPacked(bytes, '2:4', S24_MAGIC, 1, S24_HEADER);
  if (v.getUint32(12, true) !== PANEL) throw bad("their panel width is not the format's");
  if (i64(v, 16) !== K || i64(v, 24) !== N) throw bad("their K, N differ from the weight's");
  const nonzeros = i64(v, 32);
  for (let at = 40; at < S24_HEADER; at++) if (bytes[at] !== 0) throw bad("their header's padding is not zero");
  const G = Math.ceil(K / 4), panels = Math.ceil(N / PANEL), slots = panels * G * 2;
  const selAt = S24_HEADER + slots * PANEL * 4;
  if (bytes.length !== selAt + 4 * slots) throw bad(`they are ${bytes.length} bytes long where ${selAt + 4 * slots} are expected (truncated?)`);
  if (!(nonzeros >= 0 && nonzeros <= 2 * G * N)) throw bad('their nonzero count is impossible');
  const colPtr = new Int32Array(N + 1);
  const rows = new Int32Array(nonzeros);
  const values = new Float32Array(nonzeros);
  let j = 0;
  const wrong = () => bad('a stored value lies out of its group\'s order or past K or N, or an empty slot is not empty');
  for (let n = 0; n < panels * PANEL; n++) {
    const p = n >> 4, lane = n & 15;
    for (let g = 0; g < G; g++) {
      const slot = (p * G + g) * 2;
      const a0 = S24_HEADER + (slot * PANEL + lane) * 4, a1 = a0 + PANEL * 4;
      const o0 = (v.getUint32(selAt + 4 * slot, true) >>> (2 * lane)) & 3, o1 = (v.getUint32(selAt + 4 * slot + 4, true) >>> (2 * lane)) & 3;
      const x0 = v.getFloat32(a0, true), x1 = v.getFloat32(a1, true);
      const has0 = x0 !== 0, has1 = x1 !== 0; // NaN counts as stored, as the packer keeps it
      const empty0 = v.getUint32(a0, true) === 0 && o0 === 0, empty1 = v.getUint32(a1, true) === 0 && o1 === 0;
      const kmax = Math.min(4, K - 4 * g);
      if (n >= N) {
        if (!empty0 || !empty1) throw wrong();
        continue;
      }
      if (!(has0 ? o0 < kmax : empty0) || !(has1 ? has0 && o0 < o1 && o1 < kmax : empty1)) throw wrong();
      if (j + Number(has0) + Number(has1) > nonzeros) throw bad('their nonzero count does not match their values');
      if (has0) {
        rows[j] = 4 * g + o0;
        values[j++] = x0;
      }
      if (has1) {
        rows[j] = 4 * g + o1;
        values[j++] = x1;
      }
    }
    if (n < N) colPtr[n + 1] = j;
  }
  if (j !== nonzeros) throw bad('their nonzero count does not match their values');
  return { colPtr, rows, values };
}

const WO_MAGIC = 0x31514f57;
const WO_HEADER = 32;

/** Where code kk of a weight-only block lies: byte offset in the block and nibble shift (4 bits; 0 for 8). */
export function woCodeAt(bits: 4 | 8, lane: number, kk: number): [number, number] {
  return bits === 4 ? [Math.floor(kk / 8) * 64 + lane * 4 + (kk % 4), kk % 8 < 4 ? 0 : 4] : [Math.floor(kk / 4) * 64 + lane * 4 + (kk % 4), 0];
}

/** The fp32 weights (code − zero) · scale of W [K, N] by column (nonzeros), from 'int4' / 'int8-wo' packed bytes. */
export function weightOnlyValues(format: 'int4' | 'int8-wo', bytes: Uint8Array, K: number, N: number): SparseColumns<Float32Array> {
  const bad = (why: string) => invalid(why, format);
  const bits = format === 'int4' ? 4 : 8;
  const v = openPacked(bytes, format, WO_MAGIC, 1, WO_HEADER);
  if (v.getUint32(8, true) !== bits) throw bad('they hold another code width');
  const symmetric = v.getUint32(12, true), G = i64(v, 16);
  // K (low 32 bits) and N (high): 0 in bytes from before they were recorded.
  const dimsLo = v.getUint32(24, true), dimsHi = v.getUint32(28, true);
  if ((dimsLo !== 0 || dimsHi !== 0) && (dimsLo !== K || dimsHi !== N)) throw bad("their K, N differ from the weight's");
  const step = bits === 4 ? 8 : 4;
  if (symmetric > 1 || !(G >= step && G <= 4096 && G % step === 0)) throw bad('their header is damaged');
  const groups = Math.ceil(K / G), panels = Math.ceil(N / PANEL), blocks = panels * groups;
  const blockBytes = (G * PANEL * bits) / 8;
  const scalesAt = WO_HEADER + blocks * blockBytes, zerosAt = scalesAt + blocks * PANEL * 2;
  const want = zerosAt + (symmetric ? 0 : blocks * PANEL);
  if (bytes.length !== want) throw bad(`their size does not match K = ${K}, N = ${N}`);
  const qmax = (1 << bits) - 1;
  // Every zero point in range, padding lanes' too (as the native unpacker checks them).
  if (!symmetric) for (let at = zerosAt; at < want; at++) if (bytes[at] > qmax) throw bad('a zero point is out of range');
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const colPtr = new Int32Array(N + 1);
  const rows = new Int32Array(K * N);
  const values = new Float32Array(K * N);
  let j = 0;
  for (let n = 0; n < N; n++) {
    const p = n >> 4, lane = n & 15;
    for (let g = 0; g < groups; g++) {
      const meta = (p * groups + g) * PANEL + lane;
      u32[0] = v.getUint16(scalesAt + meta * 2, true) << 16;
      const scale = f32[0];
      const zero = symmetric ? 1 << (bits - 1) : bytes[zerosAt + meta];
      const block = WO_HEADER + (p * groups + g) * blockBytes;
      for (let kk = 0; kk < G && g * G + kk < K; kk++) {
        const [at, shift] = woCodeAt(bits, lane, kk);
        const w = Math.fround((((bytes[block + at] >> shift) & qmax) - zero) * scale);
        if (w === 0) continue;
        rows[j] = g * G + kk;
        values[j++] = w;
      }
    }
    colPtr[n + 1] = j;
  }
  return { colPtr, rows: rows.subarray(0, j), values: values.subarray(0, j) };
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
