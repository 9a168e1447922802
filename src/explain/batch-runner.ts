// Runs many one-example feed sets through a session as few batched runs: the feed sets are stacked along
// the batch dim, `rowsPerRun` at a time, and the target value is read back per row. A model whose batch
// dim is fixed (a number in its inputs' dims) runs one feed set per run; for a bare session, which does
// not say, the first batched run that is refused for its shape switches to that.
import { SparqError } from '../errors.js';
import type { InferenceSession } from '../session.js';
import { Tensor, arrayTypeOf, type TensorData } from '../tensor.js';
import type { Target } from './target.js';

export type Feeds = Record<string, Tensor>;

function stack(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (parts.length === 1) return first;
  const out = new (arrayTypeOf(first.type))(first.size * parts.length) as TensorData & { set(a: ArrayLike<number | bigint>, at: number): void };
  parts.forEach((p, i) => out.set(p.data as never, i * first.size));
  return new Tensor(first.type, out as never, [parts.length, ...first.dims.slice(1)]);
}

export class BatchRunner {
  readonly #session: InferenceSession;
  #batchable: boolean | 'unknown';
  readonly #rowsPerRun: number;
  readonly #signal: AbortSignal | undefined;

  constructor(session: InferenceSession, batchable: boolean | 'unknown', rowsPerRun: number, signal?: AbortSignal) {
    this.#session = session;
    this.#batchable = batchable;
    this.#rowsPerRun = rowsPerRun;
    this.#signal = signal;
  }

  /** One run of one feed set: every output. */
  async run(feeds: Feeds): Promise<Record<string, Tensor>> {
    return this.#session.run(feeds);
  }

  /** The target's value for each of `count` feed sets (make(i) builds the i-th, one example each). */
  async values(count: number, make: (i: number) => Feeds, target: Target): Promise<Float64Array> {
    const values = new Float64Array(count);
    let i = 0;
    while (i < count) {
      this.#checkAborted();
      const rows = this.#batchable === false ? 1 : Math.min(this.#rowsPerRun, count - i);
      const sets = Array.from({ length: rows }, (_, r) => make(i + r));
      let out: Record<string, Tensor>;
      try {
        out = await this.#session.run(Object.fromEntries(Object.keys(sets[0]).map((name) => [name, stack(sets.map((s) => s[name]))])));
      } catch (e) {
        const shapeRefused = e instanceof RangeError || (e instanceof SparqError && e.code === 'ERR_SHAPE_MISMATCH');
        if (rows > 1 && this.#batchable === 'unknown' && shapeRefused) {
          this.#batchable = false;
          continue;
        }
        throw e;
      }
      if (rows > 1 && this.#batchable === 'unknown') this.#batchable = true;
      const t = out[target.output];
      const per = t.size / rows;
      for (let r = 0; r < rows; r++) values[i + r] = Number(t.data[r * per + target.index]);
      i += rows;
    }
    return values;
  }

  #checkAborted(): void {
    if (this.#signal?.aborted) throw new SparqError('ERR_ABORTED', 'explain() was aborted', { cause: this.#signal.reason });
  }
}
