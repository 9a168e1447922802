// Sessions created, run once and released, over and over (a service reloading models, a test suite, a
// serverless handler): 10,000 cycles (1,000 with --short) of a small compressed .sparq in a fresh child
// process, RSS after a warm-up (a tenth of the cycles) against RSS at the end; the same for sessions
// never released, left to the garbage collector (a tenth of the cycles). Target: at most 5 MB growth.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InferenceSession, Tensor, loadModel, prune, quantize, saveModel } from '../../src/index.js';
import { mlpModel } from '../../src/onnx/zoo.js';
import { randomFloats } from '../harness.js';
import type { DeployResult } from '../deploy.bench.js';

const SIZES = [256, 128, 64, 10];

function rssMB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

/** Child: `cycles` create/run/release cycles; prints RSS after the warm-up and at the end. */
async function child(path: string, cycles: number, release: boolean): Promise<void> {
  const feeds = { input: new Tensor('float32', randomFloats(4 * SIZES[0], 1), [4, SIZES[0]]) };
  const warm = Math.max(1, Math.floor(cycles / 10));
  let warmRss = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < cycles; i++) {
    const s = await InferenceSession.create(path);
    await s.run(feeds);
    if (release) await s.release();
    if (i + 1 === warm) {
      gc?.();
      warmRss = rssMB();
    }
  }
  gc?.();
  await new Promise((r) => setTimeout(r, 10)); // finalizers of the last collection
  gc?.();
  console.log(JSON.stringify({ warmRss, endRss: rssMB(), warm }));
}

export async function run({ short }: { short: boolean }): Promise<DeployResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sparq-churn-'));
  const path = join(dir, 'mlp.sparq');
  try {
    const model = await quantize(await prune(await loadModel(mlpModel({ sizes: SIZES, seed: 3 })), { sparsity: 0.8, pattern: 'block', minParams: 0 }), { mode: 'dynamic' });
    await saveModel(model, path);
    const rows: Record<string, string | number>[] = [];
    for (const [what, cycles, release] of [
      ['create/run/release', short ? 1000 : 10000, true],
      ['create/run, never released (GC)', short ? 200 : 1000, false],
    ] as const) {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--churn-child', path, String(cycles), release ? '1' : '0'], { encoding: 'utf8' });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      let res: { warmRss: number; endRss: number; warm: number };
      try {
        res = JSON.parse(line) as typeof res;
      } catch {
        throw new Error(`churn child failed (${r.status}): ${r.stderr}`);
      }
      rows.push({
        cycles: `${cycles} ${what}`,
        'RSS after warm-up MB': res.warmRss,
        'RSS at end MB': res.endRss,
        'growth MB (target <= 5)': res.endRss - res.warmRss,
        'ms per cycle': (Date.now() - t0) / cycles,
      });
    }
    return { title: `Session churn: a ${SIZES.join('-')} MLP, 80% block-pruned + int8, as .sparq, fresh child process, RSS after ${'a tenth of the cycles'} vs end`, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const argv = process.argv;
const at = argv.indexOf('--churn-child');
if (at >= 0) await child(argv[at + 1], Number(argv[at + 2]), argv[at + 3] === '1');
