// AVX2 row kernels: softmax / log-softmax and layer normalization, as ops_rows_avx512.cpp with 8
// lanes (masked tails filled with -inf for the max, 0 for the sums).
#include <immintrin.h>

#include <cmath>

#include "simd_avx2.h"
#include "simd_math_avx2.h"
#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

inline float row_max(const float* x, int64_t n) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 m0 = ninf, m1 = ninf;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + j + 8));
  }
  for (; j < n; j += 8) {
    const __m256i k = avx2::lanes(n - j);
    m0 = _mm256_max_ps(m0, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + j, k), _mm256_castsi256_ps(k)));
  }
  return avx2::hmax(_mm256_max_ps(m0, m1));
}

inline float row_sum(const float* x, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + j));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + j + 8));
  }
  for (; j < n; j += 8) s0 = _mm256_add_ps(s0, _mm256_maskload_ps(x + j, avx2::lanes(n - j)));
  return avx2::hsum(_mm256_add_ps(s0, s1));
}

}  // namespace

void softmax_rows_avx2(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const __m256 m = _mm256_set1_ps(row_max(xr, cols));
    __m256 s = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) {
      const __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(xr + j), m));
      s = _mm256_add_ps(s, e);
      if (!log) _mm256_storeu_ps(yr + j, e);
    }
    for (; j < cols; j += 8) {
      const __m256i k = avx2::lanes(cols - j);
      const __m256 e = _mm256_and_ps(avx2::exp(_mm256_sub_ps(_mm256_maskload_ps(xr + j, k), m)), _mm256_castsi256_ps(k));
      s = _mm256_add_ps(s, e);
      if (!log) _mm256_maskstore_ps(yr + j, k, e);
    }
    const float sum = avx2::hsum(s);
    if (log) {
      const __m256 shift = _mm256_add_ps(m, _mm256_set1_ps(std::log(sum)));
      for (j = 0; j < cols; j += 8) {
        const __m256i k = avx2::lanes(cols - j);
        _mm256_maskstore_ps(yr + j, k, _mm256_sub_ps(_mm256_maskload_ps(xr + j, k), shift));
      }
    } else {
      const __m256 inv = _mm256_set1_ps(1.0f / sum);
      for (j = 0; j + 8 <= cols; j += 8) _mm256_storeu_ps(yr + j, _mm256_mul_ps(_mm256_loadu_ps(yr + j), inv));
      for (; j < cols; j += 8) {
        const __m256i k = avx2::lanes(cols - j);
        _mm256_maskstore_ps(yr + j, k, _mm256_mul_ps(_mm256_maskload_ps(yr + j, k), inv));
      }
    }
  }
}

void layer_norm_rows_avx2(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                          float eps, float* mean, float* inv_std) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float mu = cols ? row_sum(xr, cols) / static_cast<float>(cols) : 0.0f;
    const __m256 m = _mm256_set1_ps(mu);
    __m256 v0 = _mm256_setzero_ps(), v1 = v0;
    int64_t j = 0;
    for (; j + 16 <= cols; j += 16) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(xr + j), m), d1 = _mm256_sub_ps(_mm256_loadu_ps(xr + j + 8), m);
      v0 = _mm256_fmadd_ps(d0, d0, v0);
      v1 = _mm256_fmadd_ps(d1, d1, v1);
    }
    for (; j < cols; j += 8) {
      const __m256i k = avx2::lanes(cols - j);
      const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + j, k), m), _mm256_castsi256_ps(k));
      v0 = _mm256_fmadd_ps(d, d, v0);
    }
    const float var = cols ? avx2::hsum(_mm256_add_ps(v0, v1)) / static_cast<float>(cols) : 0.0f;
    const float is = 1.0f / std::sqrt(var + eps);
    const __m256 s = _mm256_set1_ps(is);
    for (j = 0; j + 8 <= cols; j += 8) {
      __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), m), s), _mm256_loadu_ps(gamma + j));
      if (beta) t = _mm256_add_ps(t, _mm256_loadu_ps(beta + j));
      _mm256_storeu_ps(yr + j, t);
    }
    for (; j < cols; j += 8) {
      const __m256i k = avx2::lanes(cols - j);
      __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + j, k), m), s), _mm256_maskload_ps(gamma + j, k));
      if (beta) t = _mm256_add_ps(t, _mm256_maskload_ps(beta + j, k));
      _mm256_maskstore_ps(yr + j, k, t);
    }
    if (mean) mean[r] = mu;
    if (inv_std) inv_std[r] = is;
  }
}

}  // namespace sparq
