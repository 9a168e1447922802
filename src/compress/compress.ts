// compress(model, passes, { calibration, labels, evaluate }) → { model, report }: runs prune / train
// (fine-tuning) / quantize passes in order, then measures what came out — per-layer kernel formats and
// bytes from a real session, sizes of the .sparq file and the exported ONNX, output drift against the
// original on the calibration inputs, accuracy when labels are given.
import { typeError } from '../errors.js';
import { Model } from '../model.js';
import { InferenceSession } from '../session.js';
import { Tensor } from '../tensor.js';
import { checkObject } from '../validate.js';
import { exportOnnx } from '../io/export-onnx.js';
import { encodeSparqModel } from '../io/sparq-model.js';
import { encodeWeight } from '../io/sparq-weights.js';
import { train } from '../train/train.js';
import type { TrainOptions } from '../train/options.js';
import type { TrainData } from '../train/data.js';
import { type Calibration, type Feeds, calibrationBatches, outputsOf } from './calibration.js';
import { weightLayers, weightOf } from './layers.js';
import { accuracy, outputDrift } from './metrics.js';
import { type PruneOptions, prune } from './prune.js';
import { type QuantizeOptions, quantizationOf, quantize, withQuantization } from './quantize.js';
import { quantizeWeights } from './quantize-math.js';
import { quantizeGroupwise } from './quantize-weight-only.js';
import { CompressionReport, type LayerReport, type PassReport } from './report.js';

/** Fine-tuning: train()'s options plus its data; pruned weights stay zero. */
export type FinetuneOptions = TrainOptions & { data: TrainData };

export type CompressPass = { prune: PruneOptions } | { quantize: QuantizeOptions } | { finetune: FinetuneOptions };

export interface CompressOptions {
  /** Model feeds: one batch or an array of batches. Used by passes that need calibration and for the drift. */
  calibration?: Calibration;
  /** Class labels of the calibration rows (one Tensor, or one per batch): the report gives accuracy. */
  labels?: Tensor | readonly Tensor[];
  /** A score of a model (higher is better, e.g. held-out accuracy), reported before and after. */
  evaluate?: (model: Model) => number | Promise<number>;
  /** Threads for the sessions compress() runs. */
  threads?: number;
  signal?: AbortSignal;
}

export async function compress(model: Model, passes: readonly CompressPass[], options: CompressOptions = {}): Promise<{ model: Model; report: CompressionReport }> {
  if (!(model instanceof Model)) throw typeError('a Model (from loadModel)', 'model', model);
  if (!Array.isArray(passes)) throw typeError('an array of passes like { prune: {...} }, { quantize: {...} }', 'passes', passes);
  const o = checkObject(options ?? {}, 'options') as CompressOptions;
  const batches: Feeds[] | null = o.calibration === undefined ? null : calibrationBatches(o.calibration, model, 'options.calibration');
  const labels = o.labels === undefined ? null : Array.isArray(o.labels) ? o.labels : [o.labels as Tensor];
  if (labels && (!batches || labels.length !== batches.length || !labels.every((l) => l instanceof Tensor))) throw typeError('one label Tensor per calibration batch', 'options.labels', o.labels);
  if (o.evaluate !== undefined && typeof o.evaluate !== 'function') throw typeError('a function (model) => score', 'options.evaluate', o.evaluate);
  passes.forEach((p, i) => {
    const keys = p && typeof p === 'object' ? Object.keys(p) : [];
    if (keys.length !== 1 || !['prune', 'quantize', 'finetune'].includes(keys[0])) throw typeError("one of { prune: {...} }, { quantize: {...} }, { finetune: {...} }", `passes[${i}]`, p);
  });

  const run = { threads: o.threads, signal: o.signal };
  let current = model;
  const passReports: PassReport[] = [];
  for (const p of passes) {
    const t0 = performance.now();
    let name: string;
    let popts: Record<string, unknown>;
    if ('prune' in p) {
      name = 'prune';
      popts = { ...p.prune };
      current = await prune(current, { calibration: o.calibration, threads: o.threads, signal: o.signal, ...p.prune });
    } else if ('quantize' in p) {
      name = 'quantize';
      popts = { ...p.quantize };
      current = await quantize(current, { calibration: o.calibration, threads: o.threads, signal: o.signal, ...p.quantize });
    } else {
      name = 'finetune';
      popts = { ...p.finetune };
      current = await finetune(current, p.finetune);
    }
    passReports.push({ pass: name, options: popts, seconds: (performance.now() - t0) / 1000 });
  }

  // Measurements.
  const before = batches ? await outputsOf(model, batches, run) : null;
  const after = batches ? await outputsOf(current, batches, run) : null;
  const acc = (outs: Record<string, Tensor>[]) => {
    let right = 0;
    let total = 0;
    outs.forEach((out, i) => {
      const logits = out[model.outputs[0].name];
      right += accuracy(logits, labels![i]) * labels![i].size;
      total += labels![i].size;
    });
    return right / total;
  };
  const layers = await layerReports(current, run.threads);
  const params = layers.reduce((a, l) => a + l.params, 0);
  const nonzeros = layers.reduce((a, l) => a + l.nonzeros, 0);
  const bytesBefore = model.toOnnx().length;
  const bytesAfter = encodeSparqModel(current).length;
  const report = new CompressionReport(layers, {
    bytesBefore,
    bytesAfter,
    onnxBytesAfter: exportOnnx(current).length,
    compressionRatio: bytesBefore / bytesAfter,
    params,
    nonzeros,
    sparsity: params ? 1 - nonzeros / params : 0,
    drift: before && after ? outputDrift(before, after) : null,
    ...(labels && before && after ? { accuracyBefore: acc(before), accuracyAfter: acc(after) } : {}),
    ...(o.evaluate ? { scoreBefore: await o.evaluate(model), scoreAfter: await o.evaluate(current) } : {}),
  }, passReports);
  return { model: current, report };
}

/** train() with pruned zeros kept; kernel formats and the quantization record carried over. */
async function finetune(model: Model, options: FinetuneOptions): Promise<Model> {
  const o = checkObject(options, 'finetune') as unknown as FinetuneOptions;
  const { data, ...trainOptions } = o;
  if (quantizationOf(model).size > 0) throw typeError('a model not yet quantized (fine-tune before the quantize pass)', 'model', model);
  const r = await train(model, data, { keepZeros: true, ...trainOptions });
  return Model.fromGraph(r.model.graph, { metadata: withQuantization(model.metadata, new Map()), weightFormats: model.weightFormats });
}

/** Per linear layer: what it holds and what the session made of it. */
async function layerReports(model: Model, threads?: number): Promise<LayerReport[]> {
  const quant = quantizationOf(model);
  const session = await InferenceSession.create(model, { threads });
  try {
    const packed = session.weights;
    return weightLayers(model.graph).map((l) => {
      const W = weightOf(model.graph, l);
      let nz = 0;
      for (let i = 0; i < W.length; i++) if (W[i] !== 0) nz++;
      const q = quant.get(l.weight);
      const pw = packed.get(l.weight) ?? [...packed].find(([k]) => k.startsWith(l.weight))?.[1];
      const groupwise = q?.groupSize ? quantizeGroupwise(W, l.K, l.N, { bits: q.bits, groupSize: q.groupSize, symmetric: q.symmetric ?? true }) : null;
      const fileBytes = groupwise ? groupwise.packedBytes : (q ? encodeWeight({ K: l.K, N: l.N, s8: quantizeWeights(W, l.K, l.N, q.perChannel) }) : encodeWeight({ K: l.K, N: l.N, f32: W })).bytes.length;
      return {
        node: l.node.name,
        weight: l.weight,
        K: l.K,
        N: l.N,
        params: l.K * l.N,
        nonzeros: nz,
        sparsity: 1 - nz / (l.K * l.N),
        dtype: q ? (q.bits === 4 ? 'int4' : 'int8') : 'fp32',
        format: pw?.format ?? 'unpacked',
        packedBytes: pw?.bytes ?? 0,
        fileBytes,
      } satisfies LayerReport;
    });
  } finally {
    await session.release();
  }
}
