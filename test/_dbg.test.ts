import { it } from 'vitest';
import { loadModel } from '../src/index.js';
import { prepareGraph } from '../src/session.js';
import { compilePlan } from '../src/runtime/plan.js';
import { encoderModel } from '../src/onnx/zoo.js';
it('dbg', async () => {
  const m = await loadModel(encoderModel({ hidden: 32, heads: 2, ffn: 64, layers: 1, vocab: 50, pooler: true }));
  console.log('orig nodes', m.nodes.length);
  const g = prepareGraph(m.graph);
  console.log(g.nodes.map((n) => `${n.op}(${n.inputs.join(',')})->${n.outputs.join(',')}`).join('\n'));
  const p = compilePlan(g, new Map([['input_ids', [2, 5]], ['attention_mask', [2, 5]]]), () => 0);
  console.log(p.spec.ops.map((o) => `${o.op} ${o.inputs} -> ${o.outputs} ints=${o.ints}`).join('\n'));
  console.log('arena', p.spec.arenaBytes, 'slots', p.spec.slots.length, p.outputs);
});
