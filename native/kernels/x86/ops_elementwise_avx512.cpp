// AVX-512 element-wise float kernels: 16 lanes per step, the tail under a mask (no scalar remainder).
// log has no vector version here (not on a hot path): it goes to the scalar kernel.
#include <immintrin.h>

#include "simd_avx512.h"
#include "simd_math_avx512.h"
#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

template <typename F>
void map(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = avx512::lanes(n - i);
    _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

inline __m512 gelu_tanh(__m512 v) {
  const __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
  const __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), v3, v));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(_mm512_set1_ps(1.0f), avx512::tanh(inner)));
}

// NaN-propagating max/min: where the operands are unordered the result is a + b (NaN).
inline __m512 max_nan(__m512 a, __m512 b) {
  const __mmask16 u = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
  return _mm512_mask_add_ps(_mm512_max_ps(a, b), u, a, b);
}
inline __m512 min_nan(__m512 a, __m512 b) {
  const __mmask16 u = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
  return _mm512_mask_add_ps(_mm512_min_ps(a, b), u, a, b);
}

template <typename F>
void zip(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, F f) {
  // Broadcast operands are loaded once; the loads of a stride-0 operand are replaced by the splat.
  if (n <= 0) return;
  const __m512 as = _mm512_set1_ps(a[0]), bs = _mm512_set1_ps(b[0]);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 av = sa ? _mm512_loadu_ps(a + i) : as;
    const __m512 bv = sb ? _mm512_loadu_ps(b + i) : bs;
    _mm512_storeu_ps(y + i, f(av, bv));
  }
  if (i < n) {
    const __mmask16 m = avx512::lanes(n - i);
    const __m512 av = sa ? _mm512_maskz_loadu_ps(m, a + i) : as;
    const __m512 bv = sb ? _mm512_maskz_loadu_ps(m, b + i) : bs;
    _mm512_mask_storeu_ps(y + i, m, f(av, bv));
  }
}

void unary_f32(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::neg: return map(x, y, n, [](__m512 v) { return _mm512_sub_ps(_mm512_setzero_ps(), v); });
    case UnaryOp::abs: return map(x, y, n, [](__m512 v) { return _mm512_abs_ps(v); });
    case UnaryOp::sqrt: return map(x, y, n, [](__m512 v) { return _mm512_sqrt_ps(v); });
    case UnaryOp::exp: return map(x, y, n, [](__m512 v) { return avx512::exp(v); });
    case UnaryOp::erf: return map(x, y, n, [](__m512 v) { return avx512::erf(v); });
    case UnaryOp::tanh: return map(x, y, n, [](__m512 v) { return avx512::tanh(v); });
    case UnaryOp::relu: return map(x, y, n, [](__m512 v) { return avx512::relu(v); });
    case UnaryOp::sigmoid: return map(x, y, n, [](__m512 v) { return avx512::sigmoid(v); });
    case UnaryOp::gelu: return map(x, y, n, [](__m512 v) { return avx512::gelu(v); });
    case UnaryOp::gelu_tanh: return map(x, y, n, gelu_tanh);
    case UnaryOp::reciprocal: return map(x, y, n, [](__m512 v) { return _mm512_div_ps(_mm512_set1_ps(1.0f), v); });
    case UnaryOp::floor:
      return map(x, y, n, [](__m512 v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); });
    case UnaryOp::ceil:
      return map(x, y, n, [](__m512 v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); });
    default: return unary_f32_scalar(op, x, y, n);
  }
}

void binary_f32(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  switch (op) {
    case BinaryOp::add: return zip(a, sa, b, sb, y, n, [](__m512 p, __m512 q) { return _mm512_add_ps(p, q); });
    case BinaryOp::sub: return zip(a, sa, b, sb, y, n, [](__m512 p, __m512 q) { return _mm512_sub_ps(p, q); });
    case BinaryOp::mul: return zip(a, sa, b, sb, y, n, [](__m512 p, __m512 q) { return _mm512_mul_ps(p, q); });
    case BinaryOp::div: return zip(a, sa, b, sb, y, n, [](__m512 p, __m512 q) { return _mm512_div_ps(p, q); });
    case BinaryOp::max: return zip(a, sa, b, sb, y, n, max_nan);
    case BinaryOp::min: return zip(a, sa, b, sb, y, n, min_nan);
    case BinaryOp::pow:
      if (sb == 0 && b[0] == 2.0f) return zip(a, sa, a, sa, y, n, [](__m512 p, __m512 q) { return _mm512_mul_ps(p, q); });
      return binary_f32_scalar(op, a, sa, b, sb, y, n);
    default: return binary_f32_scalar(op, a, sa, b, sb, y, n);
  }
}

}  // namespace

void softmax_rows_avx512(const float* x, float* y, int64_t rows, int64_t cols, bool log);
void layer_norm_rows_avx512(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                            float eps, float* mean, float* inv_std);

void minmax_f32_avx512(const float* x, int64_t n, float* lo, float* hi);
void quantize_f32_avx512(const float* x, int64_t n, float scale, float zp, bool is_signed, void* y);

extern const OpsKernels kOpsAvx512 = {"avx512",         unary_f32,        binary_f32,         softmax_rows_avx512,
                                      layer_norm_rows_avx512, minmax_f32_avx512, quantize_f32_avx512};

}  // namespace sparq
