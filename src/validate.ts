// Argument checks shared by the public API. Each throws TypeError/RangeError with the house message.
import { rangeError, typeError } from './errors.js';

export function checkInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw typeError(`an integer in [${min}, ${max}]`, name, value);
  if (!Number.isInteger(value) || value < min || value > max) throw rangeError(`an integer in [${min}, ${max}]`, name, value);
  return value;
}

export function checkNumber(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw typeError(`a number in [${min}, ${max}]`, name, value);
  if (!Number.isFinite(value) || value < min || value > max) throw rangeError(`a number in [${min}, ${max}]`, name, value);
  return value;
}

export function checkFloat32Array(value: unknown, name: string, length?: number, lengthWhat?: string): Float32Array {
  if (!(value instanceof Float32Array)) throw typeError('a Float32Array', name, value);
  if (length !== undefined && value.length !== length)
    throw rangeError(`a Float32Array of ${lengthWhat ?? length} values`, name, value);
  return value;
}

export function checkOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
    throw (typeof value === 'string' ? rangeError : typeError)(`one of ${allowed.map((a) => `'${a}'`).join(', ')}`, name, value);
  return value as T;
}

export function checkObject(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError('an object', name, value);
  return value as Record<string, unknown>;
}

export function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw typeError('a boolean', name, value);
  return value;
}
