// The op kernels of the wider ONNX op set, over every dtype of shape.h where the op defines it (the
// float32 hot paths stay in ops.h, vectorised): element-wise unary and binary families, reductions,
// arg-reductions, softmax variants, and the data movement ops Tile, Pad, TopK, CumSum, Trilu, OneHot,
// Range, ConstantOfShape (fill), EyeLike and Clip with runtime bounds. Same rules as ops.h: dense
// row-major buffers the caller sized, every output element written, sparq::Error with a stable code.
// float16 computes through float32; float32 through double where the op is not a plain comparison.
#pragma once
#include <cstdint>

#include "sparq/ops.h"
#include "sparq/shape.h"

namespace sparq {

enum class UnaryFn : int32_t {
  neg, abs, reciprocal, exp, log, floor, ceil, round, sign, isnan, isinf, logical_not,
  sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, sqrt,
  relu, sigmoid, tanh, erf, softplus, softsign, elu, selu, leaky_relu, hard_sigmoid, hard_swish, celu,
  thresholded_relu, mish, identity, shrink, gelu, gelu_tanh, bitwise_not,
  count_
};
// Whether the fn is defined on integer dtypes (neg, abs, sign, relu, identity, bitwise_not) / bool (not, identity).
bool unary_fn_integer(UnaryFn fn);
// y[i] = fn(x[i]); y's dtype is bool for isnan/isinf, else x's. params: elu/celu/leaky_relu/
// thresholded_relu {alpha}, selu {alpha, gamma}, hard_sigmoid {alpha, beta}, shrink {bias, lambd},
// isinf {detect_positive, detect_negative}. Throws ERR_UNSUPPORTED_DTYPE for a dtype the fn lacks.
void unary_ext(UnaryFn fn, DType dtype, const void* x, void* y, int64_t n, const float* params, int nparams,
               const OpContext& ctx = {});

enum class BinaryFn : int32_t {
  add, sub, mul, div, pow, mod, fmod, max, min, logical_and, logical_or, logical_xor,
  equal, less, greater, less_equal, greater_equal, shift_left, shift_right, bit_and, bit_or, bit_xor, prelu,
  count_
};
bool binary_fn_comparison(BinaryFn fn);  // equal..greater_equal: bool output
// out = a fn b with numpy broadcasting; a and b share a dtype except pow (b any numeric dtype).
// Integer div/mod/fmod by zero throws ERR_DIVISION_BY_ZERO before anything is written. mod follows
// the divisor's sign (Python), fmod the dividend's (C). Logical fns take bool, shifts unsigned ints.
void binary_ext(BinaryFn fn, DType a_type, const void* a, const Shape& a_shape, DType b_type, const void* b,
                const Shape& b_shape, void* out, const OpContext& ctx = {});

enum class ReduceFn : int32_t { sum, mean, max, min, prod, sum_square, l1, l2, log_sum, log_sum_exp, count_ };
// Reduction over `axes` (each in [0, rank), sorted, distinct; naxes == 0 reduces nothing: a copy) of any
// numeric dtype; y holds the product of the kept dims. Floats accumulate in double, integers in 64 bits.
void reduce_ext(ReduceFn fn, DType dtype, const void* x, const Shape& shape, const int64_t* axes, int naxes, void* y,
                const OpContext& ctx = {});

// ArgMax / ArgMin along `axis` (dims[axis] >= 1): y[outer, inner] int64, first (or last) extreme index.
void arg_reduce(bool is_min, bool select_last, DType dtype, const void* x, const Shape& shape, int axis, int64_t* y);

// Softmax (kind 0), LogSoftmax (1) or Hardmax (2) over the middle axis of [outer, axis, inner];
// float32, float64, float16.
void softmax_ext(int kind, DType dtype, const void* x, void* y, int64_t outer, int64_t axis, int64_t inner);

// Tile: out[c] = x[c mod in]; every out dim a multiple of the in dim (0 when the in dim is 0).
void tile(DType dtype, const void* x, const Shape& in, void* y, const Shape& out, const OpContext& ctx = {});

// Pad: out[c] = x[c - begin] where inside; else by mode: 0 constant (`value`, one element, or zeros when
// null), 1 reflect, 2 edge, 3 wrap. begin may be negative (cropping). out's dims are the caller's.
void pad(DType dtype, int mode, const void* x, const Shape& in, const int64_t* begin, const void* value, void* y,
         const Shape& out, const OpContext& ctx = {});

// TopK along `axis`: the k largest (or smallest) per lane, sorted (ties: lower index first) or in
// index order when !sorted; values in x's dtype, indices int64.
void topk(DType dtype, const void* x, const Shape& shape, int axis, int64_t k, bool largest, bool sorted, void* values,
          int64_t* indices);

// CumSum along `axis`, exclusive and/or reversed.
void cumsum(DType dtype, const void* x, const Shape& shape, int axis, bool exclusive, bool reverse, void* y);

// Trilu over the last two dims: keeps j - i >= k (upper) or j - i <= k (lower), zeros elsewhere.
void trilu(DType dtype, const void* x, const Shape& shape, bool upper, int64_t k, void* y);

// OneHot: indices (any numeric dtype, n = outer*inner of them split at the new axis) into y[outer, depth,
// inner] of `dtype`, off/on from values[0]/values[1]; negative indices count from depth, others outside
// [0, depth) give an all-off row.
void one_hot(DType index_type, const void* indices, int64_t outer, int64_t inner, int64_t depth, DType dtype,
             const void* values, void* y);

// Range: y[i] = start + i * delta for n elements (one element each, of `dtype`).
void range_fill(DType dtype, const void* start, const void* delta, void* y, int64_t n);

// ConstantOfShape at run time: n copies of one element.
void fill(DType dtype, const void* value, void* y, int64_t n);

// EyeLike: [rows, cols] with ones on the k-th diagonal.
void eye_like(DType dtype, int64_t rows, int64_t cols, int64_t k, void* y);

// Clip with optional bounds (one element each of `dtype`, null = none), any numeric dtype; NaN stays NaN.
void clip_ext(DType dtype, const void* x, void* y, int64_t n, const void* lo, const void* hi, const OpContext& ctx = {});

}  // namespace sparq

namespace sparq {

// NegativeLogLikelihoodLoss over x[N, C, D] (D = product of the trailing dims, 1 when none) and
// target[N, D] (int64 or int32): loss[n, d] = -x[n, t, d] * w[t] (w = weight[C] or ones), 0 where
// t == ignore_index (when has_ignore). reduction 0 'none' writes N*D values, 1 'sum' and 2 'mean'
// (divided by the summed weights of the counted targets) one. A target outside [0, C) that is not
// ignored throws ERR_INDEX_OUT_OF_RANGE before anything is written. float32, float64, float16.
void nll_loss(DType dtype, const void* x, int64_t N, int64_t C, int64_t D, DType target_type, const void* target,
              const void* weight, int reduction, bool has_ignore, int64_t ignore_index, void* y);

}  // namespace sparq
