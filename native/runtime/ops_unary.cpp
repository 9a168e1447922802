// Element-wise unary driver (float32 through the ISA table; int32/int64 neg/abs/relu here) and Clip.
#include <algorithm>
#include <string>
#include <type_traits>

#include "ops_broadcast.h"
#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

double unary_cost(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg:
    case UnaryOp::abs:
    case UnaryOp::relu:
    case UnaryOp::floor:
    case UnaryOp::ceil: return 1.0;
    default: return 16.0;
  }
}

template <typename T>
void unary_int(UnaryOp op, const T* x, T* y, int64_t n, int threads) {
  using U = std::make_unsigned_t<T>;
  detail::parallel_elements(n, threads, 1.0, [&](int64_t e0, int64_t e1) {
    for (int64_t i = e0; i < e1; ++i) {
      const T v = x[i];
      switch (op) {
        case UnaryOp::neg: y[i] = static_cast<T>(U(0) - static_cast<U>(v)); break;
        case UnaryOp::abs: y[i] = v < 0 ? static_cast<T>(U(0) - static_cast<U>(v)) : v; break;
        default: y[i] = v < 0 ? T(0) : v; break;
      }
    }
  });
}

template <typename T>
void clip_typed(const T* x, T* y, int64_t n, const T* lo, const T* hi, int threads) {
  detail::parallel_elements(n, threads, 1.0, [&](int64_t e0, int64_t e1) {
    for (int64_t i = e0; i < e1; ++i) {
      T v = x[i];
      // Written as compares that are false for NaN, so NaN passes through (std::clamp would too,
      // but its precondition lo <= hi may not hold: ONNX then gives hi).
      if (lo && v < *lo) v = *lo;
      if (hi && v > *hi) v = *hi;
      y[i] = v;
    }
  });
}

}  // namespace

void unary(UnaryOp op, DType dtype, const void* x, void* y, int64_t n, const OpContext& ctx) {
  if (static_cast<int32_t>(op) < 0 || static_cast<int32_t>(op) > static_cast<int32_t>(UnaryOp::ceil))
    throw invalid_argument("Unknown unary op " + std::to_string(static_cast<int32_t>(op)));
  if (n < 0) throw invalid_argument("Expected a non-negative element count for a unary op");
  if (dtype == DType::float32) {
    const OpsKernels& k = ops_kernels(ctx.isa);
    const float* px = static_cast<const float*>(x);
    float* py = static_cast<float*>(y);
    detail::parallel_elements(n, ctx.threads, unary_cost(op), [&](int64_t e0, int64_t e1) {
      k.unary_f32(op, px + e0, py + e0, e1 - e0);
    });
    return;
  }
  const bool int_ok = op == UnaryOp::neg || op == UnaryOp::abs || op == UnaryOp::relu;
  if (int_ok && dtype == DType::int64)
    return unary_int(op, static_cast<const int64_t*>(x), static_cast<int64_t*>(y), n, ctx.threads);
  if (int_ok && dtype == DType::int32)
    return unary_int(op, static_cast<const int32_t*>(x), static_cast<int32_t*>(y), n, ctx.threads);
  throw Error("ERR_UNSUPPORTED_DTYPE", std::string("This unary op does not support ") + dtype_name(dtype) + " tensors");
}

void clip(DType dtype, const void* x, void* y, int64_t n, const void* lo, const void* hi, const OpContext& ctx) {
  if (n < 0) throw invalid_argument("Expected a non-negative element count for Clip");
  switch (dtype) {
    case DType::float32:
      return clip_typed(static_cast<const float*>(x), static_cast<float*>(y), n, static_cast<const float*>(lo),
                        static_cast<const float*>(hi), ctx.threads);
    case DType::int32:
      return clip_typed(static_cast<const int32_t*>(x), static_cast<int32_t*>(y), n, static_cast<const int32_t*>(lo),
                        static_cast<const int32_t*>(hi), ctx.threads);
    case DType::int64:
      return clip_typed(static_cast<const int64_t*>(x), static_cast<int64_t*>(y), n, static_cast<const int64_t*>(lo),
                        static_cast<const int64_t*>(hi), ctx.threads);
    default:
      throw Error("ERR_UNSUPPORTED_DTYPE", std::string("Clip does not support ") + dtype_name(dtype) + " tensors");
  }
}

}  // namespace sparq
