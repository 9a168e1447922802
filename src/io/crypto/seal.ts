// AES-256-GCM per section. Each section is compressed first where that pays (as the plain format does:
// ciphertext does not compress), then encrypted under the file's data key with a fresh random 12-byte
// nonce; the associated data is the whole encryption header as stored (cipher, key id, wrapped data key,
// every section's name, nonce and lengths) plus the section's index, so no header field and no section can
// be changed, swapped or dropped without the tag failing. Sealed section i is stored as ciphertext || tag.
import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';

import { SparqError } from '../../errors.js';
import { SECTION_KIND, brotliSection, storedForm, type SectionInput, type SparqSection } from '../sparq-format.js';
import { GCM, newDataKey, unwrapDataKey } from './keys.js';
import { readCryptoHeader, sealedName, SECTION_CRYPTO, type CryptoHeader } from './protection.js';

function aad(header: Uint8Array, index: number): Buffer {
  return Buffer.concat([header, Buffer.from(`\0${index}`, 'utf8')]);
}

/** The sections of an encrypted container (header first) for these plain sections. */
export function sealSections(sections: readonly SectionInput[], kek: KeyObject, keyId: string | null): SectionInput[] {
  const { dataKey, nonce, wrapped } = newDataKey(kek, keyId);
  const stored = sections.map((s) => ({ name: s.name, kind: s.kind ?? SECTION_KIND.data, nonce: randomBytes(GCM.NONCE_BYTES), raw: s.data.length, ...storedForm(s) }));
  const header: CryptoHeader = {
    format: 'sparq-encrypted',
    version: 1,
    cipher: 'aes-256-gcm',
    keyId,
    dataKey: { nonce, wrapped },
    sections: stored.map((s) => ({ name: s.name, kind: s.kind, nonce: s.nonce.toString('base64'), length: s.bytes.length, brotli: s.brotli, raw: s.raw })),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const sealed = stored.map((s, i) => {
    const c = createCipheriv('aes-256-gcm', dataKey, s.nonce).setAAD(aad(headerBytes, i));
    const out = new Uint8Array(s.bytes.length + GCM.TAG_BYTES);
    out.set(c.update(s.bytes), 0);
    const last = c.final();
    if (last.length) throw new Error('AES-GCM returned trailing bytes');
    out.set(c.getAuthTag(), s.bytes.length);
    return { name: sealedName(i), data: out };
  });
  return [{ name: SECTION_CRYPTO, data: headerBytes }, ...sealed];
}

function failed(what: string, cause?: unknown): SparqError {
  return new SparqError('ERR_DECRYPT', `The encrypted model does not decrypt: ${what}`, cause === undefined ? undefined : { cause });
}

/** 64-byte aligned, like a plain file's sections (typed arrays and packed weights view them in place). */
function aligned(b: Buffer): Uint8Array {
  if (b.byteOffset % 64 === 0) return new Uint8Array(b.buffer, b.byteOffset, b.length);
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** Chunks of in-place decryption: small enough that OpenSSL's output buffers are reused, not faulted in. */
const CHUNK = 64 << 10;

/** Decrypts `data` over itself (the caller owns the buffer): no second copy of the model in memory. */
function decryptInPlace(d: ReturnType<typeof createDecipheriv>, data: Uint8Array): Uint8Array {
  for (let at = 0; at < data.length; at += CHUNK) data.set(d.update(data.subarray(at, Math.min(data.length, at + CHUNK))), at);
  return data;
}

/**
 * The plain sections of an encrypted container, every one decrypted and authenticated before any is
 * returned (a wrong key or a changed byte: ERR_DECRYPT, never a partly decrypted model). `inPlace`: the
 * caller owns the file's buffer (it read the file itself), so each section decrypts over its ciphertext,
 * where it stays 64-byte aligned.
 */
export function unsealSections(sections: ReadonlyMap<string, SparqSection>, kek: KeyObject, inPlace = false): Map<string, SparqSection> {
  const { header, bytes: headerBytes } = readCryptoHeader(sections.get(SECTION_CRYPTO) as SparqSection);
  const dataKey = unwrapDataKey(kek, header.keyId, header.dataKey.nonce, header.dataKey.wrapped);
  if (sections.size !== header.sections.length + 1) throw failed(`it has ${sections.size - 1} sealed sections where its header lists ${header.sections.length}`);
  const out = new Map<string, SparqSection>();
  header.sections.forEach((entry, i) => {
    const sealed = sections.get(sealedName(i));
    const nonce = Buffer.from(entry.nonce, 'base64');
    if (!sealed || sealed.length !== entry.length + GCM.TAG_BYTES || nonce.length !== GCM.NONCE_BYTES || out.has(entry.name)) throw failed(`section ${i} ("${entry.name}") is missing or has the wrong length`);
    if (!entry.brotli && entry.raw !== entry.length) throw failed(`section "${entry.name}" has inconsistent lengths`);
    const data = sealed.bytes();
    let plain: Uint8Array;
    try {
      const d = createDecipheriv('aes-256-gcm', dataKey, nonce).setAAD(aad(headerBytes, i));
      d.setAuthTag(data.subarray(entry.length));
      plain = inPlace ? decryptInPlace(d, data.subarray(0, entry.length)) : aligned(d.update(data.subarray(0, entry.length)));
      d.final();
    } catch (e) {
      throw failed(`section "${entry.name}" fails authentication (the file was changed, or the key is wrong)`, e);
    }
    // Where the plain section lies: the sealed one's place in the file, its kind as written.
    const where = { name: entry.name, kind: entry.kind ?? SECTION_KIND.data, offset: sealed.offset, stored: entry.length, length: entry.raw };
    if (entry.brotli) {
      let decoded: Uint8Array | undefined;
      out.set(entry.name, { ...where, bytes: () => (decoded ??= brotliSection(entry.name, plain, entry.raw)) });
    } else {
      out.set(entry.name, { ...where, bytes: () => plain });
    }
  });
  return out;
}
