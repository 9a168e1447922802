// Codecs: V2 (Open Inference Protocol) tensors <-> sparq Tensors, as MLServer's codecs do for numpy.
// Decoding checks everything a request could get wrong against the model's signature (unknown or missing
// input, datatype, rank, fixed dims, element count against the shape, element values) and answers 400
// with the house message; nothing in a request reaches the session unchecked.
import { Tensor, halfToNumber, numberToHalf, type TensorType } from '../tensor.js';
import { InferenceError, badRequest } from './errors.js';

/** V2 datatype names of the tensor types a session takes. */
export const V2_DATATYPE: Readonly<Record<TensorType, string>> = {
  float32: 'FP32',
  int8: 'INT8',
  uint8: 'UINT8',
  int32: 'INT32',
  int64: 'INT64',
  bool: 'BOOL',
  float64: 'FP64',
  float16: 'FP16',
  int16: 'INT16',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
};
const TENSOR_TYPE = new Map(Object.entries(V2_DATATYPE).map(([t, v]) => [v, t as TensorType]));
const BYTES_PER: Readonly<Record<TensorType, number>> = {
  float32: 4, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1, float64: 8, float16: 2, int16: 2, uint16: 2, uint32: 4, uint64: 8,
};

/** A model input or output as the protocol describes it: -1 for a dim the request chooses. */
export interface TensorSignature {
  name: string;
  type: TensorType;
  shape: readonly number[] | null;
}

export interface RequestedOutput {
  name: string;
  binary: boolean;
}

export interface DecodedRequest {
  id?: string;
  inputs: Record<string, Tensor>;
  /** The outputs to return (all of the model's when the request names none), in response order. */
  outputs: RequestedOutput[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkShape(shape: unknown, name: string): number[] {
  if (!Array.isArray(shape)) throw badRequest('an array of non-negative integers', name, shape);
  if (shape.length > 16) throw badRequest('a shape of rank at most 16', name, shape);
  let size = 1;
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw badRequest('a non-negative integer', `${name}[${i}]`, d);
    size *= d;
  });
  if (!Number.isSafeInteger(size)) throw badRequest('a shape whose product is a safe integer', name, shape);
  return shape as number[];
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * `data` flat (row-major), or nested exactly as the shape (V2 allows both): a nested array must have
 * the shape's depth and lengths, so a ragged one is refused rather than read in some order.
 */
function flatten(data: unknown[], shape: readonly number[], name: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number, where: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw badRequest(`a value (data nested as shape [${shape.join(', ')}])`, where, v);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw badRequest(`an array of ${shape[depth]} (data nested as shape [${shape.join(', ')}])`, where, v);
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${where}[${i}]`);
  };
  walk(data, 0, name);
  return out;
}

function fromJson(type: TensorType, values: unknown[], name: string): Tensor {
  const n = values.length;
  if (type === 'int64' || type === 'uint64') {
    const a = type === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || (type === 'uint64' && v < 0)) throw badRequest(type === 'int64' ? 'an integer' : 'a non-negative integer', `${name}[${i}]`, v);
      a[i] = BigInt(v);
    }
    return new Tensor(type, a as never, [n]);
  }
  if (type === 'float16') {
    const a = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'number') throw badRequest('a number', `${name}[${i}]`, v);
      a[i] = numberToHalf(v);
    }
    return new Tensor('float16', a, [n]);
  }
  if (type === 'bool') {
    const a = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'boolean') throw badRequest('a boolean', `${name}[${i}]`, v);
      a[i] = v ? 1 : 0;
    }
    return new Tensor('bool', a, [n]);
  }
  const a = new (typeArray(type))(n);
  const float = type === 'float32' || type === 'float64';
  const [lo, hi] = float ? [-Infinity, Infinity] : INT_RANGE[type] ?? [0, 255];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number' || (!float && (!Number.isInteger(v) || v < lo || v > hi)))
      throw badRequest(float ? 'a number' : `an integer in [${lo}, ${hi}]`, `${name}[${i}]`, v);
    a[i] = v;
  }
  return new Tensor(type, a as never, [n]);
}

const INT_RANGE: Partial<Record<TensorType, [number, number]>> = {
  int32: [-(2 ** 31), 2 ** 31 - 1], int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535], uint32: [0, 2 ** 32 - 1],
};

type NumberArray = Float32Array | Int32Array | Int8Array | Uint8Array | Float64Array | Int16Array | Uint16Array | Uint32Array;
interface NumberArrayClass {
  new (n: number): NumberArray;
  new (buffer: ArrayBufferLike, offset: number, length: number): NumberArray;
}

function typeArray(type: TensorType): NumberArrayClass {
  return ({ float32: Float32Array, int32: Int32Array, int8: Int8Array, uint8: Uint8Array, float64: Float64Array, int16: Int16Array, uint16: Uint16Array, float16: Uint16Array, uint32: Uint32Array } as Record<string, NumberArrayClass>)[type];
}

/** Copies `bytes` into a fresh, aligned array of the type (bit for bit). */
function fromBytes(type: TensorType, bytes: Uint8Array, name: string): Tensor {
  const n = bytes.byteLength / BYTES_PER[type];
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  if (type === 'bool') {
    for (let i = 0; i < n; i++) if (copy[i] > 1) throw badRequest('a boolean byte (0 or 1)', `${name}[${i}]`, copy[i]);
    return new Tensor('bool', copy, [n]);
  }
  const data = type === 'int64' ? new BigInt64Array(copy.buffer, 0, n) : type === 'uint64' ? new BigUint64Array(copy.buffer, 0, n) : new (typeArray(type))(copy.buffer, 0, n);
  return new Tensor(type, data as never, [n]);
}

function matchesSignature(shape: readonly number[], sig: TensorSignature): boolean {
  if (!sig.shape) return true;
  return shape.length === sig.shape.length && sig.shape.every((d, i) => d < 0 || d === shape[i]);
}

/**
 * Decodes a V2 infer request (the parsed JSON, and the binary part after it when the binary
 * extension is used) into feeds for the model's inputs.
 */
export function decodeInferRequest(body: unknown, binary: Uint8Array | undefined, inputs: readonly TensorSignature[], outputs: readonly TensorSignature[]): DecodedRequest {
  if (!isObject(body)) throw badRequest('a JSON object', 'the request', body);
  const id = body.id;
  if (id !== undefined && typeof id !== 'string') throw badRequest('a string', 'id', id);
  const params = body.parameters;
  if (params !== undefined && !isObject(params)) throw badRequest('an object', 'parameters', params);
  if (!Array.isArray(body.inputs)) throw badRequest('an array of tensors', 'inputs', body.inputs);
  const feeds: Record<string, Tensor> = Object.create(null) as Record<string, Tensor>;
  let offset = 0;
  const binaryLength = binary?.byteLength ?? 0;
  body.inputs.forEach((input: unknown, i: number) => {
    const where = `inputs[${i}]`;
    if (!isObject(input)) throw badRequest('a tensor object', where, input);
    const { name, datatype } = input;
    if (typeof name !== 'string') throw badRequest('a string', `${where}.name`, name);
    const sig = inputs.find((s) => s.name === name);
    if (!sig) throw badRequest(`one of the model's inputs (${inputs.map((s) => s.name).join(', ')})`, `${where}.name`, name);
    if (Object.prototype.hasOwnProperty.call(feeds, name)) throw badRequest('each input once', `${where}.name`, name);
    const want = V2_DATATYPE[sig.type];
    if (datatype !== want) throw badRequest(`datatype ${want}`, `input "${name}"`, datatype);
    const shape = checkShape(input.shape, `${where}.shape`);
    if (!matchesSignature(shape, sig)) throw badRequest(`a shape matching [${sig.shape!.join(', ')}]`, `input "${name}"`, `[${shape.join(', ')}]`);
    const count = numelOf(shape);
    const p = input.parameters;
    if (p !== undefined && !isObject(p)) throw badRequest('an object', `${where}.parameters`, p);
    const size = p?.binary_data_size;
    let t: Tensor;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw badRequest('a non-negative integer', `input "${name}" binary_data_size`, size);
      if (input.data !== undefined) throw badRequest('no data with binary_data_size', `input "${name}"`, input.data);
      if (size !== count * BYTES_PER[sig.type]) throw badRequest(`binary_data_size ${count * BYTES_PER[sig.type]} (${count} ${want} elements)`, `input "${name}"`, size);
      if (offset + size > binaryLength) throw badRequest(`${size} bytes of binary data`, `input "${name}"`, `${binaryLength - offset} bytes left in the body`);
      t = fromBytes(sig.type, binary!.subarray(offset, offset + size), `input "${name}"`);
      offset += size;
    } else {
      if (!Array.isArray(input.data)) throw badRequest('an array (or parameters.binary_data_size)', `input "${name}" data`, input.data);
      const flat = flatten(input.data, shape, `input "${name}" data`);
      if (flat.length !== count) throw badRequest(`${count} elements (the product of shape [${shape.join(', ')}])`, `input "${name}" data`, flat.length);
      t = fromJson(sig.type, flat, `input "${name}" data`);
    }
    feeds[name] = new Tensor(t.type, t.data as never, shape);
  });
  if (offset !== binaryLength) throw badRequest(`binary data of ${offset} bytes (the inputs' binary_data_size)`, 'the request body', `${binaryLength} bytes after the JSON header`);
  for (const s of inputs) if (!(s.name in feeds)) throw badRequest(`input "${s.name}" (the model's inputs: ${inputs.map((x) => x.name).join(', ')})`, 'inputs', body.inputs);
  const binaryDefault = params?.binary_data_output === true;
  let requested: RequestedOutput[];
  if (body.outputs === undefined) {
    requested = outputs.map((o) => ({ name: o.name, binary: binaryDefault }));
  } else {
    if (!Array.isArray(body.outputs)) throw badRequest('an array of outputs', 'outputs', body.outputs);
    requested = body.outputs.map((o: unknown, i: number) => {
      if (!isObject(o) || typeof o.name !== 'string') throw badRequest('an object with a name', `outputs[${i}]`, o);
      if (!outputs.some((s) => s.name === o.name)) throw badRequest(`one of the model's outputs (${outputs.map((s) => s.name).join(', ')})`, `outputs[${i}].name`, o.name);
      const op = o.parameters;
      if (op !== undefined && !isObject(op)) throw badRequest('an object', `outputs[${i}].parameters`, op);
      const b = op?.binary_data;
      if (b !== undefined && typeof b !== 'boolean') throw badRequest('a boolean', `outputs[${i}].parameters.binary_data`, b);
      return { name: o.name, binary: b ?? binaryDefault };
    });
  }
  return { id, inputs: feeds, outputs: requested };
}

export interface V2OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: { binary_data_size: number };
  data?: (number | boolean)[];
}

export interface EncodedResponse {
  /** The response JSON (outputs sent as binary carry binary_data_size and no data). */
  json: Record<string, unknown>;
  /** The binary outputs' bytes, in output order (empty: a plain JSON response). */
  binary: Uint8Array[];
}

function jsonData(t: Tensor): (number | boolean)[] {
  if (t.type === 'bool') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  if (t.type === 'int64' || t.type === 'uint64') return Array.from(t.data as BigInt64Array, Number);
  if (t.type === 'float16') return Array.from(t.data as Uint16Array, halfToNumber);
  return Array.from(t.data as Float32Array);
}

export function encodeInferResponse(modelName: string, modelVersion: string, id: string | undefined, outputs: readonly RequestedOutput[], results: Record<string, Tensor>): EncodedResponse {
  const binary: Uint8Array[] = [];
  const tensors: V2OutputTensor[] = outputs.map(({ name, binary: asBinary }) => {
    const t = results[name];
    if (!t) throw new InferenceError(500, `The model returned no output "${name}"`);
    const out: V2OutputTensor = { name, datatype: V2_DATATYPE[t.type], shape: [...t.dims] };
    if (asBinary) {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      out.parameters = { binary_data_size: bytes.byteLength };
      binary.push(bytes);
    } else {
      out.data = jsonData(t);
    }
    return out;
  });
  const json: Record<string, unknown> = { model_name: modelName, model_version: modelVersion };
  if (id !== undefined) json.id = id;
  json.outputs = tensors;
  return { json, binary };
}

/** The V2 datatype of a tensor type, and the tensor type of a V2 datatype (undefined if unsupported). */
export function tensorTypeOf(datatype: string): TensorType | undefined {
  return TENSOR_TYPE.get(datatype);
}
