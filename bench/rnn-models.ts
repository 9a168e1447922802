// The PyTorch recurrent exports of scripts/export-rnn.py (Debian's /usr/bin/python3 with torch), made
// into a cache dir on first use: shared by bench/rnn.bench.ts and test/rnn-torch.test.ts.
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const RNN_MODEL_CACHE = join(tmpdir(), 'sparq-rnn-models');

export interface ExportedRnn {
  name: string;
  file: string;
  /** Input name -> the dims it was exported with. */
  inputs: Record<string, number[]>;
  batchFirst: boolean;
}

export function torchAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Exports (or finds in the cache) the named models; all test models when `names` is empty. */
export function exportRnnModels(names: readonly string[] = []): ExportedRnn[] {
  const out = execFileSync(PYTHON, ['scripts/export-rnn.py', RNN_MODEL_CACHE, ...names], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split('\n').map((l) => JSON.parse(l) as ExportedRnn);
}
