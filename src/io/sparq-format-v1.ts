// Reading .sparq files of format version 1.0 (written by sparq before the 2.0 layout of sparq-format.ts):
// they still load, verified as strictly as ever. Layout, little endian:
//   0   magic "SPARQ\0\r\n"
//   8   u16 major version (1), u16 minor version
//   12  u32 section count
//   16  u64 file length
//   24  u32 CRC-32 of the section table
//   28  u32 CRC-32 of bytes 0..28
//   32  section table: per section 64 bytes
//         name (32 bytes UTF-8, zero padded) · u32 flags (bit 0: brotli) · u32 CRC-32 of the stored bytes ·
//         u64 offset · u64 stored length · u64 length once decoded
//   ... sections, each at a multiple of 64; the padding between them is zero.
import { SparqError } from '../errors.js';
import { type SparqLayout, type SparqSection, checkPadding, crc32, section, sectionName, u64 } from './sparq-sections.js';

const HEADER = 32;
const ENTRY = 64;
const NAME = 32;
const MAX_SECTIONS = 1 << 16;
const FLAG_BROTLI = 1;

function invalid(why: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected a valid .sparq file (format version 1) but ${why}`);
}

/** The layout of a version 1.x file (its sections have no kinds: 0, SECTION_KIND.data). */
export function openSparqV1(bytes: Uint8Array): SparqLayout {
  if (bytes.length < HEADER) throw invalid(`the file is ${bytes.length} bytes long, shorter than the ${HEADER}-byte header (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(28, true) !== crc32(bytes.subarray(0, 28))) throw invalid('its header checksum does not match (corrupted)');
  const count = view.getUint32(12, true);
  const length = u64(view, 16);
  if (length !== bytes.length) throw invalid(`it is ${bytes.length} bytes long where its header says ${length} (truncated or padded)`);
  const tableEnd = HEADER + count * ENTRY;
  if (count > MAX_SECTIONS || tableEnd > bytes.length) throw invalid(`its section table (${count} sections) does not fit in the file`);
  if (view.getUint32(24, true) !== crc32(bytes.subarray(HEADER, tableEnd))) throw invalid('its section table checksum does not match (corrupted)');
  const sections = new Map<string, SparqSection>();
  const spans: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const e = HEADER + i * ENTRY;
    const name = sectionName(bytes.subarray(e, e + NAME), i);
    const flags = view.getUint32(e + 32, true);
    const crc = view.getUint32(e + 36, true);
    const offset = u64(view, e + 40);
    const size = u64(view, e + 48);
    const raw = u64(view, e + 56);
    if (offset < tableEnd || offset + size > bytes.length) throw invalid(`section ${JSON.stringify(name)} lies outside the file`);
    if ((flags & ~FLAG_BROTLI) !== 0) throw invalid(`section ${JSON.stringify(name)} uses unknown flags ${flags}`);
    if (sections.has(name)) throw invalid(`section ${JSON.stringify(name)} appears twice`);
    const data = bytes.subarray(offset, offset + size);
    if (crc32(data) !== crc) throw invalid(`section ${JSON.stringify(name)} fails its checksum (corrupted)`);
    spans.push([offset, offset + size]);
    sections.set(name, section(name, 0, flags, offset, data, raw));
  }
  checkPadding(bytes, tableEnd, spans);
  return { version: { major: 1, minor: view.getUint16(10, true) }, flags: 0, header: bytes.subarray(0, HEADER), table: bytes.subarray(HEADER, tableEnd), sections };
}
