// sparq graph IR → ONNX bytes (protobufjs encodes). Tensors go out as raw little-endian data.
import type { Attribute, ConstTensor, Graph, ValueInfo } from '../graph/ir.js';
import { CODE_OF_DTYPE } from './decode.js';
import { onnx, type IAttributeProto, type IGraphProto, type ITensorProto, type IValueInfoProto } from './proto.js';

export function encodeTensor(name: string, t: ConstTensor): ITensorProto {
  if (t.raw) return { name, dataType: CODE_OF_DTYPE[t.dtype], dims: [...t.dims], rawData: t.raw };
  const d = t.data;
  return { name, dataType: CODE_OF_DTYPE[t.dtype], dims: [...t.dims], rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

function encodeValueInfo(v: ValueInfo): IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: CODE_OF_DTYPE[v.dtype],
        shape: v.dims ? { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined,
      },
    },
  };
}

function encodeAttribute(name: string, a: Attribute): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  const te = new TextEncoder();
  switch (a.type) {
    case 'int': return { name, type: T.INT, i: a.value };
    case 'float': return { name, type: T.FLOAT, f: a.value };
    case 'ints': return { name, type: T.INTS, ints: [...a.value] };
    case 'floats': return { name, type: T.FLOATS, floats: [...a.value] };
    case 'string': return { name, type: T.STRING, s: te.encode(a.value) };
    case 'strings': return { name, type: T.STRINGS, strings: a.value.map((s) => te.encode(s)) };
    case 'tensor': return { name, type: T.TENSOR, t: encodeTensor('', a.value) };
    case 'graph': return { name, type: T.GRAPH, g: encodeGraph(a.value) };
  }
}

function encodeGraph(graph: Graph): IGraphProto {
  return {
    name: graph.name,
    node: graph.nodes.map((n) => ({
      name: n.name,
      opType: n.op,
      domain: n.domain,
      input: [...n.inputs],
      output: [...n.outputs],
      attribute: Object.entries(n.attrs).map(([k, a]) => encodeAttribute(k, a)),
    })),
    initializer: [...graph.initializers].map(([name, t]) => encodeTensor(name, t)),
    input: graph.inputs.map(encodeValueInfo),
    output: graph.outputs.map(encodeValueInfo),
  };
}

export function encodeModel(graph: Graph, metadata: Record<string, string> = {}): Uint8Array {
  const domains = new Set(graph.nodes.map((n) => n.domain).filter((d) => d !== ''));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'sparq',
    opsetImport: [{ domain: '', version: graph.opset }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: encodeGraph(graph),
  });
  return onnx.ModelProto.encode(model).finish();
}
