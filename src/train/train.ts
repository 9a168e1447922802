// train(model, data, options): fine-tunes (or trains from its initial weights) a feed-forward ONNX model.
import { parseTrainable } from './graph.js';
import type { TrainData } from './data.js';
import { fit, supervisedTask } from './fit.js';
import type { Model } from '../model.js';
import { modelBytes, trainedModel, type ModelInput } from './model-io.js';
import { resolveOptions, type EpochStats, type TrainOptions } from './options.js';

export interface TrainResult {
  /** The trained model (saveModel() writes it as ONNX; InferenceSession runs it). */
  model: Model;
  history: EpochStats[];
}

/**
 * Trains the weights of a feed-forward graph (MatMul / Gemm with bias, Relu, Gelu, Sigmoid, Tanh,
 * LayerNormalization, Softmax) on `data`, optionally pruning it gradually to a target sparsity.
 * The input model is never modified.
 */
export async function train(model: ModelInput, data: TrainData, options: TrainOptions = {}): Promise<TrainResult> {
  const opts = resolveOptions(options);
  const graph = parseTrainable(modelBytes(model, 'model'));
  const history = await fit(graph, data, opts, supervisedTask(opts.loss, graph.outputSize));
  return { model: trainedModel(graph.toOnnx()), history };
}
