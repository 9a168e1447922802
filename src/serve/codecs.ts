// Codecs: V2 (Open Inference Protocol) tensors <-> sparq Tensors, as MLServer's codecs do for numpy.
// Decoding checks everything a request could get wrong against the model's signature (unknown or missing
// input, datatype, rank, fixed dims, element count against the shape, element values) and answers 400
// with the house message; nothing in a request reaches the session unchecked.
import { halfToNumber, numberToHalf } from '../graph/ir.js';
import { Tensor, arrayTypeOf, type TensorType } from '../tensor.js';
import { InferenceError, badRequest } from './errors.js';

/** V2 datatype names of the tensor types a session takes. */
export const V2_DATATYPE: Readonly<Record<TensorType, string>> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  uint8: 'UINT8',
  int16: 'INT16',
  uint16: 'UINT16',
  int32: 'INT32',
  uint32: 'UINT32',
  int64: 'INT64',
  uint64: 'UINT64',
  bool: 'BOOL',
};
const TENSOR_TYPE = new Map(Object.entries(V2_DATATYPE).map(([t, v]) => [v, t as TensorType]));
const BYTES_PER: Readonly<Record<TensorType, number>> = {
  float32: 4, float64: 8, float16: 2, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1,
};
/** The JSON value range of each integer type (64-bit ones: what a JSON number holds exactly). */
const INT_RANGE: Readonly<Partial<Record<TensorType, [number, number]>>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535], int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1], int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], uint64: [0, Number.MAX_SAFE_INTEGER],
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
  if (type === 'bool') {
    const a = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'boolean') throw badRequest('a boolean', `${name}[${i}]`, v);
      a[i] = v ? 1 : 0;
    }
    return new Tensor('bool', a, [n]);
  }
  const a = new (arrayTypeOf(type))(n);
  const range = INT_RANGE[type];
  const big = type === 'int64' || type === 'uint64';
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number' || (range && (!Number.isInteger(v) || v < range[0] || v > range[1])))
      throw badRequest(range ? `an integer in [${range[0]}, ${range[1]}]` : 'a number', `${name}[${i}]`, v);
    a[i] = big ? (BigInt(v) as never) : type === 'float16' ? numberToHalf(v) : v;
  }
  return new Tensor(type, a as never, [n]);
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
  const Ctor = arrayTypeOf(type) as unknown as new (buffer: ArrayBufferLike, offset: number, length: number) => never;
  return new Tensor(type, new Ctor(copy.buffer, 0, n), [n]);
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
