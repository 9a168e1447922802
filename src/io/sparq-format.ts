// The .sparq container, format version 2.0: a fixed header, a table of sections, a CRC-32 per section
// (and over the header and over the table), every section 64-byte aligned so that a loader that read the
// file into one aligned block (native readFile) can hand sections to typed arrays and to the kernels in
// place. What the sections hold is up to the model codec (sparq-model.ts); this file only guarantees that
// what is read is exactly what was written, and that any damaged, truncated or foreign file is refused
// with a SparqError: 'ERR_INVALID_MODEL' for damage, 'ERR_UNSUPPORTED_VERSION' for a version or a
// feature this sparq does not read.
//
// Layout, little endian. The header and the table sit at fixed places, so each is addressable on its own
// (a signature can cover them, an encryption layer can authenticate them as associated data):
//
//   header, bytes 0..63
//     0   magic "SPARQ\0\r\n" (the CR LF catches text-mode transfers, as PNG's signature does)
//     8   u16 major version (2), u16 minor version (0). A reader reads every minor version of its major
//         (minor versions only add section kinds and fields that were zero); another major is refused.
//     12  u32 file flags: features a reader must understand to read the file. None are defined in 2.0;
//         a reader refuses bits it does not know ('ERR_UNSUPPORTED_VERSION'). Reserved: bit 0 "sections
//         are encrypted" and bit 1 "signed" (issue #19).
//     16  u64 file length (the whole file, in bytes)
//     24  u32 section count
//     28  u32 table offset (64)
//     32  u32 table entry size (64)
//     36  u32 checksum kind: 1 = CRC-32 (IEEE 802.3, zlib's)
//     40  16 bytes reserved, zero (checked)
//     56  u32 CRC-32 of the section table (count x 64 bytes)
//     60  u32 CRC-32 of header bytes 0..59
//   section table, at 64: per section 64 bytes
//     0   name, 24 bytes UTF-8, zero padded (unique in the file)
//     24  u32 kind: what the section holds (SECTION_KIND); readers pass over kinds they do not know, so a
//         later minor version can add sections (a signature, a wrapped key) that older readers ignore
//     28  u32 section flags: bit 0 stored brotli-compressed. Reserved: bit 1 encrypted (AES-256-GCM: the
//         stored bytes would be nonce | ciphertext | tag, the checksum over them). Unknown bits: refused.
//     32  u64 offset (a multiple of 64)
//     40  u64 stored length
//     48  u64 length once decoded (= stored length when not compressed)
//     56  u32 CRC-32 of the stored bytes
//     60  u32 reserved, zero (checked)
//   sections, each at a multiple of 64 in table order; the padding after the table and between sections
//   is zero (checked: no byte of the file escapes every check).
//
// Version 1.0 files (a 32-byte header, 32-byte names, no kinds) still load: sparq-format-v1.ts.
import { SparqError } from '../errors.js';
import { openSparqV1 } from './sparq-format-v1.js';
import { type SparqLayout, type SparqSection, SECTION_ALIGN, checkPadding, crc32, isZero, section, sectionName, u64, zlib } from './sparq-sections.js';

export { type SparqLayout, type SparqSection, SECTION_ALIGN, brotliSection, crc32 } from './sparq-sections.js';

export const SPARQ_MAGIC = Uint8Array.from([0x53, 0x50, 0x41, 0x52, 0x51, 0x00, 0x0d, 0x0a]);
export const SPARQ_VERSION = { major: 2, minor: 0 } as const;
/** Byte length of the fixed header; the section table starts here. */
export const HEADER_BYTES = 64;
/** Byte length of one section table entry. */
export const ENTRY_BYTES = 64;
const NAME = 24;
const MAX_SECTIONS = 1 << 16;
const CHECKSUM_CRC32 = 1;
const FLAG_BROTLI = 1;
/** File flags and section flags this reader understands (none of the file's in 2.0). */
const KNOWN_FILE_FLAGS = 0;
const KNOWN_SECTION_FLAGS = FLAG_BROTLI;

/** What a section holds. Numbers are stable: never reuse one. */
export const SECTION_KIND = {
  /** Opaque bytes (containers written by tools other than the model codec, tests). */
  data: 0,
  /** The model's graph and tables, JSON (sparq-model.ts). */
  graph: 1,
  /** Raw little-endian bytes of the small constants. */
  consts: 2,
  /** Weights in the compact codec (sparq-weights.ts). */
  weights: 3,
  /** Weights in their kernels' serialised layouts, each 64-byte aligned; never compressed. */
  packed: 4,
} as const;

export interface SectionInput {
  name: string;
  /** SECTION_KIND (default: data). */
  kind?: number;
  data: Uint8Array;
  /** Store brotli-compressed where that saves an eighth or more (smaller files; costs decode time at load). */
  compress?: boolean;
}

function invalid(why: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected a valid .sparq file but ${why}`);
}

const align = (n: number) => Math.ceil(n / SECTION_ALIGN) * SECTION_ALIGN;

/**
 * A section's bytes as stored: brotli-compressed where asked and where that saves an eighth or more
 * (else the load pays a decode for nothing). The encryption layer (src/io/crypto) compresses this way
 * before it encrypts.
 */
export function storedForm(s: SectionInput): { bytes: Uint8Array; brotli: boolean } {
  const packed = s.compress ? new Uint8Array(zlib().brotliCompressSync(s.data, { params: { [zlib().constants.BROTLI_PARAM_QUALITY]: 9, [zlib().constants.BROTLI_PARAM_SIZE_HINT]: s.data.length } })) : null;
  const brotli = packed !== null && packed.length <= s.data.length * 0.875;
  return { bytes: brotli ? (packed as Uint8Array) : s.data, brotli };
}

/** Writes sections into one .sparq byte buffer (the current version). */
export function writeSparq(sections: readonly SectionInput[]): Uint8Array {
  if (sections.length > MAX_SECTIONS) throw new RangeError(`Expected at most ${MAX_SECTIONS} sections but received ${sections.length}`);
  const names = new Set<string>();
  const stored = sections.map((s) => {
    const name = new TextEncoder().encode(s.name);
    if (name.length === 0 || name.length > NAME || name.includes(0)) throw new RangeError(`Expected a section name of 1 to ${NAME} bytes (no NUL) but received ${JSON.stringify(s.name)}`);
    if (names.has(s.name)) throw new RangeError(`Expected unique section names but received ${JSON.stringify(s.name)} twice`);
    const kind = s.kind ?? SECTION_KIND.data;
    if (!Number.isInteger(kind) || kind < 0 || kind > 0xffffffff) throw new RangeError(`Expected a u32 section kind but received ${kind}`);
    names.add(s.name);
    const { bytes, brotli } = storedForm(s);
    return { name, kind, bytes, flags: brotli ? FLAG_BROTLI : 0, raw: s.data.length };
  });
  const tableEnd = HEADER_BYTES + ENTRY_BYTES * stored.length;
  let offset = align(tableEnd);
  const offsets = stored.map((s) => {
    const at = offset;
    offset = align(at + s.bytes.length);
    return at;
  });
  const total = stored.length ? offsets[stored.length - 1] + stored[stored.length - 1].bytes.length : tableEnd;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(SPARQ_MAGIC, 0);
  view.setUint16(8, SPARQ_VERSION.major, true);
  view.setUint16(10, SPARQ_VERSION.minor, true);
  view.setUint32(12, 0, true);
  view.setBigUint64(16, BigInt(total), true);
  view.setUint32(24, stored.length, true);
  view.setUint32(28, HEADER_BYTES, true);
  view.setUint32(32, ENTRY_BYTES, true);
  view.setUint32(36, CHECKSUM_CRC32, true);
  stored.forEach((s, i) => {
    const e = HEADER_BYTES + i * ENTRY_BYTES;
    out.set(s.name, e);
    view.setUint32(e + 24, s.kind, true);
    view.setUint32(e + 28, s.flags, true);
    view.setBigUint64(e + 32, BigInt(offsets[i]), true);
    view.setBigUint64(e + 40, BigInt(s.bytes.length), true);
    view.setBigUint64(e + 48, BigInt(s.raw), true);
    out.set(s.bytes, offsets[i]);
    view.setUint32(e + 56, crc32(s.bytes), true);
  });
  view.setUint32(56, crc32(out.subarray(HEADER_BYTES, tableEnd)), true);
  view.setUint32(60, crc32(out.subarray(0, 60)), true);
  return out;
}

export function isSparq(bytes: Uint8Array): boolean {
  return bytes.length >= SPARQ_MAGIC.length && SPARQ_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Reads and verifies a .sparq buffer: every section's bytes, decoded. Uncompressed sections are views
 * into `bytes` (no copy). Throws SparqError 'ERR_INVALID_MODEL' for anything damaged.
 */
export function readSparq(bytes: Uint8Array): Map<string, Uint8Array> {
  return new Map([...openSparq(bytes)].map(([name, s]) => [name, s.bytes()]));
}

/** The sections of a verified .sparq buffer, by name (sparqLayout's). */
export function openSparq(bytes: Uint8Array): Map<string, SparqSection> {
  return sparqLayout(bytes).sections as Map<string, SparqSection>;
}

/**
 * Verifies a .sparq buffer (header, table, every section's checksum, zero padding) and returns its
 * layout. A brotli section is decompressed only when its bytes are asked for (a loader that needs only
 * the packed weights never pays for the compact ones); a section that fails to decompress then throws
 * SparqError 'ERR_INVALID_MODEL' like every other damage.
 */
export function sparqLayout(bytes: Uint8Array): SparqLayout {
  if (!(bytes instanceof Uint8Array)) throw invalid('received no bytes');
  if (bytes.length < 12) throw invalid(`the file is ${bytes.length} bytes long, shorter than any .sparq header (truncated?)`);
  if (!isSparq(bytes)) throw invalid('its first bytes are not the .sparq signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = view.getUint16(8, true);
  const minor = view.getUint16(10, true);
  if (major === 1) return openSparqV1(bytes);
  if (bytes.length < HEADER_BYTES) throw invalid(`the file is ${bytes.length} bytes long, shorter than the ${HEADER_BYTES}-byte header (truncated?)`);
  // The header's checksum first: a version field flipped by damage is damage, not a future file.
  if (view.getUint32(60, true) !== crc32(bytes.subarray(0, 60))) throw invalid('its header checksum does not match (corrupted)');
  if (major !== SPARQ_VERSION.major)
    throw new SparqError('ERR_UNSUPPORTED_VERSION', `Expected a .sparq file of format version 1.x or ${SPARQ_VERSION.major}.x but received version ${major}.${minor} (written by a newer sparq?)`);
  const flags = view.getUint32(12, true);
  if ((flags & ~KNOWN_FILE_FLAGS) !== 0)
    throw new SparqError('ERR_UNSUPPORTED_VERSION', `Expected a .sparq file without features this sparq lacks but received one with file flags 0x${flags.toString(16)} (version ${major}.${minor})`);
  const length = u64(view, 16);
  if (length !== bytes.length) throw invalid(`it is ${bytes.length} bytes long where its header says ${length} (truncated or padded)`);
  const count = view.getUint32(24, true);
  if (view.getUint32(28, true) !== HEADER_BYTES || view.getUint32(32, true) !== ENTRY_BYTES || view.getUint32(36, true) !== CHECKSUM_CRC32 || !isZero(bytes, 40, 56))
    throw invalid('its header describes a table or checksum this version does not have');
  const tableEnd = HEADER_BYTES + count * ENTRY_BYTES;
  if (count > MAX_SECTIONS || tableEnd > bytes.length) throw invalid(`its section table (${count} sections) does not fit in the file`);
  if (view.getUint32(56, true) !== crc32(bytes.subarray(HEADER_BYTES, tableEnd))) throw invalid('its section table checksum does not match (corrupted)');
  const sections = new Map<string, SparqSection>();
  const spans: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const e = HEADER_BYTES + i * ENTRY_BYTES;
    const name = sectionName(bytes.subarray(e, e + NAME), i);
    const kind = view.getUint32(e + 24, true);
    const sflags = view.getUint32(e + 28, true);
    const offset = u64(view, e + 32);
    const stored = u64(view, e + 40);
    const raw = u64(view, e + 48);
    const crc = view.getUint32(e + 56, true);
    if (view.getUint32(e + 60, true) !== 0) throw invalid(`section ${JSON.stringify(name)} has a reserved field set`);
    if ((sflags & ~KNOWN_SECTION_FLAGS) !== 0)
      throw new SparqError('ERR_UNSUPPORTED_VERSION', `Expected .sparq sections without features this sparq lacks but section ${JSON.stringify(name)} has flags 0x${sflags.toString(16)} (version ${major}.${minor})`);
    if (offset % SECTION_ALIGN !== 0 || offset < tableEnd || offset + stored > bytes.length) throw invalid(`section ${JSON.stringify(name)} lies outside the file or off its alignment`);
    if (sections.has(name)) throw invalid(`section ${JSON.stringify(name)} appears twice`);
    const data = bytes.subarray(offset, offset + stored);
    if (crc32(data) !== crc) throw invalid(`section ${JSON.stringify(name)} fails its checksum (corrupted)`);
    spans.push([offset, offset + stored]);
    sections.set(name, section(name, kind, sflags, offset, data, raw));
  }
  checkPadding(bytes, tableEnd, spans);
  return { version: { major, minor }, flags, header: bytes.subarray(0, HEADER_BYTES), table: bytes.subarray(HEADER_BYTES, tableEnd), sections };
}

