// Encrypted vs plain model load: the 90% block-pruned + int8 BERT-base-shaped encoder (hidden 768, 12 heads,
// FFN 3072, 4 layers) saved as a plain .sparq and an AES-256-GCM encrypted one; each loaded by
// InferenceSession.create(path[, { key }]) in a fresh Node process (module import not timed), alternating
// plain / encrypted, median of 3 (short) or 5 each. The target: encrypted at most 1.2x plain.
// Standalone: npx tsc -p tsconfig.bench.json && node .bench-out/bench/deploy/crypto-load.js [--short]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { loadModel, prune, quantize, saveModel } from '../../src/index.js';
import { encoderModel } from '../../src/onnx/zoo.js';

// mode 'path': create(path); 'bytes': create(readFileSync(path)) (the file read is timed too); 'key': create(path, { key }).
const CHILD = `
import { readFileSync } from 'node:fs';
const [index, path, mode, keyHex] = process.argv.slice(2);
const { InferenceSession } = await import(index);
const c0 = process.cpuUsage();
const t0 = performance.now();
const s = await InferenceSession.create(mode === 'bytes' ? readFileSync(path) : path, mode === 'key' ? { key: Buffer.from(keyHex, 'hex') } : {});
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
await s.release();
process.stdout.write(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000 }));
`;

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

export async function run(opts: { short: boolean }): Promise<{ title: string; rows: Record<string, string | number>[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sparq-crypto-load-'));
  try {
    const key = randomBytes(32);
    const dense = await loadModel(encoderModel({ hidden: 768, heads: 12, ffn: 3072, layers: 4, vocab: 1000, maxPosition: 128, seed: 1 }));
    const model = await quantize(await prune(dense, { sparsity: 0.9, pattern: 'block' }), { mode: 'dynamic' });
    const plain = join(dir, 'plain.sparq');
    const enc = join(dir, 'enc.sparq');
    await saveModel(model, plain);
    await saveModel(model, enc, { key });
    const child = join(dir, 'child.mjs');
    writeFileSync(child, CHILD);
    const index = pathToFileURL(fileURLToPath(new URL('../../src/index.js', import.meta.url))).href;
    const hex = key.toString('hex');
    const load = (path: string, mode: 'path' | 'bytes' | 'key') => {
      const r = spawnSync(process.execPath, [child, index, path, mode, hex], { encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`load child failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as { ms: number; cpuMs: number };
    };
    const runs = opts.short ? 3 : 5;
    const cases = [
      { file: 'plain .sparq, create(path)', path: plain, mode: 'path' as const, ms: [] as number[], cpu: [] as number[] },
      { file: 'plain .sparq, create(file bytes)', path: plain, mode: 'bytes' as const, ms: [] as number[], cpu: [] as number[] },
      { file: 'AES-256-GCM .sparq, create(path, { key })', path: enc, mode: 'key' as const, ms: [] as number[], cpu: [] as number[] },
    ];
    for (const c of cases) load(c.path, c.mode); // warm the page cache
    for (let i = 0; i < runs; i++)
      for (const c of cases) {
        const t = load(c.path, c.mode);
        c.ms.push(t.ms);
        c.cpu.push(t.cpuMs);
      }
    // The encrypted load against the faster of the two plain ones, by wall time and by CPU time (the
    // latter less disturbed on a busy host).
    const plainBest = Math.min(median(cases[0].ms), median(cases[1].ms));
    const plainCpu = Math.min(median(cases[0].cpu), median(cases[1].cpu));
    return {
      title: `Encrypted vs plain load: 90% block + int8 BERT-base-shaped encoder (4 layers), InferenceSession.create in a fresh process, median of ${runs}`,
      rows: cases.map((c) => ({
        file: c.file,
        'size MB': statSync(c.path).size / 1e6,
        'create ms (median)': median(c.ms),
        runs: c.ms.map((v) => v.toFixed(1)).join(' '),
        'vs faster plain': median(c.ms) / plainBest,
        'CPU ms (median)': median(c.cpu),
        'CPU vs faster plain': median(c.cpu) / plainCpu,
      })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run({ short: process.argv.includes('--short') });
  console.log(r.title);
  console.table(r.rows);
}
