// Which scalar an explanation explains: one value of one output, per example. A class index of the first
// output, or { output, index } where index is the flat position within one example's output (or its
// coordinates, batch dim left out). Unset: the largest value of the first output (the predicted class).
import { rangeError, typeError } from '../errors.js';

export type TargetSpec = number | { output: string; index: number | readonly number[] };

export interface Target {
  output: string;
  /** Flat index within one example's output. */
  index: number;
}

/** The target against the output's per-example dims, or undefined when the caller gave none. */
export function resolveTarget(spec: unknown, outputNames: readonly string[], perExample: (output: string) => readonly number[]): Target | undefined {
  if (spec === undefined) return undefined;
  let output = outputNames[0];
  let index: unknown = spec;
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
    const o = spec as { output?: unknown; index?: unknown };
    if (o.output !== undefined) {
      if (typeof o.output !== 'string' || !outputNames.includes(o.output)) throw typeError(`one of the model's outputs (${outputNames.join(', ')})`, 'options.target.output', o.output);
      output = o.output;
    }
    index = o.index;
  } else if (typeof spec !== 'number') {
    throw typeError('a class index or { output, index }', 'options.target', spec);
  }
  const dims = perExample(output);
  const size = dims.reduce((a, d) => a * d, 1);
  if (Array.isArray(index)) {
    if (index.length !== dims.length) throw rangeError(`${dims.length} coordinates (output "${output}" has per-example dims [${dims.join(', ')}])`, 'options.target.index', index);
    let flat = 0;
    index.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c >= dims[i]) throw rangeError(`an integer in [0, ${dims[i] - 1}]`, `options.target.index[${i}]`, c);
      flat = flat * dims[i] + c;
    });
    return { output, index: flat };
  }
  if (typeof index !== 'number') throw typeError('an integer index', 'options.target', index);
  if (!Number.isInteger(index) || index < 0 || index >= size) throw rangeError(`an integer in [0, ${size - 1}] (output "${output}" has ${size} values per example)`, 'options.target', index);
  return { output, index };
}

/** The index of the largest of the first `size` values of `values`. */
export function argmax(values: ArrayLike<number>, offset: number, size: number): number {
  let best = 0;
  for (let i = 1; i < size; i++) if (values[offset + i] > values[offset + best]) best = i;
  return best;
}
