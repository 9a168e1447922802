// Tensor: typed data plus dims, shaped like onnxruntime-node's so switching is a one-line change.
import { rangeError, typeError } from './errors.js';

export type TensorType =
  | 'float32' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool'
  | 'float64' | 'float16' | 'int16' | 'uint16' | 'uint32' | 'uint64';

export interface TensorDataMap {
  float32: Float32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
  float64: Float64Array;
  /** IEEE half floats as their 16-bit patterns (as onnxruntime-node holds them). */
  float16: Uint16Array;
  int16: Int16Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
}
export type TensorData = TensorDataMap[TensorType];

const ARRAY_OF: Record<TensorType, { ctor: new (n: number | ArrayLike<number> | ArrayLike<bigint>) => TensorData; name: string }> = {
  float32: { ctor: Float32Array as never, name: 'Float32Array' },
  int8: { ctor: Int8Array as never, name: 'Int8Array' },
  uint8: { ctor: Uint8Array as never, name: 'Uint8Array' },
  int32: { ctor: Int32Array as never, name: 'Int32Array' },
  int64: { ctor: BigInt64Array as never, name: 'BigInt64Array' },
  bool: { ctor: Uint8Array as never, name: 'Uint8Array' },
  float64: { ctor: Float64Array as never, name: 'Float64Array' },
  float16: { ctor: Uint16Array as never, name: 'Uint16Array' },
  int16: { ctor: Int16Array as never, name: 'Int16Array' },
  uint16: { ctor: Uint16Array as never, name: 'Uint16Array' },
  uint32: { ctor: Uint32Array as never, name: 'Uint32Array' },
  uint64: { ctor: BigUint64Array as never, name: 'BigUint64Array' },
};

export const TENSOR_TYPES = Object.keys(ARRAY_OF) as TensorType[];

/** The typed array class of a tensor type's data (Uint8Array for bool). */
export function arrayTypeOf(type: TensorType): { new (n: number): TensorData; readonly name: string } {
  return ARRAY_OF[type].ctor;
}

export function isTensorType(value: unknown): value is TensorType {
  return typeof value === 'string' && value in ARRAY_OF;
}

/** The number of elements of a shape (1 for a scalar), validating every dim. */
export function sizeOfDims(dims: readonly number[], name = 'dims'): number {
  let size = 1;
  dims.forEach((d, i) => {
    if (typeof d !== 'number') throw typeError('a non-negative integer', `${name}[${i}]`, d);
    if (!Number.isInteger(d) || d < 0) throw rangeError('a non-negative integer', `${name}[${i}]`, d);
    size *= d;
  });
  if (!Number.isSafeInteger(size)) throw rangeError('dims whose product is a safe integer', name, dims);
  return size;
}

export class Tensor<T extends TensorType = TensorType> {
  readonly type: T;
  readonly data: TensorDataMap[T];
  readonly dims: readonly number[];
  readonly size: number;

  /**
   * new Tensor('float32', data, [2, 3]). `data` is the typed array for the type (Float32Array for
   * float32, BigInt64Array for int64, Uint8Array for bool, ...) or a plain array of numbers (bigints
   * for int64), which is copied. `dims` defaults to [data.length].
   */
  constructor(type: T, data: TensorDataMap[T] | readonly number[] | readonly bigint[], dims?: readonly number[]) {
    if (!isTensorType(type)) throw typeError(`one of ${TENSOR_TYPES.join(', ')}`, 'type', type);
    const spec = ARRAY_OF[type];
    let typed: TensorData;
    if (Array.isArray(data)) {
      if (type === 'int64' || type === 'uint64') {
        if (!data.every((v) => typeof v === 'bigint' || Number.isInteger(v))) throw typeError('an array of integers or bigints', 'data', data);
        const big = (data as readonly (number | bigint)[]).map((v) => BigInt(v));
        typed = type === 'int64' ? BigInt64Array.from(big) : BigUint64Array.from(big);
      } else {
        if (!data.every((v) => typeof v === 'number')) throw typeError('an array of numbers', 'data', data);
        typed = new spec.ctor(data as number[]);
      }
    } else if (ArrayBuffer.isView(data) && data.constructor === spec.ctor) {
      typed = data as TensorData;
    } else {
      throw typeError(`a ${spec.name} (or an array) for a ${type} tensor`, 'data', data);
    }
    const shape = dims ?? [typed.length];
    if (!Array.isArray(shape)) throw typeError('an array of non-negative integers', 'dims', dims);
    const size = sizeOfDims(shape);
    if (size !== typed.length) throw rangeError(`data of ${size} elements (the product of dims [${shape.join(', ')}])`, 'data', typed);
    this.type = type;
    this.data = typed as TensorDataMap[T];
    this.dims = Object.freeze([...shape]);
    this.size = size;
  }

  /** A view with other dims over the same data. */
  reshape(dims: readonly number[]): Tensor<T> {
    return new Tensor(this.type, this.data, dims);
  }
}
