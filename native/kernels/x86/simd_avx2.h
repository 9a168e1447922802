// AVX2 helpers shared by the AVX2 kernel files (include only from files built with -mavx2 -mfma):
// vectorised erf/GELU, masked loads/stores for edges, and the fused epilogue.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "sparq/epilogue.h"

namespace sparq {
namespace avx2 {

inline __m256 erf(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-4.0f), _mm256_min_ps(_mm256_set1_ps(4.0f), x));
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.60960333262415e-02f));
  p = _mm256_mul_ps(p, x);
  __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.42647390514189e-02f));
  return _mm256_div_ps(p, q);
}

inline __m256 gelu(__m256 x) {
  const __m256 e = erf(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline __m256 relu(__m256 x) {
  const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(x, _mm256_setzero_ps(), negative);
}

inline __m256 activate(__m256 v, Activation act) {
  switch (act) {
    case Activation::relu: return relu(v);
    case Activation::gelu: return gelu(v);
    // max/min return their second operand when either is NaN: NaN goes through, as in the reference.
    case Activation::relu6: return _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), v));
    default: return v;
  }
}

// Lane mask for the first `count` (0..8) lanes, for maskload/maskstore.
inline __m256i lanes(int64_t count) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count < 8 ? count : 8)), idx);
}

inline __m256 epilogue(__m256 v, const Epilogue& ep, int64_t offset, __m256i mask) {
  if (ep.bias) v = _mm256_add_ps(v, _mm256_maskload_ps(ep.bias + offset, mask));
  return activate(v, ep.act);
}

}  // namespace avx2
}  // namespace sparq
