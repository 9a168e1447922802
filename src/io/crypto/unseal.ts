// Opening an encrypted container (seal.ts writes it): the data key unwrapped by the KEK, then every
// section decrypted and authenticated in one native call (native/binding/gcm_binding.cpp: in place,
// sections in parallel, OpenSSL's AES-GCM at several GB/s a core) before any is returned, so a wrong key
// or a changed byte is ERR_DECRYPT and never a partly decrypted model. node:crypto is loaded only where
// the running Node exports no OpenSSL to the addon.
import { SparqError } from '../../errors.js';
import { native } from '../../native.js';
import { SECTION_ALIGN, SECTION_KIND, brotliSection, type SparqSection } from '../sparq-format.js';
import { GCM, wrapAad } from './keys.js';
import { readCryptoHeader, sealedName, SECTION_CRYPTO } from './protection.js';

type GcmItem = [nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array, out?: Uint8Array];
/** Decrypts each item's data over itself, or into its out; the index of the first item whose tag fails, or -1. */
export type GcmOpen = (key: Uint8Array, items: GcmItem[]) => number;

/** The native decryption, else node:crypto's. */
export async function gcmOpener(): Promise<GcmOpen> {
  const open = native().aesGcmOpen;
  return open ? (key, items) => open(key, items) : (await import('./seal.js')).openWithNodeCrypto;
}

function failed(what: string): SparqError {
  return new SparqError('ERR_DECRYPT', `The encrypted model does not decrypt: ${what}`);
}

const align = (n: number) => Math.ceil(n / SECTION_ALIGN) * SECTION_ALIGN;
const base64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
};

/** The file's data key (32 raw bytes, the caller wipes them): the wrong KEK fails the GCM tag, ERR_DECRYPT. */
function unwrapDataKey(open: GcmOpen, kek: Uint8Array, keyId: string | null, nonce: string, wrapped: string): Uint8Array {
  const n = base64(nonce);
  const w = base64(wrapped);
  if (n.length !== GCM.NONCE_BYTES || w.length !== GCM.KEY_BYTES + GCM.TAG_BYTES) throw new SparqError('ERR_DECRYPT', 'The encrypted model\'s wrapped data key is malformed');
  const key = w.subarray(0, GCM.KEY_BYTES);
  if (open(kek, [[n, wrapAad(keyId), key, w.subarray(GCM.KEY_BYTES)]]) !== -1)
    throw new SparqError('ERR_DECRYPT', `The key does not decrypt this model (wrong key${keyId ? ` for key id "${keyId}"` : ''}, or the file was changed)`);
  return key;
}

const decryptedBuffers = new WeakMap<ReadonlyMap<string, SparqSection>, Uint8Array>();

/** The one buffer unsealSections decrypted these sections into (not in place), if it did. */
export function decryptedInto(sections: ReadonlyMap<string, SparqSection>): Uint8Array | undefined {
  return decryptedBuffers.get(sections);
}

/**
 * The plain sections of an encrypted container (kek: 32 raw bytes). `inPlace`: the caller owns the
 * file's buffer, so each section decrypts over its ciphertext, where it stays 64-byte aligned; else they
 * decrypt into one new buffer (the caller's bytes, or a mapped file, are never written), each at a
 * 64-byte offset in it: one pass, no copy of the ciphertext first.
 */
export async function unsealSections(sections: ReadonlyMap<string, SparqSection>, kek: Uint8Array, inPlace = false, open?: GcmOpen): Promise<Map<string, SparqSection>> {
  const { header, bytes: headerBytes } = readCryptoHeader(sections.get(SECTION_CRYPTO) as SparqSection);
  if (sections.size !== header.sections.length + 1) throw failed(`it has ${sections.size - 1} sealed sections where its header lists ${header.sections.length}`);
  const names = new Set<string>();
  const sealed = header.sections.map((entry, i) => {
    const s = sections.get(sealedName(i));
    const nonce = base64(entry.nonce);
    if (!s || s.length !== entry.length + GCM.TAG_BYTES || nonce.length !== GCM.NONCE_BYTES || names.has(entry.name))
      throw failed(`section ${i} ("${entry.name}") is missing or has the wrong length`);
    if (!entry.brotli && entry.raw !== entry.length) throw failed(`section "${entry.name}" has inconsistent lengths`);
    names.add(entry.name);
    return { entry, section: s, nonce, bytes: s.bytes() };
  });
  const gcm = open ?? (await gcmOpener());
  const dataKey = unwrapDataKey(gcm, kek, header.keyId, header.dataKey.nonce, header.dataKey.wrapped);
  let copy: Uint8Array | undefined;
  let at = 0;
  if (!inPlace) copy = new Uint8Array(sealed.reduce((n, s) => n + align(s.entry.length), 0));
  const items = sealed.map(({ entry, nonce, bytes }, i): GcmItem => {
    const data = bytes.subarray(0, entry.length);
    // The stored header and the section's index: no header field or section changes unnoticed.
    const item: GcmItem = [nonce, Buffer.concat([headerBytes, Buffer.from(`\0${i}`, 'utf8')]), data, bytes.subarray(entry.length)];
    if (copy) {
      item.push(copy.subarray(at, at + entry.length));
      at += align(entry.length);
    }
    return item;
  });
  let bad: number;
  try {
    bad = gcm(dataKey, items);
  } finally {
    dataKey.fill(0);
  }
  if (bad !== -1) throw failed(`section "${sealed[bad].entry.name}" fails authentication (the file was changed, or the key is wrong)`);
  const out = new Map<string, SparqSection>();
  sealed.forEach(({ entry, section }, i) => {
    const plain = items[i][4] ?? items[i][2];
    // Where the plain section lies: the sealed one's place in the file, its kind as written.
    const where = { name: entry.name, kind: entry.kind ?? SECTION_KIND.data, offset: section.offset, stored: entry.length, length: entry.raw };
    let decoded: Uint8Array | undefined;
    out.set(entry.name, { ...where, bytes: entry.brotli ? () => (decoded ??= brotliSection(entry.name, plain, entry.raw)) : () => plain });
  });
  if (copy) decryptedBuffers.set(out, copy);
  return out;
}
