// Shared by the benchmark suites: tinybench runs, side by side in one process, reported as ratios.
import { Bench } from 'tinybench';

import { native } from '../src/native.js';

export interface Timing {
  p50: number; // ms
  p99: number; // ms
  mean: number; // ms
  samples: number;
}

export interface MeasureOptions {
  /** ms per task per round */
  time?: number;
  warmupTime?: number;
  /** Rounds alternate the tasks so drift on a shared machine hits all of them; the median round wins. */
  rounds?: number;
}

/** Runs each task with tinybench; returns the median over rounds of each task's p50 (and its p99). */
export async function measure(tasks: Record<string, () => unknown>, options: MeasureOptions = {}): Promise<Record<string, Timing>> {
  const rounds = options.rounds ?? 3;
  const perRound: Record<string, Timing[]> = {};
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({ time: options.time ?? 300, warmupTime: options.warmupTime ?? 50, warmupIterations: 3, iterations: 5 });
    const names = Object.keys(tasks);
    // Alternate order between rounds.
    for (const name of r % 2 ? [...names].reverse() : names) bench.add(name, tasks[name] as () => Promise<void>);
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result as { state: string; latency?: { p50: number; p99: number; mean: number; samplesCount?: number }; error?: unknown };
      if (result.state !== 'completed' || !result.latency) throw new Error(`benchmark task ${task.name} failed: ${String(result.error ?? result.state)}`);
      (perRound[task.name] ??= []).push({
        p50: result.latency.p50,
        p99: result.latency.p99,
        mean: result.latency.mean,
        samples: result.latency.samplesCount ?? 0,
      });
    }
  }
  const out: Record<string, Timing> = {};
  for (const [name, list] of Object.entries(perRound)) {
    const sorted = [...list].sort((a, b) => a.p50 - b.p50);
    out[name] = sorted[Math.floor(sorted.length / 2)];
  }
  return out;
}

let peaks: { fp32: number; int8: number } | undefined;
/** The machine's measured per-core ceilings in GOP/s (an FMA or MAC counts 2). */
export function machinePeaks(): { fp32: number; int8: number } {
  if (!peaks) {
    const addon = native() as unknown as { measurePeak(kind: string, ms: number): number };
    peaks = { fp32: addon.measurePeak('fp32', 300), int8: addon.measurePeak('int8', 300) };
  }
  return peaks;
}

export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  console.log(`\n${title}`);
  const line = (r: (string | number)[]) => '| ' + r.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |';
  console.log(line(cells[0]));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of cells.slice(1)) console.log(line(r));
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** Parses `--name=value` flags of a bench script. */
export function flag(name: string): string | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}
