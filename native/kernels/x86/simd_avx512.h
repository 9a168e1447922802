// AVX-512 helpers shared by the AVX-512 kernel files (include only from files built with AVX-512 flags):
// the vectorised erf/GELU and the fused epilogue applied to accumulators before the store.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "sparq/epilogue.h"

namespace sparq {
namespace avx512 {

// erf via a rational approximation on [-4, 4] (|error| < 4e-7, checked against std::erf in the tests).
inline __m512 erf(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-4.0f), _mm512_min_ps(_mm512_set1_ps(4.0f), x));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.72614225801306e-10f), _mm512_set1_ps(2.77068142495902e-08f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.10102402082508e-06f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-5.69250639462346e-05f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-7.34990630326855e-04f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.95459980854025e-03f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.60960333262415e-02f));
  p = _mm512_mul_ps(p, x);
  __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(-1.45660718464996e-05f), _mm512_set1_ps(-2.13374055278905e-04f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.68282697438203e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-7.37332916720468e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.42647390514189e-02f));
  return _mm512_div_ps(p, q);
}

inline __m512 gelu(__m512 x) {
  const __m512 e = erf(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

// relu that keeps NaN (max_ps would turn NaN into 0 depending on operand order).
inline __m512 relu(__m512 x) {
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mov_ps(x, negative, _mm512_setzero_ps());
}

inline __m512 activate(__m512 v, Activation act) {
  switch (act) {
    case Activation::relu: return relu(v);
    case Activation::gelu: return gelu(v);
    // max/min return their second operand when either is NaN: NaN goes through, as in the reference.
    case Activation::relu6: return _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(_mm512_setzero_ps(), v));
    default: return v;
  }
}

// v + bias[offset + lane] then activation (bias may be null); `mask` selects the valid lanes of the bias read.
inline __m512 epilogue(__m512 v, const Epilogue& ep, int64_t offset, __mmask16 mask) {
  if (ep.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, ep.bias + offset));
  return activate(v, ep.act);
}

inline __mmask16 lanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

}  // namespace avx512
}  // namespace sparq
