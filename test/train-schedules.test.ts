// Learning-rate and sparsity schedules: the formulas at known points.
import { describe, expect, it } from 'vitest';

import { learningRate, targetSparsity } from '../src/train/schedules.js';

describe('learning-rate schedules', () => {
  it('cosine, linear, step and warmup reach their documented values', () => {
    expect(learningRate({ type: 'constant', warmup: 0 }, 0.1, 7, 10)).toBe(0.1);
    expect(learningRate({ type: 'cosine', minLr: 0, warmup: 0 }, 0.1, 0, 10)).toBeCloseTo(0.1, 12);
    expect(learningRate({ type: 'cosine', minLr: 0, warmup: 0 }, 0.1, 5, 10)).toBeCloseTo(0.05, 12);
    expect(learningRate({ type: 'cosine', minLr: 0.01, warmup: 0 }, 0.1, 10, 10)).toBeCloseTo(0.01, 12);
    expect(learningRate({ type: 'linear', minLr: 0, warmup: 0 }, 0.1, 2.5, 10)).toBeCloseTo(0.075, 12);
    expect(learningRate({ type: 'step', stepEpochs: 3, gamma: 0.5, warmup: 0 }, 0.1, 6.5, 10)).toBeCloseTo(0.025, 12);
    expect(learningRate({ type: 'cosine', minLr: 0, warmup: 2 }, 0.1, 1, 10)).toBeCloseTo(0.05, 6);
    expect(learningRate({ type: 'cosine', minLr: 0, warmup: 2 }, 0.1, 2, 10)).toBeCloseTo(0.1, 12);
  });
});

describe('gradual pruning schedule (Zhu & Gupta 2017)', () => {
  const cubic = { type: 'cubic' as const, startEpoch: 1, endEpoch: 5, initialSparsity: 0, frequency: 10 };
  it('follows s_f + (s_i − s_f)(1 − t)³ between start and end, then holds', () => {
    expect(targetSparsity(cubic, 0.9, 0.5)).toBe(0);
    expect(targetSparsity(cubic, 0.9, 1)).toBeCloseTo(0, 12);
    expect(targetSparsity(cubic, 0.9, 3)).toBeCloseTo(0.9 - 0.9 * 0.125, 12);
    expect(targetSparsity(cubic, 0.9, 5)).toBe(0.9);
    expect(targetSparsity(cubic, 0.9, 9)).toBe(0.9);
    expect(targetSparsity({ ...cubic, type: 'linear' }, 0.9, 3)).toBeCloseTo(0.45, 12);
    expect(targetSparsity({ ...cubic, type: 'oneshot' }, 0.9, 1)).toBe(0.9);
  });
});
