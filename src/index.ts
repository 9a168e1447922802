// sparq's public API. Only exports live here.
export { Tensor, type TensorType, type TensorData } from './tensor.js';
export { SparqError, type SparqErrorCode } from './errors.js';
export { backend, type BackendInfo } from './backend.js';
import * as kernels from './kernels.js';
export { kernels };
export type { PackedWeights, PackOptions, MatmulOptions, WeightFormat, Activation } from './kernels.js';
export { Model, loadModel, saveModel, type WeightFormatSpec } from './model.js';
export { InferenceSession, type SessionOptions } from './session.js';
