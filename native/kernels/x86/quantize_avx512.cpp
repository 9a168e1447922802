// AVX-512 u8 activation quantization: 16 floats per step, masked tails, the same operations as the
// scalar reference (fp32 division, round half to even, integer add and clamp) so the bytes match.
#include <immintrin.h>

#include <cstring>

#include "sparq/quantize.h"
#include "simd_avx512.h"

namespace sparq {
namespace {

// The row's range from the bit patterns, with integer maxima (one load per vector; vpmaxsd/vpmaxud
// issue on more pipes than vminps/vmaxps/vfpclassps, which made this pass 2.9x slower on Zen 4):
//   * signed max over the bits, starting at +0.0 (0): a negative float is a negative int, a positive
//     one orders as its float value, so the result is max(0, max x) — and is >= 0x7F800000 exactly
//     when +Inf or a NaN with the sign bit clear is present.
//   * unsigned max, starting at 0: a negative float is >= 0x80000000 and orders by magnitude, so the
//     result is the most negative value when there is one (min(0, min x); else a positive value,
//     read as 0) — and is >= 0xFF800000 exactly when -Inf or a NaN with the sign bit set is present.
// Every NaN and infinity is caught by one of the two; -0.0 gives 0x80000000, read as -0.0, which
// choose_u8_params treats as 0 like the scalar reference does.
constexpr int32_t kPositiveInfBits = 0x7F800000;
constexpr uint32_t kNegativeInfBits = 0xFF800000u, kSignBit = 0x80000000u;

// A register copy of 16 floats' bits: the empty asm keeps GCC from folding the load into both
// maxima (two loads per vector).
inline __m512i load_bits(const float* p) {
  __m512i v = _mm512_loadu_si512(p);
  asm("" : "+v"(v));
  return v;
}

void accumulate_stats(const float* x, int64_t K, U8RowStats& s) {
  __m512i smax = _mm512_setzero_si512(), umax = _mm512_setzero_si512();
  int64_t k = 0;
  if (K >= 64) {  // four independent chains of each
    __m512i s1 = smax, s2 = smax, s3 = smax, u1 = umax, u2 = umax, u3 = umax;
    for (; k + 64 <= K; k += 64) {
      const __m512i v0 = load_bits(x + k), v1 = load_bits(x + k + 16), v2 = load_bits(x + k + 32), v3 = load_bits(x + k + 48);
      smax = _mm512_max_epi32(v0, smax);
      s1 = _mm512_max_epi32(v1, s1);
      s2 = _mm512_max_epi32(v2, s2);
      s3 = _mm512_max_epi32(v3, s3);
      umax = _mm512_max_epu32(v0, umax);
      u1 = _mm512_max_epu32(v1, u1);
      u2 = _mm512_max_epu32(v2, u2);
      u3 = _mm512_max_epu32(v3, u3);
    }
    smax = _mm512_max_epi32(_mm512_max_epi32(smax, s1), _mm512_max_epi32(s2, s3));
    umax = _mm512_max_epu32(_mm512_max_epu32(umax, u1), _mm512_max_epu32(u2, u3));
  }
  for (; k + 16 <= K; k += 16) {
    const __m512i v = load_bits(x + k);
    smax = _mm512_max_epi32(v, smax);
    umax = _mm512_max_epu32(v, umax);
  }
  if (k < K) {  // zeros (+0.0) in the dead lanes: neutral for both maxima
    const __m512i v = _mm512_maskz_loadu_epi32(avx512::lanes(K - k), x + k);
    smax = _mm512_max_epi32(v, smax);
    umax = _mm512_max_epu32(v, umax);
  }
  const int32_t hi_bits = _mm512_reduce_max_epi32(smax);
  const uint32_t lo_bits = _mm512_reduce_max_epu32(umax);
  if (hi_bits >= kPositiveInfBits || lo_bits >= kNegativeInfBits) {
    s.finite = false;
    return;
  }
  float row_hi, row_lo;
  std::memcpy(&row_hi, &hi_bits, sizeof(row_hi));
  std::memcpy(&row_lo, &lo_bits, sizeof(row_lo));
  if (lo_bits < kSignBit) row_lo = 0.0f;
  s.min_value = row_lo < s.min_value ? row_lo : s.min_value;
  s.max_value = row_hi > s.max_value ? row_hi : s.max_value;
}

// round(x · inv) + zp as s32 (clamped later).
inline __m512i codes32(__m512 v, __m512 inv, __m512i zp) {
  const __m512i q = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_add_epi32(q, zp);
}

inline __m128i quantize16(__m512 v, __m512 inv, __m512i zp) {
  __m512i q = codes32(v, inv, zp);
  q = _mm512_max_epi32(q, _mm512_setzero_si512());
  q = _mm512_min_epi32(q, _mm512_set1_epi32(255));
  return _mm512_cvtepi32_epi8(q);
}

// round(x · inv) without the zero point.
inline __m512i rounded32(const float* x, __m512 inv) {
  return _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// 64 codes at once. |x · inv| <= 255 (plus rounding) for every x of the row's range, so the s32 ->
// s16 pack is exact and the zero point is added to 32 lanes at a time in 16 bits (-256..511, exact);
// the s16 -> u8 pack then clamps to [0, 255] exactly like the max/min above, and one permute undoes the
// packs' per-128-bit-lane interleave.
inline __m512i quantize64(const float* x, __m512 inv, __m512i zp16) {
  const __m512i q01 = _mm512_add_epi16(_mm512_packs_epi32(rounded32(x, inv), rounded32(x + 16, inv)), zp16);
  const __m512i q23 = _mm512_add_epi16(_mm512_packs_epi32(rounded32(x + 32, inv), rounded32(x + 48, inv)), zp16);
  const __m512i u = _mm512_packus_epi16(q01, q23);
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), u);
}

void quantize_row(const float* x, int64_t K, int64_t k_padded, U8QuantParams p, uint8_t* out) {
  if (p.scale != p.scale) {
    std::memset(out, 0, static_cast<size_t>(k_padded));
    return;
  }
  const __m512 inv = _mm512_set1_ps(u8_inverse_scale(p.scale));
  const __m512i zp = _mm512_set1_epi32(p.zero_point), zp16 = _mm512_set1_epi16(static_cast<int16_t>(p.zero_point));
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) _mm512_storeu_si512(out + k, quantize64(x + k, inv, zp16));
  for (; k + 16 <= K; k += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), quantize16(_mm512_loadu_ps(x + k), inv, zp));
  if (k < K) {
    const __mmask16 m = avx512::lanes(K - k);
    _mm_mask_storeu_epi8(out + k, m, quantize16(_mm512_maskz_loadu_ps(m, x + k), inv, zp));
  }
  std::memset(out + K, p.zero_point, static_cast<size_t>(k_padded - K));
}

}  // namespace

void quantize_rows_u8_avx512(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                             int32_t* zero_points, bool per_tensor) {
  quantize_rows_u8_with(x, M, K, k_padded, out, scales, zero_points, per_tensor, accumulate_stats, quantize_row);
}

}  // namespace sparq
