// benchmark(model, options): sparq and onnxruntime-node side by side in one process — p50/p90/p99
// latency, throughput, load time, model size, peak RSS — with speedup ratios. The CLI's `sparq bench`
// and `sparq demo` are built on it.
import { performance } from 'node:perf_hooks';

import { loadModel, Model } from '../model.js';
import { InferenceSession } from '../session.js';
import type { Tensor } from '../tensor.js';
import { checkObject } from '../validate.js';
import { makeFeeds } from './feeds.js';
import { measure } from './measure.js';
import { loadOnnxruntime, type OrtModule } from './onnxruntime.js';

export interface BenchmarkOptions {
  /** Batch sizes (default [1]). */
  batch?: number[];
  /** Sequence length for models with a second symbolic dim (default 128). */
  seq?: number;
  /** Thread counts (default [1]). */
  threads?: number[];
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
  onnxruntime: { available: boolean; version?: string; reason?: string };
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
  const model = source instanceof Model ? source : await loadModel(source);
  const bytes = model.toOnnx();
  const batches = opts.batch ?? [1];
  const threadsList = opts.threads ?? [1];
  const seq = opts.seq ?? 128;
  const ort = opts.compare === false ? undefined : await loadOnnxruntime();
  const ortMod = ort?.module;
  const params = [...model.initializers.values()].reduce((a, t) => a + t.data.length, 0);

  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    const r = await fn();
    return { ms: performance.now() - t0, r };
  };
  const loadSparq: number[] = [];
  const loadOrt: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await time(() => InferenceSession.create(bytes, { threads: 1 }));
    loadSparq.push(s.ms);
    await (s.r as InferenceSession).release();
    if (ortMod) {
      const o = await time(() => ortMod.InferenceSession.create(bytes, ortOptions(1)));
      loadOrt.push(o.ms);
      await (o.r as { release(): Promise<void> }).release();
    }
  }

  const cases: BenchmarkCase[] = [];
  const speedups: BenchmarkResult['speedups'] = [];
  const total = threadsList.length * batches.length;
  let done = 0;
  for (const threads of threadsList) {
    const sparq = await InferenceSession.create(model, { threads });
    const ortSession = ortMod ? await ortMod.InferenceSession.create(bytes, ortOptions(threads)) : undefined;
    const ortInt8 = ortMod && opts.ortInt8 ? await ortMod.InferenceSession.create(opts.ortInt8, ortOptions(threads)) : undefined;
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
    onnxruntime: ortMod ? { available: true, version: ort?.version } : { available: false, reason: ort?.reason ?? 'comparison turned off' },
    cases,
    speedups,
  };
}

export function ortOptions(threads: number): Record<string, unknown> {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

