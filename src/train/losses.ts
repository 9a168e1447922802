// Losses and their gradients with respect to the network's output, averaged over the batch.
// Each returns the batch's summed loss (so epochs average exactly) and writes the gradient of the
// batch-mean loss into `grad`.
import { softmaxRows } from './network.js';

/** Softmax cross-entropy over logits[M, N] and class ids. */
export function crossEntropy(logits: Float32Array, labels: Int32Array, M: number, N: number, grad: Float32Array): number {
  const p = softmaxRows(logits, M, N, grad);
  let loss = 0;
  const inv = 1 / M;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    const y = labels[i];
    loss -= Math.log(Math.max(p[o + y], 1e-30));
    for (let j = 0; j < N; j++) p[o + j] *= inv;
    p[o + y] -= inv;
  }
  return loss;
}

/** Mean squared error over all M·N outputs (PyTorch's MSELoss reduction); targets[M, N]. */
export function meanSquaredError(out: Float32Array, targets: Float32Array, M: number, N: number, grad: Float32Array): number {
  let loss = 0;
  const scale = 2 / (M * N);
  for (let i = 0; i < M * N; i++) {
    const d = out[i] - targets[i];
    loss += d * d;
    grad[i] = scale * d;
  }
  return loss / N;
}

/**
 * Knowledge distillation (Hinton et al. 2015): α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(s, labels),
 * on student logits s and teacher logits t. Labels are class ids or, for mixed inputs, label distributions
 * [M, N]; without labels the CE term is dropped (α taken as 1).
 */
export function distillationLoss(
  student: Float32Array,
  teacher: Float32Array,
  labels: Int32Array | Float32Array | null,
  M: number,
  N: number,
  temperature: number,
  alpha: number,
  grad: Float32Array,
): number {
  const a = labels ? alpha : 1;
  const T = temperature;
  const ps = softmaxRows(student, M, N, new Float32Array(M * N), 1 / T);
  const pt = softmaxRows(teacher, M, N, new Float32Array(M * N), 1 / T);
  let loss = 0;
  // d/ds of T²·KL is T·(ps − pt); the batch mean divides by M.
  const kScale = (a * T) / M;
  for (let i = 0; i < M * N; i++) {
    const q = pt[i];
    if (q > 0) loss += a * T * T * q * (Math.log(q) - Math.log(Math.max(ps[i], 1e-30)));
    grad[i] = kScale * (ps[i] - q);
  }
  if (labels && a < 1) {
    const p = softmaxRows(student, M, N, new Float32Array(M * N));
    const cScale = (1 - a) / M;
    const soft = labels instanceof Float32Array ? labels : null;
    for (let i = 0; i < M; i++) {
      const o = i * N;
      for (let j = 0; j < N; j++) {
        const q = soft ? soft[o + j] : j === (labels as Int32Array)[i] ? 1 : 0;
        if (q > 0) loss -= (1 - a) * q * Math.log(Math.max(p[o + j], 1e-30));
        grad[o + j] += cScale * (p[o + j] - q);
      }
    }
  }
  return loss;
}

/** Count of rows whose argmax equals the label. */
export function correctCount(out: Float32Array, labels: Int32Array, M: number, N: number): number {
  let correct = 0;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let best = 0;
    for (let j = 1; j < N; j++) if (out[o + j] > out[o + best]) best = j;
    if (best === labels[i]) correct++;
  }
  return correct;
}
