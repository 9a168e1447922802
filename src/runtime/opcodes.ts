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
  // 200-229: convolutions and pooling (native/runtime/ops_conv_plan.cpp).
  Conv: 200,
  DepthwiseConv: 201,
  MaxPool: 202,
  AvgPool: 203,
  GlobalAvgPool: 204,
  GlobalMaxPool: 205,
  ConvTranspose: 206,
  InstanceNorm: 207,
  Lrn: 208,
} as const;

/** Slot storage kinds: must match plan.h (enum class SlotKind). */
export const SlotKind = { arena: 0, input: 1, output: 2, constant: 3 } as const;

/** ONNX DataType codes (the native DType enum uses them). */
export const DTYPE_CODE = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 } as const;
