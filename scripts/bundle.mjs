#!/usr/bin/env node
// Bundles the package's entry points (dist/index.js and dist/serve/index.js, as tsc wrote them) into
// dist/bundle/, which package.json's "exports" point at. Node loads an ES module file by file (resolve,
// read, compile: ~0.5-1 ms each), and the inference path is ~60 of tsc's files: one file for what
// `import('sparq')` needs and one chunk per dynamic import() (compression, training, the benchmark,
// explain, generate, crypto, gRPC: src/lazy.ts and the like) make import ~2.5x cheaper; the static part
// in one chunk (not split by which entry shares what) saves another ~35%. Both entries
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
const inputOptions = {
  input: entries,
  platform: 'node',
  // Only the package's own files are bundled: every bare specifier is a dependency or a builtin.
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(id),
  logLevel: 'warn',
  // A module both imported statically and import()ed stays where the static import puts it: expected.
  onLog: (level, log, handler) => {
    if (log.code !== 'INEFFECTIVE_DYNAMIC_IMPORT') handler(level, log);
  },
};
const outputOptions = { format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' };

// Pass 1 (in memory): the modules `import('sparq')` loads, i.e. the index entry's static closure. Left to
// itself the bundler splits them by which entries share them (~10 files); each file is a resolve, an
// async read and a compile job of the ES loader, about 1 ms of CPU and more of wall time on a busy host.
const first = await rolldown(inputOptions);
const { output } = await first.generate(outputOptions);
await first.close();
const chunks = new Map(output.filter((c) => c.type === 'chunk').map((c) => [c.fileName, c]));
const core = new Set();
const visit = (chunk) => {
  for (const id of chunk.moduleIds) core.add(id);
  for (const f of chunk.imports) if (chunks.has(f)) visit(chunks.get(f));
};
visit(chunks.get('index.js'));

// Pass 2: those modules in one 'core' chunk (index.js re-exports it, 'sparq/serve' imports it too, so
// both entries share its classes); everything import()ed stays in chunks of its own.
const bundle = await rolldown(inputOptions);
await bundle.write({ ...outputOptions, dir: out, sourcemap: true, codeSplitting: { groups: [{ name: 'core', test: (id) => core.has(id) }] } });
await bundle.close();
