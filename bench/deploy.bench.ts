// npm run bench -- deploy [--short]: what a Node service pays to deploy a model with sparq, beside
// onnxruntime-node: each bench/deploy/*.ts (in name order) exports run({ short }) and returns a table.
// --short (CI) keeps every part to seconds: fewer repetitions, same comparisons.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { printTable } from './harness.js';

export interface DeployResult {
  title: string;
  rows: Record<string, string | number>[];
}

interface DeployBench {
  run(opts: { short: boolean }): Promise<DeployResult>;
}

const short = process.argv.includes('--short');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const dir = join(dirname(fileURLToPath(import.meta.url)), 'deploy');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.js') && !f.startsWith('_'))
  .sort()
  .filter((f) => !only || only.split(',').includes(f.replace(/\.js$/, '')));
for (const file of files) {
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as Partial<DeployBench>;
  if (typeof mod.run !== 'function') continue;
  const { title, rows } = await mod.run({ short });
  const header = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  printTable(`${title}${short ? ' [--short]' : ''}`, header, rows.map((r) => header.map((h) => r[h] ?? '')));
}
