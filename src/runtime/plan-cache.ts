// Compiled plans per input-shape signature, least recently used evicted first (their native plans
// are released; runs still in flight keep theirs alive natively).
import type { NativePlanHandle } from '../native.js';
import type { CompiledPlan } from './plan.js';

export type { NativePlanHandle };

export interface PlanEntry {
  handle: NativePlanHandle;
  plan: CompiledPlan;
}

export class PlanCache {
  readonly #entries = new Map<string, PlanEntry>();
  constructor(readonly capacity: number) {}

  get(key: string): PlanEntry | undefined {
    const e = this.#entries.get(key);
    if (e && this.#entries.size > 1) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, e);
    }
    return e;
  }

  set(key: string, entry: PlanEntry): void {
    this.#entries.set(key, entry);
    while (this.#entries.size > this.capacity) {
      const [oldest, e] = this.#entries.entries().next().value as [string, PlanEntry];
      this.#entries.delete(oldest);
      e.handle.release();
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    for (const e of this.#entries.values()) e.handle.release();
    this.#entries.clear();
  }
}
