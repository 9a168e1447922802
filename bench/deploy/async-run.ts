// LeNet-300-100 (784-300-100-10, fp32) with default options: sparq's async run() against
// onnxruntime-node's, alternated in blocks so a busy machine's drift hits both, at batch 1, 16, 64 and
// 256; then what the hop off the event loop costs ('worker' against 'inline' at batch 1), and how long
// each mode keeps the event loop busy per run (event-loop utilization: the JS thread's active time).
import { performance } from 'node:perf_hooks';

import { InferenceSession, Tensor } from '../../src/index.js';
import { mlpModel } from '../../src/onnx/zoo.js';
import { randomFloats } from '../harness.js';
import type { DeployResult } from '../deploy.bench.js';

type Task = () => Promise<unknown>;

/** p50 of each task in µs, runs alternated in blocks (one unmeasured run first: ORT's spinning threads settle). */
async function alternate(tasks: Record<string, Task>, runs: number, block = 10): Promise<Record<string, number>> {
  const times: Record<string, number[]> = {};
  for (let r = 0; r < runs; r += block)
    for (const [name, task] of Object.entries(tasks)) {
      await task();
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await task();
        (times[name] ??= []).push((performance.now() - t0) * 1000);
      }
    }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The event loop's active time per run, µs (the whole run when it computes inline). */
async function loopBusy(task: Task, runs: number): Promise<number> {
  for (let i = 0; i < 5; i++) await task();
  const before = performance.eventLoopUtilization();
  for (let i = 0; i < runs; i++) await task();
  return (performance.eventLoopUtilization(before).active * 1000) / runs;
}

export async function run({ short }: { short: boolean }): Promise<DeployResult> {
  const ort = await import('onnxruntime-node');
  const bytes = mlpModel({ sizes: [784, 300, 100, 10], seed: 1 });
  const auto = await InferenceSession.create(bytes);
  const inline = await InferenceSession.create(bytes, { execution: 'inline' });
  const worker = await InferenceSession.create(bytes, { execution: 'worker' });
  const o = await ort.InferenceSession.create(bytes);
  const runs = short ? 100 : 1000;
  const rows: Record<string, string | number>[] = [];
  try {
    for (const batch of [1, 16, 64, 256]) {
      const x = randomFloats(batch * 784, batch);
      const feeds = { input: new Tensor('float32', x, [batch, 784]) };
      const ortFeeds = { input: new ort.Tensor('float32', x, [batch, 784]) };
      const n = batch >= 64 ? Math.max(50, runs / 4) : runs;
      const t = await alternate({ sparq: () => auto.run(feeds), ort: () => o.run(ortFeeds) }, n);
      rows.push({
        what: `batch ${batch}, execution 'auto'`,
        'sparq p50 µs': t.sparq,
        'ORT p50 µs': t.ort,
        'speed vs ORT (target >= 0.95)': t.ort / t.sparq,
        'loop busy µs/run sparq': await loopBusy(() => auto.run(feeds), Math.min(n, 200)),
        'loop busy µs/run ORT': await loopBusy(() => o.run(ortFeeds), Math.min(n, 200)),
      });
    }
    const x = randomFloats(784, 1);
    const feeds = { input: new Tensor('float32', x, [1, 784]) };
    const t = await alternate({ inline: () => inline.run(feeds), worker: () => worker.run(feeds) }, runs * 2);
    rows.push({
      what: "batch 1: 'worker' vs 'inline' (hop = worker - inline, target <= 25 µs)",
      'sparq p50 µs': `inline ${t.inline.toFixed(1)}, worker ${t.worker.toFixed(1)}`,
      'ORT p50 µs': '',
      'speed vs ORT (target >= 0.95)': `hop ${(t.worker - t.inline).toFixed(1)} µs`,
      'loop busy µs/run sparq': `inline ${(await loopBusy(() => inline.run(feeds), 200)).toFixed(1)}, worker ${(await loopBusy(() => worker.run(feeds), 200)).toFixed(1)}`,
      'loop busy µs/run ORT': '',
    });
  } finally {
    await Promise.all([auto.release(), inline.release(), worker.release(), o.release()]);
  }
  return { title: 'LeNet-300-100 async run(), default options, sparq vs onnxruntime-node alternated (p50)', rows };
}
