// Shared by the benchmark suites: tinybench runs, side by side in one process, reported as ratios.
import { native } from '../src/native.js';

export { measure, type MeasureOptions, type Timing } from '../src/bench/measure.js';

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

export { randomFloats } from '../src/random.js';

/** Parses `--name=value` flags of a bench script. */
export function flag(name: string): string | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}
