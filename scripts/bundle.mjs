#!/usr/bin/env node
// Bundles the package's entry points (dist/index.js and dist/serve/index.js, as tsc wrote them) into
// dist/bundle/, which package.json's "exports" point at. Node loads an ES module file by file (resolve,
// read, compile: ~0.5-1 ms each), and the inference path is ~60 of tsc's files: one file for what
// `import('sparq')` needs and one chunk per dynamic import() (compression, training, the benchmark,
// explain, generate, crypto, gRPC: src/lazy.ts and the like) make import ~2.5x cheaper. Both entries
// share their chunks, so a session made with 'sparq' is the same class 'sparq/serve' takes. Packages
// (node_modules) and node: builtins stay external; the CLI (bin/sparq.js) keeps tsc's files.
// Runs after tsc in `npm run build`, `build:ts` and `prepare`.
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'bundle');
const entries = { index: join(dist, 'index.js'), serve: join(dist, 'serve', 'index.js') };
for (const file of Object.values(entries))
  if (!existsSync(file)) {
    console.error(`bundle: ${file} is missing: run tsc -p tsconfig.build.json first`);
    process.exit(1);
  }

const { rolldown } = await import('rolldown');
rmSync(out, { recursive: true, force: true });
const bundle = await rolldown({
  input: entries,
  platform: 'node',
  // Only the package's own files are bundled: every bare specifier is a dependency or a builtin.
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(id),
  logLevel: 'warn',
  // A module both imported statically and import()ed stays where the static import puts it: expected.
  onLog: (level, log, handler) => {
    if (log.code !== 'INEFFECTIVE_DYNAMIC_IMPORT') handler(level, log);
  },
});
await bundle.write({ dir: out, format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js', sourcemap: true });
await bundle.close();
