// A Model as a .sparq file, and back. Sections (sparq-format.ts):
//   'model'   JSON: the graph (nodes, inputs, outputs, opset), metadata, per-weight kernel formats, a
//             table of every constant (where its bytes are and how they are encoded), and where it can
//             be stored, the graph as sessions run it ('prepared': fused nodes, derived weights as
//             recipes; src/graph/prepare.ts).
//   'consts'  raw little-endian bytes of the small constants (biases, shapes, LayerNorm scales, ...).
//   'weights' the linear layers' weights in the compact codec of sparq-weights.ts: sparse with u8 gap
//             indices where pruned, s8 values + scales where quantized (recovered exactly from the
//             model's q·scale values and its quantization record) — or only the s8 scales, where the
//             packed bytes hold the weights exactly (layout 'packed': src/io/packed-columns.ts).
//   'packed'  weights in their kernel's serialised layout (native serialize / unpack), adopted by a
//             session as they are: no quantizing, no searching, a copy and a check.
// 'model' and 'weights' are brotli-compressed by default where it pays (Huffman-style entropy coding,
// as Deep Compression's last stage); 'packed' never is (loading must not pay a decode). `compress:
// false` writes everything raw.
import { SparqError } from '../errors.js';
import { type Attribute, type ConstTensor, type DType, type Dim, type Graph, type Node, type TypedData, type ValueInfo, ELEMENT_BYTES, allocData, freezeTensor, lazyTensor, transpose } from '../graph/ir.js';
import { arrayTypeOf } from '../tensor.js';
import { Model, type WeightFormatSpec, checkSupported } from '../model.js';
import { type Derivation, deriveTensor } from '../graph/fuse.js';
import { PREPARED_VERSION, attachPreparedGraph, storablePreparation } from '../graph/prepare.js';
import { removeDeadNodes } from '../graph/fold.js';
import { linearLayers } from '../compress/layers.js';
import { quantizationOf } from '../compress/quantization-record.js';
import { quantizeWeights } from '../compress/quantize-math.js';
import { type PackedWeights, type WeightFormat, pack } from '../kernels.js';
import { type Prepacked, type SparseWeight, attachPrepacked, serializePacked } from './prepacked.js';
import { type SectionInput, type SparqSection, SECTION_ALIGN, SECTION_KIND, openSparq, writeSparq } from './sparq-format.js';
import { openUnkeyed } from './crypto/protection.js';
import { type SparseColumns, type WeightMeta, checkWeight, decodeWeight, denseFromColumns, encodeWeight, encodeWithPacked, scaledCodes, sparseColumns } from './sparq-weights.js';
import { packedColumns } from './packed-columns.js';

// One decoder for every file (constructing one costs more than decoding a small model's JSON).
const UTF8 = new TextDecoder('utf-8', { fatal: true });

const DTYPES: readonly DType[] = ['float32', 'int8', 'uint8', 'int32', 'int64', 'bool'];

type ConstRef = { dtype: DType; dims: number[]; offset: number; length: number };
type PackedRef = { format: string; options: Record<string, number | string | boolean>; offset: number; length: number };
type WeightRef = { dims: number[]; transposed: boolean; offset: number; meta: WeightMeta; packed?: PackedRef };
type JsonAttr = Exclude<Attribute, { type: 'tensor' }> | { type: 'tensor'; value: ConstRef };
type JsonNode = { name: string; op: string; domain: string; inputs: string[]; outputs: string[]; attrs: Record<string, JsonAttr> };

interface ModelJson {
  format: 'sparq-model';
  name: string;
  opset: number;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: JsonNode[];
  /** The graph as sessions run it (src/graph/prepare.ts), where it is storable. */
  prepared?: { version: number; nodes: JsonNode[]; derived: Record<string, Derivation>; values?: Record<string, ConstRef> };
  metadata: Record<string, string>;
  weightFormats: Record<string, WeightFormatSpec>;
  consts: Record<string, ConstRef>;
  weights: Record<string, WeightRef>;
}

export interface SparqWriteOptions {
  /**
   * Brotli the compact-weight section, and a graph section of 64 KiB or more, where that pays (default
   * true: smaller files; the packed weights a session adopts are never compressed, so a model whose
   * weights are all packed loads as fast as with false). false: everything raw.
   */
  compress?: boolean;
  /**
   * Also store weights in their kernel's packed layout, so sessions adopt them without re-packing.
   * 'auto' (default): weights whose packed bytes hold them exactly ('sparse-int8' and 'int8': the
   * model's s8 codes; 'sparse', 'block', '2:4': the fp32 values; 'int4', 'int8-wo': the codes the fp32
   * values decode from) are stored packed only (with s8 scales) where that is at most 1.25x their
   * compact encoding — it is usually smaller; other packed bytes are stored beside the compact encoding
   * where at most 1.5x its size. true: every weight whose format can serialise. false: never (compact only, the
   * smallest with brotli; sessions then pack at load, from the nonzeros for sparse weights).
   */
  prepack?: 'auto' | boolean;
}

/**
 * A graph section smaller than this stays raw even with `compress`: Node's brotli decoder costs ~40 µs
 * to start, a sixth of loading LeNet-300-100, to save a KiB or two; the 4-layer encoder's 115 KiB graph
 * cost ~2 ms to decode in a fresh process (a tenth of its load) to save 107 KiB of an 8.7 MB file. Compact weights are brotli'd from
 * 1 KiB (where that saves an eighth: sparq-format.ts); a model whose weights are all packed keeps only
 * scales there, which brotli doesn't shrink, so its load pays no decode at all.
 */
const BROTLI_MIN_GRAPH = 1 << 20;
const BROTLI_MIN_WEIGHTS = 1 << 10;

class Appender {
  parts: Uint8Array[] = [];
  length = 0;
  /** 8: every typed array can view its part in place; SECTION_ALIGN for packed weights (cache lines, vector loads). */
  constructor(readonly alignment = 8) {}
  add(bytes: Uint8Array): number {
    const pad = (this.alignment - (this.length % this.alignment)) % this.alignment;
    if (pad) this.parts.push(new Uint8Array(pad));
    const at = this.length + pad;
    this.parts.push(bytes);
    this.length = at + bytes.length;
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

const bytesOf = (d: TypedData) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** The .sparq bytes of a model. */
export function encodeSparqModel(model: Model, options: SparqWriteOptions = {}): Uint8Array {
  return writeSparq(sparqModelSections(model, options));
}

/** The sections of a model's .sparq file (what writeSparq, or the encryption layer, stores). */
export function sparqModelSections(model: Model, options: SparqWriteOptions = {}): SectionInput[] {
  const compress = options.compress ?? true;
  const prepack = options.prepack ?? 'auto';
  const graph = model.graph;
  const consts = new Appender();
  const weights = new Appender();
  const packedSection = new Appender(SECTION_ALIGN);
  const quant = quantizationOf(model);
  const constRef = (t: ConstTensor): ConstRef => ({ dtype: t.dtype, dims: [...t.dims], offset: consts.add(bytesOf(t.data)), length: t.data.byteLength });
  const jsonNode = (n: Node): JsonNode => ({
    name: n.name,
    op: n.op,
    domain: n.domain,
    inputs: [...n.inputs],
    outputs: [...n.outputs],
    attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, a]) => [k, a.type === 'tensor' ? { type: 'tensor', value: constRef(a.value) } : a])),
  });
  const preparation = storablePreparation(graph);
  const json: ModelJson = {
    format: 'sparq-model',
    name: graph.name,
    opset: graph.opset,
    inputs: graph.inputs.map((v) => ({ ...v })),
    outputs: graph.outputs.map((v) => ({ ...v })),
    nodes: graph.nodes.map(jsonNode),
    ...(preparation
      ? { prepared: { version: PREPARED_VERSION, nodes: preparation.nodes.map(jsonNode), derived: preparation.derived, values: Object.fromEntries(Object.entries(preparation.values).map(([k, t]) => [k, constRef(t)])) } }
      : {}),
    metadata: { ...model.metadata },
    weightFormats: Object.fromEntries(model.weightFormats),
    consts: {},
    weights: {},
  };
  const linear = new Map(linearLayers(graph).map((l) => [l.weight, l]));
  for (const [name, t] of graph.initializers) {
    const l = linear.get(name);
    if (!l) {
      json.consts[name] = constRef(t);
      continue;
    }
    // In [K, N] so per-channel scales run along N whatever layout the node stores.
    const W = l.transposed ? transpose(t.data as Float32Array, l.N, l.K) : (t.data as Float32Array);
    const q = quant.get(name);
    const spec = model.weightFormats.get(name);
    const bk = spec?.options?.block && /^1x\d+$/.test(String(spec.options.block)) ? Number(String(spec.options.block).slice(2)) : 1;
    // s8 codes + scales for per-channel int8; group-wise weight-only weights ('int4', 'int8-wo') are
    // held by their packed codes, scales and zero points (the fp32 values are what those decode to).
    const s8 = q && !q.groupSize ? quantizeWeights(W, l.K, l.N, q.perChannel) : undefined;
    let stored = s8 ? encodeWeight({ K: l.K, N: l.N, s8, bk }) : encodeWeight({ K: l.K, N: l.N, f32: W, bk });
    let packed: PackedRef | undefined;
    const bytes = spec && prepack !== false ? packedBytes(W, l.K, l.N, spec) : null;
    if (spec && bytes) {
      // Packed bytes that hold the weights exactly (s8 codes, fp32 values) replace the compact ones: the
      // entry keeps only the s8 scales (one copy of the weights, adopted as is at load).
      const only = holdsWeights(spec.format, bytes, s8 ? s8.values : W, l.K, l.N);
      // 'Not much bigger': a ratio, with some slack for tiny matrices (headers and maps dominate them).
      if (prepack === true || bytes.length <= (only ? 1.25 : 1.5) * stored.bytes.length + 512) {
        packed = { format: spec.format, options: { ...(spec.options ?? {}) }, offset: packedSection.add(bytes), length: bytes.length };
        if (only) stored = encodeWithPacked(l.K, l.N, s8?.scales);
      }
    }
    json.weights[name] = { dims: [...t.dims], transposed: l.transposed, offset: weights.add(stored.bytes), meta: stored.meta, ...(packed ? { packed } : {}) };
  }
  const modelBytes = new TextEncoder().encode(JSON.stringify(json));
  const weightBytes = weights.bytes();
  return [
    { name: 'model', kind: SECTION_KIND.graph, data: modelBytes, compress: compress && modelBytes.length >= BROTLI_MIN_GRAPH },
    { name: 'consts', kind: SECTION_KIND.consts, data: consts.bytes() },
    { name: 'weights', kind: SECTION_KIND.weights, data: weightBytes, compress: compress && weightBytes.length >= BROTLI_MIN_WEIGHTS },
    // Never compressed: adopted by the kernels as they are, the load path must not pay a decode.
    { name: 'packed', kind: SECTION_KIND.packed, data: packedSection.bytes() },
  ];
}

/** Whether packed bytes hold exactly these weights [K, N] (s8 codes for int8 formats, else fp32 values). */
function holdsWeights(format: string, bytes: Uint8Array, values: Int8Array | Float32Array, K: number, N: number): boolean {
  let c;
  try {
    c = packedColumns(format, bytes, K, N);
  } catch {
    return false;
  }
  if (!c || (c.values instanceof Int8Array) !== (values instanceof Int8Array)) return false;
  let nonzeros = 0;
  for (const v of values) if (v !== 0) nonzeros++;
  if (nonzeros !== c.rows.length) return false;
  for (let n = 0; n < N; n++) for (let j = c.colPtr[n]; j < c.colPtr[n + 1]; j++) if (!Object.is(values[c.rows[j] * N + n], c.values[j])) return false;
  return true;
}

/** The kernel's packed layout of W as bytes, or null where the format cannot serialise (or won't pack). */
function packedBytes(W: Float32Array, K: number, N: number, spec: WeightFormatSpec): Uint8Array | null {
  let packed: PackedWeights | undefined;
  try {
    packed = pack(W, K, N, { format: spec.format as WeightFormat, ...(spec.options ?? {}) });
    return serializePacked(packed.handle);
  } catch {
    return null;
  } finally {
    packed?.release();
  }
}

function invalid(why: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Expected a valid .sparq model but ${why}`);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isDims = (v: unknown): v is number[] => Array.isArray(v) && v.length <= 16 && v.every((d) => Number.isSafeInteger(d) && d >= 0);

function checkValueInfo(v: unknown, what: string): ValueInfo {
  if (!isObj(v) || typeof v.name !== 'string' || !DTYPES.includes(v.dtype as DType)) throw invalid(`${what} is malformed`);
  if (v.dims !== null && !(Array.isArray(v.dims) && v.dims.every((d) => typeof d === 'string' || (Number.isSafeInteger(d) && (d as number) >= 0)))) throw invalid(`${what} has bad dims`);
  return { name: v.name, dtype: v.dtype as DType, dims: v.dims as Dim[] | null };
}

function readConst(ref: unknown, consts: Uint8Array, what: string, owned = false): ConstTensor {
  if (!isObj(ref) || !DTYPES.includes(ref.dtype as DType) || !isDims(ref.dims) || !Number.isSafeInteger(ref.offset) || !Number.isSafeInteger(ref.length)) throw invalid(`${what} is malformed`);
  const dtype = ref.dtype as DType;
  const count = (ref.dims as number[]).reduce((a, b) => a * b, 1);
  const offset = ref.offset as number;
  const length = ref.length as number;
  if (count * ELEMENT_BYTES[dtype] !== length || offset < 0 || offset + length > consts.length || count > 2 ** 31 - 1) throw invalid(`${what} does not fit its dims or the file`);
  const at = consts.byteOffset + offset;
  if (owned && at % ELEMENT_BYTES[dtype] === 0) return freezeTensor({ dtype, dims: ref.dims as number[], data: viewOf(dtype, consts.buffer, at, count) });
  const data = allocData(dtype, count);
  bytesOf(data).set(consts.subarray(offset, offset + length));
  return freezeTensor({ dtype, dims: ref.dims as number[], data });
}

/** A typed array of `dtype` over `count` elements of `buffer` at `at` (aligned for the type). */
function viewOf(dtype: DType, buffer: ArrayBufferLike, at: number, count: number): TypedData {
  const View = arrayTypeOf(dtype) as unknown as new (buffer: ArrayBufferLike, at: number, count: number) => TypedData;
  return new View(buffer, at, count);
}

/**
 * A Model from .sparq bytes; anything damaged or inconsistent → SparqError 'ERR_INVALID_MODEL'. A signed
 * file opens without its signature checked; an encrypted one needs loadModel(path, { key }). `owned`:
 * the bytes are a private copy nobody writes (a file sparq read), so constants view them in place
 * (aligned: sections are 64-byte aligned, constants 8-byte aligned in theirs); else they are copied.
 */
export function decodeSparqModel(bytes: Uint8Array, options: { owned?: boolean } = {}): Model {
  return decodeSparqSections(openUnkeyed(openSparq(bytes)), options.owned === true);
}

/** A Model from the verified (or decrypted) sections of a .sparq file (`owned`: as for decodeSparqModel). */
export function decodeSparqSections(sections: ReadonlyMap<string, SparqSection>, owned = false): Model {
  const modelSection = sections.get('model');
  const constsSection = sections.get('consts');
  const weightsSection = sections.get('weights');
  if (!modelSection || !constsSection || !weightsSection) throw invalid('it lacks the model, consts or weights section');
  // Version 2 files say what each section holds (version 1 files: kind 0 throughout).
  for (const [name, kind] of [['model', SECTION_KIND.graph], ['consts', SECTION_KIND.consts], ['weights', SECTION_KIND.weights], ['packed', SECTION_KIND.packed]] as const) {
    const s = sections.get(name);
    if (s && s.kind !== kind && s.kind !== SECTION_KIND.data) throw invalid(`its section "${name}" is of kind ${s.kind}, not ${kind}`);
  }
  const rawModel = modelSection.bytes();
  const consts = constsSection.bytes();
  const weights = () => weightsSection.bytes();
  const packedSection = sections.get('packed')?.bytes() ?? new Uint8Array(0);
  const prepacked = new Map<string, Prepacked>();
  const sparse = new Map<string, SparseWeight>();
  let j: unknown;
  try {
    j = JSON.parse(UTF8.decode(rawModel));
  } catch {
    throw invalid('its model section is not JSON');
  }
  if (!isObj(j) || j.format !== 'sparq-model' || typeof j.name !== 'string' || !Number.isSafeInteger(j.opset)) throw invalid('its model section is not a sparq model');
  if (!Array.isArray(j.inputs) || !Array.isArray(j.outputs) || !Array.isArray(j.nodes) || !isObj(j.consts) || !isObj(j.weights) || !isObj(j.metadata) || !isObj(j.weightFormats)) throw invalid('its model section lacks fields');
  const initializers = new Map<string, ConstTensor>();
  for (const [name, ref] of Object.entries(j.consts)) initializers.set(name, readConst(ref, consts, `constant "${name}"`, owned));
  for (const [name, ref] of Object.entries(j.weights)) {
    if (!isObj(ref) || !isDims(ref.dims) || ref.dims.length !== 2 || typeof ref.transposed !== 'boolean' || !Number.isSafeInteger(ref.offset) || !isObj(ref.meta)) throw invalid(`weight "${name}" is malformed`);
    const meta = ref.meta as unknown as WeightMeta;
    const offset = ref.offset as number;
    if (offset < 0 || !Number.isSafeInteger(meta.bytes) || offset + meta.bytes > weightsSection.length) throw invalid(`weight "${name}" lies outside the weights section`);
    const [d0, d1] = ref.dims as number[];
    const [K, N] = ref.transposed ? [d1, d0] : [d0, d1];
    if (meta.K !== K || meta.N !== N) throw invalid(`weight "${name}" has dims that contradict its encoding`);
    const encoded = () => weights().subarray(offset, offset + meta.bytes);
    const p = ref.packed;
    if (p !== undefined) {
      if (!isObj(p) || typeof p.format !== 'string' || !isObj(p.options) || !Number.isSafeInteger(p.offset) || !Number.isSafeInteger(p.length))
        throw invalid(`the packed form of weight "${name}" is malformed`);
      const po = p.offset as number;
      const pl = p.length as number;
      if (po < 0 || pl < 0 || po + pl > packedSection.length) throw invalid(`the packed form of weight "${name}" lies outside the packed section`);
      prepacked.set(name, { format: p.format, options: p.options as Prepacked['options'], K, N, bytes: packedSection.subarray(po, po + pl) });
    }
    // A session adopts packed weights as they are: their compact form is checked only if something reads
    // it (its section may stay compressed). The others are checked now; sparse ones are kept as their
    // nonzeros (a session packs them in O(nonzeros)). Dense fp32 values, and their transpose, are made
    // only if something reads them.
    let dense: () => Float32Array;
    if (meta.layout === 'packed') {
      // The weights only in their packed bytes: read back in JS where the kernels can't adopt them.
      const pk = prepacked.get(name);
      if (!pk) throw invalid(`weight "${name}" is kept in a packed form it lacks`);
      let cached: SparseColumns<Float32Array> | undefined;
      const columns = () => {
        if (cached) return cached;
        checkWeight(meta, encoded());
        const c = packedColumns(pk.format, pk.bytes, K, N);
        if (!c || (c.values instanceof Int8Array) !== (meta.dtype === 's8')) throw invalid(`weight "${name}" is kept in packed bytes of format '${pk.format}', which do not hold its ${meta.dtype} values`);
        return (cached = c.values instanceof Int8Array ? scaledCodes(meta, encoded(), c as SparseColumns<Int8Array>) : (c as SparseColumns<Float32Array>));
      };
      sparse.set(name, { K, N, columns });
      dense = () => denseFromColumns(columns(), K, N);
    } else if (p === undefined && meta.layout === 'sparse') {
      checkWeight(meta, encoded());
      const columns = sparseColumns(meta, encoded(), true);
      sparse.set(name, { K, N, columns: () => columns });
      dense = () => denseFromColumns(columns, K, N);
    } else {
      if (p === undefined) checkWeight(meta, encoded());
      dense = () => decodeWeight(meta, encoded(), { f32Only: true }).f32;
    }
    initializers.set(name, lazyTensor('float32', [d0, d1], () => (ref.transposed ? transpose(dense(), K, N) : dense())));
  }
  const inputs = j.inputs.map((v, i) => checkValueInfo(v, `input ${i}`));
  const outputs = j.outputs.map((v, i) => checkValueInfo(v, `output ${i}`));
  const nodes = readNodes(j.nodes, new Set<string>([...inputs.map((v) => v.name), ...initializers.keys()]), outputs, consts, '');
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(j.metadata)) if (typeof v === 'string') metadata[k] = v;
  const formats = new Map<string, WeightFormatSpec>();
  for (const [k, v] of Object.entries(j.weightFormats)) {
    if (!isObj(v) || typeof v.format !== 'string' || (v.options !== undefined && !isObj(v.options))) throw invalid(`the kernel format of "${k}" is malformed`);
    if (!initializers.has(k)) throw invalid(`a kernel format names "${k}", which is not a weight`);
    formats.set(k, v as unknown as WeightFormatSpec);
  }
  const graph: Graph = { name: j.name, opset: j.opset as number, inputs, outputs, nodes, initializers };
  const model = attachPrepacked(Model.fromGraph(graph, { metadata, weightFormats: formats }), prepacked, sparse);
  // The prepared graph, where it is of this sparq's passes (one of another version is prepared afresh).
  if (j.prepared !== undefined && (!isObj(j.prepared) || j.prepared.version === PREPARED_VERSION)) attachPreparedGraph(model, readPrepared(j.prepared, model.graph, consts));
  return model;
}

/**
 * A file's nodes, checked as a graph: every input defined before it is read (no cycles, nothing
 * dangling), nothing defined twice, attributes well-typed, every output computed.
 */
function readNodes(list: unknown[], defined: Set<string>, outputs: readonly ValueInfo[], consts: Uint8Array, what: string): Node[] {
  const nodes: Node[] = list.map((n: unknown, i: number) => {
    if (!isObj(n) || typeof n.name !== 'string' || typeof n.op !== 'string' || typeof n.domain !== 'string' || !isStrings(n.inputs) || !isStrings(n.outputs) || !isObj(n.attrs)) throw invalid(`${what}node ${i} is malformed`);
    for (const x of n.inputs) if (x !== '' && !defined.has(x)) throw invalid(`${what}node "${n.name}" reads "${x}" before anything defines it`);
    for (const y of n.outputs) {
      if (y !== '' && defined.has(y)) throw invalid(`${what}value "${y}" is defined twice`);
      if (y !== '') defined.add(y);
    }
    const attrs: Record<string, Attribute> = {};
    for (const [k, a] of Object.entries(n.attrs)) {
      if (!isObj(a) || typeof a.type !== 'string') throw invalid(`attribute "${k}" of ${what}node "${n.name}" is malformed`);
      const v = a.value;
      const ok =
        ((a.type === 'int' || a.type === 'float') && typeof v === 'number') ||
        (a.type === 'string' && typeof v === 'string') ||
        (a.type === 'strings' && isStrings(v)) ||
        ((a.type === 'ints' || a.type === 'floats') && Array.isArray(v) && v.every((x) => typeof x === 'number')) ||
        a.type === 'tensor';
      if (!ok) throw invalid(`attribute "${k}" of ${what}node "${n.name}" is malformed`);
      attrs[k] = a.type === 'tensor' ? { type: 'tensor', value: readConst(v, consts, `attribute "${k}" of ${what}node "${n.name}"`) } : (a as Attribute);
    }
    return { name: n.name, op: n.op, domain: n.domain, inputs: n.inputs, outputs: n.outputs, attrs };
  });
  for (const o of outputs) if (!defined.has(o.name)) throw invalid(`output "${o.name}" is never computed${what ? ` by the ${what}graph` : ''}`);
  return nodes;
}

/**
 * The prepared graph a file stores, checked as strictly as the model's own graph: its derived constants
 * recipes over the model's fp32 initializers that fit their sources, its nodes a graph of ops sparq
 * runs. (A session still checks every shape when it plans a run.)
 */
function readPrepared(p: unknown, graph: Graph, consts: Uint8Array): Graph {
  if (!isObj(p) || !Array.isArray(p.nodes) || !isObj(p.derived)) throw invalid('its prepared graph lacks fields');
  const derived = new Map<string, ConstTensor>();
  const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  for (const [name, d] of Object.entries(p.derived)) {
    const source = isObj(d) && typeof d.of === 'string' ? graph.initializers.get(d.of) : undefined;
    if (!isObj(d) || !source || source.dtype !== 'float32' || typeof d.transpose !== 'boolean' || typeof d.scale !== 'number' || !Number.isFinite(d.scale) || !isDims(d.dims))
      throw invalid(`the prepared constant "${name}" is malformed`);
    if (graph.initializers.has(name) || graph.inputs.some((v) => v.name === name)) throw invalid(`the prepared constant "${name}" shadows a value of the model`);
    const dims = d.dims as number[];
    const fits = d.transpose ? source.dims.length === 2 && dims.length === 2 && dims[0] === source.dims[1] && dims[1] === source.dims[0] : size(dims) === size(source.dims);
    if (!fits) throw invalid(`the prepared constant "${name}" does not fit its source "${d.of as string}"`);
    derived.set(name, deriveTensor(source, { of: d.of as string, transpose: d.transpose, scale: d.scale, dims }));
  }
  // Constants the passes folded, stored by value.
  if (p.values !== undefined && !isObj(p.values)) throw invalid('its prepared graph has malformed values');
  for (const [name, ref] of Object.entries(p.values ?? {})) {
    if (graph.initializers.has(name) || derived.has(name) || graph.inputs.some((v) => v.name === name)) throw invalid(`the prepared constant "${name}" shadows a value of the model`);
    derived.set(name, readConst(ref, consts, `prepared constant "${name}"`));
  }
  const defined = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.keys(), ...derived.keys()]);
  const nodes = readNodes(p.nodes, defined, graph.outputs, consts, 'prepared ');
  // Only the constants its nodes read (dead-node removal drops the others, as preparing did).
  const prepared = removeDeadNodes({ ...graph, nodes, initializers: new Map([...graph.initializers, ...derived]) });
  checkSupported(prepared);
  return prepared;
}
