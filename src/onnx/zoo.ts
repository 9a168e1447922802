// A model zoo with seeded random weights, written the way exporters write real models: MLPs (Gemm or
// MatMul+Add) and BERT-style encoders as torch.onnx exports them (Shape→Gather→Unsqueeze→Concat→Reshape
// chains for the head split, Erf-GELU, decomposed LayerNorm, an additive attention mask). Tests run
// every zoo model in sparq and onnxruntime-node; benchmarks and the demo use them too.
import { GraphBuilder } from './builder.js';
import { DataType } from './proto.js';
import { mulberry32 } from '../random.js';

/** The zoo's weights come from one seed (see src/random.ts), so every model is reproducible. */
export const seededRandom = mulberry32;

/** n values uniform in [-scale, scale). */
export function randomWeights(rand: () => number, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

export interface MlpOptions {
  /** Layer widths, input first: [784, 300, 100, 10] by default. */
  sizes?: number[];
  seed?: number;
  /** 'gemm' (Gemm with transB=1, as torch exports nn.Linear on 2-D input) or 'matmul' (MatMul + Add). */
  style?: 'gemm' | 'matmul';
  /** Hidden activation. */
  activation?: 'relu' | 'gelu' | 'sigmoid' | 'tanh';
  /** Batch dim: symbolic name or a fixed size. */
  batch?: string | number;
  opset?: number;
}

export function mlpModel(options: MlpOptions = {}): Uint8Array {
  const sizes = options.sizes ?? [784, 300, 100, 10];
  const rand = seededRandom(options.seed ?? 1);
  const g = new GraphBuilder();
  g.opset = options.opset ?? 17;
  const batch = options.batch ?? 'batch';
  let x = g.input('input', 'FLOAT', [batch, sizes[0]]);
  const act = { relu: 'Relu', gelu: 'Gelu', sigmoid: 'Sigmoid', tanh: 'Tanh' }[options.activation ?? 'relu'];
  if (act === 'Gelu' && g.opset < 20) g.opset = 20;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const K = sizes[l], N = sizes[l + 1];
    const scale = Math.sqrt(6 / (K + N));
    const last = l + 2 === sizes.length;
    const bias = g.float(`fc${l}.bias`, randomWeights(rand, N, 0.1), [N]);
    let y: string;
    if (options.style === 'matmul') {
      const w = g.float(`fc${l}.weight`, randomWeights(rand, K * N, scale), [K, N]);
      const [xw] = g.node('MatMul', [x, w]);
      [y] = g.node('Add', [xw, bias], last ? ['output'] : 1);
    } else {
      const w = g.float(`fc${l}.weight`, randomWeights(rand, K * N, scale), [N, K]);
      [y] = g.node('Gemm', [x, w, bias], last ? ['output'] : 1, { transB: 1, alpha: { float: 1 }, beta: { float: 1 } });
    }
    x = last ? y : g.node(act, [y])[0];
  }
  g.output('output', 'FLOAT', [batch, sizes[sizes.length - 1]]);
  return g.build('mlp');
}

export interface EncoderOptions {
  hidden?: number;
  heads?: number;
  ffn?: number;
  layers?: number;
  vocab?: number;
  maxPosition?: number;
  seed?: number;
  /** 14 by default (torch's usual); >= 18 moves ReduceMean's axes to an input. */
  opset?: number;
  /** Adds a pooler (first token → dense → tanh) as a second output. */
  pooler?: boolean;
  /** Write LayerNorm as the fused ONNX op (opset >= 17) instead of torch's decomposition. */
  fusedLayerNorm?: boolean;
}

/** A BERT-style encoder: inputs input_ids and attention_mask (int64 [batch, sequence]). */
export function encoderModel(options: EncoderOptions = {}): Uint8Array {
  const H = options.hidden ?? 64;
  const heads = options.heads ?? 4;
  const F = options.ffn ?? 4 * H;
  const L = options.layers ?? 2;
  const V = options.vocab ?? 100;
  const P = options.maxPosition ?? 128;
  const D = H / heads;
  if (!Number.isInteger(D)) throw new RangeError(`hidden (${H}) must be a multiple of heads (${heads})`);
  const rand = seededRandom(options.seed ?? 7);
  const g = new GraphBuilder();
  g.opset = options.opset ?? 14;
  const useFusedLn = options.fusedLayerNorm === true && g.opset >= 17;
  const ids = g.input('input_ids', 'INT64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'INT64', ['batch', 'sequence']);

  const scalar = (name: string, v: number) => g.float(name, Float32Array.of(v), []);
  const constI64 = (values: number[]) =>
    g.node('Constant', [], 1, { value: { name: '', dataType: DataType.INT64, dims: [values.length], rawData: new Uint8Array(BigInt64Array.from(values, BigInt).buffer) } })[0];
  const linear = (x: string, K: number, N: number, prefix: string) => {
    const w = g.float(`${prefix}.weight`, randomWeights(rand, K * N, Math.sqrt(3 / K)), [K, N]);
    const b = g.float(`${prefix}.bias`, randomWeights(rand, N, 0.05), [N]);
    const [xw] = g.node('MatMul', [x, w]);
    return g.node('Add', [xw, b])[0];
  };
  const reduceMean = (x: string) =>
    g.opset >= 18 ? g.node('ReduceMean', [x, g.int64(g.name('axes'), [-1])], 1, { keepdims: 1 })[0] : g.node('ReduceMean', [x], 1, { axes: [-1], keepdims: 1 })[0];
  const layerNorm = (x: string, prefix: string) => {
    const gamma = g.float(`${prefix}.weight`, Float32Array.from({ length: H }, () => 1 + (rand() * 2 - 1) * 0.1), [H]);
    const beta = g.float(`${prefix}.bias`, randomWeights(rand, H, 0.1), [H]);
    if (useFusedLn) return g.node('LayerNormalization', [x, gamma, beta], 1, { axis: -1, epsilon: { float: 1e-12 } })[0];
    const mean = reduceMean(x);
    const [d] = g.node('Sub', [x, mean]);
    const [p] = g.node('Pow', [d, scalar(g.name('two'), 2)]);
    const v = reduceMean(p);
    const [ve] = g.node('Add', [v, scalar(g.name('eps'), 1e-12)]);
    const [s] = g.node('Sqrt', [ve]);
    const [n] = g.node('Div', [d, s]);
    const [m] = g.node('Mul', [n, gamma]);
    return g.node('Add', [m, beta])[0];
  };
  const gelu = (x: string) => {
    const [a] = g.node('Div', [x, scalar(g.name('sqrt2'), Math.SQRT2)]);
    const [e] = g.node('Erf', [a]);
    const [b] = g.node('Add', [e, scalar(g.name('one'), 1)]);
    const [c] = g.node('Mul', [x, b]);
    return g.node('Mul', [c, scalar(g.name('half'), 0.5)])[0];
  };
  const unsqueeze = (x: string, axes: number[]) =>
    g.opset >= 13 ? g.node('Unsqueeze', [x, g.int64(g.name('axes'), axes)])[0] : g.node('Unsqueeze', [x], 1, { axes })[0];
  // dim i of x as a 1-element int64 tensor (torch: Shape → Gather → Unsqueeze)
  const dimOf = (x: string, i: number) => {
    const [shape] = g.node('Shape', [x]);
    const [d] = g.node('Gather', [shape, g.int64(g.name('idx'), [i], [])], 1, { axis: 0 });
    return unsqueeze(d, [0]);
  };

  // Embeddings: word + position (positions sliced from a buffer by the sequence length) + token type 0.
  const wordEmb = g.float('embeddings.word_embeddings.weight', randomWeights(rand, V * H, 0.5), [V, H]);
  const posEmb = g.float('embeddings.position_embeddings.weight', randomWeights(rand, P * H, 0.5), [P, H]);
  const typeEmb = g.float('embeddings.token_type_embeddings.weight', randomWeights(rand, 2 * H, 0.5), [2, H]);
  g.int64('embeddings.position_ids', Array.from({ length: P }, (_, i) => i), [1, P]);
  const seqLen = dimOf(ids, 1);
  const [posIds] = g.node('Slice', ['embeddings.position_ids', g.int64(g.name('starts'), [0]), seqLen, g.int64(g.name('axes'), [1])]);
  const [we] = g.node('Gather', [wordEmb, ids], 1, { axis: 0 });
  const [pe] = g.node('Gather', [posEmb, posIds], 1, { axis: 0 });
  const [zeros] = g.node('ConstantOfShape', [g.node('Shape', [ids])[0]], 1, { value: { name: '', dataType: DataType.INT64, dims: [1], rawData: new Uint8Array(8) } });
  const [te] = g.node('Gather', [typeEmb, zeros], 1, { axis: 0 });
  const [e1] = g.node('Add', [we, te]);
  const [e2] = g.node('Add', [e1, pe]);
  let h = layerNorm(e2, 'embeddings.LayerNorm');

  // Extended mask: (1 - mask[:, None, None, :]) * -10000, as BERT's get_extended_attention_mask.
  const [m4] = g.node('Cast', [unsqueeze(mask, [1, 2])], 1, { to: DataType.FLOAT });
  const [inv] = g.node('Sub', [scalar('mask_one', 1), m4]);
  const [maskAdd] = g.node('Mul', [inv, scalar('mask_scale', -10000)]);

  const splitHeads = (x: string, perm: number[]) => {
    const shape = g.node('Concat', [dimOf(x, 0), dimOf(x, 1), constI64([heads]), constI64([D])], 1, { axis: 0 })[0];
    const [r] = g.node('Reshape', [x, shape]);
    return g.node('Transpose', [r], 1, { perm })[0];
  };
  for (let l = 0; l < L; l++) {
    const p = `encoder.layer.${l}`;
    const q = splitHeads(linear(h, H, H, `${p}.attention.self.query`), [0, 2, 1, 3]);
    const k = splitHeads(linear(h, H, H, `${p}.attention.self.key`), [0, 2, 3, 1]);
    const v = splitHeads(linear(h, H, H, `${p}.attention.self.value`), [0, 2, 1, 3]);
    const [scores] = g.node('MatMul', [q, k]);
    const [scaled] = g.node('Div', [scores, scalar(g.name('sqrt_d'), Math.sqrt(D))]);
    const [masked] = g.node('Add', [scaled, maskAdd]);
    const [probs] = g.node('Softmax', [masked], 1, { axis: -1 });
    const [ctx] = g.node('MatMul', [probs, v]);
    const [ctxT] = g.node('Transpose', [ctx], 1, { perm: [0, 2, 1, 3] });
    const merged = g.node('Concat', [dimOf(ctxT, 0), dimOf(ctxT, 1), constI64([H])], 1, { axis: 0 })[0];
    const [ctx2] = g.node('Reshape', [ctxT, merged]);
    const attnOut = linear(ctx2, H, H, `${p}.attention.output.dense`);
    const [res1] = g.node('Add', [attnOut, h]);
    h = layerNorm(res1, `${p}.attention.output.LayerNorm`);
    const inter = gelu(linear(h, H, F, `${p}.intermediate.dense`));
    const out = linear(inter, F, H, `${p}.output.dense`);
    const [res2] = g.node('Add', [out, h]);
    h = layerNorm(res2, `${p}.output.LayerNorm`);
  }
  g.node('Identity', [h], ['last_hidden_state']);
  g.output('last_hidden_state', 'FLOAT', ['batch', 'sequence', H]);
  if (options.pooler) {
    const [first] = g.node('Gather', [h, g.int64(g.name('first'), [0], [])], 1, { axis: 1 });
    const dense = linear(first, H, H, 'pooler.dense');
    g.node('Tanh', [dense], ['pooler_output']);
    g.output('pooler_output', 'FLOAT', ['batch', H]);
  }
  return g.build('encoder');
}

/**
 * An MLP as onnxruntime's quantize_dynamic writes it: per layer DynamicQuantizeLinear on the
 * activations, MatMulInteger against int8 weights (per-tensor scale), Cast, Mul by both scales, bias Add.
 */
export function quantizedMlpModel(options: { sizes?: number[]; seed?: number } = {}): Uint8Array {
  const sizes = options.sizes ?? [64, 32, 10];
  const rand = seededRandom(options.seed ?? 3);
  const g = new GraphBuilder();
  g.opset = 17;
  let x = g.input('input', 'FLOAT', ['batch', sizes[0]]);
  for (let l = 0; l + 1 < sizes.length; l++) {
    const K = sizes[l], N = sizes[l + 1];
    const w = randomWeights(rand, K * N, Math.sqrt(6 / (K + N)));
    let maxAbs = 0;
    for (const v of w) maxAbs = Math.max(maxAbs, Math.abs(v));
    const scale = maxAbs / 127;
    const q = Int8Array.from(w, (v) => Math.round(v / scale));
    g.tensor({ name: `fc${l}.weight_quantized`, dataType: DataType.INT8, dims: [K, N], rawData: new Uint8Array(q.buffer) });
    g.float(`fc${l}.weight_scale`, Float32Array.of(scale), []);
    g.float(`fc${l}.bias`, randomWeights(rand, N, 0.1), [N]);
    const [xq, xs, xz] = g.node('DynamicQuantizeLinear', [x], 3);
    const [acc] = g.node('MatMulInteger', [xq, `fc${l}.weight_quantized`, xz]);
    const [accF] = g.node('Cast', [acc], 1, { to: DataType.FLOAT });
    const [s] = g.node('Mul', [xs, `fc${l}.weight_scale`]);
    const [y] = g.node('Mul', [accF, s]);
    const last = l + 2 === sizes.length;
    const [b] = g.node('Add', [y, `fc${l}.bias`], last ? ['output'] : 1);
    x = last ? b : g.node('Relu', [b])[0];
  }
  g.output('output', 'FLOAT', ['batch', sizes[sizes.length - 1]]);
  return g.build('quantized_mlp');
}
