// `sparq serve` as a process: the ready line, SIGTERM finishing the request in flight and exiting 0,
// and the CLI's exit codes for bad arguments.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { main } from '../src/cli/main.js';
import { encoderModel } from '../src/onnx/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-serve-proc-'));
const modelPath = join(dir, 'bert.onnx');
writeFileSync(modelPath, encoderModel({ hidden: 128, heads: 2, ffn: 512, layers: 2, vocab: 100, maxPosition: 128 }));

async function cli(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const e = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), err };
  } finally {
    process.stderr.write = e;
  }
}

describe('sparq serve (CLI)', () => {
  it('exits 2 on bad usage and 1 on a bad model, with one line on stderr', async () => {
    for (const argv of [['serve'], ['serve', modelPath, '--port', '70000'], ['serve', modelPath, '--tls-cert', modelPath], ['serve', modelPath, '--instances', '0'], ['serve', modelPath, '--bogus']]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const missing = await cli('serve', join(dir, 'nope.onnx'), '--port', '0');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/does not exist/);
  });

  it('prints one ready line; on SIGTERM finishes the request in flight and exits 0', async () => {
    if (!existsSync(new URL('../dist/serve/server.js', import.meta.url))) {
      const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
      expect(tsc.status, tsc.stdout).toBe(0);
    }
    const child = spawn(process.execPath, ['bin/sparq.js', 'serve', modelPath, '--port', '0', '--instances', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', () => reject(new Error(`exited before listening: ${err}`)));
      });
      expect(out.trim().split('\n')).toHaveLength(1);
      // A heavy request (64 sequences of 128 tokens) that is still computing when SIGTERM arrives.
      const rows = 64;
      const ids = Array.from({ length: rows * 128 }, (_, i) => i % 100);
      const body = JSON.stringify({ inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [rows, 128], data: ids }, { name: 'attention_mask', datatype: 'INT64', shape: [rows, 128], data: ids.map(() => 1) }], outputs: [{ name: 'last_hidden_state', parameters: { binary_data: true } }] });
      const inFlight = fetch(`${url}/v2/models/bert/infer`, { method: 'POST', body });
      for (let i = 0; i < 1000; i++) {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        if (/sparq_inflight_requests\{model="bert"\} 1/.test(metrics)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const signalled = Date.now();
      child.kill('SIGTERM');
      const r = await inFlight;
      expect(r.status).toBe(200);
      expect(Number(r.headers.get('inference-header-content-length'))).toBeGreaterThan(0);
      expect(await exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(err).toMatch(/SIGTERM/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
