// kernels: the low-level API. y[M, N] = act(x[M, K] · W + bias), W row-major [K, N] (ONNX MatMul
// layout) packed once into a kernel format; zeros in W are pruned weights.
import { rangeError, rethrowNative, SparqError, typeError } from './errors.js';
import { native, type NativePackedHandle } from './native.js';
import { checkBoolean, checkFloat32Array, checkInteger, checkObject, checkOneOf } from './validate.js';
import { assertCudaAvailable, CUDA_FORMATS } from './cuda.js';

export const WEIGHT_FORMATS = ['dense', 'int8', 'sparse', 'block', '2:4', 'sparse-int8', 'int4', 'int8-wo', 'auto', ...CUDA_FORMATS] as const;
export type WeightFormat = (typeof WEIGHT_FORMATS)[number];
export const ACTIVATIONS = ['none', 'relu', 'gelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export const BLOCK_SHAPES = ['1x4', '4x1', '8x1', '16x1'] as const;
export type BlockShape = (typeof BLOCK_SHAPES)[number];

export interface PackOptions {
  /**
   * Kernel format; 'dense' by default. Zeros in W are pruned weights:
   * - 'sparse': unstructured fp32 (values + 16-bit k indices per output); K <= 65536.
   * - 'block': fp32 blocks of `block` shape that hold any nonzero; K <= 65536.
   * - '2:4': at most 2 nonzeros in every 4 consecutive k of each output (0.53x dense bytes). Weights
   *   that break the pattern throw a RangeError (code ERR_INVALID_ARGUMENT) naming the output and k:
   *   prune with pattern '2:4' first, or use 'sparse'.
   * - 'sparse-int8': s8 weights (per-output scales) in 1x4 blocks along K, u8 activations quantized
   *   per row at call time; exact s32 accumulation.
   * - 'int4' | 'int8-wo': weight-only codes for decode (M <= 64 streams the weights once): u4 (two per
   *   byte) or u8 codes with one bf16 scale per `groupSize` consecutive k of each output, a fixed or
   *   per-group zero point (`symmetric`); x is quantized to s8 per group and multiplied exactly in
   *   int32 (VNNI), one fp32 fused multiply-add per group. M > 64 dequantizes tiles for the fp32 GEMM.
   * - 'auto': the fastest exact fp32 format for this matrix here (dense below the crossover), chosen
   *   once at pack time; `format` reports the choice and `info.reason` why.
   * - 'cuda-f32' | 'cuda-f16' | 'cuda-int8' | 'cuda-sparse' | 'cuda-block' | 'cuda-2:4': the weights
   *   live on the GPU (a sparq built with `npm run build:cuda` on a host with an NVIDIA GPU; elsewhere
   *   SparqError ERR_CUDA_UNAVAILABLE says why). x and y stay host Float32Arrays. 'cuda-auto' picks one
   *   of them from W's zeros, as a session on device 'cuda' does; `format` reports the choice.
   */
  format?: WeightFormat;
  /** int8 formats: one scale per output column (default) or one for the whole matrix. */
  perChannel?: boolean;
  /**
   * 'block': block shape, outputs x inputs: '1x4' (4 consecutive k of one output, the default: what
   * block pruning produces), or '4x1' / '8x1' / '16x1' (that many consecutive outputs sharing one k).
   * Weights that aren't block-pruned still multiply exactly (blocks are stored with their zeros).
   */
  block?: BlockShape;
  /** 'int4' / 'int8-wo': consecutive k per scale, a multiple of 8 (int4) or 4 up to 4096; default 64. */
  groupSize?: number;
  /** 'int4' / 'int8-wo': fixed zero point (8 / 128, default) or one per group. */
  symmetric?: boolean;
  /** Pack for a given instruction set instead of the active one (tests, comparisons). */
  isa?: 'scalar' | 'avx2' | 'avx512';
}

export interface MatmulOptions {
  bias?: Float32Array;
  activation?: Activation;
  /** Threads for this call; default the pool's size. Small problems use one regardless. */
  threads?: number;
  /**
   * Write y here (M·N floats, not overlapping x or bias) and return it, instead of allocating a new
   * array per call: a hot loop that reuses one output skips the allocation and the page faults of
   * fresh memory (about 10% of a 128x768x3072 int8 product here).
   */
  out?: Float32Array;
}

/** Weights packed into a kernel's layout. Holds native memory until release() (or GC). */
export class PackedWeights {
  readonly K: number;
  readonly N: number;
  /** The format actually used ('auto' resolves to a concrete one). */
  readonly format: string;
  #handle: NativePackedHandle | null;
  #info: Record<string, string | number | boolean> | undefined;

  /**
   * @internal use kernels.pack(). `known`: K, N and the concrete format where the caller knows them
   * (a session creating many handles): the native info is then read at first use, not here.
   */
  constructor(handle: NativePackedHandle, known?: { K: number; N: number; format: string }) {
    this.#handle = handle;
    const info = known ?? (this.#info = handle.info());
    this.K = info.K as number;
    this.N = info.N as number;
    this.format = info.format as string;
  }

  /** Native bytes held by the packed weights. */
  get bytes(): number {
    return this.info.bytes as number;
  }
  /** Stored nonzeros / (K·N): 1 for dense formats. */
  get density(): number {
    return this.info.density as number;
  }
  get released(): boolean {
    return this.#handle === null;
  }
  /**
   * Everything the format reports (kernel name, quantization error, chosen format, ...). Handles from
   * kernels.pack() read it at packing; a session's, at first use (after release(): ERR_RELEASED).
   */
  get info(): Readonly<Record<string, string | number | boolean>> {
    return (this.#info ??= this.handle.info());
  }

  /** @internal */
  get handle(): NativePackedHandle {
    if (!this.#handle) throw new SparqError('ERR_RELEASED', 'Expected live packed weights for w but received weights that were released');
    return this.#handle;
  }

  release(): void {
    this.#handle?.release();
    this.#handle = null;
  }
  dispose(): void {
    this.release();
  }
  [Symbol.dispose](): void {
    this.release();
  }
}

export function pack(W: Float32Array, K: number, N: number, options: PackOptions = {}): PackedWeights {
  checkInteger(K, 'K', 1, 2 ** 31 - 1);
  checkInteger(N, 'N', 1, 2 ** 31 - 1);
  checkFloat32Array(W, 'W', K * N, `K·N = ${K * N}`);
  const opts = checkObject(options, 'options');
  const format = checkOneOf(opts.format ?? 'dense', 'options.format', WEIGHT_FORMATS);
  if (format.startsWith('cuda-')) assertCudaAvailable();
  const nativeOptions: Record<string, number | string | boolean> = {};
  if (opts.perChannel !== undefined) nativeOptions.perChannel = checkBoolean(opts.perChannel, 'options.perChannel');
  if (opts.groupSize !== undefined) nativeOptions.groupSize = checkInteger(opts.groupSize, 'options.groupSize', 4, 4096);
  if (opts.symmetric !== undefined) nativeOptions.symmetric = checkBoolean(opts.symmetric, 'options.symmetric');
  if (opts.block !== undefined) nativeOptions.block = checkOneOf(opts.block, 'options.block', BLOCK_SHAPES);
  if (opts.isa !== undefined) nativeOptions.isa = checkOneOf(opts.isa, 'options.isa', ['scalar', 'avx2', 'avx512'] as const);
  try {
    return new PackedWeights(native().pack(format, W, K, N, nativeOptions));
  } catch (e) {
    rethrowNative(e);
  }
}

interface MatmulCall {
  handle: NativePackedHandle;
  bias: Float32Array | null;
  activation: number;
  threads: number;
  out: Float32Array | null;
}

/** Whether two views share bytes of one buffer (an empty view shares none). */
export const overlaps = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  a.buffer === b.buffer && a.byteLength > 0 && b.byteLength > 0 && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;

function prepareMatmul(x: unknown, M: unknown, w: unknown, options: unknown): MatmulCall {
  if (!(w instanceof PackedWeights)) throw typeError('packed weights from kernels.pack()', 'w', w);
  const handle = w.handle;
  checkInteger(M, 'M', 1, 2 ** 31 - 1);
  checkFloat32Array(x, 'x', (M as number) * w.K, `M·K = ${(M as number) * w.K}`);
  const opts = checkObject(options ?? {}, 'options');
  const bias = opts.bias === undefined ? null : checkFloat32Array(opts.bias, 'options.bias', w.N, `N = ${w.N}`);
  const activation = ACTIVATIONS.indexOf(checkOneOf(opts.activation ?? 'none', 'options.activation', ACTIVATIONS));
  const threads = opts.threads === undefined ? 0 : checkInteger(opts.threads, 'options.threads', 1, 1024);
  let out: Float32Array | null = null;
  if (opts.out !== undefined) {
    out = checkFloat32Array(opts.out, 'options.out', (M as number) * w.N, `M·N = ${(M as number) * w.N}`);
    if (overlaps(out, x as Float32Array) || (bias && overlaps(out, bias)))
      throw rangeError('a Float32Array sharing no memory with x or options.bias', 'options.out', out);
  }
  return { handle, bias, activation, threads, out };
}

/**
 * Work (multiply-adds) below which matmul() and a session's run() compute on the calling thread: about
 * 40-80 µs on one core, which is what a hop to a worker thread and back costs on a VM (20-70 µs
 * measured here), so the hop would double the latency while sparing the event loop no more than that.
 */
export const INLINE_WORK = 1 << 22;

/** y = act(x · W + bias), computed off the event loop (small products run inline). */
export async function matmul(x: Float32Array, M: number, w: PackedWeights, options: MatmulOptions = {}): Promise<Float32Array> {
  const c = prepareMatmul(x, M, w, options);
  try {
    if (M * w.K * w.N * w.density <= INLINE_WORK) return native().matmulSync(c.handle, x, M, c.bias, c.activation, c.threads, c.out);
    return await native().matmul(c.handle, x, M, c.bias, c.activation, c.threads, c.out);
  } catch (e) {
    rethrowNative(e);
  }
}

/** y = act(x · W + bias) on the calling thread (blocks the event loop: prefer matmul for big work). */
export function matmulSync(x: Float32Array, M: number, w: PackedWeights, options: MatmulOptions = {}): Float32Array {
  const c = prepareMatmul(x, M, w, options);
  try {
    return native().matmulSync(c.handle, x, M, c.bias, c.activation, c.threads, c.out);
  } catch (e) {
    rethrowNative(e);
  }
}
