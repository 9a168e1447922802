// Optimizers: Adam / AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019) and SGD with (Nesterov)
// momentum. One pass over each parameter per step; masked (pruned) entries are held at zero.
import type { Param } from './graph.js';

export interface AdamConfig {
  type: 'adam' | 'adamw';
  beta1: number;
  beta2: number;
  eps: number;
  /** adam: L2 added to the gradient; adamw: decoupled decay of the weights. */
  weightDecay: number;
}
export interface SgdConfig {
  type: 'sgd';
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}
export type OptimizerConfig = AdamConfig | SgdConfig;

export interface Optimizer {
  step(params: Param[], lr: number): void;
}

export function createOptimizer(config: OptimizerConfig, params: Param[]): Optimizer {
  return config.type === 'sgd' ? new Sgd(config, params) : new Adam(config, params);
}

class Adam implements Optimizer {
  private m: Float32Array[];
  private v: Float32Array[];
  private t = 0;
  constructor(
    private readonly c: AdamConfig,
    params: Param[],
  ) {
    this.m = params.map((p) => new Float32Array(p.value.length));
    this.v = params.map((p) => new Float32Array(p.value.length));
  }

  step(params: Param[], lr: number): void {
    this.t++;
    const { beta1, beta2, eps } = this.c;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    const stepSize = lr / bc1;
    const invBc2 = 1 / bc2;
    for (let pi = 0; pi < params.length; pi++) {
      const p = params[pi];
      const l2 = this.c.type === 'adam' && p.decay ? this.c.weightDecay : 0;
      const decoupled = this.c.type === 'adamw' && p.decay ? 1 - lr * this.c.weightDecay : 1;
      adamUpdate(p.value, p.grad, this.m[pi], this.v[pi], p.mask, beta1, beta2, eps, stepSize, invBc2, l2, decoupled);
    }
  }
}

/** One Adam update of w in place; masked entries are held at zero. Kept monomorphic for V8. */
function adamUpdate(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  mask: Uint8Array | null,
  beta1: number,
  beta2: number,
  eps: number,
  stepSize: number,
  invBc2: number,
  l2: number,
  decoupled: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const n = w.length;
  if (mask === null) {
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      const gi = g[i] + l2 * wi;
      const mi = beta1 * m[i] + c1 * gi;
      const vi = beta2 * v[i] + c2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = wi * decoupled - (stepSize * mi) / (Math.sqrt(vi * invBc2) + eps);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0) {
      w[i] = 0;
      continue;
    }
    const wi = w[i];
    const gi = g[i] + l2 * wi;
    const mi = beta1 * m[i] + c1 * gi;
    const vi = beta2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi * decoupled - (stepSize * mi) / (Math.sqrt(vi * invBc2) + eps);
  }
}

class Sgd implements Optimizer {
  private buf: Float32Array[];
  constructor(
    private readonly c: SgdConfig,
    params: Param[],
  ) {
    this.buf = params.map((p) => new Float32Array(p.value.length));
  }

  step(params: Param[], lr: number): void {
    const { momentum, nesterov } = this.c;
    params.forEach((p, pi) => {
      const w = p.value;
      const g = p.grad;
      const b = this.buf[pi];
      const mask = p.mask;
      const wd = p.decay ? this.c.weightDecay : 0;
      for (let i = 0; i < w.length; i++) {
        if (mask !== null && mask[i] === 0) {
          w[i] = 0;
          continue;
        }
        const gi = g[i] + wd * w[i];
        const bi = momentum * b[i] + gi;
        b[i] = bi;
        w[i] -= lr * (nesterov ? gi + momentum * bi : bi);
      }
    });
  }
}
