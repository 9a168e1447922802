// CNNs exported from Debian's python3-torchvision by scripts/export-cnn.py (seeded random weights, no
// downloads), generated into .cache/cnn/ on first use: the conv bench and tests run on them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file with a package.json (bench/ runs compiled from .bench-out/bench/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const root = repoRoot();
export const CNN_CACHE = join(root, '.cache', 'cnn');
/** Debian's python, which has torch, torchvision and onnx (a pyenv `python3` may not). */
const PYTHON = '/usr/bin/python3';

/** Whether the exporter can run here (Debian's python3-torchvision installed). */
export function canExportCnn(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx'], { stdio: 'ignore' }).status === 0;
}

/** The path of `<name>.onnx` (resnet18, mobilenet_v2, tiny), exported first if missing. */
export function cnnModel(name: 'resnet18' | 'mobilenet_v2' | 'tiny'): string {
  const path = join(CNN_CACHE, `${name}.onnx`);
  if (existsSync(path)) return path;
  const r = spawnSync(PYTHON, [join(root, 'scripts', 'export-cnn.py'), CNN_CACHE, name], { encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(path)) throw new Error(`scripts/export-cnn.py ${name} failed: ${r.stderr || r.error?.message}`);
  return path;
}

/** Seeded input image 1x3xSxS in [-1, 1). */
export function cnnInput(size: number, seed = 7): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: 3 * size * size }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
