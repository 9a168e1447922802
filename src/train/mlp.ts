// Multilayer perceptrons as ONNX (MatMul + Add + activation per layer) with seeded initialisation:
// the models train() starts from and distill() builds students from. Same seed, same weights, bit for bit.
import { typeError } from '../errors.js';
import type { Model } from '../model.js';
import { loadModelSync } from '../io/model-file.js';
import { GraphBuilder } from '../onnx/builder.js';
import { checkInteger, checkObject, checkOneOf } from '../validate.js';
import { deriveSeed, fillUniform, mulberry32 } from './random.js';

export const MLP_ACTIVATIONS = ['relu', 'gelu', 'sigmoid', 'tanh'] as const;

export interface MlpSpec {
  inputs: number;
  /** Widths of the hidden layers, e.g. [300, 100] for LeNet-300-100. */
  hidden: number[];
  outputs: number;
  /** Hidden activation, 'relu' by default. */
  activation?: (typeof MLP_ACTIVATIONS)[number];
  /** End with Softmax (outputs are probabilities); default false (outputs are logits). */
  softmax?: boolean;
  seed?: number;
}

/**
 * An MLP with input 'input' [batch, inputs] and output 'output' [batch, outputs]. Weights are He-uniform
 * (ReLU, Gelu) or Glorot-uniform (sigmoid, tanh), biases zero.
 */
export function mlp(spec: MlpSpec): Model {
  return loadModelSync(mlpOnnx(spec));
}

/** The ONNX bytes of mlp(spec). */
export function mlpOnnx(spec: MlpSpec): Uint8Array {
  const s = checkObject(spec, 'spec') as unknown as MlpSpec;
  const inputs = checkInteger(s.inputs, 'spec.inputs', 1, 1 << 24);
  const outputs = checkInteger(s.outputs, 'spec.outputs', 1, 1 << 24);
  if (!Array.isArray(s.hidden)) throw typeError('an array of layer widths', 'spec.hidden', s.hidden);
  const hidden = s.hidden.map((h, i) => checkInteger(h, `spec.hidden[${i}]`, 1, 1 << 24));
  const activation = checkOneOf(s.activation ?? 'relu', 'spec.activation', MLP_ACTIVATIONS);
  const seed = s.seed === undefined ? 0 : checkInteger(s.seed, 'spec.seed', 0, 2 ** 32 - 1);
  const uniform = mulberry32(deriveSeed(seed, 0));

  const g = new GraphBuilder();
  // Gelu is an ONNX op from opset 20.
  if (activation === 'gelu') g.opset = 20;
  let h = g.input('input', 'FLOAT', ['batch', inputs]);
  const widths = [inputs, ...hidden, outputs];
  for (let l = 0; l + 1 < widths.length; l++) {
    const K = widths[l];
    const N = widths[l + 1];
    const last = l + 2 === widths.length;
    const limit = activation === 'relu' || activation === 'gelu' ? Math.sqrt(6 / K) : Math.sqrt(6 / (K + N));
    const W = g.float(`fc${l + 1}.weight`, fillUniform(new Float32Array(K * N), last ? Math.sqrt(6 / (K + N)) : limit, uniform), [K, N]);
    const b = g.float(`fc${l + 1}.bias`, new Float32Array(N), [N]);
    const [y] = g.node('MatMul', [h, W]);
    const out = last && !s.softmax ? 'output' : g.name('fc');
    g.node('Add', [y, b], [out]);
    h = out;
    if (!last) {
      const op = { relu: 'Relu', gelu: 'Gelu', sigmoid: 'Sigmoid', tanh: 'Tanh' }[activation];
      [h] = g.node(op, [h]);
    }
  }
  if (s.softmax) g.node('Softmax', [h], ['output'], { axis: -1 });
  g.output('output', 'FLOAT', ['batch', outputs]);
  return g.build('mlp');
}
