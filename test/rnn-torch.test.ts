// LSTM / GRU / RNN models exported by PyTorch (scripts/export-rnn.py, Debian's python3-torch, seeded
// weights) run in sparq with onnxruntime-node's outputs: single and multi-layer, bidirectional,
// batch-first, initial states fed as inputs. The models are generated into a cache dir at test time.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { PYTHON, exportRnnModels, torchAvailable } from '../bench/rnn-models.js';
import { rng } from './helpers.js';
import { type Feed, compareWithOrt } from './rnn-compare.js';

// CI installs python3-torch (.ci/run); elsewhere a machine without it skips, saying why.
const haveTorch = torchAvailable();
if (!haveTorch && process.env.CI) throw new Error(`${PYTHON} cannot import torch and onnx: CI must install python3-torch and python3-onnx`);

describe.skipIf(!haveTorch)('PyTorch recurrent exports match onnxruntime-node within 1e-4', () => {
  const models = haveTorch ? exportRnnModels() : [];
  for (const m of models)
    it(`${m.name} (${Object.entries(m.inputs).map(([k, d]) => `${k} [${d.join('x')}]`).join(', ')})`, async () => {
      expect(existsSync(m.file)).toBe(true);
      const r = rng(m.name.length * 7919);
      const feeds: Record<string, Feed> = {};
      for (const [k, dims] of Object.entries(m.inputs)) {
        const n = dims.reduce((a, b) => a * b, 1);
        feeds[k] = { type: 'float32', data: Float32Array.from({ length: n }, () => r() * 2 - 1), dims };
      }
      const c = await compareWithOrt(new Uint8Array(readFileSync(m.file)), feeds);
      expect(c.worst, JSON.stringify(c.outputs)).toBeLessThan(1e-4);
      // Another batch size and sequence length through the same session shape rules.
      const x = m.inputs.x;
      const batchAxis = m.batchFirst ? 0 : 1;
      const dims2 = [...x];
      dims2[batchAxis] += 1;
      dims2[1 - batchAxis] += 2;
      const feeds2: Record<string, Feed> = {};
      for (const [k, dims] of Object.entries(m.inputs)) {
        const d = k === 'x' ? dims2 : [dims[0], dims2[batchAxis], dims[2]];
        feeds2[k] = { type: 'float32', data: Float32Array.from({ length: d.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1), dims: d };
      }
      const c2 = await compareWithOrt(new Uint8Array(readFileSync(m.file)), feeds2);
      expect(c2.worst, JSON.stringify(c2.outputs)).toBeLessThan(1e-4);
    });
});
