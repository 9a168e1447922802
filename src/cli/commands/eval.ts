// sparq eval <model> --data <file|mnist>: accuracy on labelled data and output drift against a reference.
import { loadMnist } from '../../data/mnist.js';
import { SparqError } from '../../errors.js';
import { Tensor } from '../../tensor.js';
import { existingFile, positiveInt, str, UsageError, type Command } from '../args.js';
import { evaluate, type EvalData } from '../evaluate.js';
import { writeJson } from '../output.js';
import { readTensorFile } from '../tensor-files.js';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** `mnist` (the bundled 2,000 test digits) or a JSON file {"inputs": {name: file | tensor}, "labels": [..]}. */
function loadData(spec: string): EvalData {
  if (spec === 'mnist') {
    const { test } = loadMnist();
    return { inputs: { input: test.inputs }, labels: test.labels.data };
  }
  existingFile(spec, '--data');
  let doc: { inputs?: Record<string, unknown>; labels?: number[] };
  try {
    doc = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (e) {
    throw new SparqError('ERR_INVALID_DATA', `Expected a JSON data file for --data but ${spec} does not parse: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || !doc.inputs || typeof doc.inputs !== 'object')
    throw new SparqError('ERR_INVALID_DATA', `Expected {"inputs": {...}, "labels"?: [...]} in ${spec}`);
  const inputs: Record<string, Tensor> = {};
  for (const [name, v] of Object.entries(doc.inputs)) {
    if (typeof v === 'string') inputs[name] = readTensorFile(resolve(dirname(spec), v), `inputs.${name}`);
    else if (v && typeof v === 'object' && 'data' in v) {
      const t = v as { data: number[]; dims: number[]; type?: 'float32' };
      inputs[name] = new Tensor(t.type ?? 'float32', t.data, t.dims);
    } else throw new SparqError('ERR_INVALID_DATA', `Expected a file name or {"dims","data"} for inputs.${name} in ${spec}`);
  }
  const labels = doc.labels ? Int32Array.from(doc.labels) : undefined;
  return { inputs, labels };
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Accuracy on labelled data and output drift against a reference model.',
  usage: 'sparq eval <model> --data <mnist|data.json> [--reference <model>] [--input-name name] [--threads N] [--json <file>]',
  help: [
    '  --data what        mnist (the bundled 2,000 test digits) or a JSON file {"inputs": {name: file.npy | {dims,data}}, "labels": [...]}',
    '  --reference <m>    compare the first output with this model\'s (cosine similarity, max abs error)',
    '  --input-name name  the model input the mnist digits feed (default: the model\'s first input)',
    '  --threads N        threads (default: all cores)',
    '  --json <file>      write the result as JSON',
  ],
  options: { data: { type: 'string' }, reference: { type: 'string' }, 'input-name': { type: 'string' }, threads: { type: 'string' }, json: { type: 'string' } },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model>');
    const dataSpec = str(values, 'data');
    if (!dataSpec) throw new UsageError('Expected --data mnist or --data <file.json> but received nothing');
    const reference = str(values, 'reference');
    if (reference) existingFile(reference, '--reference');
    const threads = values.threads === undefined ? undefined : positiveInt(str(values, 'threads'), '--threads');
    const data = loadData(dataSpec);
    if (dataSpec === 'mnist') {
      const { loadModel } = await import('../../io/model-file.js');
      const model = await loadModel(path);
      const name = str(values, 'input-name') ?? model.inputs[0]?.name;
      data.inputs = { [name]: data.inputs.input };
    }
    const result = await evaluate(path, data, reference, threads);
    const lines = [`examples: ${result.examples}`];
    if (result.accuracy !== undefined) lines.push(`accuracy: ${(100 * result.accuracy).toFixed(2)}%`);
    if (result.drift) lines.push(`drift vs ${reference}: cosine ${result.drift.cosine.toFixed(6)}, max abs error ${result.drift.maxAbsError.toPrecision(3)}`);
    process.stdout.write(lines.join('\n') + '\n');
    const json = str(values, 'json');
    if (json) writeJson(json, { model: path, data: dataSpec, reference: reference ?? null, ...result });
    return 0;
  },
};
