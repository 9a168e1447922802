// sparq explain: attributions printed and written as a heat map report (an image for a 28x28 input, bars
// per token for an encoder's ids), rendered in headless Chromium where it is installed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { cli } from './cli-capture.js';
import { encodeNpy, parseNpy } from '../src/cli/tensor-files.js';
import { mlpOnnx } from '../src/train/mlp.js';
import { encoderModel } from '../src/onnx/zoo.js';
import { mulberry32 } from '../src/random.js';
import { Tensor } from '../src/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-explain-'));


function chromiumDom(file: string): string | undefined {
  for (const bin of ['chromium', 'chromium-browser', 'google-chrome']) {
    if (spawnSync(bin, ['--version'], { stdio: 'ignore' }).status !== 0) continue;
    const r = spawnSync(bin, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', `--user-data-dir=${join(dir, 'profile')}`, '--virtual-time-budget=2000', '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  }
  return undefined;
}

describe('sparq explain', () => {
  it('writes an image heat map for a 784-pixel MLP input, and the attributions as .npy', async () => {
    const model = join(dir, 'mlp.onnx');
    writeFileSync(model, mlpOnnx({ inputs: 784, hidden: [16], outputs: 10, seed: 5 }));
    const r = mulberry32(1);
    writeFileSync(join(dir, 'x.npy'), encodeNpy(new Tensor('float32', Float32Array.from({ length: 784 }, () => r()), [1, 784])));
    const html = join(dir, 'ig.html');
    const res = await cli('explain', model, '--input', join(dir, 'x.npy'), '--target', '4', '--html', html, '--npy', join(dir, 'a.npy'));
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(/integrated-gradients for output "output" index 4/);
    const page = readFileSync(html, 'utf8');
    expect(page.match(/<svg class="heatmap"/g)).toHaveLength(1);
    // The digit in grey beside its 28x28 attributions.
    expect(page.match(/class="pixel"/g)).toHaveLength(784);
    expect(page.match(/class="cell"/g)).toHaveLength(784);
    expect(parseNpy(readFileSync(join(dir, 'a.npy')), 'a').dims).toEqual([1, 784]);
    const dom = chromiumDom(html);
    if (dom) expect(dom).toContain('data-heatmaps="1/1"');
  });

  it('draws bars per token for an encoder explained by occlusion; bad flags are usage errors', async () => {
    const model = join(dir, 'enc.onnx');
    writeFileSync(model, encoderModel({ hidden: 16, heads: 2, ffn: 32, layers: 1, vocab: 30, maxPosition: 16, seed: 2 }));
    writeFileSync(join(dir, 'ids.npy'), encodeNpy(new Tensor('int64', BigInt64Array.from([5n, 9n, 3n, 17n, 2n, 8n]), [1, 6])));
    writeFileSync(join(dir, 'mask.npy'), encodeNpy(new Tensor('int64', new BigInt64Array(6).fill(1n), [1, 6])));
    const html = join(dir, 'occ.html');
    const res = await cli('explain', model, '--input', `input_ids=${join(dir, 'ids.npy')}`, '--input', `attention_mask=${join(dir, 'mask.npy')}`, '--method', 'occlusion', '--output', 'last_hidden_state', '--target', '20', '--html', html);
    expect(res.code, res.err).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page.match(/class="cell"/g)).toHaveLength(6);
    expect(page).toContain('3: 17');
    const bad = await cli('explain', model, '--input', join(dir, 'ids.npy'), '--method', 'shap');
    expect(bad.code).toBe(2);
    expect((await cli('explain', model, '--input', join(dir, 'ids.npy'), '--target', '-1')).code).toBe(2);
  });
});
