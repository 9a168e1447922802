// sparq run <model> --input name=<file.npy|file.json> ...: runs the model once and prints or saves
// its outputs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { InferenceSession } from '../../session.js';
import type { Tensor } from '../../tensor.js';
import { existingFile, positiveInt, str, UsageError, type Command } from '../args.js';
import { writeText } from '../output.js';
import { encodeNpy, readTensorFile } from '../tensor-files.js';

function preview(t: Tensor, count = 10): string {
  const values = Array.from(t.data.subarray(0, count) as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : Number(v.toPrecision(6)).toString()));
  return `${t.type}[${t.dims.join(', ')}] ${values.join(', ')}${t.size > count ? ', …' : ''}`;
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Run a model once on inputs from .npy or .json files; print or save the outputs.',
  usage: 'sparq run <model> --input name=<file.npy|file.json> [--input ...] [--output <dir>] [--threads N] [--json]',
  help: [
    '  --input name=file  an input tensor (.npy, or .json: a nested array or {"dims","data","type"})',
    '  --output <dir>     save each output as <dir>/<name>.npy',
    '  --threads N        threads (default: all cores)',
    '  --json             print the outputs as JSON ({ name: { type, dims, data } })',
  ],
  options: { input: { type: 'string', multiple: true, short: 'i' }, output: { type: 'string', short: 'o' }, threads: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model>');
    const threads = values.threads === undefined ? undefined : positiveInt(str(values, 'threads'), '--threads');
    const feeds: Record<string, Tensor> = {};
    for (const spec of (values.input as string[] | undefined) ?? []) {
      const eq = spec.indexOf('=');
      if (eq <= 0) throw new UsageError(`Expected name=<file> for --input but received ${JSON.stringify(spec)}`);
      const name = spec.slice(0, eq);
      feeds[name] = readTensorFile(existingFile(spec.slice(eq + 1), `--input ${name}`), `--input ${name}`);
    }
    const session = await InferenceSession.create(path, { threads });
    try {
      const outputs = await session.run(feeds);
      const dir = str(values, 'output');
      if (dir) {
        mkdirSync(dir, { recursive: true });
        for (const [name, t] of Object.entries(outputs)) writeText(join(dir, `${name.replace(/[^\w.-]/g, '_')}.npy`), encodeNpy(t));
      }
      if (values.json) {
        const obj = Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: Array.from(t.data as ArrayLike<number>) }]));
        process.stdout.write(JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');
      } else {
        for (const [name, t] of Object.entries(outputs)) process.stdout.write(`${name}: ${preview(t)}\n`);
        if (dir) process.stdout.write(`saved ${Object.keys(outputs).length} output(s) to ${dir}\n`);
      }
    } finally {
      await session.release();
    }
    return 0;
  },
};
