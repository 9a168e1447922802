// Creating a session from a dense ONNX file: the file is mapped, its fp32 weights are packed straight from
// its bytes (at whatever offset protobuf left them: packBytes packs 'dense' in place, other formats from
// an aligned copy), and nothing the session keeps views the mapping. Outputs match a session made from
// the decoded Model, and packing from bytes matches packing a Float32Array bit for bit.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { InferenceSession, loadModel, Tensor } from '../src/index.js';
import { PackedWeights, matmulSync } from '../src/kernels.js';
import { native } from '../src/native.js';
import { decodeModel } from '../src/onnx/decode.js';
import { encoderModel } from '../src/onnx/zoo.js';
import { mulberry32 } from '../src/random.js';

const dir = mkdtempSync(join(tmpdir(), 'sparq-onnx-create-'));

describe('dense ONNX create', () => {
  const bytes = encoderModel({ hidden: 64, heads: 4, ffn: 128, layers: 2, vocab: 50, maxPosition: 16, seed: 3 });
  const path = join(dir, 'encoder.onnx');
  writeFileSync(path, bytes);

  it('has weights at odd offsets in the file (what packBytes is for)', () => {
    const offsets = [...decodeModel(bytes).graph.initializers.values()].filter((t) => t.dims.length === 2 && t.raw).map((t) => (t.raw as Uint8Array).byteOffset % 4);
    expect(new Set(offsets).size).toBeGreaterThan(1);
  });

  it('computes from a path what it computes from the decoded Model', async () => {
    const seq = 9;
    const feeds = {
      input_ids: new Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 7) % 50)), [1, seq]),
      attention_mask: new Tensor('int64', new BigInt64Array(seq).fill(1n), [1, seq]),
    };
    const outputs = async (s: InferenceSession) => {
      try {
        const out = await s.run(feeds);
        return s.outputNames.map((n) => Array.from(out[n].data as Float32Array));
      } finally {
        await s.release();
      }
    };
    const fromPath = await outputs(await InferenceSession.create(path, { threads: 1 }));
    const fromModel = await outputs(await InferenceSession.create(await loadModel(bytes), { threads: 1 }));
    expect(fromPath).toEqual(fromModel);
    // Twice from the same file: the first session's release of the mapping's pages changed nothing.
    expect(await outputs(await InferenceSession.create(path, { threads: 1 }))).toEqual(fromPath);
  });

  it('packs fp32 bytes at every offset like the aligned array, for every format', () => {
    const [K, N, M] = [37, 29, 5];
    const r = mulberry32(11);
    const W = Float32Array.from({ length: K * N }, () => r() - 0.5);
    const x = Float32Array.from({ length: M * K }, () => r() - 0.5);
    for (const format of ['dense', 'int8', 'sparse']) {
      const want = new PackedWeights(native().pack(format, W, K, N, {}));
      const y = matmulSync(x, M, want);
      for (let offset = 0; offset < 4; offset++) {
        const file = new Uint8Array(offset + W.byteLength + 3).fill(0xa5);
        file.set(new Uint8Array(W.buffer), offset);
        const before = file.slice();
        const got = new PackedWeights(native().packBytes(format, file.subarray(offset, offset + W.byteLength), K, N, {}));
        expect(got.format).toBe(format);
        expect(matmulSync(x, M, got)).toEqual(y);
        expect(file).toEqual(before);
        got.release();
      }
      want.release();
    }
  });
});
