// Third-party models shipped in npm packages (bench/npm-models.ts): sparq vs onnxruntime-node, one
// thread each, same inputs, side by side in one process; a model sparq refuses is listed with the
// reason (the ops it lacks).
//   npm run bench -- npm-models [--threads=1] [--time=300]
import { readFileSync } from 'node:fs';

import { InferenceSession, SparqError, Tensor } from '../src/index.js';
import { flag, measure, printTable } from './harness.js';
import { NPM_MODELS, npmModelPath } from './npm-models.js';
import { ort, ortSessionOptions } from './ort.js';

const THREADS = Number(flag('threads') ?? 1);
const TIME = Number(flag('time') ?? 300);

const rows: (string | number)[][] = [];
const refused: string[] = [];
for (const m of NPM_MODELS) {
  const bytes = new Uint8Array(readFileSync(npmModelPath(m, process.cwd())));
  const feeds = m.feeds(0);
  const sFeeds = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new Tensor(f.type, f.data as never, f.dims)]));
  const oFeeds = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)]));
  let s: InferenceSession;
  try {
    s = await InferenceSession.create(bytes, { threads: THREADS, execution: 'inline' });
    await s.run(sFeeds);
  } catch (e) {
    if (!(e instanceof SparqError)) throw e;
    refused.push(`${m.name}: ${e.code}: ${e.message.slice(0, 300)}`);
    continue;
  }
  const o = await ort.InferenceSession.create(bytes, ortSessionOptions(THREADS));
  const t = await measure({ sparq: () => s.run(sFeeds), ort: () => o.run(oFeeds) }, { time: TIME });
  rows.push([m.name, Object.entries(feeds).map(([k, f]) => `${k}[${f.dims.join('x')}]`).join(' '), t.sparq.p50, t.ort.p50, t.ort.p50 / t.sparq.p50]);
  await s.release();
  await o.release();
}
const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/cpu family\s*:\s*(\d+)/)?.[1] ?? '?';
printTable(`npm-packaged models, ${THREADS} thread(s), p50 ms (cpu family ${cpu}; speed = ORT time / sparq time)`, ['model', 'inputs', 'sparq', 'onnxruntime', 'speed vs ORT'], rows);
if (refused.length) console.log(`\nRefused by sparq:\n${refused.map((r) => `  - ${r}`).join('\n')}`);
