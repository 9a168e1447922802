// The wider op set where CNN and decoder graphs spend time (activations, variadic element-wise ops,
// reductions, LogSoftmax), one node per graph, sparq vs onnxruntime-node side by side, one thread,
// sparq 'inline' (as onnxruntime-node computes on the calling thread). `npm run bench -- ops-ext`.
import { InferenceSession, Tensor } from '../src/index.js';
import { type AttrValue, GraphBuilder } from '../src/onnx/builder.js';
import { measure, printTable, randomFloats } from './harness.js';
import { ort, ortSessionOptions } from './ort.js';

interface Case {
  name: string;
  op: string;
  inputs: number[][];
  out: number[];
  attrs?: Record<string, AttrValue>;
  opset?: number;
}

const IMG = [1, 64, 56, 56];
const CASES: Case[] = [
  { name: 'LeakyRelu 1x64x56x56', op: 'LeakyRelu', inputs: [IMG], out: IMG, attrs: { alpha: { float: 0.1 } } },
  { name: 'HardSwish 1x64x56x56', op: 'HardSwish', inputs: [IMG], out: IMG },
  { name: 'HardSigmoid 1x64x56x56', op: 'HardSigmoid', inputs: [IMG], out: IMG },
  { name: 'Exp 1x64x56x56', op: 'Exp', inputs: [IMG], out: IMG },
  { name: 'Max of 2, 1x64x56x56', op: 'Max', inputs: [IMG, IMG], out: IMG },
  { name: 'Sum of 3, 1x64x56x56', op: 'Sum', inputs: [IMG, IMG, IMG], out: IMG },
  { name: 'ReduceSum axis 1, 1x64x56x56', op: 'ReduceSum', inputs: [IMG], out: [1, 1, 56, 56], attrs: { axes: [1] }, opset: 12 },
  { name: 'ReduceMax last axis, 64x3136', op: 'ReduceMax', inputs: [[64, 3136]], out: [64, 1], attrs: { axes: [1] } },
  { name: 'LogSoftmax 32x32000', op: 'LogSoftmax', inputs: [[32, 32000]], out: [32, 32000], attrs: { axis: 1 } },
];

async function main(): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const c of CASES) {
    const g = new GraphBuilder();
    g.opset = c.opset ?? 14;
    const names = c.inputs.map((dims, i) => g.input(`x${i}`, 'FLOAT', dims));
    g.node(c.op, names, ['y'], c.attrs ?? {});
    g.output('y', 'FLOAT', c.out);
    const bytes = g.build();
    const s = await InferenceSession.create(bytes, { threads: 1, execution: 'inline' });
    const o = await ort.InferenceSession.create(bytes, ortSessionOptions(1));
    const data = c.inputs.map((dims, i) => randomFloats(dims.reduce((a, b) => a * b, 1), 11 + i));
    const sFeeds = Object.fromEntries(names.map((n, i) => [n, new Tensor('float32', data[i], c.inputs[i])]));
    const oFeeds = Object.fromEntries(names.map((n, i) => [n, new ort.Tensor('float32', data[i], c.inputs[i])]));
    const t = await measure({ sparq: () => s.run(sFeeds), ort: () => o.run(oFeeds) }, { time: 300, rounds: 3 });
    rows.push([c.name, t.sparq.p50 * 1000, t.ort.p50 * 1000, t.ort.p50 / t.sparq.p50]);
    await s.release();
  }
  printTable('One node per graph, one thread, p50 (µs); speedup = ORT time / sparq time', ['op', 'sparq µs', 'ORT µs', 'speedup'], rows);
}

await main();
