// Keys for encrypted models. A caller gives a key-encryption key (KEK): 32 raw bytes, a secret KeyObject,
// or an async keyProvider(keyId) that fetches it (from a KMS or a secret store). Each file is encrypted
// under a fresh random data key, stored wrapped (AES-256-GCM) by the KEK beside the key id: envelope
// encryption, so rotating a KEK rewraps 32 bytes, and a KMS need only ever see data keys.
import { createCipheriv, createDecipheriv, createSecretKey, KeyObject, randomBytes } from 'node:crypto';

import { SparqError, rangeError, typeError } from '../../errors.js';

export type KeyProvider = (keyId: string) => Promise<Uint8Array | KeyObject> | Uint8Array | KeyObject;
export type KeySpec = Uint8Array | KeyObject | KeyProvider;

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const WRAP_CONTEXT = 'sparq data key v1';

export function isKeySpec(v: unknown): v is KeySpec {
  return v instanceof Uint8Array || v instanceof KeyObject || typeof v === 'function';
}

/** A KEK as a secret KeyObject, checked to be 32 bytes (AES-256). */
export function secretKey(value: unknown, name: string): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type !== 'secret' || value.symmetricKeySize !== KEY_BYTES) throw rangeError(`a 32-byte secret KeyObject`, name, `a ${value.type} KeyObject${value.symmetricKeySize ? ` of ${value.symmetricKeySize} bytes` : ''}`);
    return value;
  }
  if (value instanceof Uint8Array) {
    if (value.length !== KEY_BYTES) throw rangeError('a 32-byte key (AES-256)', name, value);
    return createSecretKey(value);
  }
  throw typeError('a 32-byte Uint8Array, a secret KeyObject or an async keyProvider(keyId)', name, value);
}

/** The KEK for a file's key id: the key itself, or what the provider returns for the id. */
export async function resolveKek(spec: KeySpec, keyId: string | null, name: string): Promise<KeyObject> {
  if (typeof spec !== 'function') return secretKey(spec, name);
  if (keyId === null) throw new SparqError('ERR_DECRYPT', `The model was encrypted with a key given directly (no key id), so a keyProvider cannot find it; pass the key itself as ${name}`);
  let key: unknown;
  try {
    key = await spec(keyId);
  } catch (e) {
    throw new SparqError('ERR_DECRYPT', `The keyProvider failed for key id "${keyId}": ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  return secretKey(key, `the keyProvider's key for "${keyId}"`);
}

/** The key in SPARQ_MODEL_KEY: 64 hex digits or base64 of 32 bytes. */
export function parseKeyText(text: string, name: string): Uint8Array {
  const t = text.trim();
  let bytes: Uint8Array | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) bytes = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) bytes = Buffer.from(t, 'base64');
  if (!bytes || bytes.length !== KEY_BYTES) throw rangeError('a 32-byte key as 64 hex digits or base64', name, `a string of length ${t.length}`);
  return new Uint8Array(bytes);
}

function wrapAad(keyId: string | null): Buffer {
  return Buffer.from(`${WRAP_CONTEXT}\0${keyId ?? ''}`, 'utf8');
}

/** A fresh data key and its wrapping by the KEK. */
export function newDataKey(kek: KeyObject, keyId: string | null): { dataKey: KeyObject; nonce: string; wrapped: string } {
  const raw = randomBytes(KEY_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', kek, nonce).setAAD(wrapAad(keyId));
  const wrapped = Buffer.concat([c.update(raw), c.final(), c.getAuthTag()]);
  const dataKey = createSecretKey(raw);
  raw.fill(0);
  return { dataKey, nonce: nonce.toString('base64'), wrapped: wrapped.toString('base64') };
}

/** Unwraps a file's data key; the wrong KEK fails the GCM tag: ERR_DECRYPT. */
export function unwrapDataKey(kek: KeyObject, keyId: string | null, nonce: string, wrapped: string): KeyObject {
  const n = Buffer.from(nonce, 'base64');
  const w = Buffer.from(wrapped, 'base64');
  if (n.length !== NONCE_BYTES || w.length !== KEY_BYTES + TAG_BYTES) throw new SparqError('ERR_DECRYPT', 'The encrypted model\'s wrapped data key is malformed');
  try {
    const d = createDecipheriv('aes-256-gcm', kek, n).setAAD(wrapAad(keyId));
    d.setAuthTag(w.subarray(KEY_BYTES));
    const raw = Buffer.concat([d.update(w.subarray(0, KEY_BYTES)), d.final()]);
    const key = createSecretKey(raw);
    raw.fill(0);
    return key;
  } catch (e) {
    throw new SparqError('ERR_DECRYPT', `The key does not decrypt this model (wrong key${keyId ? ` for key id "${keyId}"` : ''}, or the file was changed)`, { cause: e });
  }
}

export const GCM = { NONCE_BYTES, TAG_BYTES } as const;
