// The sparq CLI, in process (main(argv) with stdout/stderr captured) and once through bin/sparq.js.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { backend } from '../src/backend.js';
import { cli } from './cli-capture.js';
import { encodeNpy } from '../src/cli/tensor-files.js';
import { mlpModel } from '../src/onnx/zoo.js';
import { Tensor } from '../src/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-cli-'));
const modelPath = join(dir, 'mlp.onnx');
const notAModel = join(dir, 'not-a-model.onnx');
let inputName = 'input';


function expectOneLineError(r: { code: number; err: string }, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.err).toMatch(pattern);
  expect(r.err.trim().split('\n')).toHaveLength(1);
  expect(r.err).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  writeFileSync(modelPath, mlpModel({ sizes: [20, 16, 4], seed: 3 }));
  writeFileSync(notAModel, 'this is not an ONNX model, just text');
  const { loadModel } = await import('../src/io/model-file.js');
  inputName = (await loadModel(modelPath)).inputs[0].name;
});

describe('sparq CLI', () => {
  it('prints help and rejects unknown commands', async () => {
    expect((await cli('--help')).code).toBe(0);
    expect((await cli('--help')).out).toMatch(/inspect/);
    expectOneLineError(await cli('frobnicate'), 2, /unknown command "frobnicate"/);
    for (const c of ['demo', 'inspect', 'compress', 'run', 'bench', 'eval']) {
      const r = await cli(c, '--help');
      expect(r.code, c).toBe(0);
      expect(r.out).toMatch(new RegExp(`usage: sparq ${c}`));
    }
    expectOneLineError(await cli('inspect', '--bogus'), 2, /bogus/);
  });

  it('inspect shows ops, layers and sparsity; bad files fail cleanly', async () => {
    const r = await cli('inspect', modelPath, '--json', join(dir, 'inspect.json'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Gemm|MatMul/);
    expect(r.out).toMatch(/unsupported ops: none/);
    expect(JSON.parse(readFileSync(join(dir, 'inspect.json'), 'utf8')).layers.length).toBe(2);
    expectOneLineError(await cli('inspect', join(dir, 'missing.onnx')), 2, /does not exist/);
    expectOneLineError(await cli('inspect', notAModel), 1, /ERR_INVALID_MODEL/);
    expectOneLineError(await cli('inspect'), 2, /<model>/);
  });

  it('run reads .npy and .json inputs and prints or saves outputs', async () => {
    const x = new Tensor('float32', Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)), [2, 20]);
    writeFileSync(join(dir, 'x.npy'), encodeNpy(x));
    writeFileSync(join(dir, 'x.json'), JSON.stringify({ dims: [2, 20], data: Array.from(x.data) }));
    const a = await cli('run', modelPath, '--input', `${inputName}=${join(dir, 'x.npy')}`, '--json');
    expect(a.code, a.err).toBe(0);
    const outA = JSON.parse(a.out);
    const b = await cli('run', modelPath, '--input', `${inputName}=${join(dir, 'x.json')}`, '--output', join(dir, 'outs'), '--json');
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out)).toEqual(outA);
    const first = Object.values(outA)[0] as { dims: number[] };
    expect(first.dims).toEqual([2, 4]);
    expect(existsSync(join(dir, 'outs', `${Object.keys(outA)[0]}.npy`))).toBe(true);
    expectOneLineError(await cli('run', modelPath, '--input', 'nofile'), 2, /name=<file>/);
    expectOneLineError(await cli('run', modelPath, '--input', `${inputName}=${join(dir, 'nope.npy')}`), 2, /does not exist/);
    writeFileSync(join(dir, 'bad.npy'), 'garbage');
    expectOneLineError(await cli('run', modelPath, '--input', `${inputName}=${join(dir, 'bad.npy')}`), 1, /ERR_INVALID_DATA/);
    expectOneLineError(await cli('run', modelPath, '--threads=-3'), 2, /--threads/);
  });

  it('bench compares with onnxruntime and writes JSON and HTML', async () => {
    const json = join(dir, 'bench.json');
    const html = join(dir, 'bench.html');
    const r = await cli('bench', modelPath, '--batch', '1,4', '--time', '20', '--json', json, '--html', html, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/speedup vs ORT/);
    const result = JSON.parse(readFileSync(json, 'utf8'));
    expect(result.cases.map((c: { runtime: string }) => c.runtime)).toEqual(expect.arrayContaining(['sparq', 'onnxruntime']));
    expect(result.execution).toBe('inline'); // like onnxruntime-node's run(): on the calling thread
    expect(r.out).toMatch(/sparq runs on the calling thread \(--execution inline\)/);
    expect(readFileSync(html, 'utf8')).toMatch(/<svg class="chart"/);
    const viaWorker = await cli('bench', modelPath, '--time', '5', '--execution', 'worker', '--json', json, '--quiet');
    expect(viaWorker.code, viaWorker.err).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).execution).toBe('worker');
    expectOneLineError(await cli('bench', modelPath, '--execution', 'sync'), 2, /--execution/);
    expectOneLineError(await cli('bench', modelPath, '--threads=-3'), 2, /Expected a positive integer for --threads/);
    expectOneLineError(await cli('bench', modelPath, '--batch', '1,x'), 2, /--batch/);
    expectOneLineError(await cli('bench', modelPath, '--compare', 'tflite'), 2, /--compare/);
    expectOneLineError(await cli('bench', notAModel), 1, /ERR_INVALID_MODEL/);
    expectOneLineError(await cli('bench', modelPath, '--device', 'gpu'), 2, /--device/);
    if (!backend().cuda.available) expectOneLineError(await cli('bench', modelPath, '--device', 'cuda'), 1, /ERR_CUDA_UNAVAILABLE.*CUDA is unavailable: \S/);
  });

  it('eval reports accuracy and drift', async () => {
    const x = Array.from({ length: 60 }, (_, i) => Math.cos(i));
    writeFileSync(join(dir, 'data.json'), JSON.stringify({ inputs: { [inputName]: { dims: [3, 20], data: x } }, labels: [0, 1, 2] }));
    const r = await cli('eval', modelPath, '--data', join(dir, 'data.json'), '--reference', modelPath, '--json', join(dir, 'eval.json'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/accuracy: \d+\.\d+%/);
    const result = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8'));
    expect(result.drift.cosine).toBeCloseTo(1, 6);
    expect(result.drift.maxAbsError).toBe(0);
    expectOneLineError(await cli('eval', modelPath), 2, /--data/);
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expectOneLineError(await cli('eval', modelPath, '--data', join(dir, 'bad.json')), 1, /ERR_INVALID_DATA/);
  });

  it('compress writes .onnx and .sparq models and a report', async () => {
    for (const ext of ['onnx', 'sparq']) {
      const out = join(dir, `small.${ext}`);
      const r = await cli('compress', modelPath, '-o', out, '--prune', '0.5', '--quantize', 'int8', '--report', join(dir, `report-${ext}.json`));
      expect(r.code, r.err).toBe(0);
      expect(existsSync(out)).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, `report-${ext}.json`), 'utf8')).layers.length).toBeGreaterThan(0);
      const again = await cli('run', out, '--input', `${inputName}=${join(dir, 'x.npy')}`);
      expect(again.code, again.err).toBe(0);
    }
    expectOneLineError(await cli('compress', modelPath, '-o', join(dir, 'x.txt'), '--prune', '0.5'), 2, /\.onnx or \.sparq/);
    expectOneLineError(await cli('compress', modelPath, '-o', join(dir, 'x.onnx'), '--prune', '1.5'), 2, /--prune/);
    expectOneLineError(await cli('compress', modelPath, '-o', join(dir, 'x.onnx')), 2, /nothing to do/);
    expectOneLineError(await cli('compress', modelPath, '-o', join(dir, 'x.onnx'), '--prune', '0.5', '--method', 'wanda'), 2, /--calibration/);
  });

  it('demo rejects bad arguments (the full run is CI\'s main-job step)', async () => {
    expectOneLineError(await cli('demo', '--threads=-3'), 2, /--threads/);
    expectOneLineError(await cli('demo', '--bogus'), 2, /bogus/);
  });

  it('the installed binary runs with exit codes and one-line errors', () => {
    if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
      const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
      expect(tsc.status, tsc.stdout).toBe(0);
    }
    const ok = spawnSync(process.execPath, ['bin/sparq.js', 'inspect', modelPath], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    const bad = spawnSync(process.execPath, ['bin/sparq.js', 'bench', modelPath, '--threads=-3'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const verbose = spawnSync(process.execPath, ['bin/sparq.js', 'inspect', notAModel, '--verbose'], { encoding: 'utf8' });
    expect(verbose.status).toBe(1);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });
});
