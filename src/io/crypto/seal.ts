// AES-256-GCM per section, the writing side (and node:crypto's decryption, where the native one is
// missing: unseal.ts). Each section is compressed first where that pays (as the plain format does:
// ciphertext does not compress), then encrypted under the file's data key with a fresh random 12-byte
// nonce; the associated data is the whole encryption header as stored (cipher, key id, wrapped data key,
// every section's name, nonce and lengths) plus the section's index, so no header field and no section can
// be changed, swapped or dropped without the tag failing. Sealed section i is stored as ciphertext || tag.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { SECTION_KIND, storedForm, type SectionInput } from '../sparq-format.js';
import { GCM, wrapAad } from './keys.js';
import { sealedName, SECTION_CRYPTO, type CryptoHeader } from './protection.js';

/** The associated data of sealed section `index`: the stored header and the index. */
export function sectionAad(header: Uint8Array, index: number): Buffer {
  return Buffer.concat([header, Buffer.from(`\0${index}`, 'utf8')]);
}

/** ciphertext || tag of `plain` under `key` (raw bytes), with this nonce and associated data. */
function seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-gcm', key, nonce).setAAD(aad);
  const out = new Uint8Array(plain.length + GCM.TAG_BYTES);
  out.set(c.update(plain), 0);
  const last = c.final();
  if (last.length) throw new Error('AES-GCM returned trailing bytes');
  out.set(c.getAuthTag(), plain.length);
  return out;
}

/** The sections of an encrypted container (header first) for these plain sections; kek: 32 raw bytes. */
export function sealSections(sections: readonly SectionInput[], kek: Uint8Array, keyId: string | null): SectionInput[] {
  const dataKey = randomBytes(GCM.KEY_BYTES);
  try {
    const wrapNonce = randomBytes(GCM.NONCE_BYTES);
    const wrapped = seal(kek, wrapNonce, wrapAad(keyId), dataKey);
    const stored = sections.map((s) => ({ name: s.name, kind: s.kind ?? SECTION_KIND.data, nonce: randomBytes(GCM.NONCE_BYTES), raw: s.data.length, ...storedForm(s) }));
    const header: CryptoHeader = {
      format: 'sparq-encrypted',
      version: 1,
      cipher: 'aes-256-gcm',
      keyId,
      dataKey: { nonce: wrapNonce.toString('base64'), wrapped: Buffer.from(wrapped).toString('base64') },
      sections: stored.map((s) => ({ name: s.name, kind: s.kind, nonce: s.nonce.toString('base64'), length: s.bytes.length, brotli: s.brotli, raw: s.raw })),
    };
    const headerBytes = new TextEncoder().encode(JSON.stringify(header));
    const sealed = stored.map((s, i) => ({ name: sealedName(i), data: seal(dataKey, s.nonce, sectionAad(headerBytes, i), s.bytes) }));
    return [{ name: SECTION_CRYPTO, data: headerBytes }, ...sealed];
  } finally {
    dataKey.fill(0);
  }
}

/** Chunks of in-place decryption: small enough that OpenSSL's output buffers are reused, not faulted in. */
const CHUNK = 64 << 10;

/**
 * unseal.ts's GcmOpen with node:crypto: each item's data decrypted over itself, in 64 KiB chunks (each
 * update returns a fresh buffer); the index of the first item whose tag fails, or -1.
 */
export function openWithNodeCrypto(key: Uint8Array, items: [nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array, out?: Uint8Array][]): number {
  for (let i = 0; i < items.length; i++) {
    const [nonce, aad, data, tag, out = data] = items[i];
    try {
      const d = createDecipheriv('aes-256-gcm', key, nonce).setAAD(aad);
      d.setAuthTag(tag);
      for (let at = 0; at < data.length; at += CHUNK) out.set(d.update(data.subarray(at, Math.min(data.length, at + CHUNK))), at);
      d.final();
    } catch {
      return i;
    }
  }
  return -1;
}
