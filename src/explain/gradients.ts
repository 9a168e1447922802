// Input gradients from sparq's training autograd (src/train): the model's graph as a trainable chain
// (MatMul/Gemm, bias, Relu, Gelu, Sigmoid, Tanh, LayerNormalization, Softmax), forward over a batch of
// rows, backward from a one-hot at the target output, carried through the first layer to the input.
// Graphs the chain does not cover are refused by parseTrainable with ERR_UNSUPPORTED_OP; occlusion
// still explains them.
import { SparqError } from '../errors.js';
import type { Model } from '../model.js';
import { parseTrainable, type TrainableGraph } from '../train/graph.js';
import { Network } from '../train/network.js';

export class InputGradients {
  readonly graph: TrainableGraph;
  readonly #net: Network;

  constructor(model: Model, threads = 0) {
    try {
      this.graph = parseTrainable(model.toOnnx());
    } catch (e) {
      if (e instanceof SparqError && e.code === 'ERR_UNSUPPORTED_OP')
        throw new SparqError('ERR_UNSUPPORTED_OP', `Gradient explanations need a graph sparq's autograd covers; use method 'occlusion' for this one. ${e.message}`, { cause: e });
      throw e;
    }
    this.#net = new Network(this.graph, threads);
  }

  get inputSize(): number {
    return this.graph.inputSize;
  }
  get outputSize(): number {
    return this.graph.outputSize;
  }

  /** Outputs [M, outputSize] for rows x[M, inputSize]. */
  forward(x: Float32Array, M: number): Float32Array {
    return this.#net.forward(x, M);
  }

  /** d output[row, index] / d x[row, :] for every row (one batched forward and backward), and the outputs. */
  gradients(x: Float32Array, M: number, index: number): { grads: Float32Array; outputs: Float32Array } {
    const N = this.graph.outputSize;
    const outputs = this.#net.forward(x, M, { train: true });
    const seed = new Float32Array(M * N);
    for (let r = 0; r < M; r++) seed[r * N + index] = 1;
    const grads = this.#net.backward(seed, { inputGrad: true, paramGrads: false }) as Float32Array;
    return { grads, outputs };
  }
}
