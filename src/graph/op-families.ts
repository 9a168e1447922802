// The wider ONNX op set sparq runs beyond its encoder ops, by family, with the function ids of the
// native kernels (native/include/sparq/ops_ext.h: UnaryFn, BinaryFn, ReduceFn: keep in step) and the
// dtypes each op defines.
import type { DType } from './ir.js';

export const UNARY_FN: Readonly<Record<string, number>> = {
  Neg: 0, Abs: 1, Reciprocal: 2, Exp: 3, Log: 4, Floor: 5, Ceil: 6, Round: 7, Sign: 8, IsNaN: 9, IsInf: 10, Not: 11,
  Sin: 12, Cos: 13, Tan: 14, Asin: 15, Acos: 16, Atan: 17, Sinh: 18, Cosh: 19, Asinh: 20, Acosh: 21, Atanh: 22, Sqrt: 23,
  Relu: 24, Sigmoid: 25, Tanh: 26, Erf: 27, Softplus: 28, Softsign: 29, Elu: 30, Selu: 31, LeakyRelu: 32, HardSigmoid: 33,
  HardSwish: 34, Celu: 35, ThresholdedRelu: 36, Mish: 37, Identity: 38, Shrink: 39, Gelu: 40, BitwiseNot: 42,
};
export const GELU_TANH_FN = 41;

export const BINARY_FN: Readonly<Record<string, number>> = {
  Add: 0, Sub: 1, Mul: 2, Div: 3, Pow: 4, Mod: 5, Max: 7, Min: 8, And: 9, Or: 10, Xor: 11, Equal: 12, Less: 13,
  Greater: 14, LessOrEqual: 15, GreaterOrEqual: 16, BitShift: 17, BitwiseAnd: 19, BitwiseOr: 20, BitwiseXor: 21, PRelu: 22,
};
export const FMOD_FN = 6;
export const SHIFT_RIGHT_FN = 18;

export const REDUCE_FN: Readonly<Record<string, number>> = {
  ReduceSum: 0, ReduceMean: 1, ReduceMax: 2, ReduceMin: 3, ReduceProd: 4, ReduceSumSquare: 5, ReduceL1: 6, ReduceL2: 7,
  ReduceLogSum: 8, ReduceLogSumExp: 9,
};

/** Variadic element-wise ops (folded pairwise; Mean divides at the end). */
export const VARIADIC = new Set(['Max', 'Min', 'Sum', 'Mean']);

export const FLOATS: readonly DType[] = ['float32', 'float64', 'float16'];
export const SIGNED: readonly DType[] = ['int8', 'int16', 'int32', 'int64'];
export const UNSIGNED: readonly DType[] = ['uint8', 'uint16', 'uint32', 'uint64'];
export const NUMERIC: readonly DType[] = [...FLOATS, ...SIGNED, ...UNSIGNED];

/** The dtypes an op's (first) input may have; ops not listed take any numeric dtype. */
export function dtypesOf(op: string): readonly DType[] {
  switch (op) {
    case 'Neg': return [...FLOATS, ...SIGNED];
    case 'Abs': case 'Sign': case 'Relu': case 'Max': case 'Min': case 'Sum': case 'Mean': case 'Add': case 'Sub': case 'Mul':
    case 'Div': case 'Pow': case 'Mod': case 'PRelu': case 'Greater': case 'Less': case 'GreaterOrEqual': case 'LessOrEqual':
    case 'ArgMax': case 'ArgMin': case 'CumSum': case 'TopK': case 'Clip':
      return NUMERIC;
    case 'Identity': case 'Where': case 'Tile': case 'Pad': case 'Trilu': case 'Expand': case 'Dropout':
    case 'Transpose': case 'Reshape': case 'Concat': case 'Gather': case 'Slice': case 'Split': case 'Squeeze': case 'Unsqueeze':
    case 'Flatten': case 'Size': case 'Shape': case 'Cast': case 'CastLike': case 'EyeLike':
      return [...NUMERIC, 'bool'];
    case 'Equal': return [...NUMERIC, 'bool'];
    case 'Not': case 'And': case 'Or': case 'Xor': return ['bool'];
    case 'BitShift': return UNSIGNED;
    case 'BitwiseNot': case 'BitwiseAnd': case 'BitwiseOr': case 'BitwiseXor': return [...SIGNED, ...UNSIGNED];
    default:
      if (op.startsWith('Reduce')) return NUMERIC;
      return FLOATS;
  }
}

/** Ops whose output is bool whatever the input. */
export const BOOL_OUTPUT = new Set(['IsNaN', 'IsInf', 'Not', 'And', 'Or', 'Xor', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);
