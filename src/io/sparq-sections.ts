// What both .sparq format versions' readers share (sparq-format.ts, sparq-format-v1.ts): the checksum,
// the section objects they return, and the checks of names and padding.
import { createRequire } from 'node:module';
import type zlibModule from 'node:zlib';
import { SparqError } from '../errors.js';
import { native } from '../native.js';

// node:zlib (and the streams it loads) only for files with compressed sections: not at `import('sparq')`.
let zlibLoaded: typeof zlibModule | undefined;
export const zlib = (): typeof zlibModule => (zlibLoaded ??= createRequire(import.meta.url)('node:zlib') as typeof zlibModule);

// One decoder for every file (constructing one costs more than decoding a section name).
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Sections (and the packed weights inside the packed section) start at multiples of this. */
export const SECTION_ALIGN = 64;
const FLAG_BROTLI = 1;

function invalid(why: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected a valid .sparq file but ${why}`);
}

/** CRC-32 (IEEE, as zlib, zip and PNG): sparq's native PCLMULQDQ fold (native/kernels/x86/crc32_pclmul.cpp). */
export function crc32(data: Uint8Array): number {
  return native().crc32(data) >>> 0;
}

/** A u64 field as a number (two u32 reads: BigInt arithmetic is slow while the loader's JS is cold). */
export function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

const ZEROS = new Uint8Array(SECTION_ALIGN);
/** Whether bytes [from, to) are all zero: memcmp against zeros, a padding's worth at a time. */
export function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let at = from; at < to; at += SECTION_ALIGN) {
    const n = Math.min(SECTION_ALIGN, to - at);
    if (Buffer.compare(bytes.subarray(at, at + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

export function brotliSection(name: string, data: Uint8Array, raw: number): Uint8Array {
  let decoded: Buffer;
  try {
    decoded = zlib().brotliDecompressSync(data, { maxOutputLength: Math.max(1, raw) });
  } catch {
    throw invalid(`section ${JSON.stringify(name)} does not decompress`);
  }
  if (decoded.length !== raw) throw invalid(`section ${JSON.stringify(name)} decompresses to ${decoded.length} bytes, not ${raw}`);
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.length);
}

/** A verified section: where it lies, its decoded length, and its bytes (brotli sections decode on the first call). */
export interface SparqSection {
  readonly name: string;
  /** SECTION_KIND (SECTION_KIND.data for version 1.0 files, which have no kinds). */
  readonly kind: number;
  /** Byte offset of the stored bytes in the file. */
  readonly offset: number;
  /** Stored byte length (compressed, where the section is). */
  readonly stored: number;
  /** Decoded byte length. */
  readonly length: number;
  bytes(): Uint8Array;
}

/** A verified .sparq file: its version, flags, the header and table bytes, its sections by name. */
export interface SparqLayout {
  readonly version: { readonly major: number; readonly minor: number };
  readonly flags: number;
  /** Header bytes (64 in 2.x, 32 in 1.0): views into the file. */
  readonly header: Uint8Array;
  /** The section table's bytes. */
  readonly table: Uint8Array;
  readonly sections: ReadonlyMap<string, SparqSection>;
}

/** A section name: UTF-8 up to its first zero, the rest zero. */
export function sectionName(raw: Uint8Array, i: number): string {
  const end = raw.indexOf(0);
  if (end === 0) throw invalid(`section ${i} has an empty name`);
  if (end > 0 && !isZero(raw, end, raw.length)) throw invalid(`section ${i} has bytes after its name's end`);
  try {
    return UTF8.decode(end < 0 ? raw : raw.subarray(0, end));
  } catch {
    throw invalid(`section ${i} has a name that is not UTF-8`);
  }
}

/** A verified section over its stored bytes (brotli decoded on the first call). */
export function section(name: string, kind: number, flags: number, offset: number, data: Uint8Array, raw: number): SparqSection {
  if (flags & FLAG_BROTLI) {
    let decoded: Uint8Array | undefined;
    return { name, kind, offset, stored: data.length, length: raw, bytes: () => (decoded ??= brotliSection(name, data, raw)) };
  }
  if (raw !== data.length) throw invalid(`section ${JSON.stringify(name)} has inconsistent lengths`);
  return { name, kind, offset, stored: data.length, length: raw, bytes: () => data };
}

/** The padding after the table and between sections must be zero: then no byte of the file escapes every check. */
export function checkPadding(bytes: Uint8Array, tableEnd: number, spans: [number, number][]): void {
  spans.sort((a, b) => a[0] - b[0]);
  let at = tableEnd;
  for (const [start, end] of [...spans, [bytes.length, bytes.length] as [number, number]]) {
    if (start < at) throw invalid('two of its sections overlap');
    if (!isZero(bytes, at, start)) {
      let i = at;
      while (bytes[i] === 0) i++;
      throw invalid(`its padding at byte ${i} is not zero (corrupted)`);
    }
    at = end;
  }
}
