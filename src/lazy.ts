// The public functions an inference service never calls, loaded on their first call: compression,
// training and the benchmark are ~45 modules (and tinybench) that `import('sparq')` would otherwise
// load and compile before the first InferenceSession. Each is async already, so a wrapper that
// awaits its module's import keeps the signature (the types below are the modules' own).
import type * as Benchmark from './bench/benchmark.js';
import type * as Compress from './compress/compress.js';
import type * as Prune from './compress/prune.js';
import type * as Quantize from './compress/quantize.js';
import type * as Distill from './train/distill.js';
import type * as Train from './train/train.js';

/** Prunes a model's linear layers (src/compress/prune.ts). */
export const prune: typeof Prune.prune = async (...args) => (await import('./compress/prune.js')).prune(...args);

/** Quantizes a model's linear layers to int8 (src/compress/quantize.ts). */
export const quantize: typeof Quantize.quantize = async (...args) => (await import('./compress/quantize.js')).quantize(...args);

/** Runs compression passes and reports what each did (src/compress/compress.ts). */
export const compress: typeof Compress.compress = async (...args) => (await import('./compress/compress.js')).compress(...args);

/** Trains a model (src/train/train.ts). */
export const train: typeof Train.train = async (...args) => (await import('./train/train.js')).train(...args);

/** Distills a teacher into a student (src/train/distill.ts). */
export const distill: typeof Distill.distill = async (...args) => (await import('./train/distill.js')).distill(...args);

/** Benchmarks a model on sparq against onnxruntime-node (src/bench/benchmark.ts). */
export const benchmark: typeof Benchmark.benchmark = async (...args) => (await import('./bench/benchmark.js')).benchmark(...args);
