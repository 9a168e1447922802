// If / Loop bodies are prepared like the graph that holds them (src/graph/subgraphs.ts, runtime/plan.ts):
// a branch's convs and Gemms with constant weights run on packed weights (the session reports them),
// whichever way an If on an input value goes, with onnxruntime-node's outputs; a value the main graph
// fuses is still visible to a branch that reads it.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { InferenceSession, Tensor } from '../src/index.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { DataType } from '../src/onnx/proto.js';
import { randomFloats } from '../src/random.js';
import { relError } from './helpers.js';

const C = 6, L = 20, OC = 8, K = 3;

/** sr == 16000 ? relu(conv(x, w_then) + b) : sigmoid(conv(x, w_else)), then a Gemm (Linear) on the pooled channels. */
function vadLike(): Uint8Array {
  const g = new GraphBuilder();
  g.opset = 18;
  g.input('sr', 'INT64', []);
  g.input('x', 'FLOAT', [1, C, L]);
  g.float('w_else', randomFloats(OC * C * K, 2, -0.5, 0.5), [OC, C, K]);
  g.float('fc', randomFloats(OC * 4, 3, -0.5, 0.5), [OC, 4]);
  const [c] = g.node('Equal', ['sr', g.int64('k16', [16000], [])]);
  const then = new GraphBuilder();
  then.float('w_then', randomFloats(OC * C * K, 1, -0.5, 0.5), [OC, C, K]);
  then.float('b_then', randomFloats(OC, 4, -0.5, 0.5), [OC]);
  const [tc] = then.node('Conv', ['x', 'w_then', 'b_then'], 1, { pads: [1, 1] });
  const [tr] = then.node('Relu', [tc]);
  const [tp] = then.node('ReduceMean', [tr, then.int64('ax', [2])], 1, { keepdims: 0 });
  then.node('Gemm', [tp, 'fc'], ['t']);
  then.output('t', 'FLOAT', [1, 4]);
  const other = new GraphBuilder();
  const [ec] = other.node('Conv', ['x', 'w_else'], 1, { strides: [2] });
  const [es] = other.node('Sigmoid', [ec]);
  const [ep] = other.node('ReduceMean', [es, other.int64('ax2', [2])], 1, { keepdims: 0 });
  other.node('Gemm', [ep, 'fc'], ['e']);
  other.output('e', 'FLOAT', [1, 4]);
  g.node('If', [c], ['y'], { then_branch: { graph: then }, else_branch: { graph: other } });
  g.output('y', 'FLOAT', [1, 4]);
  return g.build();
}

type Feed = { type: 'float32' | 'int64' | 'bool'; data: Float32Array | BigInt64Array | Uint8Array; dims: number[] };

/** Runs each feed set in the session and in onnxruntime-node; outputs must agree. */
async function both(bytes: Uint8Array, feeds: Record<string, Feed>[], s: InferenceSession): Promise<void> {
  const o = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  for (const f of feeds) {
    const got = await s.run(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, new Tensor(v.type, v.data as never, v.dims)])));
    const want = await o.run(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, new ort.Tensor(v.type, v.data, v.dims)])));
    for (const name of o.outputNames) {
      expect([...got[name].dims]).toEqual([...want[name].dims]);
      expect(relError(got[name].data as Float32Array, want[name].data as Float32Array), name).toBeLessThan(1e-5);
    }
  }
  await o.release();
}

/** A one-thread session over `bytes` for `use`, released after. */
async function withSession(bytes: Uint8Array, use: (s: InferenceSession) => Promise<void>): Promise<void> {
  const s = await InferenceSession.create(bytes, { threads: 1 });
  try {
    await use(s);
  } finally {
    await s.release();
  }
}

const sr = (v: number) => ({ type: 'int64' as const, data: BigInt64Array.of(BigInt(v)), dims: [] });
const x = (seed: number) => ({ type: 'float32' as const, data: randomFloats(C * L, seed, -1, 1), dims: [1, C, L] });

describe('If / Loop bodies are prepared like the main graph', () => {
  it("packs an If branch's constant conv and Gemm weights, and runs both ways", async () => {
    const bytes = vadLike();
    await withSession(bytes, async (s) => {
      await both(bytes, [{ sr: sr(16000), x: x(10) }], s);
      const afterThen = [...s.weights.keys()];
      // The taken branch's conv weight (a branch constant) was relaid out and packed, and its Gemm became a Linear.
      expect(afterThen.some((k) => k.includes('w_then'))).toBe(true);
      expect(afterThen.some((k) => k.includes('fc'))).toBe(true);
      expect(afterThen.some((k) => k.includes('w_else'))).toBe(false);
      await both(bytes, [{ sr: sr(8000), x: x(11) }, { sr: sr(16000), x: x(12) }], s);
      const keys = [...s.weights.keys()];
      // The other branch's conv (an outer constant) too; the plans share the Gemm's packed weight.
      expect(keys.some((k) => k.includes('w_else'))).toBe(true);
      expect(keys.filter((k) => k.includes('fc'))).toHaveLength(1);
      for (const w of s.weights.values()) expect(w.format).toBe('dense');
    });
  });

  it('a value the main graph fuses is still read by a branch', async () => {
    const g = new GraphBuilder();
    g.opset = 17;
    g.input('flag', 'BOOL', []);
    g.input('x', 'FLOAT', [2, 4]);
    g.float('W', randomFloats(16, 5, -1, 1), [4, 4]);
    g.float('B', randomFloats(4, 6, -1, 1), [4]);
    const [m] = g.node('MatMul', ['x', 'W']);
    g.node('Add', [m, 'B'], ['z']);
    const then = new GraphBuilder();
    then.node('Relu', [m], ['t']);
    then.output('t', 'FLOAT', [2, 4]);
    const other = new GraphBuilder();
    other.node('Neg', [m], ['e']);
    other.output('e', 'FLOAT', [2, 4]);
    g.node('If', ['flag'], ['y'], { then_branch: { graph: then }, else_branch: { graph: other } });
    g.output('y', 'FLOAT', [2, 4]);
    g.output('z', 'FLOAT', [2, 4]);
    const bytes = g.build();
    const feeds = (v: number): Record<string, Feed> => ({ flag: { type: 'bool', data: Uint8Array.of(v), dims: [] }, x: { type: 'float32', data: randomFloats(8, 7 + v, -1, 1), dims: [2, 4] } });
    await withSession(bytes, async (s) => {
      await both(bytes, [feeds(1), feeds(0)], s);
    });
  });

  it('a Loop body with a Gemm runs on one packed weight for every unrolled iteration', async () => {
    const g = new GraphBuilder();
    g.opset = 17;
    g.input('n', 'INT64', []);
    g.input('h', 'FLOAT', [1, 4]);
    g.float('R', randomFloats(16, 8, -0.5, 0.5), [4, 4]);
    const body = new GraphBuilder();
    body.input('i', 'INT64', []);
    body.input('c', 'BOOL', []);
    body.input('hc', 'FLOAT', [1, 4]);
    body.node('Identity', ['c'], ['c_out']);
    const [mm] = body.node('Gemm', ['hc', 'R']);
    body.node('Tanh', [mm], ['h_out']);
    body.output('c_out', 'BOOL', []);
    body.output('h_out', 'FLOAT', [1, 4]);
    const t = g.tensor({ name: 'yes', dataType: DataType.BOOL, dims: [], int32Data: [1] });
    g.node('Loop', ['n', t, 'h'], ['y'], { body: { graph: body } });
    g.output('y', 'FLOAT', [1, 4]);
    const bytes = g.build();
    await withSession(bytes, async (s) => {
      await both(bytes, [{ n: { type: 'int64', data: BigInt64Array.of(5n), dims: [] }, h: { type: 'float32', data: randomFloats(4, 9, -1, 1), dims: [1, 4] } }], s);
      expect([...s.weights.keys()].filter((k) => k.includes('R'))).toHaveLength(1);
    });
  });

  it('a graph whose If hides a rank until its condition is known is prepared per plan', async () => {
    // x [N, C, L]; N == 1 ? Squeeze(x, 0) : Reshape(x, [C, L]), the branch output declared without a
    // shape (as exporters leave it), then Unsqueeze and a Conv: at creation the If's rank is unknown.
    const g = new GraphBuilder();
    g.opset = 17;
    g.input('x', 'FLOAT', ['N', C, L]);
    g.float('w', randomFloats(OC * C * K, 13, -0.5, 0.5), [OC, C, K]);
    const [shape] = g.node('Shape', ['x']);
    const [n] = g.node('Gather', [shape, g.int64('zero', [0], [])], 1, { axis: 0 });
    const [c] = g.node('Equal', [n, g.int64('one', [1], [])]);
    const then = new GraphBuilder();
    then.node('Squeeze', ['x', then.int64('a0', [0])], ['t']);
    then.output('t', 'FLOAT', []);
    const other = new GraphBuilder();
    other.node('Reshape', ['x', other.int64('cl', [C, L])], ['e']);
    other.output('e', 'FLOAT', [C, L]);
    g.node('If', [c], ['y'], { then_branch: { graph: then }, else_branch: { graph: other } });
    const [u] = g.node('Unsqueeze', ['y', g.int64('a1', [0])]);
    g.node('Conv', [u, 'w'], ['z'], { pads: [1, 1] });
    g.output('z', 'FLOAT', [1, OC, L]);
    // The then-branch output without a shape (the If attribute holds the builder's own value infos).
    const t = then.graphProto().output?.[0]?.type?.tensorType;
    if (t) t.shape = undefined;
    const bytes = g.build();
    await withSession(bytes, async (s) => {
      await both(bytes, [{ x: x(14) }], s);
      expect([...s.weights.keys()].some((k) => k.includes('w'))).toBe(true);
    });
  });

  it('branches whose constants share a name keep their own packed weights', async () => {
    const g = new GraphBuilder();
    g.opset = 18;
    g.input('sr', 'INT64', []);
    g.input('x', 'FLOAT', [1, C, L]);
    const [c] = g.node('Equal', ['sr', g.int64('k16', [16000], [])]);
    const branch = (seed: number, out: string) => {
      const b = new GraphBuilder();
      b.float('w', randomFloats(OC * C * K, seed, -0.5, 0.5), [OC, C, K]);
      b.node('Conv', ['x', 'w'], [out]);
      b.output(out, 'FLOAT', [1, OC, L - K + 1]);
      return b;
    };
    g.node('If', [c], ['y'], { then_branch: { graph: branch(20, 't') }, else_branch: { graph: branch(21, 'e') } });
    g.output('y', 'FLOAT', [1, OC, L - K + 1]);
    const bytes = g.build();
    await withSession(bytes, async (s) => {
      await both(bytes, [{ sr: sr(16000), x: x(22) }, { sr: sr(8000), x: x(23) }, { sr: sr(16000), x: x(24) }], s);
      expect(s.weights.size).toBe(2);
    });
  });
});
