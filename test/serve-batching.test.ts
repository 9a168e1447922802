// The batching queue: requests whose inputs agree except on dim 0 share a run (up to maxBatch rows),
// others never do; results are those of separate runs up to float reassociation; one bad request
// does not fail its batch; queue limit, deadline and abort.
import { describe, expect, it } from 'vitest';

import { encoderModel } from '../src/onnx/zoo.js';
import { InferenceSession } from '../src/session.js';
import { Tensor } from '../src/tensor.js';
import { BatchQueue, type Feeds } from '../src/serve/batching.js';
import { InferenceError } from '../src/serve/errors.js';

const options = { maxBatch: 4, maxDelayMs: 1000, maxQueue: 100, timeoutMs: 0 };
const rowsOf = (rows: number, width: number, start: number) => new Tensor('float32', Float32Array.from({ length: rows * width }, (_, i) => start + i), [rows, width]);

/** A runner that doubles its input and records the dims of every call. */
function doubler(calls: number[][]) {
  return async (feeds: Feeds) => {
    const x = feeds.x;
    calls.push([...x.dims]);
    if ((x.data as Float32Array).some((v) => v < 0)) throw new RangeError('negative input');
    return { y: new Tensor('float32', (x.data as Float32Array).map((v) => v * 2), x.dims) };
  };
}

describe('BatchQueue', () => {
  it('concatenates requests along dim 0 up to maxBatch rows and splits the outputs back', async () => {
    const calls: number[][] = [];
    const q = new BatchQueue([doubler(calls)], options, true);
    const sizes = [1, 2, 1, 3, 1];
    const inputs = sizes.map((r, i) => rowsOf(r, 3, 100 * i));
    const outs = await Promise.all(inputs.map((x) => q.submit({ x })));
    expect(calls).toEqual([[4, 3], [4, 3]]);
    outs.forEach((o, i) => {
      expect(o.y.dims).toEqual([sizes[i], 3]);
      expect(Array.from(o.y.data as Float32Array)).toEqual(Array.from(inputs[i].data as Float32Array, (v) => v * 2));
    });
  });

  it('never merges requests whose other dims differ; waits at most maxDelayMs', async () => {
    const calls: number[][] = [];
    const q = new BatchQueue([doubler(calls)], { ...options, maxDelayMs: 5 }, true);
    await Promise.all([q.submit({ x: rowsOf(1, 3, 0) }), q.submit({ x: rowsOf(1, 5, 0) }), q.submit({ x: rowsOf(1, 3, 0) })]);
    expect(calls.map((c) => c.join('x')).sort()).toEqual(['1x5', '2x3']);
  });

  it('does not batch a model without a free first dim, nor with maxBatch 1', async () => {
    for (const [batchable, maxBatch] of [[false, 4], [true, 1]] as const) {
      const calls: number[][] = [];
      const q = new BatchQueue([doubler(calls)], { ...options, maxBatch }, batchable);
      await Promise.all([q.submit({ x: rowsOf(1, 3, 0) }), q.submit({ x: rowsOf(1, 3, 0) })]);
      expect(calls).toEqual([[1, 3], [1, 3]]);
    }
  });

  it('asks the runner for the outputs its requests asked for (all where one asked for all)', async () => {
    const asked: (readonly string[] | undefined)[] = [];
    const runner = async (feeds: Feeds, fetches?: readonly string[]) => {
      asked.push(fetches && [...fetches].sort());
      const x = feeds.x;
      return { y: x, z: x };
    };
    const q = new BatchQueue([runner], { ...options, maxBatch: 2 }, true);
    await Promise.all([q.submit({ x: rowsOf(1, 2, 0) }, undefined, ['y']), q.submit({ x: rowsOf(1, 2, 0) }, undefined, ['z'])]);
    await Promise.all([q.submit({ x: rowsOf(1, 2, 0) }, undefined, ['y']), q.submit({ x: rowsOf(1, 2, 0) })]);
    await q.submit({ x: rowsOf(1, 2, 0) }, undefined, ['z']);
    expect(asked).toEqual([['y', 'z'], undefined, ['z']]);
  });

  it('a request that fails its batch fails alone', async () => {
    const calls: number[][] = [];
    const q = new BatchQueue([doubler(calls)], { ...options, maxBatch: 3 }, true);
    const results = await Promise.allSettled([q.submit({ x: rowsOf(1, 2, 1) }), q.submit({ x: rowsOf(1, 2, -5) }), q.submit({ x: rowsOf(1, 2, 3) })]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls[0]).toEqual([3, 2]);
  });

  it('refuses past the queue limit (503, Retry-After), answers 504 past the deadline, leaves the queue on abort', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = async (feeds: Feeds) => {
      await gate;
      return { y: feeds.x };
    };
    const q = new BatchQueue([held], { maxBatch: 1, maxDelayMs: 0, maxQueue: 1, timeoutMs: 0 }, true);
    const running = q.submit({ x: rowsOf(1, 1, 0) });
    const ac = new AbortController();
    const waiting = q.submit({ x: rowsOf(1, 1, 0) }, ac.signal);
    const refused = await q.submit({ x: rowsOf(1, 1, 0) }).catch((e: InferenceError) => e);
    expect(refused).toMatchObject({ status: 503, retryAfter: 1 });
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ status: 499 });
    expect(q.inFlight).toBe(1);
    release();
    await running;
    await q.idle();

    const slow = new BatchQueue([async (f: Feeds) => new Promise<Record<string, Tensor>>((r) => setTimeout(() => r({ y: f.x }), 200))], { maxBatch: 1, maxDelayMs: 0, maxQueue: 4, timeoutMs: 20 }, true);
    await expect(slow.submit({ x: rowsOf(1, 1, 0) })).rejects.toMatchObject({ status: 504 });
  });

  it('batched runs of a BERT encoder equal separate runs up to float reassociation', async () => {
    const session = await InferenceSession.create(encoderModel({ hidden: 32, heads: 2, ffn: 64, layers: 2, vocab: 50, maxPosition: 32, pooler: true }));
    const calls: number[] = [];
    const q = new BatchQueue(
      [
        (feeds) => {
          calls.push(feeds.input_ids.dims[0]);
          return session.run(feeds);
        },
      ],
      { maxBatch: 8, maxDelayMs: 50, maxQueue: 100, timeoutMs: 0 },
      true,
    );
    const feeds = [1, 2, 1, 1, 2, 1].map((rows, r) => {
      const seq = r === 3 ? 12 : 16; // one request of another sequence length: never in the others' batch
      const ids = BigInt64Array.from({ length: rows * seq }, (_, i) => BigInt((i * 7 + r * 13) % 50));
      const mask = BigInt64Array.from({ length: rows * seq }, (_, i) => (i % seq < seq - r ? 1n : 0n));
      return { input_ids: new Tensor('int64', ids, [rows, seq]), attention_mask: new Tensor('int64', mask, [rows, seq]) };
    });
    const batched = await Promise.all(feeds.map((f) => q.submit(f)));
    expect(calls.some((rows) => rows > 2)).toBe(true);
    for (let i = 0; i < feeds.length; i++) {
      const alone = await session.run(feeds[i]);
      for (const name of ['last_hidden_state', 'pooler_output']) {
        const a = alone[name].data as Float32Array;
        const b = batched[i][name].data as Float32Array;
        expect(batched[i][name].dims).toEqual(alone[name].dims);
        let worst = 0;
        for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]) / (1 + Math.abs(a[k])));
        expect(worst).toBeLessThan(1e-5);
      }
    }
    await session.release();
  });
});
