// The prepared graph a .sparq file carries (src/graph/prepare.ts): a session made from the file runs
// exactly what prepareGraph would have built, with the same outputs; a file whose preparation made
// constants that are not recipes over its own initializers stores them by value; one of another version is
// prepared afresh; a hostile one behind valid checksums is refused with SparqError.
import { describe, expect, it } from 'vitest';
import { InferenceSession, SparqError, Tensor, loadModel, prune, quantize } from '../src/index.js';
import type { Model } from '../src/model.js';
import { prepareGraph, preparedGraphOf } from '../src/graph/prepare.js';
import { decodeSparqModel, encodeSparqModel } from '../src/io/sparq-model.js';
import { readSparq, writeSparq } from '../src/io/sparq-format.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { mlpModel, randomWeights, seededRandom } from '../src/onnx/zoo.js';

/** Gemm with alpha, beta and a 2-D bias, and MatMul + Add of a [1, N] bias: every derivation fusion makes. */
function scaledModel(): Uint8Array {
  const rand = seededRandom(5);
  const g = new GraphBuilder();
  g.opset = 17;
  const x = g.input('x', 'FLOAT', ['batch', 12]);
  const w0 = g.float('w0', randomWeights(rand, 8 * 12, 0.5), [8, 12]);
  const b0 = g.float('b0', randomWeights(rand, 8, 0.5), [1, 8]);
  const [h] = g.node('Gemm', [x, w0, b0], 1, { transB: 1, alpha: { float: 0.5 }, beta: { float: 2 } });
  const [r] = g.node('Relu', [h]);
  const w1 = g.float('w1', randomWeights(rand, 8 * 5, 0.5), [8, 5]);
  const b1 = g.float('b1', randomWeights(rand, 5, 0.5), [1, 5]);
  const [m] = g.node('MatMul', [r, w1]);
  g.node('Add', [m, b1], ['y']);
  g.output('y', 'FLOAT', ['batch', 5]);
  return g.build('scaled');
}

/** A Reshape whose shape a Constant node computes: folding makes a new constant, so nothing is stored. */
function foldedModel(): Uint8Array {
  const rand = seededRandom(6);
  const g = new GraphBuilder();
  g.opset = 17;
  const x = g.input('x', 'FLOAT', [2, 6]);
  const w = g.float('w', randomWeights(rand, 6 * 4, 0.5), [6, 4]);
  const [m] = g.node('MatMul', [x, w]);
  const [shape] = g.node('Constant', [], 1, { value: { name: '', dataType: 7, dims: [1], int64Data: [8] } });
  g.node('Reshape', [m, shape], ['y']);
  g.output('y', 'FLOAT', [8]);
  return g.build('folded');
}

async function outputs(model: Model, x: Tensor): Promise<Float32Array> {
  const s = await InferenceSession.create(model, { threads: 1 });
  const y = (await s.run({ [s.inputNames[0]]: x }))[s.outputNames[0]].data as Float32Array;
  await s.release();
  return y;
}

function rewriteModelJson(bytes: Uint8Array, edit: (json: Record<string, unknown>) => void): Uint8Array {
  const sections = readSparq(bytes);
  const json = JSON.parse(new TextDecoder().decode(sections.get('model')!)) as Record<string, unknown>;
  edit(json);
  const model = new TextEncoder().encode(JSON.stringify(json));
  return writeSparq([...sections].map(([name, data]) => ({ name, data: name === 'model' ? model : data })));
}

function expectInvalid(bytes: Uint8Array, code = 'ERR_INVALID_MODEL'): void {
  try {
    decodeSparqModel(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(SparqError);
    expect((e as SparqError).code).toBe(code);
    return;
  }
  throw new Error('decodeSparqModel accepted a hostile prepared graph');
}

describe('.sparq prepared graph', () => {
  const lenet = async () => quantize(await prune(await loadModel(mlpModel({ sizes: [784, 300, 100, 10], seed: 1 })), { sparsity: 0.92, minParams: 0 }), { mode: 'dynamic' });

  it('is the graph prepareGraph builds, with the same constants and outputs (Gemm transB, alpha, beta; MatMul + [1, N] bias; LeNet + int8)', async () => {
    const cases: [Model, Tensor][] = [
      [await loadModel(scaledModel()), new Tensor('float32', Float32Array.from({ length: 3 * 12 }, (_, i) => Math.sin(i)), [3, 12])],
      [await lenet(), new Tensor('float32', Float32Array.from({ length: 2 * 784 }, (_, i) => Math.cos(i)), [2, 784])],
    ];
    for (const [model, x] of cases) {
      const back = decodeSparqModel(encodeSparqModel(model));
      const prepared = preparedGraphOf(back);
      expect(prepared).toBeDefined();
      const fresh = prepareGraph(back.graph);
      expect(JSON.stringify(prepared!.nodes)).toBe(JSON.stringify(fresh.nodes));
      expect([...prepared!.initializers.keys()].sort()).toEqual([...fresh.initializers.keys()].sort());
      for (const [name, t] of fresh.initializers) {
        expect(prepared!.initializers.get(name)!.dims).toEqual(t.dims);
        expect(prepared!.initializers.get(name)!.data).toEqual(t.data);
      }
      expect(await outputs(back, x)).toEqual(await outputs(model, x));
    }
  });

  it('stores constants that folding made by value; such a file loads the prepared graph and runs as before', async () => {
    const model = await loadModel(foldedModel());
    const bytes = encodeSparqModel(model);
    const prepared = JSON.parse(new TextDecoder().decode(readSparq(bytes).get('model')!)).prepared as { values: Record<string, unknown> };
    expect(Object.keys(prepared.values).length).toBeGreaterThan(0);
    const back = decodeSparqModel(bytes);
    expect(preparedGraphOf(back)).toBeDefined();
    expect(new Set(preparedGraphOf(back)!.initializers.keys())).toEqual(new Set(prepareGraph(model.graph).initializers.keys()));
    const x = new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => i / 7), [2, 6]);
    expect(await outputs(back, x)).toEqual(await outputs(model, x));
  });

  it('of another version is ignored: the session prepares the graph itself', async () => {
    const model = await loadModel(scaledModel());
    const bytes = rewriteModelJson(encodeSparqModel(model), (j) => {
      (j.prepared as { version: number }).version = 999;
    });
    const back = decodeSparqModel(bytes);
    expect(preparedGraphOf(back)).toBeUndefined();
    const x = new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => i / 5), [1, 12]);
    expect(await outputs(back, x)).toEqual(await outputs(model, x));
  });

  it('hostile prepared graphs behind valid checksums give SparqError', async () => {
    const bytes = encodeSparqModel(await loadModel(scaledModel()));
    type Prepared = { nodes: { inputs: string[]; op: string; domain: string }[]; derived: Record<string, { of: string; dims: number[]; transpose: boolean; scale: unknown }> };
    const edits: [string, (p: Prepared, j: Record<string, unknown>) => void, string?][] = [
      ['not an object', (_p, j) => void (j.prepared = [1, 2])],
      ['a recipe over a missing initializer', (p) => void (Object.values(p.derived)[0].of = 'nope')],
      ['a recipe whose dims do not fit', (p) => void (Object.values(p.derived)[0].dims = [3, 3])],
      ['a recipe named like the model input', (p) => {
        const [name, d] = Object.entries(p.derived)[0];
        delete p.derived[name];
        p.derived.x = d;
      }],
      ['a transpose of a vector', (p) => void Object.assign(Object.values(p.derived).find((d) => !d.transpose)!, { transpose: true })],
      ['a non-finite scale', (p) => void (Object.values(p.derived)[0].scale = 'x')],
      ['a node reading an undefined value', (p) => void (p.nodes[0].inputs[0] = 'ghost')],
      ['a node reading its own output', (p) => void (p.nodes[1].inputs[0] = 'y')],
      ['an op sparq does not run', (p) => void (p.nodes[0].op = 'Frobnicate'), 'ERR_UNSUPPORTED_OP'],
    ];
    for (const [, edit, code] of edits) expectInvalid(rewriteModelJson(bytes, (j) => edit(j.prepared as Prepared, j)), code);
  });
});
