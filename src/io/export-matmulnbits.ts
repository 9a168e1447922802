// A group-wise weight-only layer as onnxruntime's com.microsoft MatMulNBits: B [N, blocks, blob] u8 codes
// along K (low nibble first at 4 bits), scales [N, blocks], zero points (asymmetric only: the symmetric
// ones are MatMulNBits' default 2^(bits-1)), attributes K, N, bits, block_size, accuracy_level. A Gemm's
// bias follows as an Add.
import { type ConstTensor, type Node, freezeTensor } from '../graph/ir.js';
import type { LinearLayer } from '../compress/layers.js';
import type { WeightQuantization } from '../compress/quantize.js';
import { packedZeroPoints, quantizeGroupwise } from '../compress/quantize-weight-only.js';
import type { Fresh } from './export-onnx.js';

export function matMulNBitsLayer(l: LinearLayer, W: Float32Array, q: WeightQuantization, accuracyLevel: number, init: Map<string, ConstTensor>, fresh: Fresh): Node[] {
  const bits = q.bits;
  const groupSize = q.groupSize as number;
  const symmetric = q.symmetric ?? true;
  const g = quantizeGroupwise(W, l.K, l.N, { bits, groupSize, symmetric });
  const base = l.node.name;
  const b = fresh(`${l.weight}_q${bits}`);
  const s = fresh(`${l.weight}_scales`);
  init.set(b, freezeTensor({ dtype: 'uint8', dims: [l.N, g.blocks, (groupSize * bits) / 8], data: g.codes }));
  init.set(s, freezeTensor({ dtype: 'float32', dims: [l.N, g.blocks], data: g.scales }));
  const inputs = [l.input, b, s];
  if (!symmetric) {
    const z = fresh(`${l.weight}_zero_points`);
    const zp = packedZeroPoints(g, bits);
    init.set(z, freezeTensor({ dtype: 'uint8', dims: [zp.length], data: zp }));
    inputs.push(z);
  }
  const gemmBias = l.node.op === 'Gemm' && l.node.inputs[2] ? l.node.inputs[2] : '';
  const y = l.node.outputs[0];
  const product = gemmBias ? fresh(`${base}_product`) : y;
  const int = (value: number) => ({ type: 'int' as const, value });
  const nodes: Node[] = [
    {
      name: fresh(`${base}_MatMulNBits`),
      op: 'MatMulNBits',
      domain: 'com.microsoft',
      inputs,
      outputs: [product],
      attrs: { K: int(l.K), N: int(l.N), bits: int(bits), block_size: int(groupSize), accuracy_level: int(accuracyLevel) },
    },
  ];
  if (gemmBias) nodes.push({ name: fresh(`${base}_Bias`), op: 'Add', domain: '', inputs: [product, gemmBias], outputs: [y], attrs: {} });
  return nodes;
}
