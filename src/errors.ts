// SparqError and the one message shape every argument check uses:
//   `Expected <what> for <name> but received <value>`

/** Stable error codes: match on `error.code`, not on the message. */
export type SparqErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_RELEASED'
  | 'ERR_ISA_UNSUPPORTED'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_NATIVE'
  | 'ERR_ADDON_MISSING'
  | 'ERR_INVALID_MODEL'
  | 'ERR_UNSUPPORTED_VERSION'
  | 'ERR_UNSUPPORTED_OP'
  | 'ERR_SHAPE_MISMATCH'
  | 'ERR_UNSUPPORTED_DTYPE'
  | 'ERR_INDEX_OUT_OF_RANGE'
  | 'ERR_DIVISION_BY_ZERO'
  | 'ERR_INVALID_DATA'
  | 'ERR_IO'
  | 'ERR_CUDA_UNAVAILABLE'
  | 'ERR_ABORTED'
  /** An encrypted model was opened without a key. */
  | 'ERR_KEY_REQUIRED'
  /** An encrypted model does not decrypt: the wrong key, or its bytes were changed. */
  | 'ERR_DECRYPT'
  /** A signature was required and the model is unsigned, signed by another key, or changed since signing. */
  | 'ERR_SIGNATURE';

export class SparqError extends Error {
  readonly code: SparqErrorCode;
  constructor(code: SparqErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SparqError';
    this.code = code;
  }
}

/** A short description of a value for error messages: `3.5`, `a string`, `a Float64Array`, ... */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return value.length <= 40 ? JSON.stringify(value) : `a string of length ${value.length}`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    const article = /^[AEIOU]/.test(name) ? 'an' : 'a';
    const length = 'length' in value ? (value as unknown as { length: number }).length : value.byteLength;
    return `${article} ${name} of length ${length}`;
  }
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof value;
}

export function expectedMessage(what: string, name: string, received: unknown): string {
  return `Expected ${what} for ${name} but received ${describeValue(received)}`;
}

/** TypeError for a value of the wrong kind. */
export function typeError(what: string, name: string, received: unknown): TypeError {
  return Object.assign(new TypeError(expectedMessage(what, name, received)), { code: 'ERR_INVALID_ARGUMENT' as const });
}

/** RangeError for a value of the right kind outside its allowed range. */
export function rangeError(what: string, name: string, received: unknown): RangeError {
  return Object.assign(new RangeError(expectedMessage(what, name, received)), { code: 'ERR_INVALID_ARGUMENT' as const });
}

/**
 * Re-raises an error thrown by the addon as a JS error created here, so its stack is the caller's
 * (native errors carry no JS frames). TypeError/RangeError keep their class; the rest become SparqError.
 */
export function rethrowNative(error: unknown): never {
  if (error instanceof SparqError) throw error;
  const e = error as { code?: string; message?: string };
  const message = e?.message ?? String(error);
  const code = (e?.code ?? 'ERR_NATIVE') as SparqErrorCode;
  if (error instanceof TypeError) throw Object.assign(new TypeError(message), { code });
  if (error instanceof RangeError) throw Object.assign(new RangeError(message), { code });
  throw new SparqError(code, message, { cause: error });
}
