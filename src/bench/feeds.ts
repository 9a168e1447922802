// Synthetic feeds for benchmarking a model: symbolic dims resolved to (batch, sequence), token-id
// inputs drawn inside their embedding table, masks all ones, float inputs seeded uniform.
import type { Model } from '../model.js';
import { Tensor, type TensorType } from '../tensor.js';

export interface FeedShape {
  batch: number;
  /** For models with a second symbolic dim (sequence length). */
  seq: number;
}

/** The concrete dims of an input: the first symbolic dim is the batch, the second the sequence. */
export function concreteDims(dims: readonly (number | string)[] | null, shape: FeedShape): number[] {
  if (!dims) return [shape.batch];
  let symbolic = 0;
  return dims.map((d) => (typeof d === 'number' && d > 0 ? d : symbolic++ === 0 ? shape.batch : shape.seq));
}

/** How many rows the embedding table an int input indexes has (its Gather's data), if any. */
function indexRange(model: Model, input: string): number | undefined {
  for (const n of model.nodes) {
    if (n.op === 'Gather' && n.inputs[1] === input) {
      const table = model.initializers.get(n.inputs[0]);
      if (table) return table.dims[0];
    }
  }
  return undefined;
}

export function makeFeeds(model: Model, shape: FeedShape, seed = 1): Record<string, Tensor> {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const feeds: Record<string, Tensor> = {};
  for (const input of model.inputs) {
    const dims = concreteDims(input.dims, shape);
    const n = dims.reduce((a, b) => a * b, 1);
    const type = input.dtype as TensorType;
    if (type === 'float32') {
      feeds[input.name] = new Tensor('float32', Float32Array.from({ length: n }, () => next() * 2 - 1), dims);
    } else if (type === 'int64' || type === 'int32') {
      const range = /mask/i.test(input.name) ? undefined : indexRange(model, input.name);
      const values = Array.from({ length: n }, () => (range === undefined ? (/mask/i.test(input.name) ? 1 : 0) : Math.floor(next() * range)));
      feeds[input.name] = type === 'int64' ? new Tensor('int64', BigInt64Array.from(values, BigInt), dims) : new Tensor('int32', Int32Array.from(values), dims);
    } else {
      feeds[input.name] = new Tensor(type, new (type === 'int8' ? Int8Array : Uint8Array)(n) as never, dims);
    }
  }
  return feeds;
}
