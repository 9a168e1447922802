// Scalar element-wise float kernels: libm definitions of every unary op and the binary inner loop.
// The reference the AVX-512 versions are tested against, and the fallback on other levels.
#include <cmath>
#include <limits>

#include "sparq/epilogue.h"
#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

inline float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

inline float gelu_tanh(float v) {
  const float inner = 0.7978845608028654f * (v + 0.044715f * v * v * v);
  return 0.5f * v * (1.0f + std::tanh(inner));
}

template <typename F>
void map(const float* x, float* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// max/min that return NaN when either operand is NaN (std::fmax would drop it).
inline float max_nan(float a, float b) { return (a > b || a != a) ? a : b; }
inline float min_nan(float a, float b) { return (a < b || a != a) ? a : b; }

template <typename F>
void zip(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, F f) {
  if (sa == 1 && sb == 1)
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  else if (sa == 1) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    const float v = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  }
}

}  // namespace

void unary_f32_scalar(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::neg: return map(x, y, n, [](float v) { return -v; });
    case UnaryOp::abs: return map(x, y, n, [](float v) { return std::fabs(v); });
    case UnaryOp::sqrt: return map(x, y, n, [](float v) { return std::sqrt(v); });
    case UnaryOp::exp: return map(x, y, n, [](float v) { return std::exp(v); });
    case UnaryOp::log: return map(x, y, n, [](float v) { return std::log(v); });
    case UnaryOp::erf: return map(x, y, n, [](float v) { return std::erf(v); });
    case UnaryOp::tanh: return map(x, y, n, [](float v) { return std::tanh(v); });
    case UnaryOp::relu: return map(x, y, n, [](float v) { return apply_activation_ref(v, Activation::relu); });
    case UnaryOp::sigmoid: return map(x, y, n, sigmoid);
    case UnaryOp::gelu: return map(x, y, n, gelu_ref);
    case UnaryOp::gelu_tanh: return map(x, y, n, gelu_tanh);
    case UnaryOp::reciprocal: return map(x, y, n, [](float v) { return 1.0f / v; });
    case UnaryOp::floor: return map(x, y, n, [](float v) { return std::floor(v); });
    case UnaryOp::ceil: return map(x, y, n, [](float v) { return std::ceil(v); });
  }
}

void binary_f32_scalar(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  switch (op) {
    case BinaryOp::add: return zip(a, sa, b, sb, y, n, [](float p, float q) { return p + q; });
    case BinaryOp::sub: return zip(a, sa, b, sb, y, n, [](float p, float q) { return p - q; });
    case BinaryOp::mul: return zip(a, sa, b, sb, y, n, [](float p, float q) { return p * q; });
    case BinaryOp::div: return zip(a, sa, b, sb, y, n, [](float p, float q) { return p / q; });
    case BinaryOp::pow:
      // x^2 (decomposed LayerNorm's Pow) as one multiply: identical to pow's correctly rounded square.
      if (sb == 0 && b[0] == 2.0f) return zip(a, sa, a, sa, y, n, [](float p, float q) { return p * q; });
      return zip(a, sa, b, sb, y, n, [](float p, float q) { return std::pow(p, q); });
    case BinaryOp::max: return zip(a, sa, b, sb, y, n, max_nan);
    case BinaryOp::min: return zip(a, sa, b, sb, y, n, min_nan);
    default: {
      // Comparisons never reach the float table (their output is bool); fill NaN so misuse is visible.
      const float nan = std::numeric_limits<float>::quiet_NaN();
      for (int64_t i = 0; i < n; ++i) y[i] = nan;
    }
  }
}

}  // namespace sparq
