// sparq's public API. Only exports live here.
export { Tensor, type TensorType, type TensorData } from './tensor.js';
export { SparqError, type SparqErrorCode } from './errors.js';
export { backend, type BackendInfo } from './backend.js';
import * as kernels from './kernels.js';
export { kernels };
export type { PackedWeights, PackOptions, MatmulOptions, WeightFormat, Activation } from './kernels.js';
export { Model, loadModel, saveModel, type WeightFormatSpec } from './model.js';
export { InferenceSession, type SessionOptions } from './session.js';
export { train, type TrainResult } from './train/train.js';
export { distill, type DistillOptions, type DistillResult, type StudentSpec } from './train/distill.js';
export { mlp, type MlpSpec } from './train/mlp.js';
export { TRAINABLE_OPS } from './train/graph.js';
export type { TrainOptions, PruneOptions, EpochStats } from './train/options.js';
export type { Batch, TrainData } from './train/data.js';
export { loadMnist, type MnistSplit } from './data/mnist.js';
