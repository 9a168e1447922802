// ONNX bytes → sparq graph IR. protobufjs does the wire decoding; this file validates what it got
// (sizes against dims, dangling inputs, cycles, external-data paths) and turns every defect into
// SparqError('ERR_INVALID_MODEL'). Weight bytes are viewed in place when aligned, else copied once.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';

import { SparqError } from '../errors.js';
import { type Attribute, type ConstTensor, type DType, type Dim, type Graph, type Node, type TypedData, type ValueInfo, ELEMENT_BYTES, freeNames, freezeGraph, freezeTensor } from '../graph/ir.js';
import { densifySparseInitializer } from './sparse-initializer.js';
import { onnx, toNumber, type IAttributeProto, type IGraphProto, type IModelProto, type ITensorProto, type IValueInfoProto } from './proto.js';

const DTYPE_OF_CODE: Record<number, DType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
export const CODE_OF_DTYPE: Record<DType, number> = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13,
};

/** The dtype of an ONNX TensorProto.DataType code, or undefined for types sparq doesn't handle. */
export function dtypeOfCode(code: number): DType | undefined {
  return DTYPE_OF_CODE[code];
}

/** Every allocation sparq makes for one tensor stays under this many elements. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

export function invalid(message: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: ${message}`);
}

export interface DecodeOptions {
  /** Directory external-data files are resolved against (the model's directory). */
  baseDir?: string;
}

export interface DecodedModel {
  graph: Graph;
  /** ModelProto metadata_props (sparq keeps per-weight kernel formats there). */
  metadata: Record<string, string>;
  producer: string;
}

export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): DecodedModel {
  let proto: IModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: the bytes are not an ONNX ModelProto (${(e as Error).message})`, { cause: e });
  }
  if (!proto.graph) throw invalid('the model has no graph');
  let opset = 0;
  for (const o of proto.opsetImport ?? []) if (!o.domain || o.domain === 'ai.onnx') opset = toNumber(o.version);
  if (opset === 0) throw invalid('the model imports no default-domain (ai.onnx) opset');
  const metadata: Record<string, string> = {};
  for (const p of proto.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const graph = decodeGraph(proto.graph, opset, options);
  return { graph, metadata, producer: proto.producerName ?? '' };
}

/** `subgraph`: a branch or body, whose nodes may read values of the enclosing graphs. */
function decodeGraph(g: IGraphProto, opset: number, options: DecodeOptions, subgraph = false): Graph {
  const initializers = new Map<string, ConstTensor>();
  for (const t of g.initializer ?? []) {
    if (!t.name) throw invalid('an initializer has no name');
    initializers.set(t.name, decodeTensor(t, options, `initializer "${t.name}"`));
  }
  for (const s of g.sparseInitializer ?? []) {
    const d = densifySparseInitializer(s, (t, what) => decodeTensor(t, options, what));
    initializers.set(d.name, d.tensor);
  }
  const inputs: ValueInfo[] = [];
  for (const vi of g.input ?? []) {
    if (!vi.name) throw invalid('a graph input has no name');
    if (initializers.has(vi.name)) continue; // pre-IR-4 models list initializers as inputs too
    inputs.push(decodeValueInfo(vi, 'graph input', subgraph));
  }
  const outputs = (g.output ?? []).map((vi) => decodeValueInfo(vi, 'graph output', subgraph));
  if (outputs.length === 0) throw invalid('the graph has no outputs');

  const nodes: Node[] = (g.node ?? []).map((n, i) => {
    const name = n.name || `${n.opType ?? 'node'}_${i}`;
    if (!n.opType) throw invalid(`node ${i} has no op type`);
    const attrs: Record<string, Attribute> = {};
    for (const a of n.attribute ?? []) {
      if (!a.name) throw invalid(`an attribute of node "${name}" has no name`);
      attrs[a.name] = a.type === onnx.AttributeProto.AttributeType.GRAPH && a.g
        ? { type: 'graph', value: decodeGraph(a.g, opset, options, true) }
        : decodeAttribute(a, options, `attribute "${a.name}" of node "${name}"`);
    }
    return {
      name,
      op: n.opType,
      domain: n.domain === 'ai.onnx' ? '' : (n.domain ?? ''),
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs,
    };
  });
  const sorted = topoSort(nodes, new Set([...inputs.map((v) => v.name), ...initializers.keys()]), subgraph);
  const produced = new Set<string>([...inputs.map((v) => v.name), ...initializers.keys()]);
  for (const n of sorted) for (const o of n.outputs) if (o) produced.add(o);
  if (!subgraph) for (const o of outputs) if (!produced.has(o.name)) throw invalid(`graph output "${o.name}" is not produced by any node`);
  return freezeGraph({ name: g.name ?? 'graph', opset, inputs, outputs, initializers, nodes: sorted });
}

/**
 * Kahn's algorithm; a dangling input or a cycle is an invalid model. A node's subgraphs depend on the
 * outer values they read. In a subgraph (`outer`), names defined nowhere inside come from the enclosing
 * graphs (checked when it is inlined).
 */
function topoSort(nodes: Node[], available: Set<string>, outer = false): Node[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) =>
    n.outputs.forEach((o) => {
      if (!o) return;
      if (producer.has(o) || available.has(o)) throw invalid(`value "${o}" is produced more than once (node "${n.name}")`);
      producer.set(o, i);
    }),
  );
  const pending = new Array<number>(nodes.length).fill(0);
  const consumers = new Map<number, number[]>();
  nodes.forEach((n, i) => {
    const implicit: string[] = [];
    for (const a of Object.values(n.attrs)) if (a.type === 'graph') implicit.push(...freeNames(a.value));
    for (const input of new Set([...n.inputs, ...implicit])) {
      if (!input || available.has(input)) continue;
      const p = producer.get(input);
      if (p === undefined && outer) continue;
      if (p === undefined) throw invalid(`input "${input}" of node "${n.name}" is not a graph input, an initializer or any node's output`);
      pending[i]++;
      let list = consumers.get(p);
      if (!list) consumers.set(p, (list = []));
      list.push(i);
    }
  });
  const ready: number[] = [];
  pending.forEach((c, i) => c === 0 && ready.push(i));
  const order: Node[] = [];
  for (let r = 0; r < ready.length; r++) {
    const i = ready[r];
    order.push(nodes[i]);
    for (const c of consumers.get(i) ?? []) if (--pending[c] === 0) ready.push(c);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => pending[i] > 0).map((n) => `"${n.name}"`);
    throw invalid(`the graph has a cycle through nodes ${stuck.slice(0, 5).join(', ')}`);
  }
  return order;
}

/** `untyped`: a subgraph's inputs and outputs may leave their type to inference (float32, rank unknown here). */
function decodeValueInfo(vi: IValueInfoProto, what: string, untyped = false): ValueInfo {
  const name = vi.name ?? '';
  if (!name) throw invalid(`a ${what} has no name`);
  const tt = vi.type?.tensorType;
  if (!tt && untyped && !vi.type?.sequenceType && !vi.type?.mapType && !vi.type?.optionalType) return { name, dtype: 'float32', dims: null };
  if (!tt) throw invalid(`${what} "${name}" is not a tensor`);
  const dtype = dtypeOfCode(tt.elemType ?? 0);
  if (!dtype) throw invalid(`${what} "${name}" has element type ${tt.elemType}, which sparq does not support`);
  let dims: Dim[] | null = null;
  if (tt.shape) {
    dims = (tt.shape.dim ?? []).map((d, i) => {
      // protobufjs fills unset fields from prototype defaults: the oneof's `value` says which is set.
      if ((d as { value?: string }).value === 'dimValue') {
        const v = toNumber(d.dimValue);
        if (!Number.isSafeInteger(v) || v < 0) throw invalid(`${what} "${name}" has dim ${i} = ${v}`);
        return v;
      }
      return d.dimParam || `${name}_dim${i}`;
    });
  }
  return { name, dtype, dims };
}

function decodeAttribute(a: IAttributeProto, options: DecodeOptions, what: string): Attribute {
  const T = onnx.AttributeProto.AttributeType;
  const td = new TextDecoder();
  switch (a.type) {
    case T.INT: return { type: 'int', value: toNumber(a.i) };
    case T.FLOAT: return { type: 'float', value: a.f ?? 0 };
    case T.INTS: return { type: 'ints', value: (a.ints ?? []).map((v) => toNumber(v)) };
    case T.FLOATS: return { type: 'floats', value: [...(a.floats ?? [])] };
    case T.STRING: return { type: 'string', value: td.decode(a.s ?? new Uint8Array()) };
    case T.STRINGS: return { type: 'strings', value: (a.strings ?? []).map((s) => td.decode(s)) };
    case T.TENSOR:
      if (!a.t) throw invalid(`${what} has no tensor`);
      return { type: 'tensor', value: decodeTensor(a.t, options, what) };
    default:
      // Graph-valued and sparse attributes: kept out of the IR; the op that needs them is unsupported.
      return { type: 'strings', value: [] };
  }
}

/** A TensorProto's data as a typed array of the right length, validated against its dims. */
export function decodeTensor(t: ITensorProto, options: DecodeOptions, what: string): ConstTensor {
  const dtype = dtypeOfCode(t.dataType ?? 0);
  if (!dtype) throw invalid(`${what} has data type ${t.dataType}, which sparq does not support`);
  const dims = (t.dims ?? []).map((d) => toNumber(d));
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw invalid(`${what} has dims [${dims.join(', ')}]`);
    count *= d;
  }
  if (count > MAX_ELEMENTS) throw invalid(`${what} has dims [${dims.join(', ')}]: too large to allocate`);
  const bytesPer = ELEMENT_BYTES[dtype];
  let raw: Uint8Array | undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = readExternal(t, options, what, count * bytesPer);
  else if (t.rawData && t.rawData.length > 0) raw = t.rawData;
  if (raw) {
    if (raw.byteLength !== count * bytesPer)
      throw invalid(`${what} holds ${raw.byteLength} bytes but its dims [${dims.join(', ')}] of ${dtype} need ${count * bytesPer}`);
    if (raw.byteOffset % bytesPer === 0) return freezeTensor({ dtype, dims, data: viewAs(dtype, raw, count) });
    return lazyAligned(dtype, dims, raw, count);
  }
  const fromList = typedFromFields(dtype, t, count);
  if (fromList.length !== count)
    throw invalid(`${what} holds ${fromList.length} values but its dims [${dims.join(', ')}] need ${count}`);
  return freezeTensor({ dtype, dims, data: fromList });
}

/**
 * A tensor whose bytes sit unaligned in the model file: its typed array is made on first use (one
 * copy) and held weakly, so a session that only packs the weight never keeps a second full copy.
 */
function lazyAligned(dtype: DType, dims: number[], raw: Uint8Array, count: number): ConstTensor {
  let cached: WeakRef<TypedData> | undefined;
  const t = { dtype, dims, raw } as unknown as ConstTensor;
  Object.defineProperty(t, 'data', {
    enumerable: true,
    get(): TypedData {
      const hit = cached?.deref();
      if (hit) return hit;
      const data = viewAs(dtype, raw, count);
      cached = new WeakRef(data);
      return data;
    },
  });
  return freezeTensor(t);
}

/** A view over little-endian bytes when aligned, else one copy into a fresh aligned array. */
function viewAs(dtype: DType, raw: Uint8Array, count: number): TypedData {
  const bytesPer = ELEMENT_BYTES[dtype];
  const aligned = raw.byteOffset % bytesPer === 0;
  const buf = aligned ? raw : Uint8Array.prototype.slice.call(raw); // (Buffer#slice would be a view)
  switch (dtype) {
    case 'float32': return new Float32Array(buf.buffer, buf.byteOffset, count);
    case 'int32': return new Int32Array(buf.buffer, buf.byteOffset, count);
    case 'int64': return new BigInt64Array(buf.buffer, buf.byteOffset, count);
    case 'int8': return new Int8Array(buf.buffer, buf.byteOffset, count);
    case 'float64': return new Float64Array(buf.buffer, buf.byteOffset, count);
    case 'int16': return new Int16Array(buf.buffer, buf.byteOffset, count);
    case 'uint16': case 'float16': return new Uint16Array(buf.buffer, buf.byteOffset, count);
    case 'uint32': return new Uint32Array(buf.buffer, buf.byteOffset, count);
    case 'uint64': return new BigUint64Array(buf.buffer, buf.byteOffset, count);
    default: return new Uint8Array(buf.buffer, buf.byteOffset, count);
  }
}

function typedFromFields(dtype: DType, t: ITensorProto, count: number): TypedData {
  switch (dtype) {
    case 'float32': return Float32Array.from(t.floatData ?? []);
    case 'int64': return BigInt64Array.from(t.int64Data ?? [], (v) => BigInt(toNumber(v)));
    case 'int32': return Int32Array.from(t.int32Data ?? []);
    case 'int8': return Int8Array.from(t.int32Data ?? []);
    case 'float64': return Float64Array.from(t.doubleData ?? []);
    case 'int16': return Int16Array.from(t.int32Data ?? []);
    case 'uint16': case 'float16': return Uint16Array.from(t.int32Data ?? []);
    case 'uint32': return Uint32Array.from(t.uint64Data ?? [], (v) => toNumber(v));
    case 'uint64': return BigUint64Array.from(t.uint64Data ?? [], (v) => BigInt.asUintN(64, BigInt(String(v))));
    default: {
      const src = t.int32Data ?? [];
      // An empty field list for a zero-size tensor is fine; otherwise lengths are checked by the caller.
      return count === 0 ? new Uint8Array(0) : Uint8Array.from(src);
    }
  }
}

/** Reads an external-data tensor: a relative path beside the model, no absolute paths or '..'. */
function readExternal(t: ITensorProto, options: DecodeOptions, what: string, expected: number): Uint8Array {
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw invalid(`${what} is external but has no location`);
  if (!options.baseDir) throw invalid(`${what} lives in external file "${location}": load the model from its path so the file can be found`);
  const norm = normalize(location);
  if (isAbsolute(location) || isAbsolute(norm) || norm === '..' || norm.startsWith(`..${sep}`) || norm.split(/[\\/]/).includes('..'))
    throw invalid(`${what} refers to external file "${location}", outside the model's directory`);
  const offset = Number(entries.get('offset') ?? '0');
  const length = entries.has('length') ? Number(entries.get('length')) : expected;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)
    throw invalid(`${what} has external offset/length ${entries.get('offset')}/${entries.get('length')}`);
  if (length !== expected) throw invalid(`${what} has external length ${length} but its dims need ${expected} bytes`);
  const path = join(options.baseDir, norm);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: ${what}'s external file "${location}" cannot be read (${(e as Error).message})`, { cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    if (offset + length > size) throw invalid(`${what} needs bytes [${offset}, ${offset + length}) of "${location}", which has ${size}`);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n <= 0) throw invalid(`${what}: "${location}" ended early`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
