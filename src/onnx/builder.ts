// A small ONNX model builder: tests, benchmarks and the demo write their models with it.
import { DataType, onnx, type IAttributeProto, type IGraphProto, type INodeProto, type ITensorProto, type IValueInfoProto } from './proto.js';

export type ElemType = keyof typeof DataType;
/** A dim: a fixed size or a symbolic name ('batch', 'seq'). */
export type Dim = number | string;
export type AttrValue = number | string | number[] | string[] | ITensorProto | { float: number } | { floats: number[] } | { graph: GraphBuilder };

export class GraphBuilder {
  private nodes: INodeProto[] = [];
  private initializers: ITensorProto[] = [];
  private inputs: IValueInfoProto[] = [];
  private outputs: IValueInfoProto[] = [];
  private counter = 0;
  opset = 17;

  /** A unique value name with a readable prefix. */
  name(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemType, dims: Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** An fp32 initializer; returns its name. */
  float(name: string, data: Float32Array, dims: number[]): string {
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, rawData: bytesOf(data) });
    return name;
  }

  int64(name: string, data: readonly number[], dims: number[] = [data.length]): string {
    this.initializers.push({ name, dataType: DataType.INT64, dims, rawData: bytesOf(BigInt64Array.from(data, (v) => BigInt(v))) });
    return name;
  }

  tensor(t: ITensorProto): string {
    this.initializers.push(t);
    return t.name as string;
  }

  /** Adds a node; returns its output names. */
  node(opType: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.name(opType.toLowerCase())) : outputs;
    this.nodes.push({
      opType,
      domain,
      name: this.name(`${opType}_node`),
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** The graph as a GraphProto (a subgraph attribute: If's branches, Loop's body). */
  graphProto(graphName = 'sparq_graph'): IGraphProto {
    return { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }

  /** Encodes the model as ONNX bytes. */
  build(graphName = 'sparq_graph'): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'sparq',
      // The default domain at `opset`, and version 1 of any other domain a node uses (com.microsoft).
      opsetImport: [{ domain: '', version: this.opset }, ...[...new Set(this.nodes.map((n) => n.domain ?? ''))].filter((d) => d !== '').map((domain) => ({ domain, version: 1 }))],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DataType[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function attribute(name: string, v: AttrValue): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { name, type: T.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    return { name, type: T.INTS, ints: v as number[] };
  }
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  if ('graph' in v) return { name, type: T.GRAPH, g: v.graph.graphProto(name) };
  return { name, type: T.TENSOR, t: v };
}

/** A model computing Y = X · W (+ B) for benchmarks and kernel tests against onnxruntime. */
export function matmulModel(W: Float32Array, K: number, N: number, bias?: Float32Array): Uint8Array {
  const g = new GraphBuilder();
  g.input('X', 'FLOAT', ['M', K]);
  g.float('W', W, [K, N]);
  if (bias) {
    g.float('B', bias, [N]);
    const [xw] = g.node('MatMul', ['X', 'W']);
    g.node('Add', [xw, 'B'], ['Y']);
  } else {
    g.node('MatMul', ['X', 'W'], ['Y']);
  }
  g.output('Y', 'FLOAT', ['M', N]);
  return g.build('matmul');
}
