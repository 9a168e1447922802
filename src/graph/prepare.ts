// Preparing a model's graph for execution (folding, fusion, dead-node removal), and the prepared graph
// a .sparq file carries so that a session made from it skips the passes: they are most of what
// creating a session from a small model costs while the process's JS is still cold (LeNet-300-100:
// ~60 of ~250 µs). The file stores the prepared ops, and the constants fusion derived (transposed or
// scaled weights, reshaped biases) as recipes over the model's own initializers (fuse.ts, Derivation).
import { convertConvLayout } from './conv-layout.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { foldConstants, removeDeadNodes } from './fold.js';
import { type Derivation, derivationOf, fuseGraph } from './fuse.js';
import type { ConstTensor, Graph, Node } from './ir.js';
import { normalizeOpsets } from './normalize.js';
import { packRecurrentWeights } from './rnn.js';
import { exposeImplicitInputs, hideImplicitInputs } from './subgraphs.js';

/**
 * What the passes produce, versioned: bump it whenever folding or fusion changes its output; files
 * holding a prepared graph of another version are prepared afresh at load.
 */
export const PREPARED_VERSION = 3;

/** Prepares a model's graph for execution: opset forms normalised, folding (BatchNorm too), fusion, the channels-last conv layout, dead-node removal. */
export function prepareGraph(graph: Graph): Graph {
  // If / Loop / Scan bodies are prepared once inlined, when a plan is made (subgraphs.ts).
  const exposed = exposeImplicitInputs(graph);
  const prepared = removeDeadNodes(packRecurrentWeights(convertConvLayout(fuseGraph(foldBatchNorm(foldConstants(normalizeOpsets(exposed)))))));
  return exposed === graph ? prepared : hideImplicitInputs(prepared);
}

/** A prepared graph as a file stores it: its nodes, the constants it derived (recipes), and those it folded (values), by name. */
export interface StoredPreparation {
  nodes: readonly Node[];
  derived: Record<string, Derivation>;
  values: Record<string, ConstTensor>;
}

/** Folded constants above this many bytes are not stored by value (the file then stores no prepared graph). */
const MAX_STORED_VALUE = 1 << 20;

/**
 * The prepared graph of `graph` in storable form: constants the passes derived from `graph`'s own
 * initializers as recipes, those they folded or synthesised (shapes, LayerNorm scales) by value; or
 * undefined where a folded constant is large (a file then stores none, and its sessions prepare the
 * graph at load).
 */
export function storablePreparation(graph: Graph): StoredPreparation | undefined {
  const prepared = prepareGraph(graph);
  // Subgraphs (If, Loop, Scan) are not part of the stored form: such graphs are prepared at load.
  if (prepared.nodes.some((n) => Object.values(n.attrs).some((a) => a.type === 'graph'))) return undefined;
  const derived: Record<string, Derivation> = {};
  const values: Record<string, ConstTensor> = {};
  for (const [name, t] of prepared.initializers) {
    if (graph.initializers.get(name) === t) continue;
    if (graph.initializers.has(name) || graph.inputs.some((v) => v.name === name)) return undefined;
    const d = derivationOf(t);
    if (d && graph.initializers.get(d.derivation.of) === d.source) derived[name] = d.derivation;
    else if (t.data.byteLength <= MAX_STORED_VALUE) values[name] = t;
    else return undefined;
  }
  return { nodes: prepared.nodes, derived, values };
}

const preparedGraphs = new WeakMap<object, Graph>();

/** Attaches the prepared graph a file carried to the model decoded from it. */
export function attachPreparedGraph(model: object, graph: Graph): void {
  preparedGraphs.set(model, graph);
}

/** The prepared graph the model's file carried, if any (else a session runs prepareGraph). */
export function preparedGraphOf(model: object): Graph | undefined {
  return preparedGraphs.get(model);
}
