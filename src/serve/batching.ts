// The batching queue of one model version, after Triton's dynamic batcher and MLServer's adaptive
// batching: requests wait in FIFO order for a free instance; one whose inputs agree with the head's on
// every dim but the first joins its batch (never one of another shape), up to maxBatch rows, the head
// waiting at most maxDelayMs for company. A batch runs as one call, concatenated along dim 0 and split
// back. Requests past the queue limit are refused (503 + Retry-After); a request past its deadline
// answers 504; one whose client went away leaves the queue at once. A job (a generation: many runs on
// one session) waits in the same queue, holds its instance alone until it settles, and is aborted
// through its signal when its client goes away or its deadline passes, which frees the instance.
import type { Tensor } from '../tensor.js';
import { InferenceError } from './errors.js';
import { concatRows, splitRows } from './rows.js';

export type Feeds = Record<string, Tensor>;
/** `fetches`: the outputs to return (all where undefined); every output is computed either way. */
export type Runner = (feeds: Feeds, fetches?: readonly string[]) => Promise<Record<string, Tensor>>;
/** Work that holds instance number `instance` until it settles; `signal` aborts when it must stop. */
export type Job<T> = (instance: number, signal: AbortSignal) => Promise<T>;

export interface BatchingOptions {
  /** Rows per run at most (1: no batching). */
  maxBatch: number;
  /** How long the oldest request may wait for a batch to fill. */
  maxDelayMs: number;
  /** Requests waiting for an instance at most; more are refused with 503. */
  maxQueue: number;
  /** Deadline of a request from its arrival (0: none); past it the request answers 504. */
  timeoutMs: number;
}

export interface BatchObserver {
  /** A batch started: its size in requests and rows, and each member's time in the queue. */
  started?(requests: number, rows: number, queueSeconds: number[]): void;
  finished?(seconds: number): void;
}

interface Pending {
  feeds: Feeds;
  /** The outputs the request asked for (undefined: all). */
  fetches?: readonly string[];
  /** A job instead of feeds: runs alone (key ''), aborted through `abort` when dropped. */
  job?: Job<unknown>;
  abort?: AbortController;
  /** Requests with the same key may share a batch. */
  key: string;
  rows: number;
  arrived: number;
  settled: boolean;
  resolve(out: unknown): void;
  reject(e: unknown): void;
  cleanup(): void;
}

export class BatchQueue {
  readonly #runners: Runner[];
  readonly #free: Runner[];
  readonly #options: BatchingOptions;
  readonly #batchable: boolean;
  readonly #observer: BatchObserver;
  #queue: Pending[] = [];
  #running = 0;
  readonly #jobs = new Set<Pending>();
  #timer: NodeJS.Timeout | undefined;
  #idle: (() => void)[] = [];

  /** `batchable`: the model's inputs and outputs all have a free first dim (the batch). */
  constructor(runners: Runner[], options: BatchingOptions, batchable: boolean, observer: BatchObserver = {}) {
    this.#runners = runners;
    this.#free = [...runners];
    this.#options = options;
    this.#batchable = batchable && options.maxBatch > 1;
    this.#observer = observer;
  }

  /** Requests waiting plus requests computing. */
  get inFlight(): number {
    return this.#queue.length + this.#running;
  }

  get instances(): number {
    return this.#runners.length;
  }

  /** Runs `feeds` (validated against the model) once an instance is free, batched with others when it can. */
  submit(feeds: Feeds, signal?: AbortSignal, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    const names = Object.keys(feeds).sort();
    const first = feeds[names[0]];
    const rows = first && first.dims.length > 0 ? first.dims[0] : 1;
    const sameRows = names.every((n) => feeds[n].dims.length > 0 && feeds[n].dims[0] === rows);
    const key = this.#batchable && sameRows && rows > 0 ? names.map((n) => `${n}:${feeds[n].type}:${feeds[n].dims.slice(1).join('x')}`).join(';') : '';
    return this.#enqueue({ feeds, fetches, key, rows: key ? rows : this.#options.maxBatch }, signal) as Promise<Record<string, Tensor>>;
  }

  /**
   * Runs `job` on an instance of its own once one is free (never batched), under the same queue limit,
   * deadline and disconnect rules as a request; the instance is free again when the job settles.
   */
  exclusive<T>(job: Job<T>, signal?: AbortSignal): Promise<T> {
    return this.#enqueue({ feeds: {}, key: '', rows: this.#options.maxBatch, job, abort: new AbortController() }, signal) as Promise<T>;
  }

  #enqueue(what: Pick<Pending, 'feeds' | 'fetches' | 'key' | 'rows' | 'job' | 'abort'>, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(new InferenceError(499, 'The client closed the request'));
    // A request that finds an instance free does not wait: only the waiting count against the limit.
    if (this.#queue.length >= this.#options.maxQueue + this.#free.length)
      return Promise.reject(new InferenceError(503, `The model's queue is full (${this.#options.maxQueue} requests waiting); retry later`, { retryAfter: 1 }));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => this.#drop(p, new InferenceError(499, 'The client closed the request'));
      const p: Pending = {
        ...what,
        arrived: performance.now(),
        settled: false,
        resolve,
        reject,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (this.#options.timeoutMs > 0) timer = setTimeout(() => this.#drop(p, new InferenceError(504, `The request did not finish within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(p);
      this.#pump();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /** Ends every running job (shutdown past its grace period): each stops at its next step. */
  stopJobs(error: InferenceError): void {
    for (const p of this.#jobs) this.#drop(p, error);
  }

  #drop(p: Pending, error: InferenceError): void {
    if (p.settled) return;
    const i = this.#queue.indexOf(p);
    if (i >= 0) this.#queue.splice(i, 1);
    this.#settle(p, undefined, error);
    // A running job stops at its next step and then frees its instance.
    p.abort?.abort(error);
    this.#checkIdle();
  }

  #settle(p: Pending, out: unknown, error?: unknown): void {
    if (p.settled) return;
    p.settled = true;
    p.cleanup();
    if (error === undefined) p.resolve(out);
    else p.reject(error);
  }

  #checkIdle(): void {
    if (this.inFlight > 0) return;
    for (const r of this.#idle.splice(0)) r();
  }

  #pump(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#free.length > 0 && this.#queue.length > 0) {
      const head = this.#queue[0];
      const batch = [head];
      let rows = head.rows;
      if (head.key) {
        for (let i = 1; i < this.#queue.length && rows < this.#options.maxBatch; i++) {
          const q = this.#queue[i];
          if (q.key === head.key && rows + q.rows <= this.#options.maxBatch) {
            batch.push(q);
            rows += q.rows;
          }
        }
        const waited = performance.now() - head.arrived;
        if (rows < this.#options.maxBatch && waited < this.#options.maxDelayMs) {
          this.#timer = setTimeout(() => this.#pump(), Math.max(0, this.#options.maxDelayMs - waited));
          return;
        }
      }
      const taken = new Set(batch);
      this.#queue = this.#queue.filter((q) => !taken.has(q));
      void this.#run(this.#free.pop()!, batch);
    }
  }

  async #run(runner: Runner, batch: Pending[]): Promise<void> {
    const job = batch[0].job;
    if (job) return this.#runJob(runner, batch[0], job);
    this.#running += batch.length;
    const now = performance.now();
    this.#observer.started?.(batch.length, batch.reduce((s, p) => s + p.rows, 0), batch.map((p) => (now - p.arrived) / 1000));
    try {
      if (batch.length === 1) {
        this.#settle(batch[0], await runner(batch[0].feeds, batch[0].fetches));
      } else {
        const names = Object.keys(batch[0].feeds);
        const feeds: Feeds = {};
        for (const n of names) feeds[n] = concatRows(batch.map((p) => p.feeds[n]));
        const parts = await runner(feeds, fetchesOf(batch)).then(
          (out) => splitRows(out, batch.map((p) => p.rows)),
          () => undefined,
        );
        if (parts) batch.forEach((p, i) => this.#settle(p, parts[i]));
        // A batch that failed (one bad request must not fail the others) or whose outputs' first dim is
        // not the batch (a model that mixes rows): each request runs alone.
        else for (const p of batch) await runner(p.feeds, p.fetches).then((out) => this.#settle(p, out), (e: unknown) => this.#settle(p, undefined, e));
      }
    } catch (e) {
      for (const p of batch) this.#settle(p, undefined, e);
    } finally {
      this.#observer.finished?.((performance.now() - now) / 1000);
      this.#release(runner, batch.length);
    }
  }

  async #runJob(runner: Runner, p: Pending, job: Job<unknown>): Promise<void> {
    this.#running += 1;
    this.#jobs.add(p);
    try {
      this.#settle(p, await job(this.#runners.indexOf(runner), p.abort!.signal));
    } catch (e) {
      this.#settle(p, undefined, e);
    } finally {
      this.#jobs.delete(p);
      this.#release(runner, 1);
    }
  }

  #release(runner: Runner, requests: number): void {
    this.#running -= requests;
    this.#free.push(runner);
    this.#pump();
    this.#checkIdle();
  }
}

/** The outputs a batch returns: every output one of its requests asked for (all where one asked for all). */
function fetchesOf(batch: readonly Pending[]): readonly string[] | undefined {
  if (batch.some((p) => p.fetches === undefined)) return undefined;
  return [...new Set(batch.flatMap((p) => p.fetches as readonly string[]))];
}
