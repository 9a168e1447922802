// Mutated models (dims, attributes, wiring, op types changed at random in valid ONNX) must load and
// run to a result or a coded error: never a crash, an abort or a hang.
import { describe, expect, it } from 'vitest';

import { InferenceSession, SparqError, Tensor } from '../src/index.js';
import { onnx } from '../src/onnx/proto.js';
import { encoderModel, mlpModel } from '../src/onnx/zoo.js';
import { rng } from './helpers.js';

const OPS = ['Add', 'MatMul', 'Reshape', 'Transpose', 'Gather', 'Slice', 'Concat', 'Softmax', 'Cast', 'Split', 'Expand', 'Where', 'Unsqueeze', 'Squeeze'];

function mutate(bytes: Uint8Array, r: () => number): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
  const edits = 1 + Math.floor(r() * 3);
  for (let e = 0; e < edits; e++) {
    const node = pick(g.node!);
    switch (Math.floor(r() * 7)) {
      case 0: // rewire an input to another value
        if (node.input!.length) node.input![Math.floor(r() * node.input!.length)] = pick([...g.node!.flatMap((n) => n.output!), ...g.initializer!.map((t) => t.name!)]);
        break;
      case 1: // change an int attribute
        for (const a of node.attribute!) if (a.type === onnx.AttributeProto.AttributeType.INT) a.i = Math.floor(r() * 9) - 4;
        break;
      case 2: // change ints attributes (perm, axes)
        for (const a of node.attribute!) if (a.type === onnx.AttributeProto.AttributeType.INTS) a.ints = a.ints!.map(() => Math.floor(r() * 7) - 3);
        break;
      case 3: // another op type
        node.opType = pick(OPS);
        break;
      case 4: { // an int64 initializer's values (shapes, axes, indices)
        const t = pick(g.initializer!.filter((x) => x.dataType === 7) ?? []);
        if (t?.rawData) {
          const v = new BigInt64Array(t.rawData.length / 8);
          for (let i = 0; i < v.length; i++) v[i] = BigInt(Math.floor(r() * 40) - 20);
          t.rawData = new Uint8Array(v.buffer);
        }
        break;
      }
      case 5: // drop an input
        node.input!.pop();
        break;
      default: // a graph input's dim
        g.input![0].type!.tensorType!.shape!.dim![Math.floor(r() * 2)] = { dimValue: Math.floor(r() * 5) };
    }
  }
  return onnx.ModelProto.encode(m).finish();
}

describe('mutated models never crash', () => {
  const bases = [
    { bytes: encoderModel({ hidden: 16, heads: 2, ffn: 32, layers: 1, vocab: 20, maxPosition: 16 }), encoder: true },
    { bytes: mlpModel({ sizes: [6, 5, 3], style: 'matmul' }), encoder: false },
  ];
  it('200 mutations: results or coded errors', async () => {
    const r = rng(2024);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 200; i++) {
      const base = bases[i % 2];
      const bytes = mutate(base.bytes, r);
      try {
        const s = await InferenceSession.create(bytes);
        const feeds: Record<string, Tensor> = base.encoder
          ? { input_ids: new Tensor('int64', BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 6n), [2, 3]), attention_mask: new Tensor('int64', BigInt64Array.of(1n, 1n, 1n, 1n, 0n, 0n), [2, 3]) }
          : { input: new Tensor('float32', new Float32Array(12).fill(0.5), [2, 6]) };
        await s.run(feeds);
        await s.release();
        outcomes.ok++;
      } catch (e) {
        const ok = e instanceof SparqError || e instanceof TypeError || e instanceof RangeError;
        if (!ok) throw e;
        expect((e as { code?: string }).code, String(e)).toBeTruthy();
        outcomes.error++;
      }
    }
    expect(outcomes.ok + outcomes.error).toBe(200);
    expect(outcomes.error).toBeGreaterThan(0);
  });
});
