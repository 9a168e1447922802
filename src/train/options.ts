// Validation of train()/distill() options into complete configurations (defaults filled in).
import { rangeError, typeError } from '../errors.js';
import { checkBoolean, checkInteger, checkNumber, checkObject, checkOneOf } from '../validate.js';
import type { OptimizerConfig } from './optimizers.js';
import { PRUNE_BLOCKS, type PruneBlock, type PruneConfig, type PrunePattern } from './pruning.js';
import type { LrSchedule, PruneSchedule } from './schedules.js';

export interface EpochStats {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  /** Training accuracy over the epoch (class labels only). */
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Learning rate at the epoch's last step. */
  learningRate: number;
  /** Pruned share of the weight matrices at the epoch's end (when pruning or masks are active). */
  sparsity?: number;
  steps: number;
  seconds: number;
}

export interface PruneOptions {
  /** Target share of zero weights in every weight matrix, in [0, 1). */
  sparsity: number;
  /**
   * 'unstructured' (default); '2:4' (at most 2 of every 4 consecutive k per output; sparsity 0.5); 'block'
   * (whole aligned blocks, the shape of sparq's block kernels, ranked by L2 norm).
   */
  pattern?: PrunePattern;
  /** pattern 'block': '1x4' (4 consecutive k of one output, the int8 sparse kernels' unit; default), '4x1', '8x1', '16x1' (outputs). */
  block?: PruneBlock;
  /**
   * 'global' (default): one magnitude threshold over all weight matrices, so layers with more redundancy
   * give up more (on LeNet-300-100 one-shot 90% keeps 91.9% test accuracy, per-layer 51%); 'layer': every
   * matrix reaches the target sparsity (Zhu & Gupta's setting).
   */
  scope?: 'layer' | 'global';
  /** 'cubic' (Zhu & Gupta 2017, default), 'linear' or 'oneshot', or the full schedule. */
  schedule?: 'cubic' | 'linear' | 'oneshot' | Partial<PruneSchedule>;
}

export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** 'adam' (default), 'adamw', 'sgd', or a configuration object. */
  optimizer?: 'adam' | 'adamw' | 'sgd' | ({ type: 'adam' | 'adamw' | 'sgd' } & Partial<Record<'beta1' | 'beta2' | 'eps' | 'weightDecay' | 'momentum', number>> & { nesterov?: boolean });
  weightDecay?: number;
  /** SGD momentum (0.9 by default). */
  momentum?: number;
  /** Learning-rate schedule: 'constant' (default), 'cosine', 'linear', 'step', or a configuration object. */
  schedule?: 'constant' | 'cosine' | 'linear' | 'step' | { type: 'constant' | 'cosine' | 'linear' | 'step'; minLr?: number; warmup?: number; stepEpochs?: number; gamma?: number };
  /** 'cross-entropy' (default for class ids) or 'mse' (default for float targets). */
  loss?: 'cross-entropy' | 'mse';
  /** Seeds shuffling (and initialisation where there is any). Same seed, same weights. */
  seed?: number;
  shuffle?: boolean;
  validation?: { inputs: unknown; labels?: unknown };
  onEpoch?: (stats: EpochStats) => void | Promise<void>;
  signal?: AbortSignal;
  prune?: PruneOptions;
  /** Zeros already in the weight matrices stay zero (a pruned model stays pruned). Default true. */
  keepZeros?: boolean;
  /** Threads for the native products (default: the pool's size). */
  threads?: number;
  /**
   * Data augmentation: called on every training batch's inputs (rows × features, row-major) with a seeded
   * uniform source; returns the inputs to train on (same size). Distillation labels them with the teacher.
   */
  augment?: (inputs: Float32Array, rows: number, random: () => number) => Float32Array;
}

export interface ResolvedOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: OptimizerConfig;
  schedule: LrSchedule;
  loss: 'cross-entropy' | 'mse' | null;
  seed: number;
  shuffle: boolean;
  validation: { inputs: unknown; labels?: unknown } | undefined;
  onEpoch: ((stats: EpochStats) => void | Promise<void>) | undefined;
  signal: AbortSignal | undefined;
  prune: { config: PruneConfig; schedule: PruneSchedule } | null;
  keepZeros: boolean;
  threads: number;
  augment: TrainOptions['augment'];
}

export function resolveOptions(options: unknown, name = 'options'): ResolvedOptions {
  const o = checkObject(options ?? {}, name) as TrainOptions & Record<string, unknown>;
  const epochs = o.epochs === undefined ? 10 : checkInteger(o.epochs, `${name}.epochs`, 1, 1e6);
  const batchSize = o.batchSize === undefined ? 32 : checkInteger(o.batchSize, `${name}.batchSize`, 1, 1 << 20);

  const optRaw = o.optimizer ?? 'adam';
  const opt = typeof optRaw === 'string' ? { type: optRaw } : (checkObject(optRaw, `${name}.optimizer`) as Exclude<TrainOptions['optimizer'], string | undefined>);
  const type = checkOneOf(opt.type, `${name}.optimizer${typeof optRaw === 'string' ? '' : '.type'}`, ['adam', 'adamw', 'sgd'] as const);
  const weightDecay = num(opt.weightDecay ?? o.weightDecay, `${name}.weightDecay`, 0, 1, type === 'adamw' ? 0.01 : 0);
  let optimizer: OptimizerConfig;
  if (type === 'sgd') {
    optimizer = {
      type,
      momentum: num(opt.momentum ?? o.momentum, `${name}.momentum`, 0, 0.9999, 0.9),
      nesterov: opt.nesterov === undefined ? false : checkBoolean(opt.nesterov, `${name}.optimizer.nesterov`),
      weightDecay,
    };
  } else {
    optimizer = {
      type,
      beta1: num(opt.beta1, `${name}.optimizer.beta1`, 0, 0.9999, 0.9),
      beta2: num(opt.beta2, `${name}.optimizer.beta2`, 0, 0.999999, 0.999),
      eps: num(opt.eps, `${name}.optimizer.eps`, 1e-12, 1, 1e-8),
      weightDecay,
    };
  }
  const learningRate = num(o.learningRate, `${name}.learningRate`, 1e-9, 10, type === 'sgd' ? 0.01 : 1e-3);

  const sRaw = o.schedule ?? 'constant';
  const s = typeof sRaw === 'string' ? { type: sRaw } : (checkObject(sRaw, `${name}.schedule`) as Exclude<TrainOptions['schedule'], string | undefined>);
  const sType = checkOneOf(s.type, `${name}.schedule${typeof sRaw === 'string' ? '' : '.type'}`, ['constant', 'cosine', 'linear', 'step'] as const);
  const warmup = num(s.warmup, `${name}.schedule.warmup`, 0, epochs, 0);
  const minLr = num(s.minLr, `${name}.schedule.minLr`, 0, learningRate, 0);
  const schedule: LrSchedule =
    sType === 'step'
      ? { type: 'step', warmup, stepEpochs: num(s.stepEpochs, `${name}.schedule.stepEpochs`, 1e-6, 1e6, Math.max(1, Math.round(epochs / 3))), gamma: num(s.gamma, `${name}.schedule.gamma`, 0, 1, 0.1) }
      : sType === 'constant'
        ? { type: 'constant', warmup }
        : { type: sType, warmup, minLr };

  const loss = o.loss === undefined ? null : checkOneOf(o.loss, `${name}.loss`, ['cross-entropy', 'mse'] as const);
  const seed = o.seed === undefined ? 0 : checkInteger(o.seed, `${name}.seed`, 0, 2 ** 32 - 1);
  const shuffle = o.shuffle === undefined ? true : checkBoolean(o.shuffle, `${name}.shuffle`);
  const validation = o.validation === undefined ? undefined : (checkObject(o.validation, `${name}.validation`) as ResolvedOptions['validation']);
  if (o.onEpoch !== undefined && typeof o.onEpoch !== 'function') throw typeError('a function', `${name}.onEpoch`, o.onEpoch);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('an AbortSignal', `${name}.signal`, o.signal);
  const keepZeros = o.keepZeros === undefined ? true : checkBoolean(o.keepZeros, `${name}.keepZeros`);
  const threads = o.threads === undefined ? 0 : checkInteger(o.threads, `${name}.threads`, 1, 1024);
  if (o.augment !== undefined && typeof o.augment !== 'function') throw typeError('a function', `${name}.augment`, o.augment);

  return {
    epochs,
    batchSize,
    learningRate,
    optimizer,
    schedule,
    loss,
    seed,
    shuffle,
    validation,
    onEpoch: o.onEpoch,
    signal: o.signal,
    prune: o.prune === undefined ? null : resolvePrune(o.prune, `${name}.prune`, epochs),
    keepZeros,
    threads,
    augment: o.augment,
  };
}

function num(v: unknown, name: string, min: number, max: number, fallback: number): number {
  return v === undefined ? fallback : checkNumber(v, name, min, max);
}

function resolvePrune(raw: unknown, name: string, epochs: number): { config: PruneConfig; schedule: PruneSchedule } {
  const p = checkObject(raw, name) as unknown as PruneOptions;
  const sparsity = checkNumber(p.sparsity, `${name}.sparsity`, 0, 0.999);
  const pattern = p.pattern === undefined ? 'unstructured' : checkOneOf(p.pattern, `${name}.pattern`, ['unstructured', '2:4', 'block'] as const);
  const block = p.block === undefined ? '1x4' : checkOneOf(p.block, `${name}.block`, PRUNE_BLOCKS);
  if (pattern === '2:4' && sparsity !== 0.5) throw rangeError("sparsity 0.5 with pattern '2:4'", `${name}.sparsity`, sparsity);
  const scope = p.scope === undefined ? 'global' : checkOneOf(p.scope, `${name}.scope`, ['layer', 'global'] as const);
  const sRaw = p.schedule ?? 'cubic';
  const s = typeof sRaw === 'string' ? { type: sRaw } : (checkObject(sRaw, `${name}.schedule`) as Partial<PruneSchedule>);
  const type = checkOneOf(s.type ?? 'cubic', `${name}.schedule${typeof sRaw === 'string' ? '' : '.type'}`, ['cubic', 'linear', 'oneshot'] as const);
  // Zhu & Gupta prune over the first part of training and fine-tune with the mask fixed for the rest.
  const startEpoch = num(s.startEpoch, `${name}.schedule.startEpoch`, 0, epochs, 0);
  const endEpoch = num(s.endEpoch, `${name}.schedule.endEpoch`, startEpoch, epochs, type === 'oneshot' ? startEpoch : Math.max(startEpoch, epochs * 0.6));
  const initialSparsity = num(s.initialSparsity, `${name}.schedule.initialSparsity`, 0, sparsity, 0);
  const frequency = s.frequency === undefined ? 20 : checkInteger(s.frequency, `${name}.schedule.frequency`, 1, 1e9);
  return { config: { sparsity, pattern, scope, block }, schedule: { type, startEpoch, endEpoch, initialSparsity, frequency } };
}
