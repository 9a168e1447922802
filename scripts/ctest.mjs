#!/usr/bin/env node
// npm run test:native [-- --sanitize]: builds the C++ tests with CMake (no Node involved) and runs ctest.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sanitize = process.argv.includes('--sanitize');
const dir = join(root, sanitize ? 'build-asan' : 'build-tests');
const configure = ['-S', root, '-B', dir, '-DCMAKE_BUILD_TYPE=' + (sanitize ? 'RelWithDebInfo' : 'Release')];
if (sanitize) configure.push('-DSPARQ_SANITIZE=address,undefined');
if (process.argv.includes('--cuda')) configure.push('-DSPARQ_CUDA=ON');
const steps = [
  ['cmake', configure],
  ['cmake', ['--build', dir, '-j', '2']],
  ['ctest', ['--test-dir', dir, '--output-on-failure']],
];
for (const [cmd, args] of steps) {
  const r = spawnSync(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1', ASAN_OPTIONS: 'detect_leaks=1' },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
