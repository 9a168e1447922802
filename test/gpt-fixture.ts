// A small GPT-2-shaped decoder exported by PyTorch with its KV cache (scripts/export-gpt.py, Debian's
// python3-torch; nothing downloaded), trained briefly on token chains so greedy decoding walks varied
// tokens. Shared by the generate() and `sparq serve` generate tests, which skip where torch is missing.
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';
export const torchMissing = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' }).status !== 0;

/** 2 layers, d 64, 4 heads, vocabulary 512, 64 positions. */
export const GPT = { layers: 2, d: 64, heads: 4, vocab: 512, maxPos: 64 } as const;

/** Writes the decoder to `out`; `extra`: more export-gpt.py arguments (--reference, --prompt-len, ...). */
export function exportGpt(out: string, extra: readonly string[] = []): void {
  const r = spawnSync(PYTHON, ['scripts/export-gpt.py', '--out', out, '--layers', String(GPT.layers), '--d', String(GPT.d), '--heads', String(GPT.heads),
    '--vocab', String(GPT.vocab), '--max-pos', String(GPT.maxPos), '--seed', '3', '--threads', '1', '--corpus', 'chains', '--steps', '100', ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`export-gpt.py failed: ${r.stderr}`);
}
