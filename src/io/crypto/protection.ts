// How a .sparq file is protected, read without node:crypto or a key. A protected file is still a .sparq
// container (sparq-format.ts: checksummed, 64-byte aligned sections); its sections say which layers it has:
//   signed     'sparq.signature' (JSON: signer's key fingerprint, Ed25519 signature) and 'sparq.signed'
//              (the .sparq file that was signed, byte for byte: it may itself be encrypted)
//   encrypted  'sparq.crypto' (JSON header: cipher, key id, wrapped data key, one entry per section with
//              its nonce) and 'aes.<i>' (section i's ciphertext and GCM tag)
// Sign-then-open order: a signature covers the encrypted bytes, so it is checked before any decryption.
// The layer meets the container at three points only: writeSparq / openSparq (a list of named sections in,
// a map of verified sections out), storedForm / brotliSection (compression before encryption), and the
// model codec's sparqModelSections / decodeSparqSections; .sparq format 2.0 (branch load) keeps these.
import { SparqError } from '../../errors.js';
import { openSparq, type SparqSection } from '../sparq-format.js';

export const SECTION_CRYPTO = 'sparq.crypto';
export const SECTION_SIGNED = 'sparq.signed';
export const SECTION_SIGNATURE = 'sparq.signature';
/** Sealed section i is stored as `aes.<i>`: plain section names are not repeated in the encrypted file. */
export const sealedName = (i: number) => `aes.${i}`;

export interface CryptoHeader {
  format: 'sparq-encrypted';
  version: 1;
  cipher: 'aes-256-gcm';
  /** The key-encryption key's id for a keyProvider (null: a key given directly). */
  keyId: string | null;
  /** The per-file data key, AES-256-GCM-wrapped by the key-encryption key: base64 nonce and ciphertext+tag. */
  dataKey: { nonce: string; wrapped: string };
  /** kind: the section's SECTION_KIND (absent in files written before kinds: data). */
  sections: { name: string; kind?: number; nonce: string; length: number; brotli: boolean; raw: number }[];
}

export interface SignatureHeader {
  format: 'sparq-signature';
  version: 1;
  alg: 'ed25519';
  digest: 'sha256';
  /** 'sha256:<hex>' of the signer's raw 32-byte public key. */
  fingerprint: string;
  /** base64 Ed25519 signature over SIGNATURE_CONTEXT + SHA-256(the signed file). */
  signature: string;
}

export interface Protection {
  signer: string | null;
  encrypted: { cipher: string; keyId: string | null } | null;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected a valid .sparq file but its ${what} is malformed`);
}

function json(section: SparqSection, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(UTF8.decode(section.bytes())) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw malformed(what);
}

const isB64 = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v);

export function readCryptoHeader(section: SparqSection): { header: CryptoHeader; bytes: Uint8Array } {
  const h = json(section, 'encryption header');
  const dk = h.dataKey as Record<string, unknown> | undefined;
  const okSections =
    Array.isArray(h.sections) &&
    h.sections.every((s: Record<string, unknown>) => typeof s?.name === 'string' && (s.kind === undefined || (Number.isInteger(s.kind) && (s.kind as number) >= 0 && (s.kind as number) <= 0xffffffff)) && isB64(s.nonce) && Number.isSafeInteger(s.length) && (s.length as number) >= 0 && typeof s.brotli === 'boolean' && Number.isSafeInteger(s.raw) && (s.raw as number) >= 0);
  if (h.format !== 'sparq-encrypted' || h.version !== 1 || h.cipher !== 'aes-256-gcm' || !(h.keyId === null || typeof h.keyId === 'string') || !dk || !isB64(dk.nonce) || !isB64(dk.wrapped) || !okSections)
    throw malformed('encryption header');
  return { header: h as unknown as CryptoHeader, bytes: section.bytes() };
}

export function readSignatureHeader(section: SparqSection): SignatureHeader {
  const h = json(section, 'signature');
  if (h.format !== 'sparq-signature' || h.version !== 1 || h.alg !== 'ed25519' || h.digest !== 'sha256' || typeof h.fingerprint !== 'string' || !isB64(h.signature)) throw malformed('signature');
  return h as unknown as SignatureHeader;
}

/** The signed file inside a signed container (its signature not checked), or the container itself when unsigned. */
export function unwrapSigned(sections: ReadonlyMap<string, SparqSection>): ReadonlyMap<string, SparqSection> {
  const signed = sections.get(SECTION_SIGNED);
  return signed && sections.has(SECTION_SIGNATURE) ? openSparq(signed.bytes()) : sections;
}

/** The layers of a protected file, outermost first (signature, then encryption); every layer's container is verified. */
export function describeProtection(sections: ReadonlyMap<string, SparqSection>): Protection {
  const sig = sections.get(SECTION_SIGNATURE);
  const signer = sig && sections.has(SECTION_SIGNED) ? readSignatureHeader(sig).fingerprint : null;
  const inner = unwrapSigned(sections);
  const crypto = inner.get(SECTION_CRYPTO);
  if (!crypto) return { signer, encrypted: null };
  const { header } = readCryptoHeader(crypto);
  return { signer, encrypted: { cipher: header.cipher, keyId: header.keyId } };
}

/**
 * The model's sections of a file opened without a key and without signature checks: a signed file's
 * inner file; an encrypted file is refused with ERR_KEY_REQUIRED.
 */
export function openUnkeyed(sections: ReadonlyMap<string, SparqSection>): ReadonlyMap<string, SparqSection> {
  const inner = unwrapSigned(sections);
  const crypto = inner.get(SECTION_CRYPTO);
  if (crypto) {
    const { header } = readCryptoHeader(crypto);
    throw new SparqError(
      'ERR_KEY_REQUIRED',
      `The model is encrypted (${header.cipher}${header.keyId ? `, key id "${header.keyId}"` : ''}): load it with { key } (a 32-byte key, a KeyObject or a keyProvider), or set SPARQ_MODEL_KEY for the CLI`,
    );
  }
  return inner;
}
