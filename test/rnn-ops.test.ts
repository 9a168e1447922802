// ONNX LSTM / GRU / RNN nodes in sparq against onnxruntime-node: constant weights (packed) and weights
// fed as graph inputs (raw), every direction, initial states, sequence lengths, peepholes, the
// activations and clip attributes; the opset-14 layout against its layout-0 twin.
import { describe, expect, it } from 'vitest';

import { InferenceSession, Tensor } from '../src/index.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { rng } from './helpers.js';
import { type Feed, compareWithOrt } from './rnn-compare.js';

interface Spec {
  op: 'LSTM' | 'GRU' | 'RNN';
  S: number;
  B: number;
  I: number;
  H: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  /** W and R as graph inputs (the raw path) instead of initializers (packed). */
  weightInputs?: boolean;
  bias?: boolean;
  seqLens?: number[];
  initial?: boolean;
  peepholes?: boolean;
  activations?: string[];
  alpha?: number[];
  beta?: number[];
  clip?: number;
  lbr?: number;
  layout?: 0 | 1;
  seed?: number;
}

const GATES = { LSTM: 4, GRU: 3, RNN: 1 };

function floats(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

function build(s: Spec): { bytes: Uint8Array; feeds: Record<string, Feed> } {
  const g = new GraphBuilder();
  g.opset = 14;
  const D = s.direction === 'bidirectional' ? 2 : 1;
  const G = GATES[s.op];
  const seed = s.seed ?? 1;
  const layout = s.layout ?? 0;
  const xDims = layout === 0 ? [s.S, s.B, s.I] : [s.B, s.S, s.I];
  const stateDims = layout === 0 ? [D, s.B, s.H] : [s.B, D, s.H];
  const feeds: Record<string, Feed> = { X: { type: 'float32', data: floats(s.S * s.B * s.I, seed, 1.5), dims: xDims } };
  g.input('X', 'FLOAT', xDims);
  const W = floats(D * G * s.H * s.I, seed + 1, 0.5);
  const R = floats(D * G * s.H * s.H, seed + 2, 0.5);
  const wDims = [D, G * s.H, s.I], rDims = [D, G * s.H, s.H];
  if (s.weightInputs) {
    g.input('W', 'FLOAT', wDims);
    g.input('R', 'FLOAT', rDims);
    feeds.W = { type: 'float32', data: W, dims: wDims };
    feeds.R = { type: 'float32', data: R, dims: rDims };
  } else {
    g.float('W', W, wDims);
    g.float('R', R, rDims);
  }
  const inputs = ['X', 'W', 'R', '', '', '', '', ''];
  if (s.bias !== false) inputs[3] = g.float('B', floats(D * 2 * G * s.H, seed + 3, 0.5), [D, 2 * G * s.H]);
  if (s.seqLens) {
    g.input('lens', 'INT32', [s.B]);
    feeds.lens = { type: 'int32', data: Int32Array.from(s.seqLens), dims: [s.B] };
    inputs[4] = 'lens';
  }
  if (s.initial) {
    g.input('h0', 'FLOAT', stateDims);
    feeds.h0 = { type: 'float32', data: floats(D * s.B * s.H, seed + 4), dims: stateDims };
    inputs[5] = 'h0';
    if (s.op === 'LSTM') {
      g.input('c0', 'FLOAT', stateDims);
      feeds.c0 = { type: 'float32', data: floats(D * s.B * s.H, seed + 5), dims: stateDims };
      inputs[6] = 'c0';
    }
  }
  if (s.peepholes) inputs[7] = g.float('P', floats(D * 3 * s.H, seed + 6), [D, 3 * s.H]);
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const attrs: Record<string, number | string | string[] | { floats: number[] }> = { hidden_size: s.H, direction: s.direction ?? 'forward' };
  if (s.activations) attrs.activations = s.activations;
  if (s.alpha) attrs.activation_alpha = { floats: s.alpha };
  if (s.beta) attrs.activation_beta = { floats: s.beta };
  if (s.clip !== undefined) attrs.clip = s.clip;
  if (s.lbr !== undefined) attrs.linear_before_reset = s.lbr;
  if (layout) attrs.layout = layout;
  const outs = s.op === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'];
  g.node(s.op, inputs, outs, attrs as never);
  g.output('Y', 'FLOAT', layout === 0 ? [s.S, D, s.B, s.H] : [s.B, s.S, D, s.H]);
  g.output('Y_h', 'FLOAT', stateDims);
  if (s.op === 'LSTM') g.output('Y_c', 'FLOAT', stateDims);
  return { bytes: g.build('rnn'), feeds };
}

const TOL = 1e-4;

describe('recurrent ONNX nodes match onnxruntime-node', () => {
  const variants: [string, Partial<Spec>][] = [
    ['forward', {}],
    ['reverse with initial states', { direction: 'reverse', initial: true }],
    ['bidirectional, sequence lengths, initial states', { direction: 'bidirectional', seqLens: [5, 2, 0], initial: true }],
    ['weights as graph inputs (raw), bidirectional, no bias', { direction: 'bidirectional', weightInputs: true, bias: false, initial: true }],
    ['clip', { clip: 0.4, direction: 'bidirectional' }],
  ];
  for (const op of ['LSTM', 'GRU', 'RNN'] as const)
    for (const [name, v] of variants)
      it(`${op}: ${name}`, async () => {
        const { bytes, feeds } = build({ op, S: 5, B: 3, I: 7, H: 9, seed: op.length * 10 + name.length, ...v });
        const r = await compareWithOrt(bytes, feeds);
        expect(r.worst, JSON.stringify(r.outputs)).toBeLessThan(TOL);
      });

  it('LSTM with peepholes, sequence lengths, reverse', async () => {
    const { bytes, feeds } = build({ op: 'LSTM', S: 6, B: 4, I: 5, H: 11, direction: 'reverse', peepholes: true, seqLens: [6, 1, 3, 4], initial: true });
    expect((await compareWithOrt(bytes, feeds)).worst).toBeLessThan(TOL);
  });

  for (const lbr of [0, 1])
    for (const weightInputs of [false, true])
      it(`GRU linear_before_reset=${lbr}, ${weightInputs ? 'raw' : 'packed'} weights, bidirectional`, async () => {
        const { bytes, feeds } = build({ op: 'GRU', S: 4, B: 2, I: 6, H: 10, lbr, weightInputs, direction: 'bidirectional', initial: true, seqLens: [4, 3] });
        expect((await compareWithOrt(bytes, feeds)).worst).toBeLessThan(TOL);
      });

  const actCases: [Spec['op'], string[], number[]?, number[]?][] = [
    ['LSTM', ['Relu', 'Tanh', 'Sigmoid', 'HardSigmoid', 'Relu', 'Tanh'], [0.3], [0.4]],
    ['GRU', ['Sigmoid', 'Relu', 'Tanh', 'LeakyRelu'], [0.2]],
    ['RNN', ['Relu', 'Sigmoid']],
    ['RNN', ['Softsign']],
  ];
  for (const [op, activations, alpha, beta] of actCases)
    it(`${op} activations ${activations.join(',')}`, async () => {
      const D = activations.length > (op === 'LSTM' ? 3 : op === 'GRU' ? 2 : 1) ? 'bidirectional' : 'forward';
      const { bytes, feeds } = build({ op, S: 4, B: 2, I: 5, H: 6, direction: D, activations, alpha, beta, initial: true });
      expect((await compareWithOrt(bytes, feeds)).worst).toBeLessThan(TOL);
    });
});

describe('recurrent layout 1 (batch first)', () => {
  for (const op of ['LSTM', 'GRU', 'RNN'] as const)
    it(`${op}: [batch, seq, ...] equals the transposed layout-0 result`, async () => {
      const base: Spec = { op, S: 4, B: 3, I: 5, H: 6, direction: 'bidirectional', initial: true, seqLens: [4, 2, 3], seed: 9 };
      const a = build(base);
      const b = build({ ...base, layout: 1 });
      // Same values, batch-first: transpose X and the states of the layout-0 feeds.
      const tr = (src: Float32Array, d0: number, d1: number, inner: number) => {
        const out = new Float32Array(src.length);
        for (let i = 0; i < d0; i++) for (let j = 0; j < d1; j++) out.set(src.subarray((i * d1 + j) * inner, (i * d1 + j + 1) * inner), (j * d0 + i) * inner);
        return out;
      };
      for (const k of Object.keys(b.feeds)) {
        const f = a.feeds[k];
        if (k === 'X') b.feeds.X.data = tr(f.data as Float32Array, base.S, base.B, base.I);
        else if (k === 'h0' || k === 'c0') b.feeds[k].data = tr(f.data as Float32Array, 2, base.B, base.H);
        else b.feeds[k].data = f.data;
      }
      const run = async (m: { bytes: Uint8Array; feeds: Record<string, Feed> }) => {
        const s = await InferenceSession.create(m.bytes);
        const feeds: Record<string, Tensor> = {};
        for (const [k, f] of Object.entries(m.feeds)) feeds[k] = new Tensor(f.type, f.data as never, f.dims);
        const out = await s.run(feeds);
        await s.release();
        return out;
      };
      const ya = await run(a);
      const yb = await run(b);
      // Y: [S, D, B, H] vs [B, S, D, H]
      const Ya = ya.Y.data as Float32Array, Yb = yb.Y.data as Float32Array;
      const { S, B, H } = base;
      let worst = 0;
      for (let s = 0; s < S; s++) for (let d = 0; d < 2; d++) for (let bb = 0; bb < B; bb++) for (let h = 0; h < H; h++)
        worst = Math.max(worst, Math.abs(Ya[((s * 2 + d) * B + bb) * H + h] - Yb[((bb * S + s) * 2 + d) * H + h]));
      const Ha = ya.Y_h.data as Float32Array, Hb = yb.Y_h.data as Float32Array;
      for (let d = 0; d < 2; d++) for (let bb = 0; bb < B; bb++) for (let h = 0; h < H; h++)
        worst = Math.max(worst, Math.abs(Ha[(d * B + bb) * H + h] - Hb[(bb * 2 + d) * H + h]));
      expect(worst).toBeLessThan(1e-6);
      expect(yb.Y.dims).toEqual([B, S, 2, H]);
    });
});

describe('recurrent nodes refuse what they cannot run, with a code', () => {
  it('an unknown activation is ERR_UNSUPPORTED_OP', async () => {
    const { bytes, feeds } = build({ op: 'RNN', S: 2, B: 1, I: 3, H: 4, activations: ['Gelu'] });
    const s = await InferenceSession.create(bytes);
    const f: Record<string, Tensor> = { X: new Tensor('float32', feeds.X.data as Float32Array, feeds.X.dims) };
    await expect(s.run(f)).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_OP' });
    await s.release();
  });
  it('a sequence length beyond the sequence is ERR_INVALID_ARGUMENT', async () => {
    const { bytes, feeds } = build({ op: 'GRU', S: 3, B: 2, I: 3, H: 4, seqLens: [3, 4] });
    const s = await InferenceSession.create(bytes);
    const f: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = new Tensor(v.type, v.data as never, v.dims);
    await expect(s.run(f)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await s.release();
  });
});
