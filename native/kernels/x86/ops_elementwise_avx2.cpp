// AVX2 element-wise float kernels (8 lanes, masked tails), so hosts without AVX-512 don't fall back
// to libm per element for the activations (scalar erf/GELU is ~80x slower). Ops without a vector
// version here (log, pow) go to the scalar kernel.
#include <immintrin.h>

#include "simd_avx2.h"
#include "simd_math_avx2.h"
#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

template <typename F>
void map(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = avx2::lanes(n - i);
    _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(x + i, m)));
  }
}

inline __m256 gelu_tanh(__m256 v) {
  const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
  const __m256 inner = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(_mm256_set1_ps(1.0f), avx2::tanh(inner)));
}

// NaN-propagating max/min: unordered lanes take a + b (NaN).
inline __m256 max_nan(__m256 a, __m256 b) {
  return _mm256_blendv_ps(_mm256_max_ps(a, b), _mm256_add_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
}
inline __m256 min_nan(__m256 a, __m256 b) {
  return _mm256_blendv_ps(_mm256_min_ps(a, b), _mm256_add_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
}

template <typename F>
void zip(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, F f) {
  if (n <= 0) return;
  const __m256 as = _mm256_set1_ps(a[0]), bs = _mm256_set1_ps(b[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 av = sa ? _mm256_loadu_ps(a + i) : as;
    const __m256 bv = sb ? _mm256_loadu_ps(b + i) : bs;
    _mm256_storeu_ps(y + i, f(av, bv));
  }
  if (i < n) {
    const __m256i m = avx2::lanes(n - i);
    const __m256 av = sa ? _mm256_maskload_ps(a + i, m) : as;
    const __m256 bv = sb ? _mm256_maskload_ps(b + i, m) : bs;
    _mm256_maskstore_ps(y + i, m, f(av, bv));
  }
}

void unary_f32(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::neg: return map(x, y, n, [](__m256 v) { return _mm256_sub_ps(_mm256_setzero_ps(), v); });
    case UnaryOp::abs: return map(x, y, n, [](__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); });
    case UnaryOp::sqrt: return map(x, y, n, [](__m256 v) { return _mm256_sqrt_ps(v); });
    case UnaryOp::exp: return map(x, y, n, [](__m256 v) { return avx2::exp(v); });
    case UnaryOp::erf: return map(x, y, n, [](__m256 v) { return avx2::erf(v); });
    case UnaryOp::tanh: return map(x, y, n, [](__m256 v) { return avx2::tanh(v); });
    case UnaryOp::relu: return map(x, y, n, [](__m256 v) { return avx2::relu(v); });
    case UnaryOp::sigmoid: return map(x, y, n, [](__m256 v) { return avx2::sigmoid(v); });
    case UnaryOp::gelu: return map(x, y, n, [](__m256 v) { return avx2::gelu(v); });
    case UnaryOp::gelu_tanh: return map(x, y, n, gelu_tanh);
    case UnaryOp::reciprocal: return map(x, y, n, [](__m256 v) { return _mm256_div_ps(_mm256_set1_ps(1.0f), v); });
    case UnaryOp::floor: return map(x, y, n, [](__m256 v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); });
    case UnaryOp::ceil: return map(x, y, n, [](__m256 v) { return _mm256_round_ps(v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); });
    default: return unary_f32_scalar(op, x, y, n);
  }
}

void binary_f32(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  switch (op) {
    case BinaryOp::add: return zip(a, sa, b, sb, y, n, [](__m256 p, __m256 q) { return _mm256_add_ps(p, q); });
    case BinaryOp::sub: return zip(a, sa, b, sb, y, n, [](__m256 p, __m256 q) { return _mm256_sub_ps(p, q); });
    case BinaryOp::mul: return zip(a, sa, b, sb, y, n, [](__m256 p, __m256 q) { return _mm256_mul_ps(p, q); });
    case BinaryOp::div: return zip(a, sa, b, sb, y, n, [](__m256 p, __m256 q) { return _mm256_div_ps(p, q); });
    case BinaryOp::max: return zip(a, sa, b, sb, y, n, max_nan);
    case BinaryOp::min: return zip(a, sa, b, sb, y, n, min_nan);
    case BinaryOp::pow:
      if (sb == 0 && b[0] == 2.0f) return zip(a, sa, a, sa, y, n, [](__m256 p, __m256 q) { return _mm256_mul_ps(p, q); });
      return binary_f32_scalar(op, a, sa, b, sb, y, n);
    default: return binary_f32_scalar(op, a, sa, b, sb, y, n);
  }
}

}  // namespace

void softmax_rows_avx2(const float* x, float* y, int64_t rows, int64_t cols, bool log);
void layer_norm_rows_avx2(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                          float eps, float* mean, float* inv_std);

extern const OpsKernels kOpsAvx2 = {"avx2",           unary_f32,          binary_f32,         softmax_rows_avx2,
                                    layer_norm_rows_avx2, minmax_f32_scalar, quantize_f32_scalar};

}  // namespace sparq
