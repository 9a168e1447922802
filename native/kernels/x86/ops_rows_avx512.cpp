// AVX-512 row kernels: softmax / log-softmax (max, exp-and-sum, scale: three streaming passes) and
// layer normalization (two-pass mean and variance, then the affine output), masked tails.
#include <immintrin.h>

#include <cmath>

#include "simd_avx512.h"
#include "simd_math_avx512.h"
#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

inline float row_max(const float* x, int64_t n) {
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + j));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + j + 16));
  }
  for (; j < n; j += 16) {
    const __mmask16 k = avx512::lanes(n - j);
    m0 = _mm512_mask_max_ps(m0, k, m0, _mm512_maskz_loadu_ps(k, x + j));
  }
  return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

inline float row_sum(const float* x, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + j));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + j + 16));
  }
  for (; j < n; j += 16) s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(avx512::lanes(n - j), x + j));
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

}  // namespace

void softmax_rows_avx512(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    // NaN lanes are skipped by max_ps here; exp(NaN - m) then poisons the sum, so the row is NaN.
    const __m512 m = _mm512_set1_ps(row_max(xr, cols));
    __m512 s = _mm512_setzero_ps();
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 k = avx512::lanes(cols - j);
      const __m512 e = avx512::exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + j), m));
      s = _mm512_mask_add_ps(s, k, s, e);
      if (!log) _mm512_mask_storeu_ps(yr + j, k, e);
    }
    const float sum = _mm512_reduce_add_ps(s);
    if (log) {
      const __m512 shift = _mm512_add_ps(m, _mm512_set1_ps(std::log(sum)));
      for (int64_t j = 0; j < cols; j += 16) {
        const __mmask16 k = avx512::lanes(cols - j);
        _mm512_mask_storeu_ps(yr + j, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + j), shift));
      }
    } else {
      const __m512 inv = _mm512_set1_ps(1.0f / sum);
      for (int64_t j = 0; j < cols; j += 16) {
        const __mmask16 k = avx512::lanes(cols - j);
        _mm512_mask_storeu_ps(yr + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, yr + j), inv));
      }
    }
  }
}

void layer_norm_rows_avx512(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                            float eps, float* mean, float* inv_std) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float mu = cols ? row_sum(xr, cols) / static_cast<float>(cols) : 0.0f;
    const __m512 m = _mm512_set1_ps(mu);
    __m512 v0 = _mm512_setzero_ps(), v1 = v0;
    int64_t j = 0;
    for (; j + 32 <= cols; j += 32) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(xr + j), m), d1 = _mm512_sub_ps(_mm512_loadu_ps(xr + j + 16), m);
      v0 = _mm512_fmadd_ps(d0, d0, v0);
      v1 = _mm512_fmadd_ps(d1, d1, v1);
    }
    for (; j < cols; j += 16) {
      const __mmask16 k = avx512::lanes(cols - j);
      const __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, xr + j), m);
      v0 = _mm512_fmadd_ps(d, d, v0);
    }
    const float var = cols ? _mm512_reduce_add_ps(_mm512_add_ps(v0, v1)) / static_cast<float>(cols) : 0.0f;
    const float is = 1.0f / std::sqrt(var + eps);
    const __m512 s = _mm512_set1_ps(is);
    for (j = 0; j < cols; j += 16) {
      const __mmask16 k = avx512::lanes(cols - j);
      const __m512 g = _mm512_maskz_loadu_ps(k, gamma + j);
      __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + j), m), s), g);
      if (beta) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(k, beta + j));
      _mm512_mask_storeu_ps(yr + j, k, t);
    }
    if (mean) mean[r] = mu;
    if (inv_std) inv_std[r] = is;
  }
}

}  // namespace sparq
