#!/usr/bin/env node
// Lists native sources by the naming convention CMakeLists.txt uses, for binding.gyp:
//   core (runtime + ref kernels), x86-plain, avx2, avx2-vnni, avx512, avx512-vnni, binding
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const list = (dir) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.cpp'))
    .sort()
    .map((f) => relative(root, join(root, dir, f)));
const x86 = list('native/kernels/x86');
const groups = {
  core: [...list('native/runtime'), ...list('native/kernels/ref')],
  'x86-plain': x86.filter((f) => !/avx512|avx2/.test(f)),
  avx2: x86.filter((f) => /avx2/.test(f) && !/avx512/.test(f) && !/vnni/.test(f)),
  'avx2-vnni': x86.filter((f) => /avx2/.test(f) && !/avx512/.test(f) && /vnni/.test(f)),
  avx512: x86.filter((f) => /avx512/.test(f) && !/vnni/.test(f)),
  'avx512-vnni': x86.filter((f) => /avx512/.test(f) && /vnni/.test(f)),
  binding: list('native/binding'),
};
const group = process.argv[2];
if (!(group in groups)) {
  console.error(`usage: list-sources.mjs ${Object.keys(groups).join('|')}`);
  process.exit(2);
}
// gyp needs at least one entry per list; an empty group gets a no-op file.
const files = groups[group].length ? groups[group] : ['native/kernels/ref/empty_unit.cc'];
console.log(files.join(' '));
