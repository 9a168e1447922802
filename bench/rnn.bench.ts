// Recurrent models exported by PyTorch (scripts/export-rnn.py): sparq vs onnxruntime-node on the same
// ONNX bytes and inputs, one thread each, side by side in one process.
//   lstm_bench / gru_bench: 80 features -> 2 layers of 256, 100 steps, batch 1 (a speech-frame stack)
//   lstm_bi_bench: 64 -> bidirectional 128, 50 steps, batch 4, batch-first
//   and the small test models (single / multi-layer, bidirectional) at their export shapes.
//   npm run bench -- rnn [--threads=1] [--time=300]
import { readFileSync } from 'node:fs';

import { InferenceSession, Tensor } from '../src/index.js';
import { exportRnnModels, torchAvailable } from './rnn-models.js';
import { flag, measure, printTable, randomFloats } from './harness.js';
import { ort, ortSessionOptions } from './ort.js';

const THREADS = Number(flag('threads') ?? 1);
const TIME = Number(flag('time') ?? 300);

if (!torchAvailable()) {
  console.error('rnn bench: /usr/bin/python3 cannot import torch and onnx (apt-get install python3-torch python3-onnx)');
  process.exit(1);
}
const models = [...exportRnnModels(['lstm_bench', 'gru_bench', 'lstm_bi_bench']), ...exportRnnModels()];
const rows: (string | number)[][] = [];
for (const m of models) {
  const bytes = new Uint8Array(readFileSync(m.file));
  const s = await InferenceSession.create(bytes, { threads: THREADS, execution: 'inline' });
  const o = await ort.InferenceSession.create(bytes, ortSessionOptions(THREADS));
  const sFeeds: Record<string, Tensor> = {};
  const oFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  let seed = 1;
  for (const [name, dims] of Object.entries(m.inputs)) {
    const data = randomFloats(dims.reduce((a, b) => a * b, 1), seed++);
    sFeeds[name] = new Tensor('float32', data, dims);
    oFeeds[name] = new ort.Tensor('float32', data, dims);
  }
  const t = await measure({ sparq: () => s.run(sFeeds), ort: () => o.run(oFeeds) }, { time: TIME });
  rows.push([m.name, Object.entries(m.inputs).map(([k, d]) => `${k}[${d.join('x')}]`).join(' '), t.sparq.p50, t.ort.p50, t.ort.p50 / t.sparq.p50]);
  await s.release();
  await o.release();
}
const cpu = (await import('node:fs')).readFileSync('/proc/cpuinfo', 'utf8').match(/cpu family\s*:\s*(\d+)/)?.[1] ?? '?';
printTable(`Recurrent models, ${THREADS} thread(s), p50 ms (cpu family ${cpu}; speed = ORT time / sparq time)`, ['model', 'inputs', 'sparq', 'onnxruntime', 'speed vs ORT'], rows);
