// benchmark(model, options): sparq and onnxruntime-node side by side in one process — p50/p90/p99
// latency, throughput, load time, model size, peak RSS — with speedup ratios. The CLI's `sparq bench`
// and `sparq demo` are built on it. With device 'cuda', sparq's session runs its linear layers on the
// GPU; onnxruntime-node runs on its CUDA provider where that is installed, and on its CPU provider
// otherwise, which the result says plainly (onnxruntime.provider / .note).
import { performance } from 'node:perf_hooks';

import { assertCudaAvailable } from '../cuda.js';
import { Model } from '../model.js';
import { loadModel } from '../io/model-file.js';
import { type Execution, InferenceSession, executionsFor } from '../session.js';
import type { Tensor } from '../tensor.js';
import { checkObject, checkOneOf } from '../validate.js';
import { makeFeeds } from './feeds.js';
import { measure } from './measure.js';
import { loadOnnxruntime, ortCudaProvider, type OrtModule } from './onnxruntime.js';

export interface BenchmarkOptions {
  /** Batch sizes (default [1]). */
  batch?: number[];
  /** Sequence length for models with a second symbolic dim (default 128). */
  seq?: number;
  /** Thread counts (default [1]). */
  threads?: number[];
  /**
   * Where sparq runs: 'cpu' (default) or 'cuda' (the session's linear layers on the GPU; ERR_CUDA_UNAVAILABLE
   * where there is none). onnxruntime-node then runs on its CUDA provider if installed, else on its CPU.
   */
  device?: 'cpu' | 'cuda';
  /**
   * sparq's session option `execution` (see SessionOptions). Default on the CPU: 'inline', the calling
   * thread, where onnxruntime-node's run() computes too, so the ratios compare the runtimes and not
   * Node's thread hop; 'auto' (sparq's own default) adds that hop above ~4M multiply-adds. On 'cuda': 'auto'.
   */
  execution?: Execution;
  /** Compare with onnxruntime-node (default true when it is installed). */
  compare?: boolean;
  /** An int8 ONNX model of the same weights to run in onnxruntime too (e.g. from quantize()). */
  ortInt8?: Uint8Array;
  /** ms per task per round (default 300) and rounds (default 3). */
  time?: number;
  rounds?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, note: string) => void;
}

export interface BenchmarkCase {
  runtime: 'sparq' | 'onnxruntime' | 'onnxruntime-int8';
  batch: number;
  seq: number;
  threads: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  /** items (batch rows) per second at p50 */
  throughput: number;
}

export interface BenchmarkResult {
  modelBytes: number;
  params: number;
  /** Session creation time in ms, median of 3. */
  loadMs: { sparq: number; onnxruntime?: number };
  /** Process peak resident set, MiB, after the run (both runtimes share the process). */
  peakRssMiB: number;
  /** Where sparq ran, and on which thread (SessionOptions.execution). */
  device: 'cpu' | 'cuda';
  execution: Execution;
  /**
   * provider: where onnxruntime-node ran ('cuda' only for device 'cuda' with its CUDA provider installed
   * and working); note: why it ran on the CPU when sparq ran on the GPU.
   */
  onnxruntime: { available: boolean; version?: string; reason?: string; provider?: 'cpu' | 'cuda'; note?: string };
  cases: BenchmarkCase[];
  /** Per (batch, threads): ORT time / sparq time. */
  speedups: { batch: number; threads: number; vsOnnxruntime?: number; vsOnnxruntimeInt8?: number }[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function toOrtFeeds(ort: OrtModule, feeds: Record<string, Tensor>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type === 'bool' ? 'bool' : t.type, t.data as never, t.dims as number[])]));
}

export async function benchmark(source: Model | string | Uint8Array, options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const opts = checkObject(options, 'options') as BenchmarkOptions;
  const device = checkOneOf(opts.device ?? 'cpu', 'options.device', ['cpu', 'cuda'] as const);
  if (device === 'cuda') assertCudaAvailable();
  const execution = checkOneOf(opts.execution ?? (device === 'cuda' ? 'auto' : 'inline'), 'options.execution', executionsFor(device));
  const model = source instanceof Model ? source : await loadModel(source);
  const bytes = model.toOnnx();
  const batches = opts.batch ?? [1];
  const threadsList = opts.threads ?? [1];
  const seq = opts.seq ?? 128;
  const ort = opts.compare === false ? undefined : await loadOnnxruntime();
  const ortMod = ort?.module;
  // On device 'cuda', onnxruntime-node on its CUDA provider where installed and working, else its CPU one.
  let ortProvider: 'cpu' | 'cuda' = 'cpu';
  let ortNote: string | undefined;
  const onCpu = (why: string) => `${why}; sparq runs on the GPU and onnxruntime-node on the CPU, so the ratios compare sparq's GPU with onnxruntime's CPU`;
  if (device === 'cuda' && ortMod) {
    const cuda = ortCudaProvider(ortMod);
    if (cuda.installed) ortProvider = 'cuda';
    else ortNote = onCpu(cuda.reason ?? "onnxruntime-node's CUDA provider is not installed");
  }
  const createOrt = async (model: Uint8Array, threads: number): Promise<OrtSession> => {
    const mod = ortMod as OrtModule;
    if (ortProvider === 'cuda') {
      try {
        return await mod.InferenceSession.create(model, ortOptions(threads, 'cuda'));
      } catch (e) {
        ortProvider = 'cpu';
        ortNote = onCpu(`onnxruntime-node's CUDA provider failed to start (${(e as Error).message.split('\n')[0]})`);
      }
    }
    return mod.InferenceSession.create(model, ortOptions(threads));
  };
  const params = [...model.initializers.values()].reduce((a, t) => a + t.data.length, 0);

  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    const r = await fn();
    return { ms: performance.now() - t0, r };
  };
  const loadSparq: number[] = [];
  const loadOrt: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await time(() => InferenceSession.create(bytes, { threads: 1, device }));
    loadSparq.push(s.ms);
    await (s.r as InferenceSession).release();
    if (ortMod) {
      const o = await time(() => createOrt(bytes, 1));
      loadOrt.push(o.ms);
      await (o.r as OrtSession).release();
    }
  }

  const cases: BenchmarkCase[] = [];
  const speedups: BenchmarkResult['speedups'] = [];
  const total = threadsList.length * batches.length;
  let done = 0;
  for (const threads of threadsList) {
    const sparq = await InferenceSession.create(model, { threads, device, execution });
    const ortSession = ortMod ? await createOrt(bytes, threads) : undefined;
    const ortInt8 = ortMod && opts.ortInt8 ? await createOrt(opts.ortInt8, threads) : undefined;
    try {
      for (const batch of batches) {
        opts.signal?.throwIfAborted();
        const feeds = makeFeeds(model, { batch, seq });
        const tasks: Record<string, () => Promise<unknown>> = { sparq: () => sparq.run(feeds) };
        if (ortSession && ortMod) {
          const f = toOrtFeeds(ortMod, feeds);
          tasks.onnxruntime = () => ortSession.run(f as never);
        }
        if (ortInt8 && ortMod) {
          const f = toOrtFeeds(ortMod, feeds);
          tasks['onnxruntime-int8'] = () => ortInt8.run(f as never);
        }
        const t = await measure(tasks, { time: opts.time, rounds: opts.rounds, signal: opts.signal });
        for (const [runtime, timing] of Object.entries(t))
          cases.push({ runtime: runtime as BenchmarkCase['runtime'], batch, seq, threads, ...timing, throughput: (batch * 1000) / timing.p50 });
        speedups.push({
          batch,
          threads,
          vsOnnxruntime: t.onnxruntime ? t.onnxruntime.p50 / t.sparq.p50 : undefined,
          vsOnnxruntimeInt8: t['onnxruntime-int8'] ? t['onnxruntime-int8'].p50 / t.sparq.p50 : undefined,
        });
        opts.onProgress?.(++done, total, `batch ${batch}, ${threads} thread(s)`);
      }
    } finally {
      await sparq.release();
      await ortSession?.release();
      await ortInt8?.release();
    }
  }
  return {
    modelBytes: bytes.length,
    params,
    loadMs: { sparq: median(loadSparq), onnxruntime: loadOrt.length ? median(loadOrt) : undefined },
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    device,
    execution,
    onnxruntime: ortMod ? { available: true, version: ort?.version, provider: ortProvider, note: ortNote } : { available: false, reason: ort?.reason ?? 'comparison turned off' },
    cases,
    speedups,
  };
}

type OrtSession = Awaited<ReturnType<OrtModule['InferenceSession']['create']>>;

export function ortOptions(threads: number, provider: 'cpu' | 'cuda' = 'cpu'): Record<string, unknown> {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', executionProviders: [provider] };
}

