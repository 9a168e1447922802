// Integrated gradients (Sundararajan, Taly & Yan 2017), as Captum's IntegratedGradients computes it:
//   attribution_k = (x_k − b_k) · Σ_i w_i · ∂f/∂x_k (b + α_i (x − b))
// with the path points α_i and weights w_i of the chosen rule (quadrature.ts), every point one row of a
// single batched forward/backward. delta is the completeness gap Σ attributions − (f(x) − f(b)).
import type { InputGradients } from './gradients.js';
import { pathRule, type IgMethod } from './quadrature.js';

export interface IgResult {
  attributions: Float32Array;
  delta: number;
  /** f(x) and f(baseline) at the target. */
  atInput: number;
  atBaseline: number;
}

export function integratedGradients(grad: InputGradients, x: Float32Array, baseline: Float32Array, index: number, steps: number, method: IgMethod): IgResult {
  const K = grad.inputSize;
  const N = grad.outputSize;
  const { alphas, weights } = pathRule(method, steps);
  const rows = new Float32Array(steps * K);
  for (let i = 0; i < steps; i++) {
    const a = alphas[i];
    const o = i * K;
    for (let k = 0; k < K; k++) rows[o + k] = baseline[k] + a * (x[k] - baseline[k]);
  }
  const { grads } = grad.gradients(rows, steps, index);
  // Sum in float64: 50 weighted terms per feature.
  const total = new Float64Array(K);
  for (let i = 0; i < steps; i++) {
    const w = weights[i];
    const o = i * K;
    for (let k = 0; k < K; k++) total[k] += w * grads[o + k];
  }
  const attributions = new Float32Array(K);
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const v = (x[k] - baseline[k]) * total[k];
    attributions[k] = v;
    sum += v;
  }
  const ends = new Float32Array(2 * K);
  ends.set(x, 0);
  ends.set(baseline, K);
  const out = grad.forward(ends, 2);
  const atInput = out[index];
  const atBaseline = out[N + index];
  return { attributions, delta: sum - (atInput - atBaseline), atInput, atBaseline };
}

/** Saliency (Simonyan et al. 2014): the gradient of the target at the input, absolute by default (Captum's abs=True). */
export function saliency(grad: InputGradients, x: Float32Array, index: number, abs: boolean): Float32Array {
  const { grads } = grad.gradients(x, 1, index);
  if (abs) for (let k = 0; k < grads.length; k++) grads[k] = Math.abs(grads[k]);
  return grads;
}
