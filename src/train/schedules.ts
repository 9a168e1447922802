// Learning-rate schedules and the gradual-pruning sparsity schedule, as functions of training progress.

export type LrSchedule =
  | { type: 'constant'; warmup: number }
  | { type: 'cosine'; minLr: number; warmup: number }
  | { type: 'step'; stepEpochs: number; gamma: number; warmup: number }
  | { type: 'linear'; minLr: number; warmup: number };

/**
 * The learning rate at `epochPos` (epochs elapsed, fractional) of `epochs`. Warmup (in epochs) ramps
 * linearly from 0; cosine and linear decay to minLr at the end; step multiplies by gamma every stepEpochs.
 */
export function learningRate(s: LrSchedule, base: number, epochPos: number, epochs: number): number {
  if (s.warmup > 0 && epochPos < s.warmup) return (base * (epochPos + 1e-9)) / s.warmup;
  const span = Math.max(epochs - s.warmup, 1e-9);
  const t = Math.min(Math.max((epochPos - s.warmup) / span, 0), 1);
  switch (s.type) {
    case 'constant':
      return base;
    case 'cosine':
      return s.minLr + 0.5 * (base - s.minLr) * (1 + Math.cos(Math.PI * t));
    case 'linear':
      return base + (s.minLr - base) * t;
    case 'step':
      return base * Math.pow(s.gamma, Math.floor(epochPos / s.stepEpochs));
  }
}

export interface PruneSchedule {
  type: 'cubic' | 'linear' | 'oneshot';
  /** Epoch (fractional) where pruning starts and where it reaches the target. */
  startEpoch: number;
  endEpoch: number;
  /** Sparsity at startEpoch (pruning begins from here). */
  initialSparsity: number;
  /** Steps between mask updates. */
  frequency: number;
}

/**
 * Zhu & Gupta (2017), "To prune, or not to prune": s_t = s_f + (s_i − s_f)·(1 − (t − t0)/(n·Δt))³, which
 * prunes fast while the network has redundancy and slowly as it approaches the target.
 */
export function targetSparsity(s: PruneSchedule, final: number, epochPos: number): number {
  if (epochPos < s.startEpoch) return 0;
  if (s.type === 'oneshot' || epochPos >= s.endEpoch) return final;
  const t = (epochPos - s.startEpoch) / Math.max(s.endEpoch - s.startEpoch, 1e-9);
  const shape = s.type === 'cubic' ? Math.pow(1 - t, 3) : 1 - t;
  return final + (s.initialSparsity - final) * shape;
}
