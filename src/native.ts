// Loads the native addon and declares the binding's typed interface (hand-written: the binding is
// small and its contract is this file). Set SPARQ_ADDON to load a specific .node file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SparqError } from './errors.js';

export interface NativePackedHandle {
  info(): Record<string, string | number | boolean>;
  release(): void;
}

/** A session's device context (a CUDA stream and its staging buffers): pack options' `device`. */
export interface NativeDeviceContext {
  info(): { released: boolean; kind?: string; stagingBytes?: number };
  release(): void;
}

/** Options for pack/packBytes: the format's own (numbers, strings, booleans), and a session's `device`. */
export type NativePackOptions = Record<string, number | string | boolean | NativeDeviceContext>;

export interface NativeCudaStatus {
  available: boolean;
  reason?: string;
  device?: string;
  sms?: number;
  memory?: number;
  /** e.g. '9.0' (CUDA builds only). */
  computeCapability?: string;
}

export interface NativeBackend {
  isa: string;
  available: string[];
  threads: number;
  cuda: NativeCudaStatus;
  version: string;
  features: Record<string, boolean>;
  formats: string[];
}

export interface NativeAddon {
  backend(): NativeBackend;
  setThreads(threads: number): void;
  pack(format: string, W: Float32Array, K: number, N: number, options: NativePackOptions): NativePackedHandle;
  matmulSync(w: NativePackedHandle, x: Float32Array, M: number, bias: Float32Array | null, activation: number, threads: number, out?: Float32Array | null): Float32Array;
  matmul(w: NativePackedHandle, x: Float32Array, M: number, bias: Float32Array | null, activation: number, threads: number, out?: Float32Array | null): Promise<Float32Array>;
  /** C = alpha·op(A)·op(B) + beta·C, row-major; C (M·N) is updated in place and returned, or null for a new array. */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array | null, alpha: number, beta: number, threads: number): Float32Array;
  /** Graph runtime (session_binding.cpp): a native plan from a compiled spec (src/runtime/plan.ts). */
  createPlan(spec: object): NativePlanHandle;
  /** Packs fp32 weights given as little-endian bytes at any alignment. */
  packBytes(format: string, bytes: Uint8Array, K: number, N: number, options: NativePackOptions): NativePackedHandle;
  /** CUDA builds only: a new session stream (ERR_CUDA_UNAVAILABLE without a device). */
  createCudaSession?(): NativeDeviceContext;
  /** Packs W [K, N] from its nonzeros by column (CSC: colPtr[N + 1], increasing rows per column). */
  packCsc(format: string, colPtr: Int32Array, rows: Int32Array, values: Float32Array, K: number, N: number, options: NativePackOptions): NativePackedHandle;
  /** zlib's CRC-32 of bytes, folded with carry-less multiplies where the CPU has them. */
  crc32(bytes: Uint8Array): number;
  /** A whole file as one private, 64-byte-aligned native copy (huge pages where large); throws ERR_IO. */
  readFile(path: string): Uint8Array;
  /** A whole file mapped privately (no copy); no view may outlive its use: a truncated file faults it. Throws ERR_IO. */
  mapFile(path: string): Uint8Array;
  /**
   * AES-256-GCM: decrypts each item's data over itself (in parallel), returns the index of the first item
   * whose tag fails, or -1. Absent where the running Node exports no OpenSSL (then node:crypto decrypts).
   */
  aesGcmOpen?(key: Uint8Array, items: [nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array, out?: Uint8Array][]): number;
  /** Returns the whole pages inside a view's bytes to the OS; the bytes read as zero afterwards. */
  discardPages(view: ArrayBufferView): number;
  /** Live handles holding native memory and the bytes they reported to the GC (released or finalized handles count no more). */
  heldNative(): NativeHeld;
  [extra: string]: unknown;
}

export interface NativeHeld {
  /** Packed weights (kernels.pack, a session's linear layers). */
  packed: number;
  /** Compiled plans (a session's plan cache). */
  plans: number;
  /** Device contexts (a device 'cuda' session's stream and staging). */
  devices: number;
  /** What these handles reported to V8 (AdjustExternalMemory). */
  bytes: number;
  /** glibc only: bytes the C heap has handed out process-wide (Node's and V8's too): watch its trend. */
  mallocBytes?: number;
}

export interface NativePlanHandle {
  run(inputs: ArrayBufferView[], outputs: ArrayBufferView[], threads: number): Promise<void>;
  runSync(inputs: ArrayBufferView[], outputs: ArrayBufferView[], threads: number): void;
  release(): void;
  info(): { released: boolean; arenaBytes?: number; ops?: number };
}

/** The package root: the nearest directory above this file holding sparq's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        if ((JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'sparq') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new SparqError('ERR_ADDON_MISSING', 'Could not find the sparq package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  const candidates = process.env.SPARQ_ADDON
    ? [process.env.SPARQ_ADDON]
    : [join(root, 'build', 'Release', 'sparq.node'), join(root, 'build', 'Debug', 'sparq.node')];
  const errors: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      errors.push(`${path}: not found`);
      continue;
    }
    try {
      // process.dlopen, not require: the CommonJS loader's resolution and module record took 1.2 of the
      // 1.7 ms that loading the addon costs (inside the first create(), as import('sparq') is lazy).
      const module = { exports: {} as NativeAddon };
      process.dlopen(module, resolve(path));
      cached = module.exports;
      return cached;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new SparqError(
    'ERR_ADDON_MISSING',
    `sparq's native addon could not be loaded (${errors.join('; ')}). ` +
      'It is built from source at install: run `npm rebuild sparq` (or `npm run build:native` in a checkout); ' +
      'it needs a C++17 compiler and CMake, or node-gyp with Python.',
  );
}
