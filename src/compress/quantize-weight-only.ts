// Group-wise weight-only quantization (quantize({ mode: 'weight-only', bits, groupSize, symmetric })):
// the native "int4" / "int8-wo" formats do the quantizing (native/include/sparq/weight_only.h states the
// rules), and their serialised bytes are read back here for what TypeScript needs: the dequantized
// weights a Model keeps (so every consumer of the graph sees what the kernels compute with), and the
// codes, scales and zero points in onnxruntime's MatMulNBits layout for the ONNX export.
import { SparqError, rethrowNative } from '../errors.js';
import { native } from '../native.js';
import type { WeightFormatSpec } from '../model.js';
import { serializePacked } from '../io/prepacked.js';
import { woCodeAt } from '../io/packed-columns.js';

export type WeightOnlyBits = 4 | 8;

export interface GroupwiseSpec {
  bits: WeightOnlyBits;
  groupSize: number;
  symmetric: boolean;
}

/** Group sizes the formats and MatMulNBits (a power of two from 16) both take. */
export const GROUP_SIZES = [16, 32, 64, 128, 256] as const;
export const DEFAULT_GROUP_SIZE = 64;

export const weightOnlyFormat = (bits: WeightOnlyBits): 'int4' | 'int8-wo' => (bits === 4 ? 'int4' : 'int8-wo');

export function weightOnlyFormatSpec(s: GroupwiseSpec): WeightFormatSpec {
  return { format: weightOnlyFormat(s.bits), options: { groupSize: s.groupSize, symmetric: s.symmetric } };
}

/** A weight [K, N] quantized group-wise, in MatMulNBits' layout. */
export interface GroupwiseWeights {
  K: number;
  N: number;
  /** ceil(K / groupSize) */
  blocks: number;
  /** [N][blocks][groupSize · bits / 8]: codes along K, low nibble first (4 bits); padding holds the zero point. */
  codes: Uint8Array;
  /** [N][blocks] */
  scales: Float32Array;
  /** [N][blocks] zero points (fixed 8 / 128 when symmetric). */
  zeros: Uint8Array;
  /** [K, N]: (code − zero) · scale, what the kernels compute with. */
  dequantized: Float32Array;
  /** Bytes of codes, scales and zero points as the native format stores them. */
  packedBytes: number;
}

const MAGIC = 0x31514f57; // "WOQ1", native/runtime/weight_only.cpp
const HEADER = 32;
const PANEL = 16;

/** Quantizes W [K, N] (row-major) with the native format's rules and reads the result back. */
export function quantizeGroupwise(W: Float32Array, K: number, N: number, s: GroupwiseSpec): GroupwiseWeights {
  let bytes: Uint8Array | null;
  const addon = native();
  let handle;
  try {
    handle = addon.pack(weightOnlyFormat(s.bits), W, K, N, { groupSize: s.groupSize, symmetric: s.symmetric });
  } catch (e) {
    rethrowNative(e);
  }
  try {
    bytes = serializePacked(handle);
  } finally {
    handle.release();
  }
  if (!bytes) throw new SparqError('ERR_NATIVE', `The ${weightOnlyFormat(s.bits)} format did not serialise its weights`);
  return readGroupwise(bytes, K, N, s);
}

/** The native serialised layout (header, codes by panel and group, bf16 scales, zero points) as MatMulNBits tensors. */
export function readGroupwise(bytes: Uint8Array, K: number, N: number, s: GroupwiseSpec): GroupwiseWeights {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const G = s.groupSize;
  if (view.getUint32(0, true) !== MAGIC || view.getUint32(8, true) !== s.bits || Number(view.getBigInt64(16, true)) !== G)
    throw new SparqError('ERR_INVALID_MODEL', 'Expected weight-only packed bytes of the requested width and group size but received others');
  const blocks = Math.ceil(K / G);
  const panels = Math.ceil(N / PANEL);
  const blockBytes = (G * PANEL * s.bits) / 8;
  const codesAt = HEADER;
  const scalesAt = codesAt + panels * blocks * blockBytes;
  const zerosAt = scalesAt + panels * blocks * PANEL * 2;
  const blob = (G * s.bits) / 8;
  const codes = new Uint8Array(N * blocks * blob);
  const scales = new Float32Array(N * blocks);
  const zeros = new Uint8Array(N * blocks);
  const dequantized = new Float32Array(K * N);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let p = 0; p < panels; p++)
    for (let g = 0; g < blocks; g++) {
      const block = codesAt + (p * blocks + g) * blockBytes;
      for (let lane = 0; lane < PANEL; lane++) {
        const n = p * PANEL + lane;
        if (n >= N) break;
        const meta = (p * blocks + g) * PANEL + lane;
        u32[0] = view.getUint16(scalesAt + meta * 2, true) << 16;
        const scale = f32[0];
        const zero = s.symmetric ? (s.bits === 4 ? 8 : 128) : bytes[zerosAt + meta];
        scales[n * blocks + g] = scale;
        zeros[n * blocks + g] = zero;
        const out = (n * blocks + g) * blob;
        for (let kk = 0; kk < G; kk++) {
          const [at, shift] = woCodeAt(s.bits, lane, kk);
          const code = (bytes[block + at] >> shift) & (s.bits === 4 ? 0x0f : 0xff);
          if (s.bits === 4) codes[out + (kk >> 1)] |= kk % 2 === 0 ? code : code << 4;
          else codes[out + kk] = code;
          const k = g * G + kk;
          if (k < K) dequantized[k * N + n] = Math.fround((code - zero) * scale);
        }
      }
    }
  return { K, N, blocks, codes, scales, zeros, dequantized, packedBytes: bytes.length - HEADER };
}

/** Zero points as MatMulNBits takes them: u8 [N][ceil(blocks · bits / 8)], 4-bit ones two per byte (low first). */
export function packedZeroPoints(w: GroupwiseWeights, bits: WeightOnlyBits): Uint8Array {
  if (bits === 8) return w.zeros;
  const per = Math.ceil(w.blocks / 2);
  const out = new Uint8Array(w.N * per);
  for (let n = 0; n < w.N; n++)
    for (let b = 0; b < w.blocks; b++) out[n * per + (b >> 1)] |= b % 2 === 0 ? w.zeros[n * w.blocks + b] : w.zeros[n * w.blocks + b] << 4;
  return out;
}
