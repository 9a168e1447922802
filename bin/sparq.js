#!/usr/bin/env node
// The sparq CLI. The TypeScript is compiled to dist/ when the package installs (npm ci runs `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('sparq: the CLI is not built (dist/cli/main.js is missing): run `npm run build` in the package\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
