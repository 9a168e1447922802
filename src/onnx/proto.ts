// The ONNX protobuf schema (onnx.proto compiled by protobufjs, shipped by the onnx-proto package).
import { createRequire } from 'node:module';

import type onnxProto from 'onnx-proto';

let schema: typeof onnxProto.onnx | undefined;

/**
 * The schema, loaded on first use: protobufjs and the compiled onnx.proto (330 KB of CommonJS) cost
 * ~50 ms to load, which `import('sparq')` shouldn't pay before a model is decoded or encoded (a
 * service that loads .sparq files never needs them). Loaded with require, not import: Node's ESM
 * loader would first scan that CommonJS source for its export names (another ~75 ms).
 */
function loadSchema(): typeof onnxProto.onnx {
  return (schema ??= (createRequire(import.meta.url)('onnx-proto') as typeof onnxProto).onnx);
}

export const onnx: typeof onnxProto.onnx = new Proxy({} as typeof onnxProto.onnx, {
  get: (_, key) => Reflect.get(loadSchema(), key),
  has: (_, key) => Reflect.has(loadSchema(), key),
});
export type onnx = typeof onnxProto.onnx;
export type IModelProto = onnxProto.onnx.IModelProto;
export type IGraphProto = onnxProto.onnx.IGraphProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;
export type IAttributeProto = onnxProto.onnx.IAttributeProto;
export type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** ONNX TensorProto.DataType codes for the types sparq handles. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
} as const;

/** protobufjs decodes int64 as Long objects or numbers depending on the build: normalise to number. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
