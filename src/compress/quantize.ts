// quantize(model, options) → a new Model whose linear weights are s8 (symmetric, per output channel or
// per tensor). The Model keeps each weight as the fp32 values it stands for (q · scale, exact), marks
// it in metadata ('sparq.quantization') and assigns the int8 kernel format, so the session packs it to
// the same s8 values and the exporters (.onnx, .sparq) write the s8 values and scales themselves.
//   'dynamic':     s8 weights, u8 activations quantized per run (the int8 / sparse-int8 kernels).
//   'static':      as dynamic, plus activation ranges from calibration (min-max or percentile) fixed as
//                  QuantizeLinear → DequantizeLinear on each layer's input (the Q/DQ form ONNX tools use).
//   'weight-only': s8 storage, fp32 arithmetic (dense or sparse fp32 kernels); with `bits` or `groupSize`
//                  given, group-wise codes (int4 two per byte, or int8) with one scale per group of
//                  groupSize k per output, on the decode kernels 'int4' / 'int8-wo'
//                  (quantize-weight-only.ts), exported to ONNX as com.microsoft MatMulNBits.
// Pruned weights stay exact zeros and run as 'sparse-int8'.
import { typeError } from '../errors.js';
import { type ConstTensor, type Graph, type Node, freezeTensor } from '../graph/ir.js';
import { Model, type WeightFormatSpec } from '../model.js';
import { checkBoolean, checkInteger, checkNumber, checkObject, checkOneOf } from '../validate.js';
import { type Calibration, asMatrix, calibrationBatches, observe } from './calibration.js';
import { SPARSE_INT8_FROM, chooseFormat } from './formats.js';
import { selected, weightLayers, weightOf, weightTensor } from './layers.js';
import { blockFill, sparsityOf } from './masks.js';
import { RangeObserver, dequantizeWeights, quantizeWeights } from './quantize-math.js';
import { quantizationOf, withQuantization } from './quantization-record.js';
import { DEFAULT_GROUP_SIZE, GROUP_SIZES, type GroupwiseSpec, quantizeGroupwise, weightOnlyFormatSpec } from './quantize-weight-only.js';

export const QUANTIZE_MODES = ['dynamic', 'static', 'weight-only'] as const;
export type QuantizeMode = (typeof QUANTIZE_MODES)[number];

export interface QuantizeOptions {
  mode?: QuantizeMode;
  /** One scale per output channel (default) or one per weight tensor. */
  perChannel?: boolean;
  /** Layers (node or weight names, or RegExps) left in fp32. */
  exclude?: readonly (string | RegExp)[];
  /** Only these layers. */
  include?: readonly (string | RegExp)[];
  /** 'static': the activation batches to observe. */
  calibration?: Calibration;
  /** 'static': 'minmax' (default) or 'percentile'. */
  rangeMethod?: 'minmax' | 'percentile';
  /** 'static' with 'percentile': the percentile kept at both ends (default 99.99). */
  percentile?: number;
  /**
   * 'weight-only': code width, 8 or 4. Giving `bits` or `groupSize` selects the group-wise decode formats
   * ('int4', 'int8-wo'); without either, 'weight-only' keeps s8 per-channel weights on fp32 kernels.
   */
  bits?: 4 | 8;
  /** 'weight-only': consecutive k per scale (16, 32, 64 (default), 128 or 256). */
  groupSize?: number;
  /** 'weight-only' group-wise: fixed zero point (default true) or one stored per group. */
  symmetric?: boolean;
  threads?: number;
  signal?: AbortSignal;
}

export { QUANTIZATION_KEY, quantizationOf, withQuantization, type WeightQuantization } from './quantization-record.js';

/**
 * Convs with short GEMM rows (K = kh·kw·C below this: 1x1 convs over few channels) run sparse int8 only
 * from the scattered threshold, whatever their blocks: on MobileNet-v2's 1x1 layers at 70% in 1x4
 * blocks, dense int8 measured 1.5-3x faster below K = 256 (the per-block work outweighs the
 * multiply-adds it skips) and on par above.
 */
const CONV_SPARSE_INT8_MIN_K = 256;

export async function quantize(model: Model, options: QuantizeOptions = {}): Promise<Model> {
  if (!(model instanceof Model)) throw typeError('a Model (from loadModel)', 'model', model);
  const o = checkObject(options ?? {}, 'options') as QuantizeOptions;
  const mode = checkOneOf(o.mode ?? 'dynamic', 'options.mode', QUANTIZE_MODES);
  const perChannel = o.perChannel === undefined ? true : checkBoolean(o.perChannel, 'options.perChannel');
  for (const key of ['include', 'exclude'] as const) {
    const v = o[key];
    if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || x instanceof RegExp))) throw typeError('an array of node or weight names (strings or RegExps)', `options.${key}`, v);
  }
  const rangeMethod = checkOneOf(o.rangeMethod ?? 'minmax', 'options.rangeMethod', ['minmax', 'percentile'] as const);
  const percentile = checkNumber(o.percentile ?? 99.99, 'options.percentile', 50, 100);
  if (o.threads !== undefined) checkInteger(o.threads, 'options.threads', 1, 1024);
  let groupwise: GroupwiseSpec | null = null;
  if (o.bits !== undefined || o.groupSize !== undefined || o.symmetric !== undefined) {
    if (mode !== 'weight-only') throw typeError("mode 'weight-only' with options.bits / groupSize / symmetric", 'options.mode', mode);
    const bits = o.bits ?? 8;
    if (bits !== 4 && bits !== 8) throw typeError('4 or 8', 'options.bits', o.bits);
    const groupSize = o.groupSize ?? DEFAULT_GROUP_SIZE;
    if (!(GROUP_SIZES as readonly unknown[]).includes(groupSize)) throw typeError(`one of ${GROUP_SIZES.join(', ')}`, 'options.groupSize', o.groupSize);
    groupwise = { bits, groupSize, symmetric: o.symmetric === undefined ? true : checkBoolean(o.symmetric, 'options.symmetric') };
  }
  if (mode === 'static' && o.calibration === undefined) throw typeError("calibration feeds for mode 'static'", 'options.calibration', o.calibration);
  const batches = o.calibration === undefined ? null : calibrationBatches(o.calibration, model, 'options.calibration');

  const graph = model.graph;
  const done = quantizationOf(model);
  // 'static' observes [M, K] layer inputs: linear layers only; convs quantize in the other modes.
  const layers = weightLayers(graph).filter((l) => selected(l, o.include, o.exclude) && !done.has(l.weight) && !(l.conv && mode === 'static'));
  const init = new Map<string, ConstTensor>(graph.initializers);
  const formats = new Map<string, WeightFormatSpec>(model.weightFormats);
  const record = new Map(done);
  for (const l of layers) {
    const W = weightOf(graph, l);
    if (groupwise) {
      init.set(l.weight, weightTensor(l, quantizeGroupwise(W, l.K, l.N, groupwise).dequantized));
      formats.set(l.weight, weightOnlyFormatSpec(groupwise));
      record.set(l.weight, { mode, bits: groupwise.bits, perChannel: true, groupSize: groupwise.groupSize, symmetric: groupwise.symmetric });
      continue;
    }
    const q = quantizeWeights(W, l.K, l.N, perChannel);
    init.set(l.weight, weightTensor(l, dequantizeWeights(q, l.K, l.N)));
    const sparsity = sparsityOf(W);
    const f =
      mode === 'weight-only'
        ? (model.weightFormats.get(l.weight) ?? null)
        : chooseFormat(sparsity, null, true, perChannel, undefined, l.conv && l.K < CONV_SPARSE_INT8_MIN_K ? 0 : sparsity >= SPARSE_INT8_FROM ? blockFill(W, l.K, l.N) : 1);
    if (f) formats.set(l.weight, f);
    else formats.delete(l.weight);
    record.set(l.weight, { mode, bits: 8, perChannel });
  }
  let out: Graph = { ...graph, initializers: init };
  if (mode === 'static' && layers.length > 0) {
    // Observe each layer input on the fp32 model (ranges of the original activations).
    const observers = new Map<string, RangeObserver>();
    for (const l of layers) if (!observers.has(l.input)) observers.set(l.input, new RangeObserver(rangeMethod, percentile));
    await observe(model, batches!, [...observers.keys()], (res) => {
      for (const [v, obs] of observers) obs.observe(asMatrix(res[v]).data);
    }, { threads: o.threads, signal: o.signal });
    out = insertInputQdq(out, layers.map((l) => l.node), observers);
    for (const l of layers) record.set(l.weight, { mode, bits: 8, perChannel, input: observers.get(l.input)!.params() });
  }
  return Model.fromGraph(out, { metadata: withQuantization(model.metadata, record), weightFormats: formats });
}

/** QuantizeLinear → DequantizeLinear (fixed u8 parameters) on each node's first input, shared per value. */
function insertInputQdq(graph: Graph, nodes: readonly Node[], observers: Map<string, RangeObserver>): Graph {
  const init = new Map(graph.initializers);
  const renamed = new Map<string, string>();
  const added: { before: Node; nodes: Node[] }[] = [];
  const taken = new Set<string>([...graph.initializers.keys(), ...graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs]), ...graph.inputs.map((i) => i.name)]);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  for (const node of nodes) {
    const x = node.inputs[0];
    if (renamed.has(x)) continue;
    const p = observers.get(x)!.params();
    const s = fresh(`${x}_scale`);
    const z = fresh(`${x}_zero_point`);
    const q = fresh(`${x}_quantized`);
    const dq = fresh(`${x}_dequantized`);
    init.set(s, freezeTensor({ dtype: 'float32', dims: [], data: Float32Array.of(p.scale) }));
    init.set(z, freezeTensor({ dtype: 'uint8', dims: [], data: Uint8Array.of(p.zeroPoint) }));
    renamed.set(x, dq);
    added.push({
      before: node,
      nodes: [
        { name: fresh(`${x}_QuantizeLinear`), op: 'QuantizeLinear', domain: '', inputs: [x, s, z], outputs: [q], attrs: {} },
        { name: fresh(`${x}_DequantizeLinear`), op: 'DequantizeLinear', domain: '', inputs: [q, s, z], outputs: [dq], attrs: {} },
      ],
    });
  }
  const targets = new Set(nodes);
  const out: Node[] = [];
  for (const n of graph.nodes) {
    for (const a of added) if (a.before === n) out.push(...a.nodes);
    out.push(targets.has(n) ? { ...n, inputs: [renamed.get(n.inputs[0])!, ...n.inputs.slice(1)] } : n);
  }
  return { ...graph, nodes: out, initializers: init };
}
