// Weight-only decode product (sparq/weight_only.h) with AVX2: each 64-byte chunk of a panel is two
// ymm halves of 8 columns. vpmaddubsw multiplies u8 codes with s8 activation pairs into s16, which is
// exact for u4 codes (15·127·2 < 2^15); u8 codes are split into their nibbles (w = 16·hi + lo) so
// neither product can saturate. vpmaddwd with ones then sums the pairs into s32 quads. Rows go four at
// a time (8 accumulators of each kind fit the 16 ymm registers), each half-panel read once per four rows.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "simd_avx2.h"
#include "sparq/weight_only.h"

namespace sparq {
namespace {

template <int M, int BITS>
void half_panel(const WoPackedB& b, const WoActivations& a, int row0, int64_t p, int half, float* y, int64_t ldy,
                const Epilogue& ep) {
  const int64_t G = b.group;
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256 fixed_zero = _mm256_set1_ps(static_cast<float>(b.fixed_zero()));
  __m256 acc[M];
  SPARQ_WO_UNROLL
  for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
  for (int64_t g = 0; g < b.groups; ++g) {
    const uint8_t* codes = b.block_codes(p, g) + half * 32;
    const int8_t* xg = a.q + row0 * a.ldq + g * G;
    __m256i dot[M];
    SPARQ_WO_UNROLL
    for (int m = 0; m < M; ++m) dot[m] = _mm256_setzero_si256();
    if (BITS == 4) {
      for (int64_t c = 0; c < G / 8; ++c) {
        const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + c * 64));
        const __m256i lo = _mm256_and_si256(w, nibble);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), nibble);
        SPARQ_WO_UNROLL
        for (int m = 0; m < M; ++m) {
          const int8_t* x = xg + m * a.ldq + c * 8;
          // Two s16 pair sums of at most 2·15·127 each: their sum still fits.
          const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(wo_quad(x))), _mm256_maddubs_epi16(hi, _mm256_set1_epi32(wo_quad(x + 4))));
          dot[m] = _mm256_add_epi32(dot[m], _mm256_madd_epi16(s, ones));
        }
      }
    } else {
      for (int64_t c = 0; c < G / 4; ++c) {
        const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + c * 64));
        const __m256i lo = _mm256_and_si256(w, nibble);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), nibble);
        SPARQ_WO_UNROLL
        for (int m = 0; m < M; ++m) {
          const __m256i x = _mm256_set1_epi32(wo_quad(xg + m * a.ldq + c * 4));
          const __m256i l = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x), ones);
          const __m256i h = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x), ones);
          dot[m] = _mm256_add_epi32(dot[m], _mm256_add_epi32(l, _mm256_slli_epi32(h, 4)));
        }
      }
    }
    const __m128i s16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.block_scales(p, g) + half * 8));
    const __m256 sw = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(s16), 16));
    const uint8_t* zp = b.block_zeros(p, g);
    __m256 z = fixed_zero;
    if (zp) {
      int64_t z8;
      std::memcpy(&z8, zp + half * 8, 8);
      z = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(z8)));
    }
    SPARQ_WO_UNROLL
    for (int m = 0; m < M; ++m) {
      const int64_t at = (row0 + m) * a.groups + g;
      const __m256 t = _mm256_fnmadd_ps(z, _mm256_set1_ps(a.sum[at]), _mm256_cvtepi32_ps(dot[m]));
      acc[m] = _mm256_fmadd_ps(t, _mm256_mul_ps(sw, _mm256_set1_ps(a.scale[at])), acc[m]);
    }
  }
  const int64_t n0 = p * kWoPanel + half * 8;
  const int64_t cols = std::min<int64_t>(8, b.N - n0);
  if (cols <= 0) return;
  const __m256i mask = avx2::lanes(cols);
  SPARQ_WO_UNROLL
  for (int m = 0; m < M; ++m) _mm256_maskstore_ps(y + (row0 + m) * ldy + n0, mask, avx2::epilogue(acc[m], ep, n0, mask));
}

template <int M>
void rows(const WoPackedB& b, const WoActivations& a, int row0, int64_t p0, int64_t p1, float* y, int64_t ldy, const Epilogue& ep) {
  for (int64_t p = p0; p < p1; ++p)
    for (int half = 0; half < 2; ++half) {
      if (b.bits == 4) half_panel<M, 4>(b, a, row0, p, half, y, ldy, ep);
      else half_panel<M, 8>(b, a, row0, p, half, y, ldy, ep);
    }
}

void wo_gemv_avx2(const WoPackedB& b, const WoActivations& a, int M, int64_t p0, int64_t p1, float* y, int64_t ldy,
                  const Epilogue& ep) {
  using Rows = void (*)(const WoPackedB&, const WoActivations&, int, int64_t, int64_t, float*, int64_t, const Epilogue&);
  static constexpr Rows by_count[4] = {rows<1>, rows<2>, rows<3>, rows<4>};
  for (int row0 = 0; row0 < M; row0 += 4) by_count[std::min(4, M - row0) - 1](b, a, row0, p0, p1, y, ldy, ep);
}

}  // namespace

const WoKernels kWoAvx2 = {"wo-avx2", wo_gemv_avx2};

}  // namespace sparq
