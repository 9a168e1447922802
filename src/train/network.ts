// Forward and backward passes of a trainable chain. Matrix products go to the native kernels
// (linalg.ts); the element-wise ops are tight loops over typed arrays, O(batch · width) per layer.
import type { Layer, TrainableGraph } from './graph.js';
import { matmulNN, matmulNT, matmulTN } from './linalg.js';

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf to ~1e-7 (W. J. Cody's erfc rational approximation), enough for float32 Gelu. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** Row-wise softmax of x[M, N] into out (may alias x). */
export function softmaxRows(x: Float32Array, M: number, N: number, out: Float32Array, invTemperature = 1): Float32Array {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let max = -Infinity;
    for (let j = 0; j < N; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < N; j++) {
      const e = Math.exp((x[o + j] - max) * invTemperature);
      out[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < N; j++) out[o + j] *= inv;
  }
  return out;
}

interface Cache {
  /** The layer's input (dense, gelu, layernorm) or output (relu, sigmoid, tanh, softmax). */
  saved: Float32Array;
  /** layernorm: 1/σ per row. */
  rstd?: Float32Array;
}

export interface ForwardOptions {
  /** Keep what backward() needs. */
  train?: boolean;
  /** Stop before a trailing Softmax (cross-entropy and distillation work on logits). */
  logits?: boolean;
  threads?: number;
}

export interface BackwardOptions {
  /** Also return the gradient with respect to the network's input (default false). */
  inputGrad?: boolean;
  /** Compute the parameters' gradients (default true). */
  paramGrads?: boolean;
}

export class Network {
  readonly graph: TrainableGraph;
  readonly layers: Layer[];
  private caches: (Cache | null)[] = [];
  private rows = 0;
  private ranLayers = 0;
  threads: number;

  constructor(graph: TrainableGraph, threads = 0) {
    this.graph = graph;
    this.layers = graph.layers;
    this.threads = threads;
  }

  /** True when the chain ends in Softmax (outputs are probabilities). */
  get endsInSoftmax(): boolean {
    return this.layers[this.layers.length - 1].kind === 'softmax';
  }

  /** x[M, inputSize] → output[M, outputSize]. */
  forward(x: Float32Array, M: number, opts: ForwardOptions = {}): Float32Array {
    const train = opts.train ?? false;
    const count = opts.logits && this.endsInSoftmax ? this.layers.length - 1 : this.layers.length;
    if (train) {
      this.caches = new Array(count).fill(null);
      this.rows = M;
      this.ranLayers = count;
    }
    let h = x;
    for (let li = 0; li < count; li++) {
      const layer = this.layers[li];
      switch (layer.kind) {
        case 'dense': {
          if (train) this.caches[li] = { saved: h };
          const y = matmulNN(h, M, layer.K, layer.W.value, layer.N, layer.alpha, this.threads);
          if (layer.b) addBias(y, M, layer.N, layer.b.value, layer.beta);
          h = y;
          break;
        }
        case 'bias': {
          const y = Float32Array.from(h);
          addBias(y, M, layer.N, layer.b.value, 1);
          h = y;
          break;
        }
        case 'relu': {
          const y = new Float32Array(h.length);
          for (let i = 0; i < h.length; i++) y[i] = h[i] > 0 ? h[i] : 0;
          if (train) this.caches[li] = { saved: y };
          h = y;
          break;
        }
        case 'sigmoid': {
          const y = new Float32Array(h.length);
          for (let i = 0; i < h.length; i++) y[i] = 1 / (1 + Math.exp(-h[i]));
          if (train) this.caches[li] = { saved: y };
          h = y;
          break;
        }
        case 'tanh': {
          const y = new Float32Array(h.length);
          for (let i = 0; i < h.length; i++) y[i] = Math.tanh(h[i]);
          if (train) this.caches[li] = { saved: y };
          h = y;
          break;
        }
        case 'gelu': {
          const y = new Float32Array(h.length);
          for (let i = 0; i < h.length; i++) y[i] = 0.5 * h[i] * (1 + erf(h[i] * INV_SQRT2));
          if (train) this.caches[li] = { saved: h };
          h = y;
          break;
        }
        case 'softmax': {
          const N = h.length / M;
          const y = softmaxRows(h, M, N, new Float32Array(h.length));
          if (train) this.caches[li] = { saved: y };
          h = y;
          break;
        }
        case 'layernorm': {
          const { N, gamma, beta, eps } = layer;
          const y = new Float32Array(h.length);
          const xhat = new Float32Array(h.length);
          const rstd = new Float32Array(M);
          const g = gamma.value;
          const b = beta ? beta.value : null;
          for (let i = 0; i < M; i++) {
            const o = i * N;
            let mean = 0;
            for (let j = 0; j < N; j++) mean += h[o + j];
            mean /= N;
            let v = 0;
            for (let j = 0; j < N; j++) {
              const d = h[o + j] - mean;
              v += d * d;
            }
            const r = 1 / Math.sqrt(v / N + eps);
            rstd[i] = r;
            for (let j = 0; j < N; j++) {
              const n = (h[o + j] - mean) * r;
              xhat[o + j] = n;
              y[o + j] = n * g[j] + (b ? b[j] : 0);
            }
          }
          if (train) this.caches[li] = { saved: xhat, rstd };
          h = y;
          break;
        }
      }
    }
    return h;
  }

  /**
   * Back-propagates dOut (the gradient at the output of the last forward(train) pass) and writes every
   * parameter's gradient (overwriting, not accumulating). With `inputGrad` it also carries the gradient
   * through the first layer and returns d(out)/d(input) [M, inputSize] (explanations need it; training
   * skips that product); with `paramGrads: false` the weight gradients are not computed (their values
   * are then stale).
   */
  backward(dOut: Float32Array, opts: BackwardOptions = {}): Float32Array | undefined {
    const M = this.rows;
    const inputGrad = opts.inputGrad ?? false;
    const paramGrads = opts.paramGrads ?? true;
    let d = dOut;
    for (let li = this.ranLayers - 1; li >= 0; li--) {
      const layer = this.layers[li];
      const cache = this.caches[li];
      const isFirst = li === 0;
      switch (layer.kind) {
        case 'dense': {
          const x = (cache as Cache).saved;
          if (paramGrads) {
            layer.W.grad.set(matmulTN(x, M, layer.K, d, layer.N, layer.alpha, this.threads));
            if (layer.b) columnSums(d, M, layer.N, layer.b.grad, layer.beta);
          }
          if (!isFirst || inputGrad) d = matmulNT(d, M, layer.N, layer.W.value, layer.K, layer.alpha, this.threads);
          break;
        }
        case 'bias':
          if (paramGrads) columnSums(d, M, layer.N, layer.b.grad, 1);
          break;
        case 'relu': {
          const y = (cache as Cache).saved;
          const dx = new Float32Array(d.length);
          for (let i = 0; i < d.length; i++) dx[i] = y[i] > 0 ? d[i] : 0;
          d = dx;
          break;
        }
        case 'sigmoid': {
          const y = (cache as Cache).saved;
          const dx = new Float32Array(d.length);
          for (let i = 0; i < d.length; i++) dx[i] = d[i] * y[i] * (1 - y[i]);
          d = dx;
          break;
        }
        case 'tanh': {
          const y = (cache as Cache).saved;
          const dx = new Float32Array(d.length);
          for (let i = 0; i < d.length; i++) dx[i] = d[i] * (1 - y[i] * y[i]);
          d = dx;
          break;
        }
        case 'gelu': {
          const x = (cache as Cache).saved;
          const dx = new Float32Array(d.length);
          for (let i = 0; i < d.length; i++) {
            const v = x[i];
            const cdf = 0.5 * (1 + erf(v * INV_SQRT2));
            dx[i] = d[i] * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
          }
          d = dx;
          break;
        }
        case 'softmax': {
          const y = (cache as Cache).saved;
          const N = y.length / M;
          const dx = new Float32Array(d.length);
          for (let i = 0; i < M; i++) {
            const o = i * N;
            let dot = 0;
            for (let j = 0; j < N; j++) dot += d[o + j] * y[o + j];
            for (let j = 0; j < N; j++) dx[o + j] = y[o + j] * (d[o + j] - dot);
          }
          d = dx;
          break;
        }
        case 'layernorm': {
          const { N, gamma, beta } = layer;
          const { saved: xhat, rstd } = cache as Required<Cache>;
          const g = gamma.value;
          // Without paramGrads the sums go to scratch arrays, so the parameters' gradients stay untouched.
          const gg = paramGrads ? gamma.grad.fill(0) : new Float32Array(N);
          const gb = beta ? (paramGrads ? beta.grad.fill(0) : new Float32Array(N)) : null;
          const dx = new Float32Array(d.length);
          for (let i = 0; i < M; i++) {
            const o = i * N;
            let sumD = 0;
            let sumDX = 0;
            for (let j = 0; j < N; j++) {
              const dy = d[o + j];
              gg[j] += dy * xhat[o + j];
              if (gb) gb[j] += dy;
              const dn = dy * g[j];
              sumD += dn;
              sumDX += dn * xhat[o + j];
            }
            const r = rstd[i];
            const mD = sumD / N;
            const mDX = sumDX / N;
            for (let j = 0; j < N; j++) dx[o + j] = r * (d[o + j] * g[j] - mD - xhat[o + j] * mDX);
          }
          d = dx;
          break;
        }
      }
    }
    this.caches = [];
    return inputGrad ? d : undefined;
  }

  /** Inference over many rows in chunks (bounded memory), returning [rows, outputSize]. */
  predict(x: Float32Array, rows: number, opts: { logits?: boolean; chunk?: number } = {}): Float32Array {
    const K = this.graph.inputSize;
    const N = this.graph.outputSize;
    const chunk = opts.chunk ?? 1024;
    const out = new Float32Array(rows * N);
    for (let r = 0; r < rows; r += chunk) {
      const m = Math.min(chunk, rows - r);
      out.set(this.forward(x.subarray(r * K, (r + m) * K), m, { logits: opts.logits }), r * N);
    }
    return out;
  }
}

function addBias(y: Float32Array, M: number, N: number, b: Float32Array, beta: number): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    if (beta === 1) for (let j = 0; j < N; j++) y[o + j] += b[j];
    else for (let j = 0; j < N; j++) y[o + j] += beta * b[j];
  }
}

function columnSums(d: Float32Array, M: number, N: number, out: Float32Array, scale: number): void {
  out.fill(0);
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) out[j] += d[o + j];
  }
  if (scale !== 1) for (let j = 0; j < N; j++) out[j] *= scale;
}
