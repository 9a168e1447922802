// InferenceSession: onnxruntime-node's shape (create / inputNames / outputNames / run / release) over
// sparq's runtime. create() prepares the graph once (folding, fusion) and packs every linear layer's
// weights once; run() validates the feeds, finds (or compiles) the plan for their dims, allocates the
// outputs here on the JS thread and executes the whole plan in one native call.
//
// device: 'cuda' moves the linear layers (MatMul/Gemm with constant weights, fused into sparq's Linear)
// to the GPU: each weight is packed and uploaded once, here, in the CUDA format that fits it
// (cudaFormatFor), and all of them run on one CUDA stream of the session's own, staging activations
// through page-locked buffers that the session's layers share and reuse from run to run. Every other
// op still runs on the CPU, between the GPU layers.
import { SparqError, rethrowNative, rangeError, typeError } from './errors.js';
import type { ConstTensor, Graph, Node, TypedData, ValueInfo } from './graph/ir.js';
import { allocData, numel } from './graph/ir.js';
import { prepareGraph, preparedGraphOf } from './graph/prepare.js';
import { hasControlFlow } from './graph/control-flow.js';
import { normalizeOpsets } from './graph/normalize.js';
import { MAX_VALUE_ELEMENTS, valueInputs } from './graph/value-inputs.js';
import { assertCudaAvailable, cudaFormatFor } from './cuda.js';
import { PackedWeights, overlaps } from './kernels.js';

import { Model, type WeightFormatSpec } from './model.js';
import { type SessionFile, fileReleaser, keptGraph, protectedSessionSource, releaseFile, sessionSource } from './io/session-source.js';
import { defaultProtection } from './io/crypto/defaults.js';
import type { OpenOptions } from './io/crypto/secure.js';
import { native, type NativeDeviceContext, type NativePackOptions } from './native.js';
import { packWithoutDense } from './io/prepacked.js';
import { packedWeightInputs } from './graph/packed-inputs.js';
import { type CompiledPlan, compilePlan } from './runtime/plan.js';
import { PlanCache, type NativePlanHandle } from './runtime/plan-cache.js';
import { Tensor, arrayTypeOf, type TensorType } from './tensor.js';
import { checkInteger, checkObject, checkOneOf } from './validate.js';

export interface SessionOptions {
  /** Threads per run (default: the native pool's size). */
  threads?: number;
  /**
   * 'cpu' (default) or 'cuda': the linear layers (MatMul/Gemm with constant weights) run on the GPU, their
   * weights uploaded once at creation, on a CUDA stream of the session's own; other ops stay on the CPU.
   * fp32 weights run in fp16 on tensor cores (fp32 accumulation; 'cuda-f32' via weightFormat for exact
   * fp32), quantize()d ones in int8 (2:4 sparse tensor cores where the weight is 2:4), weights with 70%+
   * zeros on the sparse fp16 kernels; `weights` reports each choice. Needs a sparq built with
   * `npm run build:cuda` and an NVIDIA GPU (compute capability 8.0+); elsewhere SparqError
   * ERR_CUDA_UNAVAILABLE says why.
   */
  device?: 'cpu' | 'cuda';
  /**
   * Kernel format for linear layers the model does not assign one. By default 'dense', except weights
   * that are at least half zeros (pruned elsewhere, e.g. in PyTorch): those run on 'auto', the fastest
   * exact format for their density on this CPU. On device 'cuda' a 'cuda-*' name is used as given and
   * a CPU name is mapped to its GPU counterpart ('dense' -> 'cuda-f16', others -> 'cuda-auto').
   */
  weightFormat?: string;
  /** Compiled plans kept per session, one per input-shape signature (default 16). */
  planCacheSize?: number;
  /**
   * Where run() computes, and so how long it blocks the event loop:
   * - 'inline': on the calling thread, before run()'s promise is returned. The event loop is blocked for
   *   the whole run (LeNet-300-100: ~20 µs at batch 1, ~0.8-1.5 ms at batch 256 on 2 cores), as with
   *   onnxruntime-node's run(), which computes in a setImmediate callback. No hop.
   * - 'worker': on sparq's run threads (a short spin between runs, no libuv work queue); the event loop
   *   is blocked only to check the feeds, hand the run over and take its completion, about 15-25 µs a
   *   run, whatever the run's size. The hop costs the run 15-25 µs of latency on an idle 2-core VM, but
   *   a scheduler wake-up of the JS thread (milliseconds) on a host whose cores are all busy.
   * - 'auto' (default): inline below 2^27 multiply-adds (about 1-2 ms of compute on one core: LeNet-300-100
   *   up to batch 256 and more), on the run threads above. Below that size a hop gives back little loop
   *   time for the latency it adds; above it, the loop is blocked at most ~1-2 ms by any run.
   * Device 'cuda' takes 'auto' or 'worker' (a GPU run waits on the device, never on the event loop).
   */
  execution?: Execution;
  /** An encrypted .sparq path or bytes: its key (32 bytes, a secret KeyObject or an async keyProvider(keyId)). */
  key?: OpenOptions['key'];
  /** Refuse a model file not signed by one of these Ed25519 public keys (ERR_SIGNATURE). */
  verify?: OpenOptions['verify'];
}

export type Execution = 'auto' | 'inline' | 'worker';

/** The execution modes a device takes: a GPU run waits on the device, never on the event loop. */
export function executionsFor(device: 'cpu' | 'cuda'): readonly Execution[] {
  return device === 'cuda' ? ['auto', 'worker'] : ['auto', 'inline', 'worker'];
}

type Feed = { type: string; data: ArrayBufferView; dims: readonly number[] };

function isFeed(v: unknown): v is Feed {
  return typeof v === 'object' && v !== null && typeof (v as Feed).type === 'string' && ArrayBuffer.isView((v as Feed).data) && Array.isArray((v as Feed).dims);
}

export class InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Where the linear layers run. */
  readonly device: 'cpu' | 'cuda';
  #graph: Graph;
  readonly #inputs: readonly ValueInfo[];
  readonly #threads: number;
  readonly #execution: Execution;
  readonly #plans: PlanCache;
  /** Indices of the inputs whose values shapes depend on: plans are keyed on their values too. */
  #valueInputs: number[] = [];
  #weights: PackedWeights[] = [];
  readonly #weightIndex = new Map<string, number>();
  /** Weight formats the model assigns, and the options' fallback: for weights packed when a plan is made. */
  #formats: ReadonlyMap<string, WeightFormatSpec> = new Map();
  /** Weights packed when a plan was made (a control-flow body's layers), by key: their values' fingerprint. */
  #planWeights = new Map<string, string>();
  #fallback: string | undefined;
  /** device 'cuda': the session's stream and staging, shared by every packed weight. */
  #context: NativeDeviceContext | undefined;
  #released = false;
  /** A derived session (derive()) runs its base's packed weights and must not release them. */
  #base: InferenceSession | undefined;
  /** The model file this session read itself (create(path)): its graph's constants may view it. */
  #file: SessionFile | undefined;
  /** Async runs in flight over this session's constants and weights (a derived session's count on its base). */
  #running = 0;

  private constructor(model: Model, options: SessionOptions, ownedFile?: SessionFile, derived?: { base: InferenceSession; graph: Graph }) {
    if (derived) {
      const b = derived.base;
      this.#base = b;
      this.#graph = derived.graph;
      this.#inputs = this.#graph.inputs;
      this.inputNames = Object.freeze(this.#graph.inputs.map((i) => i.name));
      this.outputNames = Object.freeze(this.#graph.outputs.map((o) => o.name));
      this.#threads = options.threads ?? b.#threads;
      this.#execution = options.execution ?? b.#execution;
      this.#plans = new PlanCache(options.planCacheSize ?? 16);
      this.device = b.device;
      this.#weights = b.#weights;
      this.#weightIndex = b.#weightIndex;
      this.#context = b.#context;
      this.#formats = b.#formats;
      this.#fallback = b.#fallback;
      this.#planWeights = b.#planWeights;
      return;
    }
    // A .sparq file may carry the prepared graph (src/graph/prepare.ts): then the passes are skipped.
    this.#graph = preparedGraphOf(model) ?? prepareForSession(model.graph);
    this.#inputs = this.#graph.inputs;
    this.inputNames = Object.freeze(model.inputs.map((i) => i.name));
    this.outputNames = Object.freeze(model.outputs.map((o) => o.name));
    this.#threads = options.threads ?? 0;
    this.#execution = options.execution ?? 'auto';
    this.#plans = new PlanCache(options.planCacheSize ?? 16);
    this.device = options.device ?? 'cpu';
    // What the session keeps is settled (constants copied out of a mapped file) before packing
    // discards the file's pages: copied later, a constant faults its page back in, and where the page
    // cache holds the file in 2 MiB folios (a file written moments before) that maps whole megabytes.
    // The pages decoding and that copy touched go back too: packing faults in only its own weight's.
    const kept = keptGraph(this.#graph, new Set(this.#graph.nodes.flatMap((n) => packedWeightInputs(n).map((i) => n.inputs[i]))), ownedFile);
    if (ownedFile) releaseFile(ownedFile);
    try {
      if (this.device === 'cuda') this.#context = createCudaSession();
      this.#formats = model.weightFormats;
      this.#fallback = options.weightFormat;
      this.#packWeights(model.weightFormats, options.weightFormat, model, ownedFile);
    } catch (e) {
      for (const w of this.#weights) w.release();
      this.#context?.release();
      throw e;
    }
    this.#graph = kept;
    if (ownedFile) releaseFile(ownedFile);
    const keyed = new Set(valueInputs(this.#graph));
    this.#valueInputs = this.#inputs.flatMap((v, i) => (keyed.has(v.name) ? [i] : []));
    this.#file = ownedFile;
  }

  /** Creates a session from a path, ONNX bytes or a Model. */
  static async create(source: string | Uint8Array | Model, options: SessionOptions = {}): Promise<InferenceSession> {
    const opts = checkObject(options, 'options') as SessionOptions;
    if (opts.threads !== undefined) checkInteger(opts.threads, 'options.threads', 0, 1024);
    if (opts.planCacheSize !== undefined) checkInteger(opts.planCacheSize, 'options.planCacheSize', 1, 1 << 16);
    if (opts.weightFormat !== undefined && typeof opts.weightFormat !== 'string') throw typeError('a weight format name', 'options.weightFormat', opts.weightFormat);
    const device = checkOneOf(opts.device ?? 'cpu', 'options.device', ['cpu', 'cuda'] as const);
    if (opts.execution !== undefined)
      checkOneOf(opts.execution, device === 'cuda' ? "options.execution (device 'cuda')" : 'options.execution', executionsFor(device));
    if (device === 'cuda') assertCudaAvailable();
    if (source instanceof Model) return new InferenceSession(source, opts);
    if (typeof source !== 'string' && !(source instanceof Uint8Array)) throw typeError('a path, a Uint8Array of ONNX bytes or a Model', 'source', source);
    // A key or a signature to check: decrypted and verified whole before the session exists.
    const { model, file } =
      (opts.key ?? opts.verify ?? defaultProtection().key ?? defaultProtection().verify) !== undefined
        ? await protectedSessionSource(source, { key: opts.key, verify: opts.verify })
        : sessionSource(source);
    return new InferenceSession(model, opts, file);
  }

  #packWeights(formats: ReadonlyMap<string, WeightFormatSpec>, fallback: string | undefined, model: Model, ownedFile?: SessionFile): void {
    const release = ownedFile ? fileReleaser(this.#graph, model, ownedFile) : undefined;
    for (const node of this.#graph.nodes)
      for (const input of packedWeightInputs(node)) {
        const name = node.inputs[input];
        if (this.#weightIndex.has(name)) continue;
        this.#packWeight(name, node, this.#graph.initializers.get(name), formats, fallback, model);
        release?.(weightNameOf(node, name));
      }
  }

  /** Packs one layer's weight `w` (named `name` in the graph) in the format the model or the options give it. */
  #packWeight(name: string, node: Node, w: ConstTensor | undefined, formats: ReadonlyMap<string, WeightFormatSpec>, fallback: string | undefined, model?: Model): number {
    const addon = native();
    const original = weightNameOf(node, name);
    if (!w || w.dims.length !== 2) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: linear weight "${name}" is missing`);
    const assigned = formats.get(original) ?? formats.get(name);
    const context = this.#context;
    const spec = context
      ? cudaFormatFor(assigned ?? (fallback ? { format: fallback } : undefined))
      : (assigned ?? { format: fallback ?? (isMostlyZero(w) ? 'auto' : 'dense') });
    const [K, N] = w.dims;
    let handle;
    try {
      const opts: NativePackOptions = { ...(spec.options ?? {}) };
      if (context) opts.device = context;
      // Weights a .sparq file carried packed, or as their nonzeros, skip the dense fp32 matrix
      // (src/io/prepacked.ts); not when fusion scaled them (Gemm alpha), nor for GPU formats.
      // A conv's weight is a relayout of its model weight (conv-layout.ts), a recurrent layer's a
      // transpose (rnn.ts): always packed from it.
      const relaid = node.attrs.weight_alpha || node.op !== 'Linear';
      handle = (context || relaid || !model ? undefined : packWithoutDense(model, original, spec, K, N)) ?? (w.raw && w.dtype === 'float32'
        ? addon.packBytes(spec.format, w.raw, K, N, opts)
        : addon.pack(spec.format, w.data as Float32Array, K, N, opts));
    } catch (e) {
      rethrowNative(e);
    }
    const index = this.#weights.length;
    this.#weightIndex.set(name, index);
    // 'auto' resolves to a concrete format natively: only then is the handle asked at creation.
    this.#weights.push(new PackedWeights(handle, spec.format === 'auto' || spec.format === 'cuda-auto' ? undefined : { K, N, format: spec.format }));
    return index;
  }

  /**
   * @internal A session over `transform(graph)` of this session's prepared graph that runs this session's
   * packed weights (nothing re-packed; they stay this session's to release). src/generate rewrites a
   * decoder's cache concatenations with it.
   */
  derive(transform: (graph: Graph) => Graph, options: Pick<SessionOptions, 'threads' | 'execution' | 'planCacheSize'> = {}): InferenceSession {
    if (this.#released) throw new SparqError('ERR_RELEASED', 'Expected a live session but received a session that was released');
    return new InferenceSession(null as unknown as Model, options, undefined, { base: this, graph: Object.freeze(transform(this.#graph)) });
  }

  /** The packed weights of every linear layer (format, bytes, density), by weight name. */
  get weights(): ReadonlyMap<string, PackedWeights> {
    return new Map([...this.#weightIndex].map(([k, i]) => [k, this.#weights[i]]));
  }

  #validateFeeds(feeds: unknown): Feed[] {
    if (typeof feeds !== 'object' || feeds === null || Array.isArray(feeds)) throw typeError('an object mapping input names to tensors', 'feeds', feeds);
    const record = feeds as Record<string, unknown>;
    const out: Feed[] = [];
    for (const input of this.#inputs) {
      const t = record[input.name];
      const name = `feeds["${input.name}"]`;
      if (t === undefined) throw typeError(`a ${input.dtype} tensor (input "${input.name}" is required; inputs: ${this.inputNames.join(', ')})`, name, t);
      if (!isFeed(t)) throw typeError(`a Tensor`, name, t);
      if (t.type !== input.dtype) throw wrongType(input.dtype, name, t.type);
      if (input.dims) {
        const dims = t.dims;
        if (dims.length !== input.dims.length) throw feedError(RangeError, `a tensor of rank ${input.dims.length} ([${input.dims.join(', ')}])`, name, `a tensor of dims [${dims.join(', ')}]`);
        for (let i = 0; i < dims.length; i++) {
          const want = input.dims[i];
          if (typeof want === 'number' && dims[i] !== want) throw feedError(RangeError, `a tensor of dims [${input.dims.join(', ')}]`, name, `a tensor of dims [${dims.join(', ')}]`);
        }
      }
      out.push(t);
    }
    if (out.length !== Object.keys(record).length) {
      for (const k of Object.keys(record))
        if (!this.#inputs.some((i) => i.name === k)) throw rangeError(`one of the model's inputs (${this.inputNames.join(', ')})`, 'a feed name', k);
    }
    return out;
  }

  #plan(feeds: Feed[]): { handle: NativePlanHandle; plan: CompiledPlan } {
    let key = '';
    for (const f of feeds) key += f.dims.join(',') + ';';
    let values: Map<string, ConstTensor> | undefined;
    for (const i of this.#valueInputs) {
      const f = feeds[i];
      const data = f.data as TypedData;
      if (data.length > MAX_VALUE_ELEMENTS) continue;
      key += `${i}=${Array.prototype.join.call(data, ',')};`;
      values ??= new Map();
      // A copy: the caller may change its tensor after this run, the plan keeps the value it was made for.
      values.set(this.#inputs[i].name, { dtype: this.#inputs[i].dtype, dims: [...f.dims], data: data.slice() });
    }
    const hit = this.#plans.get(key);
    if (hit) return hit;
    const dims = new Map<string, readonly number[]>();
    this.#inputs.forEach((input, i) => dims.set(input.name, feeds[i].dims));
    const plan = compilePlan(this.#graph, dims, (name: string, node: Node, weight?: ConstTensor) => {
      if (!weight || !this.#planWeights.has(name)) {
        const i = this.#weightIndex.get(name);
        if (i !== undefined) return i;
        if (!weight) throw new SparqError('ERR_INVALID_MODEL', `Linear node "${node.name}" has no packed weights`);
      }
      // A layer of an If / Loop / Scan body, prepared with the plan: its weight is packed now, once for
      // every plan that inlines the body. Plans name a body's constants alike (control-flow.ts); the
      // fingerprint makes sure a name packed for one plan means the same values in another.
      const print = fingerprint(weight);
      let key = name;
      for (let k = 2; this.#planWeights.has(key); k++) {
        if (this.#planWeights.get(key) === print) return this.#weightIndex.get(key) as number;
        key = `${name}#${k}`;
      }
      const i = this.#packWeight(key, node, weight, this.#formats, this.#fallback);
      this.#planWeights.set(key, print);
      return i;
    }, values);
    plan.spec.weights = this.#weights.map((w) => w.handle);
    let handle: NativePlanHandle;
    try {
      handle = native().createPlan(plan.spec);
    } catch (e) {
      rethrowNative(e);
    }
    const entry = { handle, plan };
    this.#plans.set(key, entry);
    return entry;
  }

  /**
   * Runs the model. `fetches` (output names) limits what is returned; every output is computed.
   * As in onnxruntime-node, `fetches` may also map output names to `null` or to a tensor of the
   * output's type and dims that the run writes into and returns: a pre-allocated output, reused from
   * run to run, spares a fresh allocation (and its page faults) each time. Such a tensor may not share
   * memory with a feed or another output, nor be in use by another run at the same time.
   * Concurrent calls are safe.
   */
  async run(feeds: Record<string, Tensor>, fetches?: readonly string[] | Record<string, unknown>): Promise<Record<string, Tensor>> {
    if (this.#released || (this.#base && this.#base.#released)) throw new SparqError('ERR_RELEASED', 'Expected a live session for run() but received a session that was released');
    const list = this.#validateFeeds(feeds);
    let wanted: readonly string[] | undefined;
    if (Array.isArray(fetches)) {
      for (const f of fetches) if (!this.outputNames.includes(f)) throw rangeError(`one of the model's outputs (${this.outputNames.join(', ')})`, 'fetches', f);
      wanted = fetches;
    } else if (fetches !== undefined && (typeof fetches !== 'object' || fetches === null)) {
      throw typeError('an array of output names', 'fetches', fetches);
    } else if (fetches !== undefined) {
      // onnxruntime-node also takes { [outputName]: Tensor | null } here (else it is run options).
      const keys = Object.keys(fetches);
      if (keys.length > 0 && keys.every((k) => this.outputNames.includes(k))) wanted = keys;
    }
    const given = wanted && !Array.isArray(fetches) ? givenOutputs(fetches as Record<string, unknown>) : undefined;
    const { handle, plan } = this.#plan(list);
    // An output not fetched is written into a buffer of the session's, reused from run to run (a server
    // asking for one small output of an encoder skips allocating, zeroing and collecting the rest).
    const spares: [string, TypedData][] = [];
    const datas = plan.outputs.map((o) => {
      const t = given?.get(o.name);
      if (t) return checkGivenOutput(t, o, `fetches["${o.name}"]`);
      if (!wanted || wanted.includes(o.name)) return allocData(o.dtype, numel(o.dims));
      const key = `${o.dtype}:${numel(o.dims)}`;
      const spare = this.#spares.get(key)?.pop() ?? allocData(o.dtype, numel(o.dims));
      spares.push([key, spare]);
      return spare;
    });
    if (given) assertNoSharedMemory(list, plan.outputs, datas, given);
    const inputs = list.map((f) => f.data);
    const owner = this.#base ?? this;
    try {
      if (this.#runsInline(plan.work)) handle.runSync(inputs, datas, this.#threads);
      else {
        owner.#running++;
        try {
          await handle.run(inputs, datas, this.#threads);
        } finally {
          if (--owner.#running === 0 && owner.#released) owner.#discardFile();
        }
      }
    } catch (e) {
      rethrowNative(e);
    } finally {
      for (const [key, data] of spares) {
        const list = this.#spares.get(key) ?? [];
        if (list.length < 4) list.push(data);
        this.#spares.set(key, list);
      }
    }
    const result: Record<string, Tensor> = {};
    plan.outputs.forEach((o, i) => {
      if (wanted && !wanted.includes(o.name)) return;
      const t = given?.get(o.name);
      result[o.name] = t instanceof Tensor ? t : new Tensor(o.dtype as TensorType, datas[i] as never, o.dims);
    });
    return result;
  }

  /** Buffers for outputs not fetched, by dtype and length: a few per kind, for concurrent runs. */
  readonly #spares = new Map<string, TypedData[]>();

  #runsInline(work: number): boolean {
    if (this.#context || this.#execution === 'worker') return false;
    return this.#execution === 'inline' || work < INLINE_RUN_WORK;
  }

  /**
   * Frees the packed weights, plans and (device 'cuda') the stream, and hands the pages of the model file
   * the session read back to the OS. Idempotent. Runs in flight finish first, with their results: the
   * native weights and plans they use go when the last of them ends, the file's pages then too. A session
   * never released is freed the same way by the garbage collector (the native handles' finalizers, which
   * Node runs on a turn of the event loop after the collection).
   */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#plans.clear();
    this.#spares.clear();
    if (this.#base) return;
    for (const w of this.#weights) w.release();
    this.#weights = [];
    // The weights share the context: the stream goes with the last of them (after runs in flight).
    this.#context?.release();
    this.#context = undefined;
    if (this.#running === 0) this.#discardFile();
  }

  /**
   * The file's memory is freed by its finalizer, which waits for a collection and then a turn of the
   * event loop: a loop of create/run/release that awaits only inline runs never turns it, and held 5,000
   * copies of a 17 kB .sparq (100 MB of RSS) that way. Its pages go back now instead (the mapping stays
   * until the finalizer, reading zeros): nothing reads them after release() and the runs in flight.
   */
  #discardFile(): void {
    const file = this.#file;
    this.#file = undefined;
    // The whole buffer: readFile's spans the file's last page too (a view of the file would leave it).
    if (file && file.bytes.buffer.byteLength > 0) native().discardPages(new Uint8Array(file.bytes.buffer));
  }
}

/**
 * Work (multiply-adds) below which execution 'auto' runs on the calling thread. A run of 2^27 takes
 * about 1-2 ms on one core; LeNet-300-100 at batch 256 is 2^26. The hop to a run thread costs 15-25 µs
 * on an idle VM (bench/deploy/async-run.ts) plus the run's data moving to another core's cache (measured
 * 3-5% at 0.8 ms), and milliseconds where the JS thread must wait for a core to take the completion.
 */
const INLINE_RUN_WORK = 2 ** 27;

/** The house message with a received-side description written here (a tensor's type or dims). */
function feedError(kind: typeof TypeError | typeof RangeError, what: string, name: string, received: string): Error {
  return Object.assign(new kind(`Expected ${what} for ${name} but received ${received}`), { code: 'ERR_INVALID_ARGUMENT' as const });
}

/** "Expected a float32 tensor for <name> but received an int32 tensor". */
function wrongType(want: string, name: string, got: string): TypeError {
  return feedError(TypeError, `a ${want} tensor`, name, `${/^[aeiou]/.test(got) ? 'an' : 'a'} ${got} tensor`);
}

/** The tensors a fetches record gives to write outputs into (null or undefined: allocate as usual, as onnxruntime-node does). */
function givenOutputs(fetches: Record<string, unknown>): Map<string, Feed> | undefined {
  let given: Map<string, Feed> | undefined;
  for (const [name, v] of Object.entries(fetches)) {
    if (v === null || v === undefined) continue;
    if (!isFeed(v)) throw typeError('a Tensor to write the output into, or null', `fetches["${name}"]`, v);
    (given ??= new Map()).set(name, v);
  }
  return given;
}

/** A given output tensor's data, once its type, dims and array fit the plan's output. */
function checkGivenOutput(t: Feed, o: { dtype: TensorType; dims: readonly number[] }, name: string): ArrayBufferView {
  if (t.type !== o.dtype) throw wrongType(o.dtype, name, t.type);
  if (t.dims.length !== o.dims.length || t.dims.some((d, i) => d !== o.dims[i]))
    throw feedError(RangeError, `a tensor of dims [${o.dims.join(', ')}] (the output's for these feeds)`, name, `a tensor of dims [${t.dims.join(', ')}]`);
  const want = arrayTypeOf(o.dtype);
  const data = t.data as ArrayBufferView & { length: number };
  if (data.constructor !== want || data.length !== numel(o.dims))
    throw feedError(TypeError, `a tensor whose data is a ${want.name} of ${numel(o.dims)} values`, name, `a ${data.constructor.name} of ${data.length} values`);
  return data;
}

/** Refuses given outputs that overlap a feed or another output: the run would read what it writes. */
function assertNoSharedMemory(feeds: readonly Feed[], outputs: readonly { name: string }[], datas: readonly ArrayBufferView[], given: ReadonlyMap<string, Feed>): void {
  outputs.forEach((o, i) => {
    if (!given.has(o.name)) return;
    const name = `fetches["${o.name}"]`;
    const what = 'a tensor sharing no memory with the feeds or the other outputs';
    if (feeds.some((f) => overlaps(datas[i], f.data))) throw feedError(RangeError, what, name, 'a tensor overlapping a feed');
    if (datas.some((d, j) => j !== i && overlaps(datas[i], d))) throw feedError(RangeError, what, name, 'a tensor overlapping another output');
  });
}

/** The session's CUDA stream and staging (after assertCudaAvailable() passed). */
function createCudaSession(): NativeDeviceContext {
  const create = native().createCudaSession;
  if (!create) throw new SparqError('ERR_CUDA_UNAVAILABLE', "device 'cuda' was requested but this build of sparq has no CUDA backend (rebuild with npm run build:cuda)");
  try {
    return create();
  } catch (e) {
    rethrowNative(e);
  }
}

/**
 * Whether at least half of an fp32 weight is zero, read from its bytes (no copy of file-backed data).
 * A sample of the first 4096 values decides first, so dense weights cost next to nothing.
 */
function isMostlyZero(w: ConstTensor): boolean {
  if (w.dtype !== 'float32') return false;
  const bytes = w.raw ?? new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength >>> 2;
  const zerosIn = (count: number) => {
    let zeros = 0;
    for (let i = 0; i < count; i++) if ((view.getUint32(4 * i, true) & 0x7fffffff) === 0) zeros++;
    return zeros;
  };
  const sample = Math.min(n, 4096);
  if (zerosIn(sample) < sample * 0.3) return false;
  return zerosIn(n) >= n * 0.5;
}

/** The model's name for a layer's weight (fusion and relayouts rename it). */
function weightNameOf(node: Node, name: string): string {
  return node.attrs.weight_name?.type === 'string' ? node.attrs.weight_name.value : name;
}

/**
 * The session's graph: prepared here, or, where the passes cannot work out a shape that an If, Loop or
 * Scan hides until its condition is known (an If that squeezes or not on the batch size, an output
 * whose rank differs between branches), left for the plans to prepare, once inlined (runtime/plan.ts).
 */
function prepareForSession(graph: Graph): Graph {
  try {
    return prepareGraph(graph);
  } catch (e) {
    if (!(e instanceof SparqError) || !hasControlFlow(graph)) throw e;
    // Old opset forms still normalised: inlining infers shapes, which reads the newest forms.
    return normalizeOpsets(graph);
  }
}

/** A weight's dims and a 64-bit hash of its bytes (two FNV-1a-style 32-bit lanes over words), as a string. */
function fingerprint(t: ConstTensor): string {
  const src = t.raw ?? t.data;
  const aligned = src.byteOffset % 4 === 0 && src.byteLength % 4 === 0;
  const words = aligned ? new Int32Array(src.buffer, src.byteOffset, src.byteLength / 4) : new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  let a = 0x811c9dc5, b = 0x050c5d1f;
  for (let i = 0; i < words.length; i++) {
    a = Math.imul(a ^ words[i], 0x01000193);
    b = Math.imul(b ^ words[i], 0x01000193) ^ (b >>> 15);
  }
  return `${t.dims.join('x')}:${(a >>> 0).toString(16)}${(b >>> 0).toString(16)}`;
}
