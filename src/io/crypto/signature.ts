// Ed25519 signatures over a .sparq file. The signed file is wrapped whole, byte for byte, in a container
// beside a small JSON header (the signer's public-key fingerprint and the signature over a context string
// and the file's SHA-256), so verification hashes exactly the bytes it will then open, and an encrypted
// file is verified before anything is decrypted.
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'node:crypto';

import { SparqError, typeError } from '../../errors.js';
import { writeSparq, type SparqSection } from '../sparq-format.js';
import { readSignatureHeader, SECTION_SIGNATURE, SECTION_SIGNED, type SignatureHeader } from './protection.js';

export type PublicKeyInput = KeyObject | string | Uint8Array;
export type PrivateKeyInput = KeyObject | string | Uint8Array;

const CONTEXT = 'sparq signed model v1\0';

function keyError(what: string, name: string, value: unknown, cause?: unknown): TypeError {
  const e = typeError(what, name, value);
  if (cause !== undefined) Object.assign(e, { cause });
  return e;
}

/** An Ed25519 private key from a KeyObject or PEM/DER (PKCS#8). */
export function privateKey(value: unknown, name: string): KeyObject {
  let key: KeyObject;
  try {
    key = value instanceof KeyObject ? value : createPrivateKey(typeof value === 'string' ? value : { key: Buffer.from(value as Uint8Array), format: isPem(value as Uint8Array) ? 'pem' : 'der', type: 'pkcs8' });
  } catch (e) {
    throw keyError('an Ed25519 private key (a KeyObject or PEM)', name, value, e);
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw keyError('an Ed25519 private key (a KeyObject or PEM)', name, value);
  return key;
}

/** An Ed25519 public key from a KeyObject (public or private) or PEM/DER (SPKI). */
export function publicKey(value: unknown, name: string): KeyObject {
  let key: KeyObject;
  try {
    if (value instanceof KeyObject) key = value.type === 'private' ? createPublicKey(value) : value;
    else if (typeof value === 'string') key = createPublicKey(value);
    else if (value instanceof Uint8Array) key = createPublicKey({ key: Buffer.from(value), format: isPem(value) ? 'pem' : 'der', type: 'spki' });
    else throw new TypeError('not a key');
  } catch (e) {
    throw keyError('an Ed25519 public key (a KeyObject or PEM)', name, value, e);
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') throw keyError('an Ed25519 public key (a KeyObject or PEM)', name, value);
  return key;
}

function isPem(b: Uint8Array): boolean {
  return Buffer.from(b.subarray(0, 64)).toString('latin1').includes('-----BEGIN');
}

/** 'sha256:<hex>' of the raw 32-byte Ed25519 public key (the last 32 bytes of its SPKI DER). */
export function fingerprint(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return `sha256:${createHash('sha256').update(der.subarray(der.length - 32)).digest('hex')}`;
}

function message(file: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(CONTEXT, 'utf8'), createHash('sha256').update(file).digest()]);
}

/** The file wrapped with its signature. */
export function signFile(file: Uint8Array, key: KeyObject): Uint8Array {
  const header: SignatureHeader = {
    format: 'sparq-signature',
    version: 1,
    alg: 'ed25519',
    digest: 'sha256',
    fingerprint: fingerprint(createPublicKey(key)),
    signature: sign(null, message(file), key).toString('base64'),
  };
  return writeSparq([
    { name: SECTION_SIGNATURE, data: new TextEncoder().encode(JSON.stringify(header)) },
    { name: SECTION_SIGNED, data: file },
  ]);
}

/**
 * The signed file's bytes once its signature is checked against the trusted keys: unsigned, signed by
 * another key, or changed since signing → ERR_SIGNATURE.
 */
export function verifySigned(sections: ReadonlyMap<string, SparqSection>, trusted: readonly KeyObject[]): { file: Uint8Array; signer: string } {
  const sig = sections.get(SECTION_SIGNATURE);
  const signed = sections.get(SECTION_SIGNED);
  if (!sig || !signed) throw new SparqError('ERR_SIGNATURE', 'The model is not signed, and a signature was required ({ verify })');
  const header = readSignatureHeader(sig);
  const key = trusted.find((k) => fingerprint(k) === header.fingerprint);
  if (!key) throw new SparqError('ERR_SIGNATURE', `The model is signed by ${header.fingerprint}, which is not one of the ${trusted.length} trusted key(s)`);
  const file = signed.bytes();
  if (!verify(null, message(file), key, Buffer.from(header.signature, 'base64')))
    throw new SparqError('ERR_SIGNATURE', `The model's signature by ${header.fingerprint} does not match its contents (changed since signing)`);
  return { file, signer: header.fingerprint };
}
