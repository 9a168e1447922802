// Sessions created, run once and released, over and over (a service reloading models, a test suite, a
// serverless handler): 10,000 cycles (2,000 with --short) of a small compressed .sparq in a fresh child
// process, RSS after a warm-up against RSS at the end; the same for sessions never released, left to the
// garbage collector. Target: at most 5 MB growth. RSS is sampled after every tenth of the cycles (after a
// collection and the finalizers it queued): one sample moves by +-3 MB from one to the next (V8's pages,
// the C heap's free lists), so "after warm-up" is the median of the samples at 1/10, 2/10 and 3/10 and
// "at the end" the median of those at 8/10, 9/10 and the end.
//
// What grows, measured (glibc's mallinfo2 through heldNative().mallocBytes, V8's heap statistics,
// /proc/self/smaps): not sparq's native memory — the C heap's bytes in use and the live handle counts
// stay flat over 10,000 cycles — but V8's young generation. Every create allocates its graph on the JS
// heap and keeps it until release(); what survives scavenges makes V8 grow its semi-spaces, 1 MB ->
// 8 -> 16 MB each (32 MB of new space, all of it resident), over the first ~2,000 cycles, and then stop:
// the whole "+16-27 MB per 1,000 cycles" of earlier runs, bounded, and there in any Node process that
// allocates steadily. So the target row runs the child with the young generation at its largest from
// the start (--min-semi-space-size = --max-semi-space-size = 16, V8's default maximum on 64-bit):
// growth after warm-up is then what sparq keeps. The row with default flags stays, with the V8 heap's
// share of its growth and the rest, so the two can be told apart.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InferenceSession, Tensor, loadModel, prune, quantize, saveModel } from '../../src/index.js';
import { native } from '../../src/native.js';
import { mlpModel } from '../../src/onnx/zoo.js';
import { randomFloats } from '../harness.js';
import type { DeployResult } from '../deploy.bench.js';

const SIZES = [256, 128, 64, 10];
const MB = 2 ** 20;
/** V8's young generation at its default maximum from the start: no semi-space growth to mistake for a leak. */
const FIXED_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

interface Sample {
  rss: number;
  /** V8's committed heap (MB). */
  v8: number;
  /** glibc: C heap in use (MB); NaN elsewhere. */
  malloc: number;
  /** Live native handles (packed weights + plans). */
  handles: number;
}

function sample(): Sample {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const held = native().heldNative();
  return {
    rss: m ? Number(m[1]) / 1024 : process.memoryUsage().rss / MB,
    v8: process.memoryUsage().heapTotal / MB,
    malloc: held.mallocBytes === undefined ? NaN : held.mallocBytes / MB,
    handles: held.packed + held.plans,
  };
}

/** Collects, lets the finalizers of that collection run (Node runs them on a later turn), and samples. */
async function settled(): Promise<Sample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 10));
  }
  return sample();
}

/** Each field's median over some samples. */
function median(samples: Sample[]): Sample {
  const mid = (key: keyof Sample) => samples.map((s) => s[key]).sort((a, b) => a - b)[samples.length >> 1];
  return { rss: mid('rss'), v8: mid('v8'), malloc: mid('malloc'), handles: mid('handles') };
}

/** Child: `cycles` create/run(/release) cycles; prints the samples after the warm-up and at the end. */
async function child(path: string, cycles: number, release: boolean): Promise<void> {
  const feeds = { input: new Tensor('float32', randomFloats(4 * SIZES[0], 1), [4, SIZES[0]]) };
  const tenth = Math.max(1, Math.floor(cycles / 10));
  const samples: Sample[] = [];
  for (let i = 0; i < cycles; i++) {
    const s = await InferenceSession.create(path);
    await s.run(feeds);
    if (release) await s.release();
    // Every tenth, the event loop turns (as a service's does): forgotten sessions' finalizers run there.
    if ((i + 1) % tenth === 0) samples.push(await settled());
  }
  const last = await settled();
  console.log(JSON.stringify({ warm: median(samples.slice(0, 3)), end: median([...samples.slice(-3, -1), last]), last }));
}

export async function run({ short }: { short: boolean }): Promise<DeployResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sparq-churn-'));
  const path = join(dir, 'mlp.sparq');
  const cycles = short ? 2000 : 10000;
  try {
    const model = await quantize(await prune(await loadModel(mlpModel({ sizes: SIZES, seed: 3 })), { sparsity: 0.8, pattern: 'block', minParams: 0 }), { mode: 'dynamic' });
    await saveModel(model, path);
    const rows: Record<string, string | number>[] = [];
    for (const [what, release, v8Flags] of [
      ['create/run/release, young generation fixed', true, FIXED_YOUNG_GENERATION],
      ['create/run, never released (GC), young generation fixed', false, FIXED_YOUNG_GENERATION],
      ['create/run/release, default V8 flags', true, []],
    ] as const) {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['--expose-gc', ...v8Flags, fileURLToPath(import.meta.url), '--churn-child', path, String(cycles), release ? '1' : '0'], { encoding: 'utf8' });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      let res: { warm: Sample; end: Sample; last: Sample };
      try {
        res = JSON.parse(line) as typeof res;
      } catch {
        throw new Error(`churn child failed (${r.status}): ${r.stderr}`);
      }
      const { warm, end, last } = res;
      const round = (x: number) => Math.round(x * 10) / 10;
      rows.push({
        cycles: `${cycles} ${what}`,
        'RSS after warm-up MB': round(warm.rss),
        'RSS at end MB': round(end.rss),
        'RSS growth MB (target <= 5)': round(end.rss - warm.rss),
        'of it V8 heap MB': round(end.v8 - warm.v8),
        'C heap in use growth MB': Number.isNaN(end.malloc) ? 'n/a' : round(end.malloc - warm.malloc),
        'native handles live at end': last.handles,
        'ms per cycle': round((Date.now() - t0) / cycles),
      });
    }
    return { title: `Session churn: a ${SIZES.join('-')} MLP, 80% block-pruned + int8, as .sparq, fresh child process, RSS after warm-up (median at 1-3/10 of the cycles) vs end (median at 8/10-end)`, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const argv = process.argv;
const at = argv.indexOf('--churn-child');
if (at >= 0) await child(argv[at + 1], Number(argv[at + 2]), argv[at + 3] === '1');
