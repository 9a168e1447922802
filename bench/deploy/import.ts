// import('sparq') against require('onnxruntime-node'), each in fresh processes (from the package root,
// so 'sparq' resolves to this checkout's dist/), median of 3 (5 without --short), wall and CPU ms.
import { spawnSync } from 'node:child_process';

import { packageRoot } from '../../src/native.js';
import type { DeployResult } from '../deploy.bench.js';

const SPARQ = "const c=process.cpuUsage(),t=process.hrtime.bigint();await import('sparq');const u=process.cpuUsage(c);console.log(JSON.stringify([Number(process.hrtime.bigint()-t)/1e6,(u.user+u.system)/1e3]))";
const ORT = "const c=process.cpuUsage(),t=process.hrtime.bigint();require('onnxruntime-node');const u=process.cpuUsage(c);console.log(JSON.stringify([Number(process.hrtime.bigint()-t)/1e6,(u.user+u.system)/1e3]))";

function once(code: string, esm: boolean): [number, number] {
  const r = spawnSync(process.execPath, [...(esm ? ['--input-type=module'] : []), '-e', code], { cwd: packageRoot(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`import child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as [number, number];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

export async function run({ short }: { short: boolean }): Promise<DeployResult> {
  const s: [number, number][] = [], o: [number, number][] = [];
  for (let i = 0; i < (short ? 3 : 5); i++) {
    s.push(once(SPARQ, true));
    o.push(once(ORT, false));
  }
  const sw = median(s.map((x) => x[0])), ow = median(o.map((x) => x[0]));
  const sc = median(s.map((x) => x[1])), oc = median(o.map((x) => x[1]));
  return {
    title: "import('sparq') vs require('onnxruntime-node'), fresh processes, median (ms; ratio = sparq / ORT, target <= 1.5)",
    rows: [
      { measure: 'wall', sparq: sw, ORT: ow, ratio: sw / ow },
      { measure: 'CPU (user + sys)', sparq: sc, ORT: oc, ratio: sc / oc },
    ],
  };
}
