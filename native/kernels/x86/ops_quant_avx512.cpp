// AVX-512 quantization kernels: range scan (two accumulators each way) and the quantizer
// (div, roundscale to nearest-even, clamp, saturating narrow to 8 bits), masked tails.
#include <immintrin.h>

#include "simd_avx512.h"
#include "sparq/ops_kernels.h"

namespace sparq {

void minmax_f32_avx512(const float* x, int64_t n, float* lo, float* hi) {
  // min_ps(x, acc) returns acc when x is NaN, so NaN never enters the accumulators.
  __m512 l0 = _mm512_set1_ps(*lo), l1 = l0, h0 = _mm512_set1_ps(*hi), h1 = h0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    l0 = _mm512_min_ps(a, l0);
    l1 = _mm512_min_ps(b, l1);
    h0 = _mm512_max_ps(a, h0);
    h1 = _mm512_max_ps(b, h1);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = avx512::lanes(n - i);
    const __m512 a = _mm512_maskz_loadu_ps(k, x + i);
    l0 = _mm512_mask_min_ps(l0, k, a, l0);
    h0 = _mm512_mask_max_ps(h0, k, a, h0);
  }
  *lo = _mm512_reduce_min_ps(_mm512_min_ps(l0, l1));
  *hi = _mm512_reduce_max_ps(_mm512_max_ps(h0, h1));
}

void quantize_f32_avx512(const float* x, int64_t n, float scale, float zp, bool is_signed, void* y) {
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(zp);
  const __m512 qlo = _mm512_set1_ps(is_signed ? -128.0f : 0.0f), qhi = _mm512_set1_ps(is_signed ? 127.0f : 255.0f);
  auto quant = [&](__m512 v) {
    v = _mm512_roundscale_ps(_mm512_div_ps(v, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);  // NaN -> 0
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, z), qlo), qhi);
    return _mm512_cvtps_epi32(v);  // exact: v is integral and in range
  };
  auto* out = static_cast<uint8_t*>(y);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i q = quant(_mm512_loadu_ps(x + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), is_signed ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtusepi32_epi8(q));
  }
  if (i < n) {
    const __mmask16 k = avx512::lanes(n - i);
    const __m512i q = quant(_mm512_maskz_loadu_ps(k, x + i));
    if (is_signed)
      _mm512_mask_cvtsepi32_storeu_epi8(out + i, k, q);
    else
      _mm512_mask_cvtusepi32_storeu_epi8(out + i, k, q);
  }
}

}  // namespace sparq
