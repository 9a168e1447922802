// sparq's graph IR: what a Model holds between the ONNX decoder and the planner.
//
//  - A Graph is a topologically sorted list of Nodes over named values. A value is a graph input,
//    an initializer (a constant tensor) or the output of exactly one node. '' as a node input means
//    "optional input absent" (ONNX convention).
//  - Dims are numbers (fixed) or strings (symbolic: 'batch', 'seq', or names inference invents).
//  - Everything reachable from a Model is frozen: passes build new graphs (sharing unchanged tensors,
//    whose data is never written after construction).
import { arrayTypeOf, type TensorType } from '../tensor.js';

export type DType = TensorType;
export type Dim = number | string;

export type TypedData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | Float64Array | Int16Array | Uint16Array | Uint32Array | BigUint64Array;

/** A constant tensor (an initializer, a Constant node's value, a folded result). */
export interface ConstTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Element data; bool is one byte per element (0/1). */
  readonly data: TypedData;
  /**
   * Set when the data lies unaligned in a model file: its little-endian bytes. `data` is then made
   * on demand (one copy, held weakly); consumers that only need bytes (weight packing) read this.
   */
  readonly raw?: Uint8Array;
}

/** A graph input or output declaration. `dims` null means the rank is unknown. */
export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly Dim[] | null;
}

export type Attribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensor'; readonly value: ConstTensor }
  /** A subgraph (If's branches, Loop's and Scan's bodies); it may read values of the enclosing graphs. */
  | { readonly type: 'graph'; readonly value: Graph };

export interface Node {
  readonly name: string;
  readonly op: string;
  /** '' for the default ONNX domain ('ai.onnx'); 'sparq' for the runtime's own fused ops. */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, Attribute>>;
}

export interface Graph {
  readonly name: string;
  /** The default-domain opset the graph was written for. */
  readonly opset: number;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers: ReadonlyMap<string, ConstTensor>;
  /** Topologically sorted. */
  readonly nodes: readonly Node[];
}

export const ELEMENT_BYTES: Record<DType, number> = {
  float32: 4, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1, float64: 8, float16: 2, int16: 2, uint16: 2, uint32: 4, uint64: 8,
};

/** Element i of float16 bits as a number. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A number rounded to the nearest float16 (ties to even), as its bits. */
export function numberToHalf(v: number): number {
  const f32 = new Float32Array([v]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function allocData(dtype: DType, n: number): TypedData {
  return new (arrayTypeOf(dtype))(n);
}

/** Element i of a constant as a JS number (int64 via Number: shapes and indices fit). */
export function elementAt(t: ConstTensor, i: number): number {
  const v = t.data[i];
  if (t.dtype === 'float16') return halfToNumber(v as number);
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

/** All elements as numbers. */
export function toNumbers(t: ConstTensor): number[] {
  const out = new Array<number>(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = elementAt(t, i);
  return out;
}

/** A constant of `dtype` from JS numbers (int64 → BigInt64Array, bool → 0/1 bytes). */
export function constFromNumbers(dtype: DType, dims: readonly number[], values: ArrayLike<number>): ConstTensor {
  const data = allocData(dtype, values.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) for (let i = 0; i < values.length; i++) data[i] = BigInt(Math.trunc(values[i]));
  else if (dtype === 'float16') for (let i = 0; i < values.length; i++) data[i] = numberToHalf(values[i]);
  else if (dtype === 'bool') for (let i = 0; i < values.length; i++) data[i] = values[i] ? 1 : 0;
  else (data as Float32Array).set(values as ArrayLike<number>);
  return freezeTensor({ dtype, dims: [...dims], data });
}

/** A [R, C] row-major matrix transposed to [C, R]. */
export function transpose(A: Float32Array, R: number, C: number): Float32Array {
  const B = new Float32Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) B[c * R + r] = A[r * C + c];
  return B;
}

/**
 * A constant whose data is computed on first read (then kept): weights a session adopts already
 * packed (.sparq) never need their fp32 values, nor a transpose of them.
 */
export function lazyTensor(dtype: DType, dims: readonly number[], compute: () => TypedData): ConstTensor {
  return Object.freeze(new LazyTensor(dtype, dims, compute));
}

// A class, not an object literal with a getter: a literal's accessor makes every tensor a slow
// dictionary-mode object (~0.5 µs each to build, ~1 µs frozen; loading a model makes dozens).
export class LazyTensor implements ConstTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  #compute: (() => TypedData) | undefined;
  #cached: TypedData | undefined;
  constructor(dtype: DType, dims: readonly number[], compute: () => TypedData) {
    this.dtype = dtype;
    this.dims = Object.freeze([...dims]);
    this.#compute = compute;
  }
  /** Whether the data was asked for (and so computed). */
  get computed(): boolean {
    return this.#cached !== undefined;
  }
  get data(): TypedData {
    if (!this.#cached) {
      this.#cached = (this.#compute as () => TypedData)();
      this.#compute = undefined;
    }
    return this.#cached;
  }
}

export function freezeTensor(t: ConstTensor): ConstTensor {
  Object.freeze(t.dims);
  return Object.freeze(t);
}

export function attrInt(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a && (a.type === 'int' || a.type === 'float') ? a.value : fallback;
}
export function attrFloat(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a && (a.type === 'float' || a.type === 'int') ? a.value : fallback;
}
export function attrInts(node: Node, name: string): readonly number[] | undefined {
  const a = node.attrs[name];
  return a && a.type === 'ints' ? a.value : undefined;
}
export function attrString(node: Node, name: string, fallback: string): string {
  const a = node.attrs[name];
  return a && a.type === 'string' ? a.value : fallback;
}

/** Names a graph reads from its enclosing scopes (used inside, defined nowhere in it), nested ones too. */
export function freeNames(graph: Graph): Set<string> {
  const defined = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
  for (const n of graph.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const free = new Set<string>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) if (i && !defined.has(i)) free.add(i);
    for (const a of Object.values(n.attrs)) if (a.type === 'graph') for (const f of freeNames(a.value)) if (!defined.has(f)) free.add(f);
  }
  return free;
}

/** Deep-freezes a graph built by a decoder or a pass. */
export function freezeGraph(g: Graph): Graph {
  for (const n of g.nodes) {
    Object.freeze(n.inputs);
    Object.freeze(n.outputs);
    Object.freeze(n.attrs);
    Object.freeze(n);
  }
  for (const v of [...g.inputs, ...g.outputs]) {
    if (v.dims) Object.freeze(v.dims);
    Object.freeze(v);
  }
  Object.freeze(g.nodes);
  Object.freeze(g.inputs);
  Object.freeze(g.outputs);
  return Object.freeze(g);
}
