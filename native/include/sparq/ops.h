// The op kernels the graph executor calls, one function per ONNX op family, on concrete shapes and
// raw pointers (no graph, no Node). All tensors are dense, contiguous and row-major; `Shape` and
// `DType` come from shape.h (DType values are ONNX TensorProto codes; bool is one byte, 0 or 1).
//
// Common rules:
//  - Output buffers are allocated by the caller with the size the op's *_output_shape helper (or the
//    stated shape) gives, and every element is written (nothing is read from them first).
//  - An output may alias an input only where stated (element-wise ops: an input of the output's shape).
//  - Errors are sparq::Error with a stable code: ERR_INVALID_ARGUMENT (bad axis, perm, sizes),
//    ERR_SHAPE_MISMATCH (shapes that don't broadcast / concat), ERR_UNSUPPORTED_DTYPE (dtype the op
//    lacks), ERR_INDEX_OUT_OF_RANGE (Gather), ERR_DIVISION_BY_ZERO (integer Div). Shapes and dtypes are
//    checked before anything is written; data-dependent errors (Gather indices) too.
//  - Float NaN propagates through arithmetic and activations; comparisons with NaN are false.
//  - ctx.threads: 0 = the pool's size; small tensors run on one thread regardless. ctx.isa picks the
//    kernel level (the AVX-512 versions exist for the hot float ops; other levels use the scalar code).
#pragma once
#include <cstdint>

#include "sparq/cpu.h"
#include "sparq/shape.h"

namespace sparq {

struct OpContext {
  int threads = 1;
  Isa isa = active_isa();
};

// ---------------------------------------------------------------- element-wise binary (broadcasting)

enum class BinaryOp : int32_t {
  add, sub, mul, div, pow, max, min,             // arithmetic: output dtype = input dtype
  equal, less, greater, less_equal, greater_equal  // comparisons: output is bool
};
bool binary_is_comparison(BinaryOp op);

// out[broadcast_shapes(a_shape, b_shape)] = a op b, both operands of `dtype`, numpy broadcasting.
// dtypes: float32 all ops; int32 and int64 all but pow; uint8, int8, bool: equal only.
// Float: IEEE ops (x/0 = ±inf, 0/0 = NaN), pow = std::pow, max/min propagate NaN (either NaN -> NaN).
// Integers: add/sub/mul wrap on overflow (two's complement), div truncates toward zero (INT_MIN / -1 wraps
// to INT_MIN), a zero divisor throws ERR_DIVISION_BY_ZERO before anything is written.
// `out` may alias `a` or `b` when that operand has the output's shape (and the same dtype/size).
void binary(BinaryOp op, DType dtype, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape,
            void* out, const OpContext& ctx = {});

// Where(cond, x, y): out = cond ? x : y with 3-way broadcasting. cond is bool; x, y and out share any
// dtype (only its size matters). Output shape: where_output_shape. Throws ERR_SHAPE_MISMATCH.
Shape where_output_shape(const Shape& c, const Shape& x, const Shape& y);
void where(DType dtype, const uint8_t* cond, const Shape& c_shape, const void* x, const Shape& x_shape, const void* y,
           const Shape& y_shape, void* out, const OpContext& ctx = {});

// Expand: out[out_shape] = x broadcast to out_shape (the caller computes out_shape = broadcast_shapes(
// x_shape, requested)). Any dtype. Throws ERR_SHAPE_MISMATCH unless broadcasts_to(x_shape, out_shape).
void expand(DType dtype, const void* x, const Shape& x_shape, void* out, const Shape& out_shape,
            const OpContext& ctx = {});

// ---------------------------------------------------------------- element-wise unary

enum class UnaryOp : int32_t {
  neg, abs, sqrt, exp, log, erf, tanh, relu, sigmoid, gelu, gelu_tanh, reciprocal, floor, ceil
};
// y[i] = op(x[i]) for n elements. float32: all ops (sqrt/log of a negative = NaN, log 0 = -inf, exp
// overflows to inf, gelu is the exact erf form, gelu_tanh ONNX Gelu(approximate="tanh"), relu keeps NaN).
// int32 / int64: neg, abs, relu only (neg/abs wrap at INT_MIN). y may alias x.
// The AVX-512 exp is within 4e-7 relative of libm, tanh/sigmoid 1e-6, erf 5e-7 absolute, gelu 1e-6 absolute
// (tested over [-20, 20] and the special values); log, floor/ceil and the rest are exact or libm's.
void unary(UnaryOp op, DType dtype, const void* x, void* y, int64_t n, const OpContext& ctx = {});

// Clip: y = min(max(x, lo), hi); lo/hi point to one value of `dtype` or are null (no bound). float32,
// int32, int64. NaN stays NaN. lo > hi gives hi everywhere (ONNX). y may alias x.
void clip(DType dtype, const void* x, void* y, int64_t n, const void* lo, const void* hi, const OpContext& ctx = {});

// ---------------------------------------------------------------- normalization and reductions (float32)

// Softmax over the middle axis of [outer, axis, inner] (ONNX opset >= 13 with axis a; for opset < 13's
// 2-D coercion pass outer = prod(dims[:a]), axis = prod(dims[a:]), inner = 1). With `log`, LogSoftmax.
// Stable (max subtracted). A NaN in a lane makes that lane's outputs NaN; a lane of all -inf gives NaN.
// y may alias x.
void softmax(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner, bool log = false,
             const OpContext& ctx = {});

// LayerNormalization over the trailing `cols` of [rows, cols]: y = (x - mean) / sqrt(var + eps) * gamma + beta,
// var the biased variance (two-pass). gamma: cols values (required); beta: cols values or null. mean_out /
// inv_std_out: rows values each or null (ONNX's optional outputs Mean and InvStdDev). y may alias x.
void layer_norm(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta, float eps,
                float* mean_out = nullptr, float* inv_std_out = nullptr, const OpContext& ctx = {});

enum class ReduceOp : int32_t { sum, mean, max, min, prod, sum_square };
// y[outer, inner] = reduce over the middle axis of x[outer, reduce, inner]. An empty reduction gives
// sum 0, mean NaN, max -inf, min +inf, prod 1. max/min propagate NaN.
void reduce(ReduceOp op, const float* x, float* y, int64_t outer, int64_t reduce, int64_t inner,
            const OpContext& ctx = {});
// Reduction over any set of axes (each in [-rank, rank), duplicates rejected; naxes == 0 reduces all).
// y has reduce_output_shape(shape, axes, naxes, keepdims) (its numel does not depend on keepdims).
Shape reduce_output_shape(const Shape& shape, const int64_t* axes, int naxes, bool keepdims);
void reduce_axes(ReduceOp op, const float* x, const Shape& shape, const int64_t* axes, int naxes, float* y,
                 const OpContext& ctx = {});

// ---------------------------------------------------------------- data movement (any dtype)

// Transpose by perm (a permutation of 0..rank-1; null = reverse). Throws ERR_INVALID_ARGUMENT.
Shape transpose_output_shape(const Shape& shape, const int64_t* perm);
void transpose(DType dtype, const void* x, const Shape& shape, const int64_t* perm, void* y, const OpContext& ctx = {});

// Gather along `axis` (in [-rank, rank)): out = data[:axis] + indices.shape + data[axis+1:].
// indices are int64 or int32; negative ones count from the end; any index outside [-dim, dim) throws
// ERR_INDEX_OUT_OF_RANGE (checked before anything is written).
Shape gather_output_shape(const Shape& data, int64_t axis, const Shape& indices);
void gather(DType dtype, const void* data, const Shape& data_shape, int64_t axis, DType index_type, const void* indices,
            const Shape& indices_shape, void* out, const OpContext& ctx = {});

// Slice (ONNX opset >= 10): starts/ends/axes/steps as in the op (axes null = 0..n-1, steps null = 1;
// negative values count from the end; starts/ends clamp; steps may be negative, never 0).
// slice_plan validates and resolves them (ERR_INVALID_ARGUMENT); slice copies.
struct SlicePlan {
  Shape out;
  int64_t start[kMaxRank] = {};
  int64_t step[kMaxRank] = {};
};
SlicePlan slice_plan(const Shape& in, const int64_t* starts, const int64_t* ends, const int64_t* axes,
                     const int64_t* steps, int n);
void slice(DType dtype, const void* x, const Shape& in, const SlicePlan& plan, void* y, const OpContext& ctx = {});

// Concat along `axis` (in [-rank, rank)) of n >= 1 inputs whose other dims match (ERR_SHAPE_MISMATCH).
Shape concat_output_shape(const Shape* shapes, int n, int64_t axis);
void concat(DType dtype, const void* const* inputs, const Shape* shapes, int n, int64_t axis, void* out,
            const OpContext& ctx = {});

// Split x along `axis` into n outputs of sizes[i] along that axis (sizes must sum to the dim);
// output i has x's shape with dims[axis] = sizes[i].
void split(DType dtype, const void* x, const Shape& shape, int64_t axis, const int64_t* sizes, int n,
           void* const* outputs, const OpContext& ctx = {});

// Cast n elements between any two dtypes of shape.h (float16 through float32).
// float -> integer: truncation toward zero, saturating at the target's range, NaN -> 0.
// integer -> narrower integer: two's complement wrap (as C++ and ONNX Runtime do).
// anything -> bool: value != 0 (NaN -> true). bool -> number: 0 or 1.
void cast(DType from, DType to, const void* x, void* y, int64_t n, const OpContext& ctx = {});

// ---------------------------------------------------------------- int8 quantization

// DynamicQuantizeLinear: scale = (max(0, max x) - min(0, min x)) / 255 (1 when that is 0),
// zero_point = saturate(round(0 - min(0, min x) / scale)), y = saturate(round(x / scale) + zero_point),
// round = half to even, saturate to [0, 255]. NaN elements are ignored for min/max and quantize to the
// zero point; an infinite element makes the scale infinite (a defined but useless result, as in ORT).
// scale and zero_point are single values.
void dynamic_quantize_linear(const float* x, int64_t n, uint8_t* y, float* scale, uint8_t* zero_point,
                             const OpContext& ctx = {});

// QuantizeLinear over x viewed as [outer, channels, inner]: per-tensor with channels == 1 (then pass
// outer = numel, inner = 1, or any split), per-axis with channels = dims[axis] and scale/zero_point of
// `channels` values. y = saturate(round_half_even(x / scale[c]) + zp[c]); qtype uint8 or int8; zero_point
// null means 0. NaN -> zero point.
void quantize_linear(const float* x, int64_t outer, int64_t channels, int64_t inner, const float* scale,
                     DType qtype, const void* zero_point, void* y, const OpContext& ctx = {});
// DequantizeLinear over [outer, channels, inner]: y = (x - zp[c]) * scale[c]; xtype uint8, int8 or int32
// (int32 requires a null or zero zero_point, as ONNX).
void dequantize_linear(const void* x, DType xtype, int64_t outer, int64_t channels, int64_t inner, const float* scale,
                       const void* zero_point, float* y, const OpContext& ctx = {});

// MatMulInteger: Y (int32) = (A - a_zp) · (B - b_zp) with numpy matmul shapes and batch broadcasting
// (output shape: matmul_output_shape in sgemm.h). A and B are each uint8 or int8 (a_type / b_type).
// a_zp: null (0), one value, or M values (per row of A); b_zp: null, one value, or N values (per column
// of B). The zero points have their operand's dtype. Exact for K <= 2^15 (|(a-za)(b-zb)| <= 65025);
// beyond that the int32 sum wraps (two's complement), never UB.
void matmul_integer(DType a_type, const void* A, const Shape& a_shape, DType b_type, const void* B,
                    const Shape& b_shape, const void* a_zp, int64_t a_zp_count, const void* b_zp, int64_t b_zp_count,
                    int32_t* Y, const OpContext& ctx = {});

}  // namespace sparq

namespace sparq {

// ---------------------------------------------------------------- fused attention (float32)

// Strides (in floats) of a [batch, head, row, head_dim] view whose head_dim is contiguous.
struct AttentionStrides {
  int64_t batch, head, row;
};

// out = softmax(scale · Q·Kᵀ + mask) · V for every batch b and head h, reading Q/K/V and writing out
// through strides, so the head split/merge transposes of an encoder never materialise:
//   Q[b][h][i][d] = q[b*qs.batch + h*qs.head + i*qs.row + d]  (i < seq_q, d < head_dim); K, V (j < seq_k)
//   and out likewise. Straight from a [B, S, H·D] projection: {S·H·D, D, H·D}; a [B, H, S, D] tensor:
//   {H·S·D, S·D, D}. mask is optional and additive: mask[b*ms.batch + h*ms.head + i*ms.row + j] (stride 0
//   broadcasts: a [B, 1, 1, Sk] mask is {Sk, 0, 0}). Softmax's NaN rules apply per row.
// Throws ERR_INVALID_ARGUMENT for negative sizes or row strides shorter than the row they hold.
void attention(int64_t batch, int64_t heads, int64_t seq_q, int64_t seq_k, int64_t head_dim, float scale,
               const float* q, AttentionStrides qs, const float* k, AttentionStrides ks, const float* v,
               AttentionStrides vs, const float* mask, AttentionStrides ms, float* out, AttentionStrides os,
               const OpContext& ctx = {});

}  // namespace sparq
