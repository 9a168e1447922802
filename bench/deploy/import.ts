// import('sparq') against require('onnxruntime-node'), each in fresh processes (from the package root,
// so 'sparq' resolves to this checkout's dist/bundle/, as package.json's exports say), median of 3 (5
// without --short), wall and CPU ms. ORT's require loads its addon (libonnxruntime); sparq loads its
// own on the first session. A row for tsc's unbundled dist/index.js says what the bundle saves.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { packageRoot } from '../../src/native.js';
import type { DeployResult } from '../deploy.bench.js';

const timed = (what: string) => `const c=process.cpuUsage(),t=process.hrtime.bigint();await import(${JSON.stringify(what)});const u=process.cpuUsage(c);console.log(JSON.stringify([Number(process.hrtime.bigint()-t)/1e6,(u.user+u.system)/1e3]))`;
const SPARQ = timed('sparq');
const ORT = "const c=process.cpuUsage(),t=process.hrtime.bigint();require('onnxruntime-node');const u=process.cpuUsage(c);console.log(JSON.stringify([Number(process.hrtime.bigint()-t)/1e6,(u.user+u.system)/1e3]))";

function once(code: string, esm: boolean): [number, number] {
  const r = spawnSync(process.execPath, [...(esm ? ['--input-type=module'] : []), '-e', code], { cwd: packageRoot(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`import child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as [number, number];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

/** 'sparq' resolves to dist/bundle/ (scripts/bundle.mjs): one older than tsc's output is stale. */
export function checkBundle(root: string): void {
  const bundle = join(root, 'dist', 'bundle', 'index.js'), tsc = join(root, 'dist', 'index.js');
  if (!existsSync(bundle) || (existsSync(tsc) && statSync(bundle).mtimeMs < statSync(tsc).mtimeMs))
    throw new Error(`${bundle} is missing or older than ${tsc}: run \`npm run build:ts\` (tsc, then scripts/bundle.mjs)`);
}

export async function run({ short }: { short: boolean }): Promise<DeployResult> {
  checkBundle(packageRoot());
  const UNBUNDLED = timed(pathToFileURL(join(packageRoot(), 'dist', 'index.js')).href);
  const s: [number, number][] = [], o: [number, number][] = [], u: [number, number][] = [];
  for (let i = 0; i < (short ? 3 : 5); i++) {
    s.push(once(SPARQ, true));
    o.push(once(ORT, false));
    u.push(once(UNBUNDLED, true));
  }
  const ow = median(o.map((x) => x[0])), oc = median(o.map((x) => x[1]));
  const row = (measure: string, runs: [number, number][]) => {
    const wall = median(runs.map((x) => x[0])), cpu = median(runs.map((x) => x[1]));
    return { measure, 'sparq wall': wall, 'ORT wall': ow, 'ratio wall': wall / ow, 'sparq CPU': cpu, 'ORT CPU': oc, 'ratio CPU': cpu / oc };
  };
  return {
    title: "import('sparq') vs require('onnxruntime-node'), fresh processes, median (ms; CPU = user + sys; ratio = sparq / ORT, target <= 1.5)",
    rows: [row("import('sparq') (dist/bundle)", s), row("unbundled tsc output (dist/index.js)", u)],
  };
}
