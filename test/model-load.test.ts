// loadModel: decoding, round trips, external data, unsupported ops and malformed input.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, Model, SparqError, Tensor, loadModel, saveModel } from '../src/index.js';
import { foldConstants, removeDeadNodes } from '../src/graph/fold.js';
import { fuseGraph } from '../src/graph/fuse.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { onnx } from '../src/onnx/proto.js';
import { encoderModel, mlpModel } from '../src/onnx/zoo.js';
import { rng } from './helpers.js';

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<SparqError> {
  let error: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    error = e;
  }
  expect(error, `expected a SparqError ${code}`).toBeInstanceOf(SparqError);
  expect((error as SparqError).code).toBe(code);
  return error as SparqError;
}

function modelProto(bytes: Uint8Array) {
  return onnx.ModelProto.decode(bytes);
}

describe('loadModel', () => {
  it('decodes inputs, outputs, nodes and initializers', async () => {
    const m = await loadModel(mlpModel({ sizes: [4, 3, 2] }));
    expect(m.inputs).toEqual([{ name: 'input', dtype: 'float32', dims: ['batch', 4] }]);
    expect(m.outputs.map((o) => o.name)).toEqual(['output']);
    expect(m.nodes.map((n) => n.op)).toEqual(['Gemm', 'Relu', 'Gemm']);
    expect(m.initializers.get('fc0.weight')?.dims).toEqual([3, 4]);
    expect(m.valueInfo('output')).toEqual({ dtype: 'float32', dims: ['batch', 2] });
  });

  it('is immutable from the outside', async () => {
    const m = await loadModel(mlpModel({ sizes: [4, 3, 2] }));
    expect(() => (m.nodes as unknown as unknown[]).push(1)).toThrow();
    expect(() => ((m.inputs[0] as { name: string }).name = 'x')).toThrow();
    expect((m.initializers as unknown as { set?: unknown }).set).toBeUndefined();
    expect(() => ((m as unknown as { graph: unknown }).graph = null)).toThrow();
  });

  it('round-trips through toOnnx() and saveModel(), and onnxruntime reads the result', async () => {
    const m = await loadModel(encoderModel({ hidden: 16, heads: 2, ffn: 32, layers: 1, vocab: 10 }));
    const again = await loadModel(m.toOnnx());
    expect(again.nodes.length).toBe(m.nodes.length);
    expect([...again.initializers.keys()]).toEqual([...m.initializers.keys()]);
    const dir = mkdtempSync(join(tmpdir(), 'sparq-'));
    await saveModel(m, join(dir, 'm.onnx'));
    const fromFile = await loadModel(join(dir, 'm.onnx'));
    expect(fromFile.nodes.length).toBe(m.nodes.length);
    await ort.InferenceSession.create(join(dir, 'm.onnx'));
  });

  it('keeps per-weight formats through serialisation', async () => {
    const m = (await loadModel(mlpModel({ sizes: [4, 3, 2] }))).withWeightFormats({ 'fc0.weight': { format: 'dense' } });
    const again = await loadModel(m.toOnnx());
    expect(again.weightFormats.get('fc0.weight')).toEqual({ format: 'dense' });
    expect(() => m.withWeightFormats({ nope: { format: 'dense' } })).toThrow(TypeError);
  });

  it('passes return new graphs and leave the model untouched', async () => {
    const m = await loadModel(encoderModel({ hidden: 16, heads: 2, ffn: 32, layers: 1, vocab: 10 }));
    const before = m.nodes.length;
    const g = removeDeadNodes(fuseGraph(foldConstants(m.graph)));
    expect(g.nodes.length).toBeLessThan(before);
    expect(m.nodes.length).toBe(before);
    expect(g.nodes.some((n) => n.op === 'LayerNormalization')).toBe(true);
    expect(g.nodes.some((n) => n.op === 'Erf')).toBe(false);
    expect(g.nodes.filter((n) => n.op === 'Linear').length).toBe(6);
    // The fused graph is itself a valid Model.
    expect(Model.fromGraph(g).nodes.length).toBe(g.nodes.length);
  });

  it('reads external-data initializers beside the model and refuses paths outside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparq-ext-'));
    const W = Float32Array.from({ length: 12 }, (_, i) => i / 10);
    writeFileSync(join(dir, 'weights.bin'), Buffer.concat([Buffer.alloc(16), Buffer.from(W.buffer)]));
    const build = (location: string) => {
      const g = new GraphBuilder();
      g.input('X', 'FLOAT', ['M', 4]);
      g.tensor({
        name: 'W',
        dataType: 1,
        dims: [4, 3],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: '16' },
          { key: 'length', value: '48' },
        ],
      });
      g.node('MatMul', ['X', 'W'], ['Y']);
      g.output('Y', 'FLOAT', ['M', 3]);
      return g.build();
    };
    writeFileSync(join(dir, 'ok.onnx'), build('weights.bin'));
    const m = await loadModel(join(dir, 'ok.onnx'));
    expect(Array.from(m.initializers.get('W')?.data as Float32Array)).toEqual(Array.from(W));
    const s = await InferenceSession.create(m);
    const y = await s.run({ X: new Tensor('float32', Float32Array.of(1, 0, 0, 0), [1, 4]) });
    expect(Array.from(y.Y.data as Float32Array)).toEqual(Array.from(W.subarray(0, 3)));
    for (const bad of ['../weights.bin', '/etc/passwd', 'a/../../weights.bin']) {
      writeFileSync(join(dir, 'bad.onnx'), build(bad));
      await expectCode(loadModel(join(dir, 'bad.onnx')), 'ERR_INVALID_MODEL');
    }
    writeFileSync(join(dir, 'missing.onnx'), build('nope.bin'));
    await expectCode(loadModel(join(dir, 'missing.onnx')), 'ERR_INVALID_MODEL');
    // From bytes there is no directory to read from.
    await expectCode(loadModel(build('weights.bin')), 'ERR_INVALID_MODEL');
  });

  it('lists every unsupported op with its node names in one error', async () => {
    const g = new GraphBuilder();
    g.input('X', 'FLOAT', [2, 2]);
    g.node('LSTM', ['X'], ['a'], {});
    g.node('Relu', ['a'], ['b']);
    g.node('Unique', ['b'], ['c']);
    g.node('LSTM', ['c'], ['Y']);
    g.output('Y', 'FLOAT', [2, 2]);
    const e = await expectCode(loadModel(g.build()), 'ERR_UNSUPPORTED_OP');
    expect(e.message).toMatch(/LSTM \(nodes: "LSTM_node_\d+", "LSTM_node_\d+"\)/);
    expect(e.message).toMatch(/Unique \(nodes: "Unique_node_\d+"\)/);
    expect(e.message).not.toMatch(/Relu/);
  });

  it('refuses opsets outside 1 to 21', async () => {
    const g = new GraphBuilder();
    g.opset = 22;
    g.input('X', 'FLOAT', [2]);
    g.node('Relu', ['X'], ['Y']);
    g.output('Y', 'FLOAT', [2]);
    await expectCode(loadModel(g.build()), 'ERR_UNSUPPORTED_OP');
  });
});

describe('malformed models give ERR_INVALID_MODEL, never a crash or hang', () => {
  const good = mlpModel({ sizes: [8, 4, 2] });

  it('truncated files', async () => {
    for (const n of [1, 10, good.length >> 1, good.length - 3]) await expectCode(loadModel(good.subarray(0, n)), 'ERR_INVALID_MODEL');
  });

  it('random bytes', async () => {
    const r = rng(42);
    for (let t = 0; t < 50; t++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(r() * 300) }, () => Math.floor(r() * 256));
      await expectCode(loadModel(bytes), 'ERR_INVALID_MODEL');
    }
    await expectCode(loadModel(new Uint8Array(0)), 'ERR_INVALID_MODEL');
  });

  it('an initializer whose size contradicts its dims', async () => {
    const p = modelProto(good);
    p.graph!.initializer![0].dims = [8, 5];
    await expectCode(loadModel(onnx.ModelProto.encode(p).finish()), 'ERR_INVALID_MODEL');
  });

  it('dims too large to allocate', async () => {
    const p = modelProto(good);
    p.graph!.initializer![0].dims = [1 << 20, 1 << 20];
    await expectCode(loadModel(onnx.ModelProto.encode(p).finish()), 'ERR_INVALID_MODEL');
    // A ConstantOfShape asking for 2^60 elements is refused when planned.
    const g = new GraphBuilder();
    g.input('X', 'FLOAT', [1]);
    g.int64('shape', [1 << 30, 1 << 30]);
    g.node('ConstantOfShape', ['shape'], ['big']);
    g.node('Add', ['X', 'big'], ['Y']);
    g.output('Y', 'FLOAT', [1 << 30, 1 << 30]);
    await expectCode(async () => {
      const s = await InferenceSession.create(g.build());
      await s.run({ X: new Tensor('float32', Float32Array.of(1), [1]) });
    }, 'ERR_INVALID_MODEL');
  });

  it('a cycle', async () => {
    const g = new GraphBuilder();
    g.input('X', 'FLOAT', [2]);
    g.node('Add', ['X', 'b'], ['a']);
    g.node('Relu', ['a'], ['b']);
    g.node('Relu', ['a'], ['Y']);
    g.output('Y', 'FLOAT', [2]);
    const e = await expectCode(loadModel(g.build()), 'ERR_INVALID_MODEL');
    expect(e.message).toMatch(/cycle/);
  });

  it('a dangling input', async () => {
    const g = new GraphBuilder();
    g.input('X', 'FLOAT', [2]);
    g.node('Add', ['X', 'nowhere'], ['Y']);
    g.output('Y', 'FLOAT', [2]);
    const e = await expectCode(loadModel(g.build()), 'ERR_INVALID_MODEL');
    expect(e.message).toMatch(/nowhere/);
  });

  it('an output nothing produces, a value produced twice, shapes that contradict', async () => {
    const a = new GraphBuilder();
    a.input('X', 'FLOAT', [2]);
    a.node('Relu', ['X'], ['Z']);
    a.output('Y', 'FLOAT', [2]);
    await expectCode(loadModel(a.build()), 'ERR_INVALID_MODEL');
    const b = new GraphBuilder();
    b.input('X', 'FLOAT', [2]);
    b.node('Relu', ['X'], ['Y']);
    b.node('Relu', ['X'], ['Y']);
    b.output('Y', 'FLOAT', [2]);
    await expectCode(loadModel(b.build()), 'ERR_INVALID_MODEL');
    const c = new GraphBuilder();
    c.input('X', 'FLOAT', [2, 3]);
    c.float('W', new Float32Array(20), [4, 5]);
    c.node('MatMul', ['X', 'W'], ['Y']);
    c.output('Y', 'FLOAT', [2, 5]);
    await expectCode(InferenceSession.create(c.build()), 'ERR_INVALID_MODEL');
  });

  it('a missing file is ERR_IO', async () => {
    await expectCode(loadModel(join(tmpdir(), 'definitely-not-here.onnx')), 'ERR_IO');
  });
});
