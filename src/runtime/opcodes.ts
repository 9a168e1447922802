// Op codes of the native plan: must match native/include/sparq/plan.h (enum class OpCode).
export const OpCode = {
  Copy: 0,
  Linear: 1,
  MatMul: 2,
  Add: 3,
  Sub: 4,
  Mul: 5,
  Div: 6,
  Pow: 7,
  Equal: 8,
  Sqrt: 10,
  Erf: 11,
  Tanh: 12,
  Relu: 13,
  Sigmoid: 14,
  Gelu: 15,
  Clip: 16,
  Softmax: 20,
  LayerNorm: 21,
  ReduceMean: 22,
  Transpose: 23,
  Gather: 24,
  Slice: 25,
  Concat: 26,
  Split: 27,
  Expand: 28,
  Cast: 29,
  Where: 30,
  DynamicQuantizeLinear: 31,
  QuantizeLinear: 32,
  DequantizeLinear: 33,
  MatMulInteger: 34,
  Gemm: 35,
  // 100-199: the wider op set (native/include/sparq/ops_ext.h, executor_ext.cpp).
  UnaryExt: 100,
  BinaryExt: 101,
  ReduceExt: 102,
  ArgReduce: 103,
  SoftmaxExt: 104,
  Tile: 105,
  Pad: 106,
  TopK: 107,
  CumSum: 108,
  Trilu: 109,
  OneHot: 110,
  Range: 111,
  Fill: 112,
  EyeLike: 113,
  ClipExt: 114,
} as const;

/** Slot storage kinds: must match plan.h (enum class SlotKind). */
export const SlotKind = { arena: 0, input: 1, output: 2, constant: 3 } as const;

/** ONNX DataType codes (the native DType enum uses them). */
export const DTYPE_CODE = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13,
} as const;
