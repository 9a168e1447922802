// Keys for encrypted models. A caller gives a key-encryption key (KEK): 32 raw bytes, a secret KeyObject,
// or an async keyProvider(keyId) that fetches it (from a KMS or a secret store). Each file is encrypted
// under a fresh random data key, stored wrapped (AES-256-GCM) by the KEK beside the key id: envelope
// encryption, so rotating a KEK rewraps 32 bytes, and a KMS need only ever see data keys.
// No node:crypto here: opening a model with a key does not load it (~5 ms; unseal.ts decrypts natively).
import type { KeyObject } from 'node:crypto';
import { types } from 'node:util';

import { SparqError, rangeError, typeError } from '../../errors.js';

export type KeyProvider = (keyId: string) => Promise<Uint8Array | KeyObject> | Uint8Array | KeyObject;
export type KeySpec = Uint8Array | KeyObject | KeyProvider;

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const WRAP_CONTEXT = 'sparq data key v1';

export const GCM = { KEY_BYTES, NONCE_BYTES, TAG_BYTES } as const;

// Raw bytes are tested first: util.types.isKeyObject loads node:crypto's internals (~1.5 ms).
export function isKeySpec(v: unknown): v is KeySpec {
  return v instanceof Uint8Array || typeof v === 'function' || types.isKeyObject(v);
}

/**
 * A KEK's 32 raw bytes (AES-256), checked, in a private copy the caller wipes (fill(0)) once used:
 * raw bytes, because the native cipher (and createCipheriv) take them without node:crypto's KeyObject.
 */
export function secretKeyBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== KEY_BYTES) throw rangeError('a 32-byte key (AES-256)', name, value);
    return Uint8Array.from(value);
  }
  if (types.isKeyObject(value)) {
    const k = value as KeyObject;
    if (k.type !== 'secret' || k.symmetricKeySize !== KEY_BYTES) throw rangeError(`a 32-byte secret KeyObject`, name, `a ${k.type} KeyObject${k.symmetricKeySize ? ` of ${k.symmetricKeySize} bytes` : ''}`);
    const raw = k.export();
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  }
  throw typeError('a 32-byte Uint8Array, a secret KeyObject or an async keyProvider(keyId)', name, value);
}

/** The KEK for a file's key id (the key itself, or what the provider returns for the id), as secretKeyBytes. */
export async function resolveKek(spec: KeySpec, keyId: string | null, name: string): Promise<Uint8Array> {
  if (typeof spec !== 'function') return secretKeyBytes(spec, name);
  if (keyId === null) throw new SparqError('ERR_DECRYPT', `The model was encrypted with a key given directly (no key id), so a keyProvider cannot find it; pass the key itself as ${name}`);
  let key: unknown;
  try {
    key = await spec(keyId);
  } catch (e) {
    throw new SparqError('ERR_DECRYPT', `The keyProvider failed for key id "${keyId}": ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  return secretKeyBytes(key, `the keyProvider's key for "${keyId}"`);
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

/** The associated data of a wrapped data key: it is bound to the key id it was stored with. */
export function wrapAad(keyId: string | null): Buffer {
  return Buffer.from(`${WRAP_CONTEXT}\0${keyId ?? ''}`, 'utf8');
}
