// Vectorised exp / tanh / sigmoid for the AVX-512 op kernels (include only from AVX-512 files).
// Operand order in min/max is chosen so NaN inputs stay NaN (MINPS/MAXPS return the second operand
// when either is NaN).
#pragma once
#include <immintrin.h>

namespace sparq {
namespace avx512 {

// e^x: n = round(x·log2 e), r = x - n·ln2 (two-part ln2), degree-7 Taylor polynomial on |r| <= 0.35
// (truncation < 1e-8 relative), then scalef by 2^n, which handles overflow to inf and gradual underflow.
inline __m512 exp(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// tanh: the odd rational approximation Eigen and MLAS use (clamped where it reaches ±1); below 4e-4
// tanh(x) = x to float precision; from the clamp on, exactly ±1.
inline __m512 tanh(__m512 x) {
  const __m512 c = _mm512_max_ps(_mm512_set1_ps(-7.90531110763549805f), _mm512_min_ps(_mm512_set1_ps(7.90531110763549805f), x));
  const __m512 x2 = _mm512_mul_ps(c, c);
  __m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.76076847742355e-16f), _mm512_set1_ps(2.00018790482477e-13f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-8.60467152213735e-11f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(5.12229709037114e-08f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.48572235717979e-05f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(6.37261928875436e-04f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(4.89352455891786e-03f));
  p = _mm512_mul_ps(p, c);
  __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(1.19825839466702e-06f), _mm512_set1_ps(1.18534705686654e-04f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(2.26843463243900e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(4.89352518554385e-03f));
  const __m512 t = _mm512_div_ps(p, q);
  const __m512 ax = _mm512_abs_ps(x);
  const __mmask16 tiny = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(4e-4f), _CMP_LT_OQ);
  // Past the clamp the rational is within an ulp of ±1 but not exactly it; tanh rounds to ±1 there.
  const __mmask16 big = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(7.90531110763549805f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));
  return _mm512_mask_mov_ps(_mm512_mask_mov_ps(t, tiny, x), big, one);
}

// 1 / (1 + e^-x): e^-x overflows to inf for x < -88, giving 0 as it should.
inline __m512 sigmoid(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

}  // namespace avx512
}  // namespace sparq
