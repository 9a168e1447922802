// sparq's public API. Only exports live here.
export { Tensor, type TensorType, type TensorData } from './tensor.js';
export { SparqError, type SparqErrorCode } from './errors.js';
export { backend, type BackendInfo } from './backend.js';
import * as kernels from './kernels.js';
export { kernels };
export type { PackedWeights, PackOptions, MatmulOptions, WeightFormat, Activation } from './kernels.js';
export { Model, loadModel, saveModel, type WeightFormatSpec } from './model.js';
export { InferenceSession, type SessionOptions } from './session.js';
export { prune, type PruneOptions } from './compress/prune.js';
export { quantize, type QuantizeOptions, type QuantizeMode } from './compress/quantize.js';
export { compress, type CompressPass, type CompressOptions, type FinetuneOptions } from './compress/compress.js';
export { CompressionReport, type LayerReport, type ModelReport } from './compress/report.js';
export type { Calibration } from './compress/calibration.js';
export type { PruneMethod, PrunePattern } from './compress/masks.js';
export type { SparqWriteOptions } from './io/sparq-model.js';
export type { OnnxExportOptions } from './io/export-onnx.js';
