// Sensitivity analysis (as Distiller and Han et al. do it): prune each layer alone at a ladder of
// sparsities and measure what it costs, then give each layer the highest sparsity the budget allows —
// greedily, the step that removes the most weights per unit of loss first — and verify the combination
// on the real model, tightening the budget if the losses did not add up as assumed.
import { typeError } from '../errors.js';
import type { Model } from '../model.js';
import { checkNumber } from '../validate.js';
import { outputsOf } from './calibration.js';
import type { LinearLayer } from './layers.js';
import { outputDrift } from './metrics.js';
import type { ResolvedPrune } from './prune.js';

export interface SensitivityOptions {
  /**
   * The loss allowed: a drop of `evaluate`'s score when given (e.g. 0.01 = one accuracy point), else
   * the output drift 1 − cosine similarity to the original on the calibration inputs.
   */
  budget: number;
  /** Score of a model, higher is better (e.g. accuracy on held-out data). */
  evaluate?: (model: Model) => number | Promise<number>;
  /** Sparsities tried per layer (default 0.3 to 0.97). */
  sparsities?: number[];
}

export interface SensitivityResult {
  sparsity: Map<string, number>;
  /** Per layer (weight name): [sparsity, loss] measured alone. */
  curves: Map<string, [number, number][]>;
}

const DEFAULT_LADDER = [0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97];

export async function allocateBySensitivity(model: Model, layers: readonly LinearLayer[], r: ResolvedPrune, s: SensitivityOptions, out?: { curves?: Map<string, [number, number][]> }): Promise<Map<string, number>> {
  const budget = checkNumber(s.budget, 'sensitivity.budget', 0, 1e9);
  if (s.evaluate !== undefined && typeof s.evaluate !== 'function') throw typeError('a function (model) => score', 'sensitivity.evaluate', s.evaluate);
  const ladder = (s.sparsities ?? DEFAULT_LADDER).map((v, i) => checkNumber(v, `sensitivity.sparsities[${i}]`, 0, 1)).sort((a, b) => a - b);
  // Imported lazily: prune.ts imports this file.
  const { pruneWithSparsities } = await import('./prune.js');
  const reference = s.evaluate ? null : await outputsOf(model, r.batches!, r);
  const score = async (m: Model) => (s.evaluate ? await s.evaluate(m) : outputDrift(reference!, await outputsOf(m, r.batches!, r)).cosine);
  const base = await score(model);
  // Per-layer curves, measured with every other layer dense. One-shot, statistics from the dense model.
  const quick: ResolvedPrune = { ...r, sequential: false, sensitivity: null };
  const curves = new Map<string, [number, number][]>();
  for (const l of layers) {
    const curve: [number, number][] = [];
    for (const sp of ladder) {
      const loss = Math.max(0, base - (await score(await pruneWithSparsities(model, quick, new Map([[l.weight, sp]])))));
      curve.push([sp, loss]);
      if (loss > budget) break; // sparser only costs more
    }
    curves.set(l.weight, curve);
  }
  if (out) out.curves = curves;
  const params = new Map(layers.map((l) => [l.weight, l.K * l.N]));
  let allowed = budget;
  let best = new Map<string, number>(layers.map((l) => [l.weight, 0]));
  for (let attempt = 0; attempt < 5; attempt++) {
    const level = new Map<string, number>(layers.map((l) => [l.weight, -1]));
    let spent = 0;
    for (;;) {
      let pick: string | null = null;
      let bestRatio = -1;
      let pickCost = 0;
      for (const l of layers) {
        const curve = curves.get(l.weight)!;
        const i = level.get(l.weight)! + 1;
        if (i >= curve.length) continue;
        const [sp, loss] = curve[i];
        const [sp0, loss0] = i > 0 ? curve[i - 1] : [0, 0];
        const cost = Math.max(0, loss - loss0);
        if (loss > allowed || spent + cost > allowed) continue;
        const ratio = ((sp - sp0) * params.get(l.weight)!) / (cost + 1e-9);
        if (ratio > bestRatio) {
          bestRatio = ratio;
          pick = l.weight;
          pickCost = cost;
        }
      }
      if (!pick) break;
      level.set(pick, level.get(pick)! + 1);
      spent += pickCost;
    }
    const choice = new Map<string, number>(layers.map((l) => [l.weight, level.get(l.weight)! < 0 ? 0 : curves.get(l.weight)![level.get(l.weight)!][0]]));
    const loss = base - (await score(await pruneWithSparsities(model, r, choice)));
    if (loss <= budget) {
      best = choice;
      break;
    }
    allowed *= 0.6; // the losses were not additive: aim lower
  }
  return best;
}
