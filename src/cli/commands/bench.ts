// sparq bench <model>: sparq and onnxruntime-node side by side in one process (tinybench with warm-up):
// p50/p90/p99 latency, throughput, load time, size, peak RSS and speedups; JSON and HTML reports.
import { readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';

import { backend } from '../../backend.js';
import { benchmark, type BenchmarkResult } from '../../bench/benchmark.js';
import { SparqError } from '../../errors.js';
import { executionsFor } from '../../session.js';
import { renderReport, type ReportData } from '../../report/html-report.js';
import { existingFile, intList, oneOf, positiveInt, str, type Command } from '../args.js';
import { textTable, writeJson, writeText } from '../output.js';
import { progress } from '../progress.js';

export function benchReport(title: string, result: BenchmarkResult): ReportData {
  const series = new Map<string, [number, number][]>();
  for (const c of result.cases) {
    const key = `${c.runtime} (${c.threads} thread${c.threads > 1 ? 's' : ''})`;
    series.set(key, [...(series.get(key) ?? []), [c.batch, c.p50]]);
  }
  return {
    title,
    generatedAt: new Date().toISOString(),
    environment: environment(),
    sections: [
      {
        title: 'Latency',
        charts: [{ title: 'p50 latency vs batch', xLabel: 'batch', yLabel: 'ms', logX: true, logY: true, series: [...series].map(([name, points]) => ({ name, points })) }],
        table: { columns: ['runtime', 'batch', 'threads', 'p50 ms', 'p90 ms', 'p99 ms', 'items/s'], rows: result.cases.map((c) => [c.runtime, c.batch, c.threads, c.p50, c.p90, c.p99, c.throughput]) },
      },
      {
        title: 'Speedup over onnxruntime-node',
        table: { columns: ['batch', 'threads', 'vs ORT fp32', 'vs ORT int8'], rows: result.speedups.map((s) => [s.batch, s.threads, s.vsOnnxruntime ?? '—', s.vsOnnxruntimeInt8 ?? '—']) },
      },
      {
        title: 'Load and memory',
        table: { columns: ['what', 'value'], rows: [['sparq device', result.device], ['sparq execution', result.execution], ['onnxruntime-node provider', result.onnxruntime.provider ?? '—'], ['model bytes', result.modelBytes], ['parameters', result.params], ['sparq load ms', result.loadMs.sparq], ['onnxruntime load ms', result.loadMs.onnxruntime ?? '—'], ['peak RSS MiB (process)', result.peakRssMiB]] },
      },
    ],
  };
}

/** The CPU model, with its family and model numbers where the name is generic (cloud VMs: "AMD EPYC"). */
function cpuName(): string {
  const name = cpus()[0]?.model.trim() || 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    return family ? `${name} (family ${family}, model ${model ?? '?'})` : name;
  } catch {
    return name;
  }
}

export function environment(): Record<string, string | number> {
  const b = backend();
  return { cpu: cpuName(), isa: b.isa, threads: b.threads, sparq: b.version, node: process.version, cuda: b.cuda.available ? String(b.cuda.device ?? 'yes') : `no (${b.cuda.reason ?? 'unavailable'})` };
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Benchmark a model in sparq and onnxruntime-node side by side: latency, throughput, load time, memory.',
  usage: 'sparq bench <model> [--batch 1,8,32] [--seq 128] [--threads 1,2] [--compare onnxruntime|none] [--device cpu|cuda] [--execution inline|auto|worker] [--json <file>] [--html <file>]',
  help: [
    '  --batch list      batch sizes (default 1)',
    '  --seq N           sequence length for models with a sequence dim (default 128)',
    '  --threads list    thread counts (default 1)',
    '  --compare what    onnxruntime (default) or none',
    '  --device d        cpu (default) or cuda: sparq\'s linear layers on the GPU; onnxruntime-node on its',
    '                    CUDA provider where installed, else on its CPU provider (the output says which)',
    '  --execution e     where sparq\'s run() computes: inline (default on the CPU: the calling thread, as',
    '                    onnxruntime-node does), auto (sparq\'s default: a worker thread above ~4M multiply-adds)',
    '                    or worker (always off the event loop; each run then pays a thread hop)',
    '  --time ms         measuring time per case and round (default 300)',
    '  --json <file>     write the results as JSON',
    '  --html <file>     write an HTML report with charts',
  ],
  options: {
    batch: { type: 'string' },
    seq: { type: 'string' },
    threads: { type: 'string' },
    compare: { type: 'string' },
    device: { type: 'string' },
    execution: { type: 'string' },
    time: { type: 'string' },
    json: { type: 'string' },
    html: { type: 'string' },
  },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model>');
    const batch = intList(str(values, 'batch'), '--batch', [1]);
    const threads = intList(str(values, 'threads'), '--threads', [1]);
    const seq = positiveInt(str(values, 'seq'), '--seq', 128);
    const time = positiveInt(str(values, 'time'), '--time', 300);
    const compare = oneOf(str(values, 'compare'), '--compare', ['onnxruntime', 'none'] as const, 'onnxruntime');
    const device = oneOf(str(values, 'device'), '--device', ['cpu', 'cuda'] as const, 'cpu');
    const execution = oneOf(str(values, 'execution'), '--execution', executionsFor(device ?? 'cpu'), device === 'cuda' ? 'auto' : 'inline');
    if (device === 'cuda' && !backend().cuda.available)
      throw new SparqError('ERR_CUDA_UNAVAILABLE', `--device cuda was requested but CUDA is unavailable: ${backend().cuda.reason ?? 'no device'}`);
    const bar = progress('bench', batch.length * threads.length, { quiet: values.quiet === true });
    const result = await benchmark(path, { batch, threads, seq, time, device, execution, compare: compare === 'onnxruntime', onProgress: (d, _t, note) => bar.update(d, note) });
    bar.done();
    const out = process.stdout;
    out.write(`${path}: ${(statSync(path).size / 1024).toFixed(1)} KiB, ${result.params.toLocaleString('en-US')} parameters\n`);
    if (!result.onnxruntime.available) out.write(`onnxruntime-node: not compared (${result.onnxruntime.reason})\n`);
    out.write(`sparq runs on ${execution === 'inline' ? 'the calling thread (--execution inline), as onnxruntime-node does' : execution === 'auto' ? 'the calling thread below ~4M multiply-adds, else a worker thread (--execution auto)' : 'a worker thread, off the event loop (--execution worker)'}\n`);
    if (device === 'cuda') out.write(`sparq: linear layers on the GPU (${backend().cuda.device}), other ops on the CPU\n`);
    if (result.onnxruntime.available && device === 'cuda')
      out.write(result.onnxruntime.provider === 'cuda' ? 'onnxruntime-node: on its CUDA provider\n' : `onnxruntime-node: on its CPU provider: ${result.onnxruntime.note}\n`);
    out.write('\n' + textTable(['runtime', 'batch', 'threads', 'p50 ms', 'p90 ms', 'p99 ms', 'items/s'], result.cases.map((c) => [c.runtime, c.batch, c.threads, c.p50, c.p90, c.p99, c.throughput])) + '\n\n');
    if (result.onnxruntime.available)
      out.write(textTable(['batch', 'threads', 'speedup vs ORT'], result.speedups.map((s) => [s.batch, s.threads, s.vsOnnxruntime === undefined ? '—' : `${s.vsOnnxruntime.toFixed(2)}x`])) + '\n\n');
    out.write(`load: sparq ${result.loadMs.sparq.toFixed(1)} ms${result.loadMs.onnxruntime !== undefined ? `, onnxruntime ${result.loadMs.onnxruntime.toFixed(1)} ms` : ''}; peak RSS ${result.peakRssMiB.toFixed(0)} MiB (one process, both runtimes)\n`);
    const json = str(values, 'json');
    if (json) writeJson(json, { model: path, ...result });
    const html = str(values, 'html');
    if (html) writeText(html, renderReport(benchReport(`sparq bench: ${path}`, result)));
    return 0;
  },
};
