// distill(teacher, { student, data, temperature, alpha, ... }): knowledge distillation (Hinton, Vinyals &
// Dean 2015). The student learns the teacher's softened outputs, α·T²·KL(softmax(t/T) ‖ softmax(s/T)),
// plus (1 − α) of the ordinary cross-entropy when labels are given. The teacher runs on sparq's runtime
// (InferenceSession), so any model it runs can teach; the student must be a trainable chain.
import { SparqError, typeError } from '../errors.js';
import { checkInteger, checkNumber, checkObject, checkOneOf } from '../validate.js';
import type { Rows, TrainData } from './data.js';
import { fit, type Task } from './fit.js';
import { parseTrainable, type TrainableGraph } from './graph.js';
import { distillationLoss } from './losses.js';
import { MLP_ACTIVATIONS, mlpOnnx } from './mlp.js';
import type { Model } from '../model.js';
import { asModel, modelBytes, trainedModel, type ModelInput } from './model-io.js';
import { Teacher } from './teacher.js';
import { betaSymmetric, shuffleInPlace } from './random.js';
import { resolveOptions, type EpochStats, type TrainOptions } from './options.js';

/** A student MLP built to the teacher's input and output sizes. */
export interface StudentSpec {
  hidden: number[];
  activation?: (typeof MLP_ACTIVATIONS)[number];
  /** Initialisation seed (default: options.seed). */
  seed?: number;
}

export interface DistillOptions extends Omit<TrainOptions, 'loss'> {
  /** The model to train (ONNX bytes or a Model) or a spec of an MLP to build. */
  student: ModelInput | StudentSpec;
  data: TrainData;
  /** Softmax temperature T (default 4). */
  temperature?: number;
  /** Weight of the distillation term (default 0.9; 1 when the data has no labels). */
  alpha?: number;
  /**
   * Mixup (Zhang et al. 2018) for the transfer set: each step trains on convex mixes λ·x_i + (1 − λ)·x_j of
   * the batch's rows with λ ~ Beta(mixup, mixup), labelled by the teacher (and by the mixed labels). The
   * teacher's knowledge then covers the space between examples. 0 (default) turns it off.
   */
  mixup?: number;
}

export interface DistillResult {
  /** The trained student. */
  model: Model;
  history: EpochStats[];
}

function studentGraph(student: unknown, teacher: Teacher, seed: number): TrainableGraph {
  const isSpec = student !== null && typeof student === 'object' && !(student instanceof Uint8Array) && 'hidden' in student;
  if (!isSpec) {
    const graph = parseTrainable(modelBytes(student, 'options.student'));
    if (graph.inputSize !== teacher.inputSize || graph.outputSize !== teacher.outputSize)
      throw new SparqError(
        'ERR_SHAPE_MISMATCH',
        `The student maps ${graph.inputSize} → ${graph.outputSize} features but the teacher maps ${teacher.inputSize} → ${teacher.outputSize}`,
      );
    return graph;
  }
  const spec = student as StudentSpec;
  if (!Array.isArray(spec.hidden)) throw typeError('an array of layer widths', 'options.student.hidden', spec.hidden);
  return parseTrainable(
    mlpOnnx({
      inputs: teacher.inputSize,
      hidden: spec.hidden,
      outputs: teacher.outputSize,
      activation: spec.activation === undefined ? 'relu' : checkOneOf(spec.activation, 'options.student.activation', MLP_ACTIVATIONS),
      seed: spec.seed === undefined ? seed : checkInteger(spec.seed, 'options.student.seed', 0, 2 ** 32 - 1),
    }),
  );
}

/** A batch of mixed rows, with mixed label distributions and the teacher's logits on the mixes. */
async function mixBatch(batch: Rows, a: number, uniform: () => number, teacher: Teacher, K: number, N: number): Promise<Rows> {
  const M = batch.rows;
  const partner = Int32Array.from({ length: M }, (_, i) => i);
  shuffleInPlace(partner, uniform);
  const x = new Float32Array(M * K);
  const soft = batch.classes ? new Float32Array(M * N) : null;
  for (let i = 0; i < M; i++) {
    const lam = betaSymmetric(a, uniform);
    const mu = 1 - lam;
    const oi = i * K;
    const oj = partner[i] * K;
    for (let k = 0; k < K; k++) x[oi + k] = lam * batch.x[oi + k] + mu * batch.x[oj + k];
    if (soft) {
      soft[i * N + (batch.classes as Int32Array)[i]] += lam;
      soft[i * N + (batch.classes as Int32Array)[partner[i]]] += mu;
    }
  }
  return { rows: M, x, classes: null, targets: soft, teacher: await teacher.logits(x, M) };
}

export async function distill(teacher: ModelInput, options: DistillOptions): Promise<DistillResult> {
  const o = checkObject(options, 'options') as unknown as DistillOptions;
  const { student, data, temperature, alpha, mixup, ...rest } = o;
  const opts = resolveOptions(rest);
  const T = temperature === undefined ? 4 : checkNumber(temperature, 'options.temperature', 1e-3, 1e3);
  const a = alpha === undefined ? 0.9 : checkNumber(alpha, 'options.alpha', 0, 1);
  const mix = mixup === undefined ? 0 : checkNumber(mixup, 'options.mixup', 0, 100);
  if (data === undefined) throw typeError('training data { inputs, labels? } or an async iterable of batches', 'options.data', data);

  const teacherModel = asModel(teacher, 'teacher');
  const teacherRunner = await Teacher.create(teacherModel, opts.threads);
  try {
    const graph = studentGraph(student, teacherRunner, opts.seed);
    const history = await fit(graph, data, opts, distillationTask(teacherRunner, graph, T, a, mix, opts.augment !== undefined));
    return { model: trainedModel(graph.toOnnx()), history };
  } finally {
    await teacherRunner.release();
  }
}

function distillationTask(teacher: Teacher, graph: TrainableGraph, T: number, a: number, mix: number, augmented: boolean): Task {
  const N = graph.outputSize;

  const task: Task = {
    labelsRequired: false,
    async prepare(rows: Rows): Promise<Rows> {
      // Without mixup or augmentation the teacher sees each row as is: its logits are computed once, up front.
      return rows.teacher || mix > 0 || augmented ? rows : { ...rows, teacher: await teacher.logits(rows.x, rows.rows) };
    },
    logits: () => true,
    loss(out, rows, M, _N, grad) {
      return distillationLoss(out, rows.teacher as Float32Array, rows.classes ?? rows.targets, M, N, T, a, grad);
    },
  };
  // Mixed or augmented inputs are new to the teacher: it labels each batch as it comes.
  if (mix > 0) task.augment = (batch, uniform) => mixBatch(batch, mix, uniform, teacher, graph.inputSize, N);
  else if (augmented) task.augment = async (batch) => ({ ...batch, teacher: await teacher.logits(batch.x, batch.rows) });
  return task;
}
