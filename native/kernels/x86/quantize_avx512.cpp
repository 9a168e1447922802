// AVX-512 u8 activation quantization: 16 floats per step, masked tails, the same operations as the
// scalar reference (fp32 division, round half to even, integer add and clamp) so the bytes match.
#include <immintrin.h>

#include <cstring>

#include "sparq/quantize.h"
#include "simd_avx512.h"

namespace sparq {
namespace {

// NaN, +Inf, -Inf (fpclass categories: QNaN 0x01, +Inf 0x08, -Inf 0x10, SNaN 0x80).
constexpr int kNonFinite = 0x01 | 0x08 | 0x10 | 0x80;

void accumulate_stats(const float* x, int64_t K, U8RowStats& s) {
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  __mmask16 bad = 0;
  int64_t k = 0;
  if (K >= 64) {  // four independent min/max chains: the loop runs at load speed, not min latency
    __m512 lo1 = lo, lo2 = lo, lo3 = lo, hi1 = hi, hi2 = hi, hi3 = hi;
    __mmask16 bad1 = 0, bad2 = 0, bad3 = 0;
    for (; k + 64 <= K; k += 64) {
      const __m512 v0 = _mm512_loadu_ps(x + k), v1 = _mm512_loadu_ps(x + k + 16);
      const __m512 v2 = _mm512_loadu_ps(x + k + 32), v3 = _mm512_loadu_ps(x + k + 48);
      bad |= _mm512_fpclass_ps_mask(v0, kNonFinite);
      bad1 |= _mm512_fpclass_ps_mask(v1, kNonFinite);
      bad2 |= _mm512_fpclass_ps_mask(v2, kNonFinite);
      bad3 |= _mm512_fpclass_ps_mask(v3, kNonFinite);
      lo = _mm512_min_ps(lo, v0);
      lo1 = _mm512_min_ps(lo1, v1);
      lo2 = _mm512_min_ps(lo2, v2);
      lo3 = _mm512_min_ps(lo3, v3);
      hi = _mm512_max_ps(hi, v0);
      hi1 = _mm512_max_ps(hi1, v1);
      hi2 = _mm512_max_ps(hi2, v2);
      hi3 = _mm512_max_ps(hi3, v3);
    }
    bad = static_cast<__mmask16>(bad | bad1 | bad2 | bad3);
    lo = _mm512_min_ps(_mm512_min_ps(lo, lo1), _mm512_min_ps(lo2, lo3));
    hi = _mm512_max_ps(_mm512_max_ps(hi, hi1), _mm512_max_ps(hi2, hi3));
  }
  for (; k + 16 <= K; k += 16) {
    const __m512 v = _mm512_loadu_ps(x + k);
    bad |= _mm512_fpclass_ps_mask(v, kNonFinite);
    lo = _mm512_min_ps(lo, v);
    hi = _mm512_max_ps(hi, v);
  }
  if (k < K) {
    const __mmask16 m = avx512::lanes(K - k);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + k);  // zeros in the dead lanes: neutral for min(0,..)/max(0,..)
    bad |= _mm512_fpclass_ps_mask(v, kNonFinite);
    lo = _mm512_min_ps(lo, v);
    hi = _mm512_max_ps(hi, v);
  }
  if (bad) {
    s.finite = false;
    return;
  }
  const float row_lo = _mm512_reduce_min_ps(lo), row_hi = _mm512_reduce_max_ps(hi);
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

// 64 codes at once: two saturating packs (s32 -> s16 -> u8, which clamps to [0, 255] exactly like
// the max/min above) and one permute to undo the packs' per-128-bit-lane interleave.
inline __m512i quantize64(const float* x, __m512 inv, __m512i zp) {
  const __m512i q0 = codes32(_mm512_loadu_ps(x), inv, zp), q1 = codes32(_mm512_loadu_ps(x + 16), inv, zp);
  const __m512i q2 = codes32(_mm512_loadu_ps(x + 32), inv, zp), q3 = codes32(_mm512_loadu_ps(x + 48), inv, zp);
  const __m512i u = _mm512_packus_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), u);
}

void quantize_row(const float* x, int64_t K, int64_t k_padded, U8QuantParams p, uint8_t* out) {
  if (p.scale != p.scale) {
    std::memset(out, 0, static_cast<size_t>(k_padded));
    return;
  }
  const __m512 inv = _mm512_set1_ps(u8_inverse_scale(p.scale));
  const __m512i zp = _mm512_set1_epi32(p.zero_point);
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) _mm512_storeu_si512(out + k, quantize64(x + k, inv, zp));
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
