// The .sparq container: a versioned header, a table of named sections, a CRC32 per section (and over the
// header and the table), sections 64-byte aligned so typed arrays can view them in place. Optionally a
// section is stored brotli-compressed (Node's zlib: no dependency). What the sections hold is up to the
// model codec (sparq-model.ts); this file only guarantees that what is read is exactly what was written,
// and that any damaged, truncated or foreign file is refused with SparqError 'ERR_INVALID_MODEL'.
//
// Layout, little endian:
//   0   magic "SPARQ\0\r\n" (the CR LF catches text-mode transfers, as PNG's signature does)
//   8   u16 major version, u16 minor version
//   12  u32 section count
//   16  u64 file length
//   24  u32 CRC32 of the section table
//   28  u32 CRC32 of bytes 0..28
//   32  section table: per section 64 bytes
//         name (32 bytes UTF-8, zero padded) · u32 flags (bit 0: brotli) · u32 CRC32 of the stored bytes ·
//         u64 offset · u64 stored length · u64 length once decoded
//   ... sections, each at a multiple of 64; the padding between them is zero (checked).
import { createRequire } from 'node:module';
import type zlibModule from 'node:zlib';
import { SparqError } from '../errors.js';
import { native } from '../native.js';

// node:zlib (and the streams it loads) only for files with compressed sections: not at `import('sparq')`.
let zlibLoaded: typeof zlibModule | undefined;
const zlib = (): typeof zlibModule => (zlibLoaded ??= createRequire(import.meta.url)('node:zlib') as typeof zlibModule);

// One decoder for every file (constructing one costs more than decoding a section name).
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export const SPARQ_MAGIC = Uint8Array.from([0x53, 0x50, 0x41, 0x52, 0x51, 0x00, 0x0d, 0x0a]);
export const SPARQ_VERSION = { major: 1, minor: 0 } as const;
const HEADER = 32;
const ENTRY = 64;
const NAME = 32;
const ALIGN = 64;
const MAX_SECTIONS = 1 << 16;
const FLAG_BROTLI = 1;

export interface SectionInput {
  name: string;
  data: Uint8Array;
  /** Store brotli-compressed where that saves an eighth or more (smaller files; costs decode time at load). */
  compress?: boolean;
}

/** CRC-32 (IEEE, as zlib, zip and PNG): sparq's native fold (several times Node's zlib.crc32 here). */
export function crc32(data: Uint8Array): number {
  return native().crc32(data) >>> 0;
}

function invalid(why: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected a valid .sparq file but ${why}`);
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** A u64 field as a number (two u32 reads: BigInt arithmetic is slow while the loader's JS is cold). */
function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

const ZEROS = new Uint8Array(ALIGN);
/** Whether bytes [from, to) are all zero: memcmp against zeros, a padding's worth at a time. */
function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let at = from; at < to; at += ALIGN) {
    const n = Math.min(ALIGN, to - at);
    if (Buffer.compare(bytes.subarray(at, at + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

/** Writes sections into one .sparq byte buffer. */
export function writeSparq(sections: readonly SectionInput[]): Uint8Array {
  if (sections.length > MAX_SECTIONS) throw new RangeError(`Expected at most ${MAX_SECTIONS} sections but received ${sections.length}`);
  const names = new Set<string>();
  const stored = sections.map((s) => {
    const name = new TextEncoder().encode(s.name);
    if (name.length === 0 || name.length > NAME) throw new RangeError(`Expected a section name of 1 to ${NAME} bytes but received ${JSON.stringify(s.name)}`);
    if (names.has(s.name)) throw new RangeError(`Expected unique section names but received ${JSON.stringify(s.name)} twice`);
    names.add(s.name);
    const packed = s.compress ? new Uint8Array(zlib().brotliCompressSync(s.data, { params: { [zlib().constants.BROTLI_PARAM_QUALITY]: 9, [zlib().constants.BROTLI_PARAM_SIZE_HINT]: s.data.length } })) : null;
    // Kept compressed only where it pays (saves an eighth or more): else the load pays a decode for nothing.
    const brotli = packed !== null && packed.length <= s.data.length * 0.875;
    return { name, bytes: brotli ? packed : s.data, flags: brotli ? FLAG_BROTLI : 0, raw: s.data.length };
  });
  let offset = align(HEADER + ENTRY * stored.length);
  const offsets = stored.map((s) => {
    const at = offset;
    offset = align(at + s.bytes.length);
    return at;
  });
  const total = stored.length ? offsets[stored.length - 1] + stored[stored.length - 1].bytes.length : HEADER;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(SPARQ_MAGIC, 0);
  view.setUint16(8, SPARQ_VERSION.major, true);
  view.setUint16(10, SPARQ_VERSION.minor, true);
  view.setUint32(12, stored.length, true);
  view.setBigUint64(16, BigInt(total), true);
  stored.forEach((s, i) => {
    const e = HEADER + i * ENTRY;
    out.set(s.name, e);
    view.setUint32(e + 32, s.flags, true);
    view.setUint32(e + 36, crc32(s.bytes), true);
    view.setBigUint64(e + 40, BigInt(offsets[i]), true);
    view.setBigUint64(e + 48, BigInt(s.bytes.length), true);
    view.setBigUint64(e + 56, BigInt(s.raw), true);
    out.set(s.bytes, offsets[i]);
  });
  view.setUint32(24, crc32(out.subarray(HEADER, HEADER + ENTRY * stored.length)), true);
  view.setUint32(28, crc32(out.subarray(0, 28)), true);
  return out;
}

function brotliSection(name: string, data: Uint8Array, raw: number): Uint8Array {
  let decoded: Buffer;
  try {
    decoded = zlib().brotliDecompressSync(data, { maxOutputLength: Math.max(1, raw) });
  } catch {
    throw invalid(`section ${JSON.stringify(name)} does not decompress`);
  }
  if (decoded.length !== raw) throw invalid(`section ${JSON.stringify(name)} decompresses to ${decoded.length} bytes, not ${raw}`);
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.length);
}

export function isSparq(bytes: Uint8Array): boolean {
  return bytes.length >= SPARQ_MAGIC.length && SPARQ_MAGIC.every((b, i) => bytes[i] === b);
}

/** A verified section: its decoded length, and its bytes (brotli sections decode on the first call). */
export interface SparqSection {
  readonly length: number;
  bytes(): Uint8Array;
}

/**
 * Reads and verifies a .sparq buffer: every section's bytes, decoded. Uncompressed sections are views
 * into `bytes` (no copy). Throws SparqError 'ERR_INVALID_MODEL' for anything damaged.
 */
export function readSparq(bytes: Uint8Array): Map<string, Uint8Array> {
  return new Map([...openSparq(bytes)].map(([name, s]) => [name, s.bytes()]));
}

/**
 * Verifies a .sparq buffer (header, table, every section's checksum, zero padding) and returns its
 * sections. A brotli section is decompressed only when its bytes are asked for (a loader that needs
 * only the packed weights never pays for the compact ones); a section that fails to decompress then
 * throws SparqError 'ERR_INVALID_MODEL' like every other damage.
 */
export function openSparq(bytes: Uint8Array): Map<string, SparqSection> {
  if (!(bytes instanceof Uint8Array)) throw invalid('received no bytes');
  if (bytes.length < HEADER) throw invalid(`the file is ${bytes.length} bytes long, shorter than the ${HEADER}-byte header (truncated?)`);
  if (!isSparq(bytes)) throw invalid('its first bytes are not the .sparq signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(28, true) !== crc32(bytes.subarray(0, 28))) throw invalid('its header checksum does not match (corrupted)');
  const major = view.getUint16(8, true);
  if (major !== SPARQ_VERSION.major) throw invalid(`its format version ${major}.${view.getUint16(10, true)} is not one this sparq reads (${SPARQ_VERSION.major}.x)`);
  const count = view.getUint32(12, true);
  const length = u64(view, 16);
  if (length !== bytes.length) throw invalid(`it is ${bytes.length} bytes long where its header says ${length} (truncated or padded)`);
  if (count > MAX_SECTIONS || HEADER + count * ENTRY > bytes.length) throw invalid(`its section table (${count} sections) does not fit in the file`);
  if (view.getUint32(24, true) !== crc32(bytes.subarray(HEADER, HEADER + count * ENTRY))) throw invalid('its section table checksum does not match (corrupted)');
  const sections = new Map<string, SparqSection>();
  const spans: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const e = HEADER + i * ENTRY;
    const rawName = bytes.subarray(e, e + NAME);
    const end = rawName.indexOf(0);
    let name: string;
    try {
      name = UTF8.decode(end < 0 ? rawName : rawName.subarray(0, end));
    } catch {
      throw invalid(`section ${i} has a name that is not UTF-8`);
    }
    const flags = view.getUint32(e + 32, true);
    const crc = view.getUint32(e + 36, true);
    const offset = u64(view, e + 40);
    const size = u64(view, e + 48);
    const raw = u64(view, e + 56);
    if (offset < HEADER + count * ENTRY || offset + size > bytes.length) throw invalid(`section ${JSON.stringify(name)} lies outside the file`);
    if ((flags & ~FLAG_BROTLI) !== 0) throw invalid(`section ${JSON.stringify(name)} uses unknown flags ${flags}`);
    if (sections.has(name)) throw invalid(`section ${JSON.stringify(name)} appears twice`);
    spans.push([offset, offset + size]);
    const data = bytes.subarray(offset, offset + size);
    if (crc32(data) !== crc) throw invalid(`section ${JSON.stringify(name)} fails its checksum (corrupted)`);
    if (flags & FLAG_BROTLI) {
      let decoded: Uint8Array | undefined;
      sections.set(name, {
        length: raw,
        bytes: () => (decoded ??= brotliSection(name, data, raw)),
      });
    } else {
      if (raw !== size) throw invalid(`section ${JSON.stringify(name)} has inconsistent lengths`);
      sections.set(name, { length: raw, bytes: () => data });
    }
  }
  // The padding between sections must be zero: then no byte of the file escapes every check.
  spans.sort((a, b) => a[0] - b[0]);
  let at = HEADER + count * ENTRY;
  for (const [start, end] of [...spans, [bytes.length, bytes.length] as [number, number]]) {
    if (start < at) throw invalid('two of its sections overlap');
    if (!isZero(bytes, at, start)) {
      let i = at;
      while (bytes[i] === 0) i++;
      throw invalid(`its padding at byte ${i} is not zero (corrupted)`);
    }
    at = end;
  }
  return sections;
}
