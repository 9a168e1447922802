// sparq's public API. Only exports live here.
export { Tensor, type TensorType, type TensorData } from './tensor.js';
export { SparqError, type SparqErrorCode } from './errors.js';
export { backend, type BackendInfo } from './backend.js';
import * as kernels from './kernels.js';
export { kernels };
export type { PackedWeights, PackOptions, MatmulOptions, WeightFormat, Activation } from './kernels.js';
export { Model, loadModel, saveModel, type WeightFormatSpec } from './model.js';
export { InferenceSession, type SessionOptions } from './session.js';
// Compression, training and the benchmark load on first call (src/lazy.ts).
export { prune, quantize, compress, train, distill, benchmark } from './lazy.js';
export type { PruneOptions } from './compress/prune.js';
export type { QuantizeOptions, QuantizeMode } from './compress/quantize.js';
export type { CompressPass, CompressOptions, FinetuneOptions } from './compress/compress.js';
export { CompressionReport, type LayerReport, type ModelReport } from './compress/report.js';
export type { Calibration } from './compress/calibration.js';
export type { PruneMethod, PrunePattern } from './compress/masks.js';
export type { SparqWriteOptions } from './io/sparq-model.js';
export type { OnnxExportOptions } from './io/export-onnx.js';
export type { TrainResult } from './train/train.js';
export type { DistillOptions, DistillResult, StudentSpec } from './train/distill.js';
export { mlp, type MlpSpec } from './train/mlp.js';
export { TRAINABLE_OPS } from './train/trainable-ops.js';
export type { TrainOptions, PruneOptions as TrainPruneOptions, EpochStats } from './train/options.js';
export type { Batch, TrainData } from './train/data.js';
export { loadMnist, type MnistSplit } from './data/mnist.js';
export type { BenchmarkOptions, BenchmarkResult, BenchmarkCase } from './bench/benchmark.js';
export { explain, type ExplainOptions, type Explanation, type ExplainMethod, type TargetSpec } from './explain/lazy.js';
export { generate, generateStream, type GenerateOptions, type GenerateResult, type GenerateStep, type GenerateTimings, type Tokenizer } from './generate/lazy.js';
