#!/usr/bin/env node
// Builds the native addon from source: cmake-js (CMakeLists.txt is the source of truth), or node-gyp
// (binding.gyp, the CPU sources) where CMake is missing or --gyp is given. Downloads nothing: Node's
// headers come from the local install (npm's nodedir) or the node-api-headers package.
//   --force   rebuild even if build/Release/sparq.node exists
//   --gyp     use node-gyp
//   --cuda    configure with -DSPARQ_CUDA=ON (needs nvcc)
//   --debug   Debug build
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const addon = join(root, 'build', 'Release', 'sparq.node');

if (!args.has('--force') && existsSync(addon) && !process.env.SPARQ_CUDA) {
  console.log(`sparq: native addon already built (${addon}); npm run build:native rebuilds it`);
  process.exit(0);
}

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.error) return { ok: false, missing: r.error.code === 'ENOENT' };
  return { ok: r.status === 0, missing: false };
}

const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
const cuda = args.has('--cuda') || process.env.SPARQ_CUDA === '1';

if (!args.has('--gyp') && hasCmake) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const argv = [cmakeJs, 'rebuild', '--log-level', 'warn', '-d', root];
  if (args.has('--debug')) argv.push('--debug');
  argv.push('--CDSPARQ_BUILD_TESTS=OFF');
  if (cuda) argv.push('--CDSPARQ_CUDA=ON');
  const r = run(process.execPath, argv);
  if (!r.ok) {
    console.error('sparq: the CMake build failed (see above). Fix the error, or try `npm run build:gyp`.');
    process.exit(1);
  }
} else {
  if (!args.has('--gyp')) console.log('sparq: CMake not found; building the CPU addon with node-gyp (binding.gyp) instead');
  if (cuda) console.log('sparq: the node-gyp build has no CUDA; building the CPU addon only');
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  // Build against the local Node's headers (npm's nodedir, or the install prefix) rather than downloading them.
  const prefix = join(dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined);
  const gypArgs = [nodeGyp, 'rebuild', '-C', root, ...(nodedir ? [`--nodedir=${nodedir}`] : []), ...(args.has('--debug') ? ['--debug'] : [])];
  const r = run(process.execPath, gypArgs);
  if (!r.ok) {
    console.error('sparq: the node-gyp build failed (see above). sparq needs a C++17 compiler (g++ >= 9 or clang >= 10).');
    process.exit(1);
  }
}
