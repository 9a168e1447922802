// Occlusion (Zeiler & Fergus 2014), as Captum's Occlusion computes it: a window slides over one input at
// a time (the others held as given); each position replaces the covered values by a baseline (a pixel
// value, or a token id such as [PAD] for int64 ids) and records f(x) − f(occluded) at the target; an
// element's attribution is the mean of that difference over the windows that covered it. Model-agnostic:
// it only runs the model, so it explains any graph the runtime runs. Deterministic: no sampling.
import { Tensor, type TensorData } from '../tensor.js';
import type { BatchRunner, Feeds } from './batch-runner.js';
import type { Target } from './target.js';

export interface OcclusionInput {
  name: string;
  /** The per-example shape the window slides over (the input's dims without the batch dim, or a view). */
  shape: readonly number[];
  window: readonly number[];
  strides: readonly number[];
  /** The value put in place of covered elements. */
  baseline: number;
}

/** The window's start positions along one dim: Captum's count, ceil((d − w) / s) + 1, the last clipped at the edge. */
function starts(d: number, w: number, s: number): number[] {
  const count = Math.ceil(Math.max(0, d - w) / s) + 1;
  return Array.from({ length: count }, (_, i) => i * s);
}

/** Flat indices (row-major in `shape`) covered by the window whose corner is `corner`. */
function covered(shape: readonly number[], window: readonly number[], corner: readonly number[]): number[] {
  let flat = [0];
  shape.forEach((d, axis) => {
    const end = Math.min(d, corner[axis] + window[axis]);
    const next: number[] = [];
    for (const base of flat) for (let c = corner[axis]; c < end; c++) next.push(base * d + c);
    flat = next;
  });
  return flat;
}

/** Every window corner, row-major. */
function corners(shape: readonly number[], window: readonly number[], strides: readonly number[]): number[][] {
  let all: number[][] = [[]];
  shape.forEach((d, axis) => {
    const s = starts(d, window[axis], strides[axis]);
    all = all.flatMap((c) => s.map((v) => [...c, v]));
  });
  return all;
}

export async function occlusion(runner: BatchRunner, feeds: Feeds, inputs: readonly OcclusionInput[], target: Target, reference: number): Promise<Record<string, Float32Array>> {
  const result: Record<string, Float32Array> = {};
  for (const spec of inputs) {
    const x = feeds[spec.name];
    const windows = corners(spec.shape, spec.window, spec.strides).map((c) => covered(spec.shape, spec.window, c));
    const baseline = x.type === 'int64' ? BigInt(spec.baseline) : spec.baseline;
    const make = (i: number): Feeds => {
      const data = (x.data as TensorData).slice() as TensorData;
      for (const k of windows[i]) (data as unknown as (number | bigint)[])[k] = baseline;
      return { ...feeds, [spec.name]: new Tensor(x.type, data as never, x.dims) };
    };
    const values = await runner.values(windows.length, make, target);
    const total = new Float64Array(x.size);
    const count = new Uint32Array(x.size);
    windows.forEach((w, i) => {
      const diff = reference - values[i];
      for (const k of w) {
        total[k] += diff;
        count[k]++;
      }
    });
    const attr = new Float32Array(x.size);
    for (let k = 0; k < x.size; k++) attr[k] = count[k] ? total[k] / count[k] : 0;
    result[spec.name] = attr;
  }
  return result;
}
