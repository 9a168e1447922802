// Lowers LSTM / GRU / RNN nodes (ONNX, or the sparq form with packed weights: src/graph/rnn.ts) to
// the native recurrent op (native/runtime/ops_rnn_plan.cpp documents the layout it reads).
import { SparqError } from '../errors.js';
import { type Node, attrFloat, attrInt, attrString, numel } from '../graph/ir.js';
import { SPARQ_DOMAIN } from '../graph/fuse.js';
import { PACKED_R_INPUT, directionsOf, gateCount } from '../graph/rnn.js';
import { OpCode } from './opcodes.js';
import type { OpSpec, WeightIndex } from './plan.js';

/** ONNX activation names (lower-cased) in the native enum's order, with default alpha / beta and which of them they read. */
const ACTIVATIONS: readonly { name: string; alpha?: number; beta?: number }[] = [
  { name: 'relu' },
  { name: 'tanh' },
  { name: 'sigmoid' },
  { name: 'affine', alpha: 1, beta: 0 },
  { name: 'leakyrelu', alpha: 0.01 },
  { name: 'thresholdedrelu', alpha: 1 },
  { name: 'scaledtanh', alpha: 1, beta: 1 },
  { name: 'hardsigmoid', alpha: 0.2, beta: 0.5 },
  { name: 'elu', alpha: 1 },
  { name: 'softsign' },
  { name: 'softplus' },
];

const DEFAULTS: Record<string, string[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };

export function isRecurrentCode(op: number): boolean {
  return op === OpCode.LSTM || op === OpCode.GRU || op === OpCode.RNN;
}

function attrList<T extends 'floats' | 'strings'>(node: Node, name: string, type: T): (T extends 'floats' ? number : string)[] | undefined {
  const a = node.attrs[name];
  return a && a.type === type ? ([...(a.value as readonly unknown[])] as (T extends 'floats' ? number : string)[]) : undefined;
}

/**
 * The activation kinds, alphas and betas per direction. As onnxruntime reads them: `activations` lists
 * A per direction (one list of A serves both directions), and activation_alpha / activation_beta are
 * consumed in order by the functions that take them, defaults filling in past their end.
 */
function activations(node: Node, D: number): { kinds: number[]; alphas: number[]; betas: number[] } {
  const defaults = DEFAULTS[node.op];
  const A = defaults.length;
  let names = attrList(node, 'activations', 'strings') ?? [];
  if (names.length === 0) names = Array.from({ length: D }, () => defaults).flat();
  else if (names.length === A && D === 2) names = [...names, ...names];
  if (names.length !== A * D)
    throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${node.name}" (${node.op}) lists ${names.length} activations; it takes ${A} per direction`);
  const alphaList = attrList(node, 'activation_alpha', 'floats') ?? [];
  const betaList = attrList(node, 'activation_beta', 'floats') ?? [];
  let ai = 0, bi = 0;
  const kinds: number[] = [], alphas: number[] = [], betas: number[] = [];
  for (const n of names) {
    const k = ACTIVATIONS.findIndex((a) => a.name === n.toLowerCase());
    if (k < 0) throw new SparqError('ERR_UNSUPPORTED_OP', `${node.op} node "${node.name}" uses activation "${n}", which sparq does not support`);
    const a = ACTIVATIONS[k];
    kinds.push(k);
    alphas.push(a.alpha === undefined ? 0 : ai < alphaList.length ? alphaList[ai++] : a.alpha);
    betas.push(a.beta === undefined ? 0 : bi < betaList.length ? betaList[bi++] : a.beta);
  }
  return { kinds, alphas, betas };
}

export function lowerRecurrent(node: Node, spec: OpSpec, dimsOf: (slot: number) => readonly number[], weightIndex: WeightIndex): OpSpec {
  const D = directionsOf(node);
  const packed = node.domain === SPARQ_DOMAIN;
  let H = attrInt(node, 'hidden_size', -1);
  if (H < 0 && !packed && spec.inputs[2] >= 0) H = dimsOf(spec.inputs[2])[2];
  if (H < 0) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${node.name}" (${node.op}) has no hidden_size`);
  const inputs = spec.inputs.slice(0, PACKED_R_INPUT);
  while (inputs.length < PACKED_R_INPUT) inputs.push(-1);
  const outputs = spec.outputs.slice(0, 3);
  while (outputs.length < 3) outputs.push(-1);
  if (node.op !== 'LSTM' && (inputs[6] >= 0 || inputs[7] >= 0))
    throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${node.name}" (${node.op}) has more inputs than ${node.op} takes`);
  const { kinds, alphas, betas } = activations(node, D);
  const clip = attrFloat(node, 'clip', 0);
  if (!(clip >= 0)) throw new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: node "${node.name}" (${node.op}) has clip ${clip}`);
  const out: OpSpec = {
    op: node.op === 'LSTM' ? OpCode.LSTM : node.op === 'GRU' ? OpCode.GRU : OpCode.RNN,
    inputs,
    outputs,
    ints: [H, D, attrString(node, 'direction', 'forward') === 'reverse' ? 1 : 0, attrInt(node, 'layout', 0), attrInt(node, 'linear_before_reset', 0) ? 1 : 0, attrInt(node, 'input_forget', 0) ? 1 : 0, ...kinds],
    floats: [clip, ...alphas, ...betas],
    weight: -1,
  };
  if (packed) {
    out.weight = weightIndex(node.inputs[1], node);
    out.extraWeights = node.inputs.slice(PACKED_R_INPUT).map((name) => weightIndex(name, node));
  }
  return out;
}

/** Multiply-adds of a run: the projection and the recurrence. */
export function recurrentWork(spec: OpSpec, dimsOf: (slot: number) => readonly number[]): number {
  const x = dimsOf(spec.inputs[0]);
  const [H, D] = spec.ints;
  const G = gateCount(spec.op === OpCode.LSTM ? 'LSTM' : spec.op === OpCode.GRU ? 'GRU' : 'RNN');
  return numel(x) / Math.max(x[2], 1) * (x[2] + H) * G * H * D;
}
