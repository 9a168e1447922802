// The training loop shared by train() and distill(): data checks before the first step, seeded
// shuffling, minibatches, the learning-rate and pruning schedules, validation, callbacks, cancellation.
import { SparqError } from '../errors.js';
import { checkBatch, gather, isAsyncIterable, type Batch, type Rows, type TrainData } from './data.js';
import type { TrainableGraph } from './graph.js';
import { correctCount, crossEntropy, meanSquaredError } from './losses.js';
import { Network } from './network.js';
import type { EpochStats, ResolvedOptions } from './options.js';
import { createOptimizer } from './optimizers.js';
import { maskExistingZeros, measuredSparsity, updateMasks } from './pruning.js';
import { deriveSeed, mulberry32, shuffleInPlace } from './random.js';
import { learningRate, targetSparsity } from './schedules.js';

/** How a task turns a batch into a loss (train: CE or MSE; distill: KL to the teacher plus CE). */
export interface Task {
  labelsRequired: boolean;
  /** Validates and completes rows (distill attaches teacher logits); called before any step on them. */
  prepare(rows: Rows, name: string): Promise<Rows> | Rows;
  /** Whether the loss reads logits (the forward pass stops before a trailing Softmax). */
  logits(rows: Rows): boolean;
  /** Sum of the batch's losses; writes d(mean loss)/d(output) into grad. */
  loss(out: Float32Array, rows: Rows, M: number, N: number, grad: Float32Array): number;
  /** Per-step transformation of a batch (distillation's mixup), drawing from the seeded source. */
  augment?(batch: Rows, uniform: () => number): Rows | Promise<Rows>;
}

/** The standard supervised task: softmax cross-entropy on class ids, or MSE on float (or one-hot) targets. */
export function supervisedTask(lossKind: 'cross-entropy' | 'mse' | null, outputs: number): Task {
  const kindOf = (rows: Rows): 'cross-entropy' | 'mse' => lossKind ?? (rows.classes ? 'cross-entropy' : 'mse');
  return {
    labelsRequired: true,
    prepare(rows, name) {
      if (kindOf(rows) === 'cross-entropy' && !rows.classes)
        throw new SparqError('ERR_INVALID_DATA', `${name}.labels are float targets; cross-entropy needs int32 or int64 class ids`);
      return rows;
    },
    logits: (rows) => kindOf(rows) === 'cross-entropy',
    loss(out, rows, M, N, grad) {
      if (kindOf(rows) === 'cross-entropy') return crossEntropy(out, rows.classes as Int32Array, M, N, grad);
      const targets = rows.targets ?? oneHotRows(rows.classes as Int32Array, outputs);
      return meanSquaredError(out, targets, M, N, grad);
    },
  };
}

function oneHotRows(classes: Int32Array, outputs: number): Float32Array {
  const t = new Float32Array(classes.length * outputs);
  for (let i = 0; i < classes.length; i++) t[i * outputs + classes[i]] = 1;
  return t;
}

function aborted(signal: AbortSignal): SparqError {
  return new SparqError('ERR_ABORTED', 'Training was aborted', { cause: signal.reason });
}

/** Evaluates the model on validation rows with the task's loss (CE for class ids, MSE for targets). */
function evaluate(net: Network, rows: Rows, N: number): { loss: number; accuracy?: number } {
  const task = supervisedTask(null, N);
  const logits = task.logits(rows);
  const out = net.predict(rows.x, rows.rows, { logits });
  const loss = task.loss(out, rows, rows.rows, N, new Float32Array(out.length)) / rows.rows;
  return rows.classes ? { loss, accuracy: correctCount(out, rows.classes, rows.rows, N) / rows.rows } : { loss };
}

export async function fit(graph: TrainableGraph, data: TrainData, opts: ResolvedOptions, task: Task): Promise<EpochStats[]> {
  const K = graph.inputSize;
  const N = graph.outputSize;
  const net = new Network(graph, opts.threads);
  const { signal } = opts;
  if (signal?.aborted) throw aborted(signal);

  // Everything is checked before the first step.
  let dataset: Rows | null = null;
  let stream: AsyncIterable<Batch> | null = null;
  if (isAsyncIterable(data)) stream = data;
  else dataset = await task.prepare(checkBatch(data, 'data', K, N, task.labelsRequired), 'data');
  const validation = opts.validation ? checkBatch(opts.validation, 'options.validation', K, N, true) : null;

  const params = graph.params;
  if (opts.keepZeros) maskExistingZeros(params);
  const optimizer = createOptimizer(opts.optimizer, params);
  const shuffleRandom = mulberry32(deriveSeed(opts.seed, 1));
  const augmentRandom = mulberry32(deriveSeed(opts.seed, 2));
  const userRandom = mulberry32(deriveSeed(opts.seed, 3));
  const userAugment = (rows: Rows): Float32Array => {
    const x = (opts.augment as NonNullable<ResolvedOptions['augment']>)(rows.x, rows.rows, userRandom);
    if (!(x instanceof Float32Array) || x.length !== rows.x.length)
      throw new SparqError('ERR_INVALID_DATA', `options.augment returned ${x instanceof Float32Array ? `${x.length} values` : 'something other than a Float32Array'}; it must return a Float32Array of ${rows.x.length} values`);
    return x;
  };
  const order = dataset ? Int32Array.from({ length: dataset.rows }, (_, i) => i) : null;

  const prune = opts.prune;
  let pruned = 0;
  const pruneTo = (epochPos: number, step: number, force: boolean): void => {
    if (!prune) return;
    const target = targetSparsity(prune.schedule, prune.config.sparsity, epochPos);
    if (target > pruned && (force || step % prune.schedule.frequency === 0 || epochPos >= prune.schedule.endEpoch)) {
      updateMasks(params, target, prune.config);
      pruned = target;
    }
  };

  const history: EpochStats[] = [];
  let stepsPerEpoch = dataset ? Math.ceil(dataset.rows / opts.batchSize) : 0;
  let globalStep = 0;
  let lastYield = performance.now();
  let lr = opts.learningRate;

  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const started = performance.now();
    let lossSum = 0;
    let correct = 0;
    let labelled = 0;
    let seen = 0;
    let step = 0;

    const runStep = async (raw: Rows): Promise<void> => {
      const augmented = opts.augment ? { ...raw, x: userAugment(raw) } : raw;
      const batch = task.augment ? await task.augment(augmented, augmentRandom) : augmented;
      const epochPos = epoch + (stepsPerEpoch > 0 ? Math.min(step / stepsPerEpoch, 1) : 0);
      pruneTo(epochPos, globalStep, false);
      lr = learningRate(opts.schedule, opts.learningRate, epochPos, opts.epochs);
      const M = batch.rows;
      const out = net.forward(batch.x, M, { train: true, logits: task.logits(batch) });
      const grad = new Float32Array(M * N);
      lossSum += task.loss(out, batch, M, N, grad);
      if (batch.classes) {
        correct += correctCount(out, batch.classes, M, N);
        labelled += M;
      }
      seen += M;
      net.backward(grad);
      optimizer.step(params, lr);
      step++;
      globalStep++;
      if (performance.now() - lastYield > 20) {
        // Let timers, I/O and abort signals through between steps.
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (signal?.aborted) throw aborted(signal);
    };

    if (dataset && order) {
      if (opts.shuffle) shuffleInPlace(order, shuffleRandom);
      for (let start = 0; start < dataset.rows; start += opts.batchSize) {
        await runStep(gather(dataset, order, start, Math.min(opts.batchSize, dataset.rows - start), K, N));
      }
    } else {
      for await (const raw of stream as AsyncIterable<Batch>) {
        const name = `data (batch ${step} of epoch ${epoch + 1})`;
        await runStep(await task.prepare(checkBatch(raw, name, K, N, task.labelsRequired), name));
      }
      if (step === 0) throw new SparqError('ERR_INVALID_DATA', `data yielded no batches in epoch ${epoch + 1}; pass an async iterable that can be iterated once per epoch`);
      stepsPerEpoch = step;
    }
    // The final model always has the target sparsity, even when the schedule runs to the last step.
    if (prune && epoch === opts.epochs - 1) pruneTo(opts.epochs, globalStep, true);

    const stats: EpochStats = { epoch: epoch + 1, loss: lossSum / seen, learningRate: lr, steps: step, seconds: 0 };
    if (labelled > 0) stats.accuracy = correct / labelled;
    if (validation) {
      const v = evaluate(net, validation, N);
      stats.valLoss = v.loss;
      if (v.accuracy !== undefined) stats.valAccuracy = v.accuracy;
    }
    if (prune || params.some((p) => p.mask)) stats.sparsity = measuredSparsity(params);
    stats.seconds = (performance.now() - started) / 1000;
    history.push(stats);
    if (opts.onEpoch) await opts.onEpoch(stats);
    if (signal?.aborted) throw aborted(signal);
  }
  return history;
}
