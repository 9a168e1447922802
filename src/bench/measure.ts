// Timing with tinybench, shared by the benchmark() API, the CLI and bench/: tasks run side by side in
// one process, in rounds that alternate their order so a shared machine's drift hits all of them.
import { Bench } from 'tinybench';

export interface Timing {
  /** milliseconds */
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  samples: number;
}

export interface MeasureOptions {
  /** ms per task per round */
  time?: number;
  warmupTime?: number;
  rounds?: number;
  signal?: AbortSignal;
  /** called after each round with (round, rounds) */
  onRound?: (round: number, rounds: number) => void;
}

/** Runs each task with tinybench; returns, per task, the round with the median p50. */
export async function measure(tasks: Record<string, () => unknown>, options: MeasureOptions = {}): Promise<Record<string, Timing>> {
  const rounds = options.rounds ?? 3;
  const perRound: Record<string, Timing[]> = {};
  for (let r = 0; r < rounds; r++) {
    options.signal?.throwIfAborted();
    const bench = new Bench({ time: options.time ?? 300, warmupTime: options.warmupTime ?? 50, warmupIterations: 3, iterations: 5, retainSamples: true, signal: options.signal });
    const names = Object.keys(tasks);
    for (const name of r % 2 ? [...names].reverse() : names) bench.add(name, tasks[name] as () => Promise<void>);
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result as { state: string; latency?: { p50: number; p75: number; p99: number; mean: number; samplesCount?: number; samples?: number[] }; error?: unknown };
      if (result.state !== 'completed' || !result.latency) throw new Error(`benchmark task ${task.name} did not complete: ${String((result.error as Error)?.message ?? result.error ?? result.state)}`);
      const l = result.latency;
      (perRound[task.name] ??= []).push({ p50: l.p50, p90: percentile(l.samples, 0.9) ?? l.p99, p99: l.p99, mean: l.mean, samples: l.samplesCount ?? l.samples?.length ?? 0 });
    }
    options.onRound?.(r + 1, rounds);
  }
  const out: Record<string, Timing> = {};
  for (const [name, list] of Object.entries(perRound)) {
    const sorted = [...list].sort((a, b) => a.p50 - b.p50);
    out[name] = sorted[Math.floor(sorted.length / 2)];
  }
  return out;
}

function percentile(samples: number[] | undefined, q: number): number | undefined {
  if (!samples?.length) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
