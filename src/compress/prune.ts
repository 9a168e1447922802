// prune(model, options) → a new Model with pruned weight matrices (the input is never changed).
// Methods: 'magnitude', 'random' (baseline), and the calibration-aware one-shot 'wanda' and 'sparsegpt'.
// Patterns: 'unstructured', 'N:M', 'block', 'structured' (neurons removed, next layer shrunk). Scope per
// layer or global, per-layer overrides, include / exclude, small layers left dense, and a sensitivity
// analysis that picks per-layer sparsities for an accuracy or drift budget (sensitivity.ts).
import { SparqError, rangeError, typeError } from '../errors.js';
import type { ConstTensor, Graph } from '../graph/ir.js';
import { Model, type WeightFormatSpec } from '../model.js';
import { checkBoolean, checkInteger, checkNumber, checkObject, checkOneOf } from '../validate.js';
import { type Calibration, type Feeds, asMatrix, calibrationBatches, observe } from './calibration.js';
import { chooseFormat } from './formats.js';
import { type LinearLayer, selected, weightLayers, weightOf, weightTensor } from './layers.js';
import { InputStats } from './layer-stats.js';
import { type Pattern, type PruneMethod, type PrunePattern, DEFAULT_BLOCK, PRUNE_METHODS, applyMask, deadColumns, maskFromScores, parsePattern, pruneCount, sparsityOf, weightScores } from './masks.js';
import { type SensitivityOptions, allocateBySensitivity } from './sensitivity.js';
import { sparsegpt } from './sparsegpt.js';
import { shrinkLayer, structuredChain } from './structured.js';
import { convChain, shrinkConv } from './structured-conv.js';

export interface PruneOptions {
  /** Share of weights to remove, in [0, 1] (default 0.5). N:M patterns fix it at 1 − N/M. */
  sparsity?: number;
  method?: PruneMethod;
  pattern?: PrunePattern;
  /** Block shape for pattern 'block': `${along N}x${along K}`, default '1x4' (4 consecutive k). */
  block?: string;
  /** 'layer' (default): each layer reaches the sparsity; 'global': one score threshold over all layers. */
  scope?: 'layer' | 'global';
  /** Per-layer sparsity by node or weight name (overrides sparsity, scope and sensitivity for that layer). */
  layers?: Record<string, number>;
  /** Only these layers (node or weight names, or RegExps)... */
  include?: readonly (string | RegExp)[];
  /** ...and never these. */
  exclude?: readonly (string | RegExp)[];
  /** Layers with fewer weights are left dense: too small to gain (default 2048). */
  minParams?: number;
  /** Model feeds for 'wanda', 'sparsegpt' and sensitivity: one batch or an array of batches. */
  calibration?: Calibration;
  /** Seed of the 'random' method. */
  seed?: number;
  /** SparseGPT: Hessian dampening (0.01) and lazy-update block size (128). */
  dampening?: number;
  blocksize?: number;
  /** Calibration statistics of each layer taken on the model with the earlier layers already pruned (default true). */
  sequential?: boolean;
  /** Pick per-layer sparsities for a budget instead of one sparsity everywhere. */
  sensitivity?: SensitivityOptions;
  threads?: number;
  signal?: AbortSignal;
}

export interface ResolvedPrune {
  sparsity: number;
  method: PruneMethod;
  pattern: Pattern;
  patternName: string;
  scope: 'layer' | 'global';
  overrides: Record<string, number>;
  include?: readonly (string | RegExp)[];
  exclude?: readonly (string | RegExp)[];
  minParams: number;
  batches: Feeds[] | null;
  seed: number;
  dampening: number;
  blocksize: number;
  sequential: boolean;
  sensitivity: SensitivityOptions | null;
  threads?: number;
  signal?: AbortSignal;
}

function checkNames(v: unknown, name: string): readonly (string | RegExp)[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || x instanceof RegExp)) throw typeError('an array of node or weight names (strings or RegExps)', name, v);
  return v;
}

export function resolvePruneOptions(model: Model, options: unknown, name = 'options'): ResolvedPrune {
  const o = checkObject(options ?? {}, name) as PruneOptions & Record<string, unknown>;
  const method = checkOneOf(o.method ?? 'magnitude', `${name}.method`, PRUNE_METHODS);
  const pattern = parsePattern(o.pattern ?? 'unstructured', o.block ?? DEFAULT_BLOCK, `${name}.pattern`);
  const sparsity = checkNumber(o.sparsity ?? (pattern.kind === 'nm' ? 1 - pattern.n / pattern.m : 0.5), `${name}.sparsity`, 0, 1);
  const overrides: Record<string, number> = {};
  if (o.layers !== undefined) for (const [k, v] of Object.entries(checkObject(o.layers, `${name}.layers`))) overrides[k] = checkNumber(v, `${name}.layers["${k}"]`, 0, 1);
  const needsCalibration = method === 'wanda' || method === 'sparsegpt';
  if (needsCalibration && o.calibration === undefined) throw typeError(`calibration feeds for method '${method}'`, `${name}.calibration`, o.calibration);
  const batches = o.calibration === undefined ? null : calibrationBatches(o.calibration, model, `${name}.calibration`);
  if (o.sensitivity !== undefined) checkObject(o.sensitivity, `${name}.sensitivity`);
  if (o.sensitivity && !batches && !(o.sensitivity as SensitivityOptions).evaluate) throw typeError('calibration feeds or sensitivity.evaluate for a sensitivity analysis', `${name}.calibration`, undefined);
  if (method === 'sparsegpt' && (pattern.kind === 'structured' || (pattern.kind === 'block' && pattern.bn !== 1)))
    throw rangeError("'unstructured', 'N:M' or a block along K ('1xB') for method 'sparsegpt'", `${name}.pattern`, o.pattern);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('an AbortSignal', `${name}.signal`, o.signal);
  return {
    sparsity,
    method,
    pattern,
    patternName: String(o.pattern ?? 'unstructured'),
    scope: checkOneOf(o.scope ?? 'layer', `${name}.scope`, ['layer', 'global'] as const),
    overrides,
    include: checkNames(o.include, `${name}.include`),
    exclude: checkNames(o.exclude, `${name}.exclude`),
    minParams: checkInteger(o.minParams ?? 2048, `${name}.minParams`, 0),
    batches,
    seed: checkInteger(o.seed ?? 0, `${name}.seed`, 0, 2 ** 32 - 1),
    dampening: checkNumber(o.dampening ?? 0.01, `${name}.dampening`, 0, 10),
    blocksize: checkInteger(o.blocksize ?? 128, `${name}.blocksize`, 1, 1 << 16),
    sequential: o.sequential === undefined ? true : checkBoolean(o.sequential, `${name}.sequential`),
    sensitivity: (o.sensitivity as SensitivityOptions | undefined) ?? null,
    threads: o.threads === undefined ? undefined : checkInteger(o.threads, `${name}.threads`, 1, 1024),
    signal: o.signal,
  };
}

/**
 * The layers a prune touches (selected, big enough) with the sparsity each gets before global/sensitivity.
 * Convs take the methods that need no calibration statistics (their inputs are images, not [M, K] rows).
 */
export function prunableLayers(graph: Graph, r: ResolvedPrune): LinearLayer[] {
  const statsFree = r.method === 'magnitude' || r.method === 'random';
  return weightLayers(graph).filter((l) => {
    if (l.conv && !statsFree) return false;
    const named = r.overrides[l.node.name] ?? r.overrides[l.weight];
    if (named !== undefined) return true;
    return selected(l, r.include, r.exclude) && l.K * l.N >= r.minParams;
  });
}

function overrideOf(r: ResolvedPrune, l: LinearLayer): number | undefined {
  return r.overrides[l.node.name] ?? r.overrides[l.weight];
}

/** Calibration input statistics of the given layers on `model`, one run over the batches. */
export async function collectStats(model: Model, layers: readonly LinearLayer[], batches: readonly Feeds[], hessian: boolean, r: { threads?: number; signal?: AbortSignal }): Promise<Map<string, InputStats>> {
  const stats = new Map<string, InputStats>();
  for (const l of layers) if (!stats.has(l.input)) stats.set(l.input, new InputStats(l.K, hessian));
  await observe(model, batches, [...stats.keys()], (out) => {
    for (const [value, s] of stats) {
      const x = asMatrix(out[value]);
      if (x.K !== s.K) throw rangeError(`activations with ${s.K} features`, value, x.K);
      s.add(x.data, x.M);
    }
  }, r);
  return stats;
}

/** Per-layer sparsities from one global threshold on the method's scores (|W|, or |W|·‖X‖ with calibration). */
function globalSparsities(graph: Graph, layers: readonly LinearLayer[], r: ResolvedPrune, stats: Map<string, InputStats> | null): Map<string, number> {
  const scores = layers.map((l) => {
    const s = stats?.get(l.input);
    return weightScores(weightOf(graph, l), l.K, l.N, s ? 'wanda' : 'magnitude', { inputNorms: s?.inputNorms() });
  });
  const total = scores.reduce((a, s) => a + s.length, 0);
  const all = new Float32Array(total);
  let at = 0;
  for (const s of scores) {
    all.set(s, at);
    at += s.length;
  }
  const count = pruneCount(total, r.sparsity);
  const out = new Map<string, number>();
  if (count === 0) {
    for (const l of layers) out.set(l.weight, 0);
    return out;
  }
  const t = all.sort()[count - 1];
  layers.forEach((l, i) => {
    let below = 0;
    for (const v of scores[i]) if (v <= t) below++;
    out.set(l.weight, Math.min(1, below / scores[i].length));
  });
  return out;
}

/** Prunes one layer's weight [K, N] to `sparsity`; returns the new weight. */
export function pruneWeight(W: Float32Array, l: LinearLayer, sparsity: number, r: ResolvedPrune, stats: InputStats | undefined): Float32Array {
  const { K, N } = l;
  if (r.method === 'sparsegpt') {
    if (!stats) throw rangeError('calibration statistics', `layer "${l.node.name}"`, undefined);
    return sparsegpt(W, K, N, stats.fullHessian(), { sparsity, pattern: r.pattern, dampening: r.dampening, blocksize: r.blocksize }).weights;
  }
  const scores = weightScores(W, K, N, r.method, { inputNorms: stats?.inputNorms(), seed: r.seed + l.index });
  const mask = maskFromScores(scores, K, N, { sparsity, pattern: r.pattern, compare: r.method === 'wanda' ? 'output' : 'layer' });
  return applyMask(W, mask);
}

/** One-shot pruning of `model` with per-layer sparsities (weight name → sparsity). */
export async function pruneWithSparsities(model: Model, r: ResolvedPrune, targets: ReadonlyMap<string, number>): Promise<Model> {
  let graph: Graph = model.graph;
  const layers = weightLayers(graph).filter((l) => targets.has(l.weight));
  const formats = new Map<string, WeightFormatSpec>(model.weightFormats);
  const needStats = r.method === 'wanda' || r.method === 'sparsegpt';
  let stats: Map<string, InputStats> | null = null;
  if (needStats && !r.sequential) stats = await collectStats(model, layers, r.batches!, r.method === 'sparsegpt', r);
  const shrunk = new Set<string>();
  for (const l0 of layers) {
    if (r.signal?.aborted) throw new SparqError('ERR_ABORTED', 'prune() was aborted');
    // The graph changes as layers shrink (structured): look the layer up again by its weight.
    const l = weightLayers(graph).find((x) => x.weight === l0.weight)!;
    const sparsity = targets.get(l.weight)!;
    if (sparsity === 0 && r.pattern.kind !== 'nm') continue;
    let layerStats = stats?.get(l.input);
    if (needStats && r.sequential) {
      const current = Model.fromGraph(graph, { metadata: { ...model.metadata } });
      layerStats = (await collectStats(current, [l], r.batches!, r.method === 'sparsegpt', r)).get(l.input);
    }
    const W = weightOf(graph, l);
    if (r.pattern.kind === 'structured' && l.conv) {
      // Channels: the conv's outputs, its BatchNorm's, a depthwise conv's on the way, the next conv's inputs.
      const chain = convChain(graph, l);
      if (typeof chain === 'string') continue; // cannot shrink: left as it is
      const pruned = pruneWeight(W, l, sparsity, r, layerStats);
      const dead = deadColumns(pruned, l.K, l.N);
      if (dead.every((d) => d === 1)) continue; // every channel gone: the model would lose the path
      graph = shrinkConv(graph, chain, pruned, dead).graph;
      shrunk.add(l.weight);
      continue;
    }
    if (r.pattern.kind === 'structured') {
      const chain = structuredChain(graph, l);
      if (typeof chain === 'string') continue; // cannot shrink: left as it is (the report shows it dense)
      const pruned = pruneWeight(W, l, sparsity, r, layerStats);
      graph = shrinkLayer(graph, chain, pruned, deadColumns(pruned, l.K, l.N)).graph;
      shrunk.add(l.weight);
      continue;
    }
    const pruned = pruneWeight(W, l, sparsity, r, layerStats);
    const init = new Map<string, ConstTensor>(graph.initializers);
    init.set(l.weight, weightTensor(l, pruned));
    graph = { ...graph, initializers: init };
    const f = chooseFormat(sparsityOf(pruned), r.pattern, false);
    if (f) formats.set(l.weight, f);
    else formats.delete(l.weight);
  }
  return Model.fromGraph(graph, { metadata: { ...model.metadata }, weightFormats: formats });
}

/** Per-layer target sparsities: overrides, else global / sensitivity / the one sparsity. */
export async function targetSparsities(model: Model, r: ResolvedPrune): Promise<Map<string, number>> {
  const layers = prunableLayers(model.graph, r);
  const free = layers.filter((l) => overrideOf(r, l) === undefined);
  let chosen = new Map<string, number>(free.map((l) => [l.weight, r.sparsity]));
  if (r.sensitivity) chosen = await allocateBySensitivity(model, free, r, r.sensitivity);
  else if (r.scope === 'global' && r.pattern.kind !== 'nm' && free.length > 0) {
    const stats = r.batches && r.method !== 'magnitude' && r.method !== 'random' ? await collectStats(model, free, r.batches, false, r) : null;
    chosen = globalSparsities(model.graph, free, r, stats);
  }
  for (const l of layers) {
    const o = overrideOf(r, l);
    if (o !== undefined) chosen.set(l.weight, o);
  }
  return chosen;
}

/** prune(model, options) → a new, pruned Model. */
export async function prune(model: Model, options: PruneOptions = {}): Promise<Model> {
  if (!(model instanceof Model)) throw typeError('a Model (from loadModel)', 'model', model);
  const r = resolvePruneOptions(model, options);
  return pruneWithSparsities(model, r, await targetSparsities(model, r));
}
