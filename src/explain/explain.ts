// explain(modelOrSession, feeds, options): which inputs made the model give this output. Three methods:
//   'integrated-gradients' (default) and 'saliency' use input gradients from sparq's training autograd
//   (gradients.ts), so they need a Model whose graph it covers (feed-forward chains: MLPs, classifier
//   heads); 'occlusion' only runs the model, so it explains anything the runtime runs (encoders with
//   int64 token ids, CNNs) and takes a session too.
// One example per call (batch dim 1): the attributions have the input's dims.
import { SparqError, rangeError, typeError } from '../errors.js';
import { Model } from '../model.js';
import { loadModel } from '../io/model-file.js';
import { InferenceSession } from '../session.js';
import { Tensor } from '../tensor.js';
import { checkBoolean, checkInteger, checkObject, checkOneOf } from '../validate.js';
import { BatchRunner, type Feeds } from './batch-runner.js';
import { InputGradients } from './gradients.js';
import { integratedGradients, saliency } from './integrated-gradients.js';
import { occlusion, type OcclusionInput } from './occlusion.js';
import { IG_METHODS, type IgMethod } from './quadrature.js';
import { argmax, resolveTarget, type Target, type TargetSpec } from './target.js';

export const EXPLAIN_METHODS = ['integrated-gradients', 'saliency', 'occlusion'] as const;
export type ExplainMethod = (typeof EXPLAIN_METHODS)[number];
export type { Target, TargetSpec, IgMethod };

export interface ExplainOptions {
  /** Default 'integrated-gradients'. */
  method?: ExplainMethod;
  /** A class index of the first output, or { output, index }; default: the first output's largest value. */
  target?: TargetSpec;
  /** Integrated gradients: path points, all evaluated in one batched run (default 50). */
  steps?: number;
  /**
   * Integrated gradients: the reference input ('zeros', a number, a Tensor of the input's dims, or per
   * input name). Occlusion: the value (or, for int64 ids, the token id) put in place of covered
   * elements (default 0).
   */
  baseline?: 'zeros' | number | Tensor | Record<string, Tensor | number>;
  /** Integrated gradients: the quadrature, as Captum's `method` (default 'gausslegendre', Captum's default). */
  integration?: IgMethod;
  /** Saliency: absolute gradients (default true, as Captum's Saliency). */
  abs?: boolean;
  /** Occlusion: the inputs to occlude (default: every float input, else the first input). */
  inputs?: string[];
  /** Occlusion: the per-example shape to slide over (one occluded input), e.g. [28, 28] for a flat 784. */
  shape?: number[];
  /** Occlusion: the window's extent per dim of the shape (default about a seventh of each spatial dim, 1 for token ids). */
  window?: number[];
  /** Occlusion: the window's step per dim (default half the window). */
  strides?: number[];
  /** Occlusion: perturbed examples per run (default 32). */
  rowsPerRun?: number;
  threads?: number;
  signal?: AbortSignal;
}

export interface Explanation {
  method: ExplainMethod;
  /** Per explained input, a float32 tensor of its dims. */
  attributions: Record<string, Tensor<'float32'>>;
  /** Integrated gradients: Σ attributions − (f(input) − f(baseline)); null for the other methods. */
  delta: number | null;
  target: Target;
  /** The model's value at the target for the given input. */
  value: number;
}

type Source = Model | InferenceSession | string | Uint8Array;

function checkFeeds(feeds: unknown): Feeds {
  const f = checkObject(feeds, 'feeds');
  for (const [name, t] of Object.entries(f)) {
    if (!(t instanceof Tensor)) throw typeError('a Tensor', `feeds["${name}"]`, t);
    if (t.dims.length === 0 || t.dims[0] !== 1) throw rangeError('a tensor of batch 1 (explain() explains one example)', `feeds["${name}"]`, `dims [${t.dims.join(', ')}]`);
  }
  return f as Feeds;
}

function checkDims(value: unknown, name: string, rank: number): number[] {
  if (!Array.isArray(value) || value.length !== rank) throw typeError(`an array of ${rank} positive integers`, name, value);
  return value.map((v, i) => checkInteger(v, `${name}[${i}]`, 1, 1 << 30));
}

export async function explain(source: Source, feeds: Feeds, options: ExplainOptions = {}): Promise<Explanation> {
  const opts = checkObject(options, 'options') as ExplainOptions;
  const method = checkOneOf(opts.method ?? 'integrated-gradients', 'options.method', EXPLAIN_METHODS);
  const given = checkFeeds(feeds);
  if (opts.threads !== undefined) checkInteger(opts.threads, 'options.threads', 0, 1024);
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw typeError('an AbortSignal', 'options.signal', opts.signal);
  let model: Model | undefined;
  if (source instanceof Model) model = source;
  else if (typeof source === 'string' || source instanceof Uint8Array) model = await loadModel(source);
  else if (!(source instanceof InferenceSession)) throw typeError('a Model, an InferenceSession, a path or model bytes', 'modelOrSession', source);
  if (method === 'occlusion') return explainByOcclusion(model ?? (source as InferenceSession), given, opts);
  if (!model) throw new SparqError('ERR_UNSUPPORTED_OP', `method '${method}' needs the Model (its gradients come from the graph); a session can be explained by 'occlusion'`);
  return explainByGradients(model, method, given, opts);
}

function baselineFor(spec: ExplainOptions['baseline'], name: string, x: Tensor): Float32Array {
  let b: unknown = spec ?? 'zeros';
  if (b !== 'zeros' && typeof b === 'object' && !(b instanceof Tensor)) b = (b as Record<string, unknown>)[name] ?? 'zeros';
  if (b === 'zeros') return new Float32Array(x.size);
  if (typeof b === 'number') {
    if (!Number.isFinite(b)) throw rangeError('a finite number', 'options.baseline', b);
    return new Float32Array(x.size).fill(b);
  }
  if (b instanceof Tensor) {
    if (b.type !== 'float32' || b.size !== x.size) throw rangeError(`a float32 tensor of ${x.size} values (input "${name}")`, 'options.baseline', `a ${b.type} tensor of ${b.size} values`);
    return b.data as Float32Array;
  }
  throw typeError("'zeros', a number, a Tensor or a record of them per input", 'options.baseline', b);
}

async function explainByGradients(model: Model, method: 'integrated-gradients' | 'saliency', feeds: Feeds, opts: ExplainOptions): Promise<Explanation> {
  const steps = checkInteger(opts.steps ?? 50, 'options.steps', 1, 1 << 16);
  const integration = checkOneOf(opts.integration ?? 'gausslegendre', 'options.integration', IG_METHODS);
  const abs = checkBoolean(opts.abs ?? true, 'options.abs');
  const grad = new InputGradients(model, opts.threads ?? 0);
  const name = grad.graph.inputName;
  const x = feeds[name];
  if (!x) throw typeError(`a float32 tensor (input "${name}" is required)`, `feeds["${name}"]`, x);
  if (x.type !== 'float32') throw new SparqError('ERR_UNSUPPORTED_DTYPE', `Gradient explanations need a float32 input but "${name}" is ${x.type}; use method 'occlusion' (a baseline token id) for int64 ids`);
  if (x.size !== grad.inputSize) throw rangeError(`a tensor of ${grad.inputSize} values per example`, `feeds["${name}"]`, `dims [${x.dims.join(', ')}]`);
  const data = x.data as Float32Array;
  const out = grad.forward(data, 1);
  const target = resolveTarget(opts.target, [grad.graph.outputName], () => [grad.outputSize]) ?? { output: grad.graph.outputName, index: argmax(out, 0, grad.outputSize) };
  if (method === 'saliency') {
    const s = saliency(grad, data, target.index, abs);
    return { method, attributions: { [name]: new Tensor('float32', s, x.dims) }, delta: null, target, value: out[target.index] };
  }
  const ig = integratedGradients(grad, data, baselineFor(opts.baseline, name, x), target.index, steps, integration);
  return { method, attributions: { [name]: new Tensor('float32', ig.attributions, x.dims) }, delta: ig.delta, target, value: ig.atInput };
}

/** Window defaults: 1 along token ids; about a seventh of each spatial dim (a channel dim taken whole). */
function defaultWindow(shape: readonly number[], integer: boolean): number[] {
  if (integer) return shape.map(() => 1);
  const spatial = (d: number) => Math.max(1, Math.round(d / 7));
  if (shape.length === 3) return [shape[0], spatial(shape[1]), spatial(shape[2])];
  if (shape.length === 1) return [Math.max(1, Math.round(shape[0] / 32))];
  return shape.map(spatial);
}

function occlusionInputs(names: readonly string[], feeds: Feeds, opts: ExplainOptions): OcclusionInput[] {
  let chosen: string[];
  if (opts.inputs !== undefined) {
    if (!Array.isArray(opts.inputs) || opts.inputs.length === 0) throw typeError('a non-empty array of input names', 'options.inputs', opts.inputs);
    chosen = opts.inputs.map((n, i) => {
      if (typeof n !== 'string' || !names.includes(n)) throw rangeError(`one of the model's inputs (${names.join(', ')})`, `options.inputs[${i}]`, n);
      return n;
    });
  } else {
    const floats = names.filter((n) => feeds[n]?.type === 'float32');
    chosen = floats.length ? floats : [names[0]];
  }
  if (opts.shape !== undefined && chosen.length !== 1) throw rangeError('one occluded input (options.shape views one input)', 'options.inputs', chosen);
  return chosen.map((name) => {
    const x = feeds[name];
    if (!x) throw typeError(`a tensor (input "${name}" is required)`, `feeds["${name}"]`, x);
    if (x.type === 'bool') throw new SparqError('ERR_UNSUPPORTED_DTYPE', `Occlusion replaces values by a baseline; input "${name}" is bool`);
    let shape = x.dims.slice(1);
    if (opts.shape !== undefined) {
      shape = checkDims(opts.shape, 'options.shape', Array.isArray(opts.shape) ? opts.shape.length : 0);
      if (shape.reduce((a, d) => a * d, 1) !== x.size) throw rangeError(`a shape of ${x.size} values (input "${name}")`, 'options.shape', opts.shape);
    } else if (shape.length === 1 && x.type === 'float32' && shape[0] >= 64 && Number.isInteger(Math.sqrt(shape[0]))) {
      // A flat vector of a square number of values (784 = 28x28, an MLP's image input): a square image.
      const side = Math.sqrt(shape[0]);
      shape = [side, side];
    }
    const integer = x.type !== 'float32';
    const window = opts.window !== undefined ? checkDims(opts.window, 'options.window', shape.length) : defaultWindow(shape, integer);
    const strides = opts.strides !== undefined ? checkDims(opts.strides, 'options.strides', shape.length) : window.map((w) => Math.max(1, Math.ceil(w / 2)));
    const b = opts.baseline;
    let baseline: unknown = 0;
    if (typeof b === 'number') baseline = b;
    else if (b !== undefined && b !== 'zeros') {
      if (b instanceof Tensor || typeof b !== 'object' || b === null) throw typeError('a number (or a record of numbers per input) for occlusion', 'options.baseline', b);
      baseline = (b as Record<string, unknown>)[name] ?? 0;
      if (typeof baseline !== 'number') throw typeError('a number', `options.baseline["${name}"]`, baseline);
    }
    if (typeof baseline !== 'number') throw typeError('a number', 'options.baseline', baseline);
    if (!Number.isFinite(baseline) || (integer && !Number.isInteger(baseline))) throw rangeError(integer ? 'an integer token id' : 'a finite number', 'options.baseline', baseline);
    return { name, shape, window: window.map((w, i) => Math.min(w, shape[i])), strides, baseline };
  });
}

async function explainByOcclusion(source: Model | InferenceSession, feeds: Feeds, opts: ExplainOptions): Promise<Explanation> {
  const rowsPerRun = checkInteger(opts.rowsPerRun ?? 32, 'options.rowsPerRun', 1, 1 << 16);
  const owned = source instanceof Model;
  const session = owned ? await InferenceSession.create(source, opts.threads !== undefined ? { threads: opts.threads } : {}) : source;
  try {
    const batchable = owned ? (source.inputs.every((i) => i.dims !== null && typeof i.dims[0] === 'string') ? true : source.inputs.some((i) => typeof i.dims?.[0] === 'number') ? false : 'unknown') : 'unknown';
    const runner = new BatchRunner(session, batchable, rowsPerRun, opts.signal);
    const inputs = occlusionInputs(session.inputNames, feeds, opts);
    const out = await runner.run(feeds);
    const first = out[session.outputNames[0]];
    const target = resolveTarget(opts.target, session.outputNames, (o) => out[o].dims.slice(1)) ?? { output: session.outputNames[0], index: argmax(first.data as Float32Array, 0, first.size) };
    const t = out[target.output];
    if (t.type !== 'float32') throw new SparqError('ERR_UNSUPPORTED_DTYPE', `Occlusion compares float outputs; output "${target.output}" is ${t.type}`);
    const value = (t.data as Float32Array)[target.index];
    const attr = await occlusion(runner, feeds, inputs, target, value);
    const attributions = Object.fromEntries(inputs.map((i) => [i.name, new Tensor('float32', attr[i.name], feeds[i.name].dims)]));
    return { method: 'occlusion', attributions, delta: null, target, value };
  } finally {
    if (owned) await session.release();
  }
}
