// Third-party models shipped in npm packages (bench/npm-models.ts: PaddleOCR v4 detection,
// recognition and direction classifier; Silero VAD v4 and v5) run in sparq with onnxruntime-node's
// outputs (<= 1e-4 relative), VADs for a few streamed chunks with their LSTM state carried over.
// A model that needs an op sparq does not run yet is skipped with sparq's coded refusal, which names
// the ops; any other failure fails.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { NPM_MODELS, type NpmFeed, npmModelPath } from '../bench/npm-models.js';
import { InferenceSession, SparqError, Tensor } from '../src/index.js';
import { relError } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('npm-packaged models match onnxruntime-node', () => {
  for (const m of NPM_MODELS)
    it(m.name, async (ctx) => {
      const bytes = new Uint8Array(readFileSync(npmModelPath(m, ROOT)));
      const o = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      let s: InferenceSession | undefined;
      try {
        let sFeeds: Record<string, NpmFeed> = m.feeds(0);
        let oFeeds: Record<string, NpmFeed> = m.feeds(0);
        for (let step = 0; step < m.steps; step++) {
          let a: Record<string, Tensor>;
          try {
            s ??= await InferenceSession.create(bytes, { threads: 1 });
            a = await s.run(Object.fromEntries(Object.entries(sFeeds).map(([k, f]) => [k, new Tensor(f.type, f.data as never, f.dims)])));
          } catch (e) {
            if (e instanceof SparqError && e.code === 'ERR_UNSUPPORTED_OP') return ctx.skip(`sparq refuses it: ${e.message}`);
            throw e;
          }
          const b = await o.run(Object.fromEntries(Object.entries(oFeeds).map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)])));
          for (const name of o.outputNames) {
            expect(a[name].dims, `${name} at step ${step}`).toEqual(b[name].dims);
            expect(relError(a[name].data as Float32Array, b[name].data as Float32Array), `${name} at step ${step}`).toBeLessThan(1e-4);
          }
          // The next chunk: each runtime carries its own state.
          const next = m.feeds(step + 1);
          sFeeds = { ...next };
          oFeeds = { ...next };
          for (const [out, input] of Object.entries(m.state ?? {})) {
            sFeeds[input] = { type: 'float32', data: a[out].data as Float32Array, dims: [...a[out].dims] };
            oFeeds[input] = { type: 'float32', data: b[out].data as Float32Array, dims: [...b[out].dims] };
          }
        }
      } finally {
        await s?.release();
        await o.release();
      }
    });
});
