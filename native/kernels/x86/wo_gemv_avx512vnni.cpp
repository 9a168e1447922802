// Weight-only decode product (sparq/weight_only.h) with AVX-512 VNNI: one 64-byte load of a panel's
// codes feeds every row; int4 nibbles become two ready k-quads with an and, a shift and an and (no
// shuffles), vpdpbusd multiplies them with the broadcast s8 activation quads into exact s32 sums, and
// each group ends in one conversion and one fused multiply-add per row. The panel is streamed once
// for all M rows (M accumulators per row stay in registers: 2·M + 4 zmm at M = 8).
#include <immintrin.h>

#include <cstring>

#include "simd_avx512.h"
#include "sparq/weight_only.h"

namespace sparq {
namespace {

template <int M, int BITS>
void panel(const WoPackedB& b, const WoActivations& a, int64_t p, float* y, int64_t ldy, const Epilogue& ep) {
  const int64_t G = b.group;
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const __m512 fixed_zero = _mm512_set1_ps(static_cast<float>(b.fixed_zero()));
  __m512 acc[M];
  SPARQ_WO_UNROLL
  for (int m = 0; m < M; ++m) acc[m] = _mm512_setzero_ps();
  for (int64_t g = 0; g < b.groups; ++g) {
    const uint8_t* codes = b.block_codes(p, g);
    const int8_t* xg = a.q + g * G;
    __m512i dot[M];
    SPARQ_WO_UNROLL
    for (int m = 0; m < M; ++m) dot[m] = _mm512_setzero_si512();
    if (BITS == 4) {
      for (int64_t c = 0; c < G / 8; ++c) {
        const __m512i w = _mm512_load_si512(codes + c * 64);
        const __m512i lo = _mm512_and_si512(w, nibble);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), nibble);
        SPARQ_WO_UNROLL
        for (int m = 0; m < M; ++m) {
          const int8_t* x = xg + m * a.ldq + c * 8;
          dot[m] = _mm512_dpbusd_epi32(dot[m], lo, _mm512_set1_epi32(wo_quad(x)));
          dot[m] = _mm512_dpbusd_epi32(dot[m], hi, _mm512_set1_epi32(wo_quad(x + 4)));
        }
      }
    } else {
      for (int64_t c = 0; c < G / 4; ++c) {
        const __m512i w = _mm512_load_si512(codes + c * 64);
        SPARQ_WO_UNROLL
        for (int m = 0; m < M; ++m) dot[m] = _mm512_dpbusd_epi32(dot[m], w, _mm512_set1_epi32(wo_quad(xg + m * a.ldq + c * 4)));
      }
    }
    const __m256i s16 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.block_scales(p, g)));
    const __m512 sw = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(s16), 16));
    const uint8_t* zp = b.block_zeros(p, g);
    const __m512 z = zp ? _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp)))) : fixed_zero;
    SPARQ_WO_UNROLL
    for (int m = 0; m < M; ++m) {
      const int64_t at = m * a.groups + g;
      const __m512 t = _mm512_fnmadd_ps(z, _mm512_set1_ps(a.sum[at]), _mm512_cvtepi32_ps(dot[m]));
      acc[m] = _mm512_fmadd_ps(t, _mm512_mul_ps(sw, _mm512_set1_ps(a.scale[at])), acc[m]);
    }
  }
  const int64_t n0 = p * kWoPanel;
  const __mmask16 mask = avx512::lanes(b.N - n0);
  SPARQ_WO_UNROLL
  for (int m = 0; m < M; ++m) _mm512_mask_storeu_ps(y + m * ldy + n0, mask, avx512::epilogue(acc[m], ep, n0, mask));
}

template <int M, int BITS>
void panels(const WoPackedB& b, const WoActivations& a, int64_t p0, int64_t p1, float* y, int64_t ldy, const Epilogue& ep) {
  for (int64_t p = p0; p < p1; ++p) panel<M, BITS>(b, a, p, y, ldy, ep);
}

template <int BITS>
void gemv_bits(const WoPackedB& b, const WoActivations& a, int M, int64_t p0, int64_t p1, float* y, int64_t ldy, const Epilogue& ep) {
  switch (M) {
    case 1: return panels<1, BITS>(b, a, p0, p1, y, ldy, ep);
    case 2: return panels<2, BITS>(b, a, p0, p1, y, ldy, ep);
    case 3: return panels<3, BITS>(b, a, p0, p1, y, ldy, ep);
    case 4: return panels<4, BITS>(b, a, p0, p1, y, ldy, ep);
    case 5: return panels<5, BITS>(b, a, p0, p1, y, ldy, ep);
    case 6: return panels<6, BITS>(b, a, p0, p1, y, ldy, ep);
    case 7: return panels<7, BITS>(b, a, p0, p1, y, ldy, ep);
    default: return panels<8, BITS>(b, a, p0, p1, y, ldy, ep);
  }
}

void wo_gemv_avx512vnni(const WoPackedB& b, const WoActivations& a, int M, int64_t p0, int64_t p1, float* y, int64_t ldy,
                        const Epilogue& ep) {
  if (b.bits == 4) gemv_bits<4>(b, a, M, p0, p1, y, ldy, ep);
  else gemv_bits<8>(b, a, M, p0, p1, y, ldy, ep);
}

}  // namespace

const WoKernels kWoAvx512Vnni = {"wo-avx512vnni", wo_gemv_avx512vnni};

}  // namespace sparq
