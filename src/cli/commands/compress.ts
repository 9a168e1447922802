// sparq compress <model> -o <out.onnx|out.sparq>: prune and/or quantize, save, print the report.
import { extname } from 'node:path';

import { compress, type CompressPass } from '../../compress/compress.js';
import { PRUNE_METHODS } from '../../compress/masks.js';
import { loadMnist } from '../../data/mnist.js';
import { loadModel, saveModel } from '../../io/model-file.js';
import { Tensor } from '../../tensor.js';
import { existingFile, fraction, oneOf, str, UsageError, type Command } from '../args.js';
import { writeJson } from '../output.js';
import { readTensorFile } from '../tensor-files.js';

const PATTERNS = ['unstructured', '2:4', 'block', 'structured'] as const;

export const compressCommand: Command = {
  name: 'compress',
  summary: 'Prune and/or quantize a model and save it as .onnx (runs in onnxruntime) or .sparq (packed, loads fast).',
  usage:
    'sparq compress <model> -o <out.onnx|out.sparq> [--prune 0.9] [--pattern unstructured|2:4|block|structured] [--method magnitude|random|wanda|sparsegpt] [--quantize int8] [--calibration <file|mnist>] [--report <file.json>]',
  help: [
    '  -o, --output <file>   where to write the compressed model (.onnx or .sparq)',
    '  --prune s             share of weights to remove, in [0, 1)',
    '  --pattern p           unstructured (default), 2:4, block (1x4 along K), structured (whole neurons)',
    '  --method m            magnitude (default), random, wanda, sparsegpt (the last two need --calibration)',
    '  --quantize int8       dynamic int8 (s8 weights per channel, u8 activations at run time)',
    '  --calibration f       model input rows: a .npy/.json tensor for the first input, or mnist (256 training digits)',
    '  --report <file.json>  write the compression report as JSON',
  ],
  options: {
    output: { type: 'string', short: 'o' },
    prune: { type: 'string' },
    pattern: { type: 'string' },
    method: { type: 'string' },
    quantize: { type: 'string' },
    calibration: { type: 'string' },
    report: { type: 'string' },
  },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model>');
    const out = str(values, 'output');
    if (!out) throw new UsageError('Expected -o <out.onnx|out.sparq> but received nothing');
    if (!['.onnx', '.sparq'].includes(extname(out))) throw new UsageError(`Expected an output path ending in .onnx or .sparq for -o but received ${JSON.stringify(out)}`);
    const sparsity = fraction(str(values, 'prune'), '--prune');
    const pattern = oneOf(str(values, 'pattern'), '--pattern', PATTERNS, 'unstructured');
    const method = oneOf(str(values, 'method'), '--method', PRUNE_METHODS, 'magnitude');
    const q = oneOf(str(values, 'quantize'), '--quantize', ['int8'] as const);
    if (sparsity === undefined && !q) throw new UsageError('Expected --prune and/or --quantize: nothing to do');
    if ((method === 'wanda' || method === 'sparsegpt') && !values.calibration) throw new UsageError(`Expected --calibration for --method ${method} (it weighs weights by their inputs)`);

    const model = await loadModel(path);
    let calibration: Record<string, Tensor> | undefined;
    const cal = str(values, 'calibration');
    if (cal === 'mnist') {
      const rows = loadMnist().train.inputs;
      calibration = { [model.inputs[0].name]: new Tensor('float32', rows.data.subarray(0, 256 * 784), [256, 784]) };
    } else if (cal) {
      calibration = { [model.inputs[0].name]: readTensorFile(existingFile(cal, '--calibration'), '--calibration') };
    }
    const passes: CompressPass[] = [];
    if (sparsity !== undefined) passes.push({ prune: { sparsity, pattern, method } });
    if (q) passes.push({ quantize: { mode: 'dynamic' } });
    const { model: small, report } = await compress(model, passes, { calibration });
    await saveModel(small, out);
    process.stdout.write(`${report.toString()}\nwrote ${out}\n`);
    const json = str(values, 'report');
    if (json) writeJson(json, report.toJSON());
    return 0;
  },
};
