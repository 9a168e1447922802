// Writing and opening protected .sparq files: the async entry points behind saveModel(..., { key, sign })
// and loadModel / InferenceSession.create(..., { key, verify }). Everything is decrypted and verified
// before a Model exists, so a failure never leaves a partly loaded model or session. node:crypto (~5 ms to
// load) comes in with what needs it: writing (seal.ts), signatures (signature.ts); decryption is native.
import type { KeyObject } from 'node:crypto';

import { SparqError, typeError } from '../../errors.js';
import { openSparq, writeSparq, type SectionInput, type SparqSection } from '../sparq-format.js';
import { isKeySpec, resolveKek, type KeySpec } from './keys.js';
import { openUnkeyed, readCryptoHeader, sealedName, SECTION_CRYPTO, SECTION_SIGNATURE, SECTION_SIGNED, unwrapSigned } from './protection.js';
import type { PrivateKeyInput, PublicKeyInput } from './signature.js';
import { unsealSections } from './unseal.js';

export interface ProtectOptions {
  /** Encrypt every section (AES-256-GCM) under a fresh data key wrapped by this key (or the provider's key for `keyId`). */
  key?: KeySpec;
  /** The key id stored in the file, passed to a keyProvider at load (required with a keyProvider). */
  keyId?: string;
  /** Sign the file (Ed25519) with this private key. */
  sign?: PrivateKeyInput;
}

export interface OpenOptions {
  /** The key (or keyProvider) of an encrypted file; a plain file ignores it. */
  key?: KeySpec;
  /** Require a signature by one of these Ed25519 public keys. */
  verify?: PublicKeyInput | readonly PublicKeyInput[];
}

export function checkProtectOptions(o: ProtectOptions, name: string): void {
  if (o.key !== undefined && !isKeySpec(o.key)) throw typeError('a 32-byte Uint8Array, a secret KeyObject or an async keyProvider(keyId)', `${name}.key`, o.key);
  if (o.keyId !== undefined && (typeof o.keyId !== 'string' || o.keyId.length === 0 || o.keyId.length > 1024)) throw typeError('a key id string of 1 to 1024 characters', `${name}.keyId`, o.keyId);
  if (typeof o.key === 'function' && o.keyId === undefined) throw typeError('a key id string (a keyProvider needs one to find the key at load)', `${name}.keyId`, o.keyId);
  if (o.keyId !== undefined && o.key === undefined) throw typeError('a key (options.keyId names the key that encrypts)', `${name}.key`, o.key);
}

/** The bytes of a .sparq file with these sections, encrypted and/or signed as asked. */
export async function writeProtected(sections: readonly SectionInput[], options: ProtectOptions, name = 'options'): Promise<Uint8Array> {
  checkProtectOptions(options, name);
  const signature = options.sign === undefined ? undefined : await import('./signature.js');
  const signer = signature?.privateKey(options.sign, `${name}.sign`);
  let bytes: Uint8Array;
  if (options.key !== undefined) {
    const keyId = options.keyId ?? null;
    const kek = await resolveKek(options.key, keyId, `${name}.key`);
    try {
      bytes = writeSparq((await import('./seal.js')).sealSections(sections, kek, keyId));
    } finally {
      kek.fill(0);
    }
  } else {
    bytes = writeSparq(sections);
  }
  return signature && signer ? signature.signFile(bytes, signer) : bytes;
}

async function trustedKeys(verify: OpenOptions['verify'], name: string): Promise<{ keys: KeyObject[]; verifySigned: typeof import('./signature.js').verifySigned }> {
  const list = Array.isArray(verify) ? verify : [verify];
  if (list.length === 0) throw typeError('an Ed25519 public key or a non-empty array of them', name, verify);
  const { publicKey, verifySigned } = await import('./signature.js');
  return { keys: list.map((k, i) => publicKey(k, Array.isArray(verify) ? `${name}[${i}]` : name)), verifySigned };
}

/**
 * Whether these (unverifiable) bytes show a protected layer in their first 64 KiB, by any of its marks
 * (one changed byte cannot erase them all): then damage is reported by that layer's code.
 */
function looksLike(bytes: Uint8Array, marks: readonly string[]): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1 << 16));
  return marks.some((m) => head.includes(m, 0, 'latin1'));
}

function openOuter(bytes: Uint8Array, options: OpenOptions): ReadonlyMap<string, SparqSection> {
  try {
    return openSparq(bytes);
  } catch (e) {
    if (!(e instanceof SparqError) || e.code !== 'ERR_INVALID_MODEL') throw e;
    // A changed byte in a signed or encrypted file is a failed signature or decryption, not just damage.
    if (options.verify !== undefined && looksLike(bytes, [SECTION_SIGNATURE, SECTION_SIGNED, '"sparq-signature"'])) throw new SparqError('ERR_SIGNATURE', `The signed model was changed since signing: ${e.message}`, { cause: e });
    if (looksLike(bytes, [SECTION_CRYPTO, sealedName(0), '"sparq-encrypted"'])) throw new SparqError('ERR_DECRYPT', `The encrypted model was changed or damaged: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * The model's sections of a .sparq file: the signature checked (with verify), the sections decrypted
 * (with key). `owned`: the caller read the file itself and hands its buffer over (decrypted in place).
 */
export async function openProtected(bytes: Uint8Array, options: OpenOptions, name = 'options', owned = false): Promise<ReadonlyMap<string, SparqSection>> {
  if (options.key !== undefined && !isKeySpec(options.key)) throw typeError('a 32-byte Uint8Array, a secret KeyObject or an async keyProvider(keyId)', `${name}.key`, options.key);
  const trusted = options.verify === undefined ? undefined : await trustedKeys(options.verify, `${name}.verify`);
  const outer = openOuter(bytes, options);
  const inner = trusted ? openSparq(trusted.verifySigned(outer, trusted.keys).file) : unwrapSigned(outer);
  const crypto = inner.get(SECTION_CRYPTO);
  if (!crypto || options.key === undefined) return openUnkeyed(inner);
  const kek = await resolveKek(options.key, readCryptoHeader(crypto).header.keyId, `${name}.key`);
  try {
    return await unsealSections(inner, kek, owned);
  } finally {
    kek.fill(0);
  }
}

/** A non-.sparq file (ONNX) opened with { verify }: it cannot carry a signature. */
export function unsignedFormat(what: string): SparqError {
  return new SparqError('ERR_SIGNATURE', `${what} cannot carry a signature, and one was required ({ verify }); sign a .sparq file (saveModel(model, 'm.sparq', { sign }) or sparq sign)`);
}
