// int8 GEMM microkernel for AVX512-VNNI: up to 12 rows x 32 columns of s32 accumulators (24 zmm), per
// k-quad two 64-byte weight loads (two 16-column panels) and one 4-byte broadcast of A per row, each
// feeding two vpdpbusd. A is read row-major, or (long K) packed per tile, the rows' quads interleaved:
// one sequential stream instead of 12, which the L1 prefetcher follows better there. Few-row tiles (the M = 1 / small-M path, memory-bound) unroll two quads
// into separate accumulators to cover vpdpbusd's latency. The epilogue (zero-point correction,
// dequantization, bias, activation) runs on the accumulators before the store.
#include <immintrin.h>

#include <cstring>

#include "simd_avx512.h"
#include "sparq/int8_gemm.h"

namespace sparq {
namespace {

constexpr int kGroup = 2;  // panels per tile: 32 columns

inline __m512i broadcast_quad(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

// Zero, or the partial sums of earlier K blocks (masked: only the tile's valid columns were stored).
template <int MR>
inline void init_tile(const Int8TileArgs& t, __m512i (&c)[MR][kGroup]) {
  if (!t.accumulate) {
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) c[i][0] = c[i][1] = _mm512_setzero_si512();
    return;
  }
  const __mmask16 m0 = avx512::lanes(t.cols), m1 = avx512::lanes(t.cols > 16 ? t.cols - 16 : 0);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    c[i][0] = _mm512_maskz_loadu_epi32(m0, t.part + i * t.ldpart);
    c[i][1] = _mm512_maskz_loadu_epi32(m1, t.part + i * t.ldpart + 16);
  }
}

template <int MR>
inline void store_tile(const Int8TileArgs& t, __m512i (&c)[MR][kGroup]) {
  const __mmask16 m0 = avx512::lanes(t.cols), m1 = avx512::lanes(t.cols > 16 ? t.cols - 16 : 0);
  if (!t.y) {
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      _mm512_mask_storeu_epi32(t.part + i * t.ldpart, m0, c[i][0]);
      _mm512_mask_storeu_epi32(t.part + i * t.ldpart + 16, m1, c[i][1]);
    }
    return;
  }
  const __m512i cs0 = _mm512_load_si512(t.colsum), cs1 = _mm512_load_si512(t.colsum + 16);
  const __m512 sb0 = _mm512_load_ps(t.scale_b), sb1 = _mm512_load_ps(t.scale_b + 16);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    const __m512i za = _mm512_set1_epi32(t.zero_a[i]);
    const __m512 sa = _mm512_set1_ps(t.scale_a[i]);
    __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c[i][0], _mm512_mullo_epi32(za, cs0)));
    __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c[i][1], _mm512_mullo_epi32(za, cs1)));
    v0 = _mm512_mul_ps(v0, _mm512_mul_ps(sb0, sa));
    v1 = _mm512_mul_ps(v1, _mm512_mul_ps(sb1, sa));
    v0 = avx512::epilogue(v0, *t.ep, t.n0, m0);
    v1 = avx512::epilogue(v1, *t.ep, t.n0 + 16, m1);
    _mm512_mask_storeu_ps(t.y + i * t.ldy, m0, v0);
    _mm512_mask_storeu_ps(t.y + i * t.ldy + 16, m1, v1);
  }
}

// The k loop of a wide tile. A either row-major (rows a_row apart; addressed as a base every 4th row
// + {0..3}·a_row, few live integer registers) or packed per tile (kPacked: the MR quads of one k-quad
// contiguous, one pointer, one stream). With kPrefetch, two lines of the next group's weights are
// prefetched per quad.
template <int MR, bool kPacked, bool kPrefetch>
inline void wide_loop(const Int8TileArgs& t, __m512i (&c)[MR][kGroup]) {
  const int64_t ar = t.a_row;
  const uint8_t* a4[3] = {t.a, t.a + 4 * ar, t.a + 8 * ar};
  const uint8_t* a = t.a;
  const int8_t* b = t.b;
  const char* pf = reinterpret_cast<const char*>(t.prefetch);
  for (int64_t q = 0; q < t.kq; ++q) {
    const __m512i b0 = _mm512_load_si512(b);
    const __m512i b1 = _mm512_load_si512(b + 64);
    b += 128;
    if (kPrefetch) {
      _mm_prefetch(pf, _MM_HINT_T1);
      _mm_prefetch(pf + 64, _MM_HINT_T1);
      pf += 128;
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512i av = broadcast_quad(kPacked ? a + 4 * i : a4[i / 4] + (i % 4) * ar);
      c[i][0] = _mm512_dpbusd_epi32(c[i][0], av, b0);
      c[i][1] = _mm512_dpbusd_epi32(c[i][1], av, b1);
    }
    if (kPacked) {
      a += 4 * MR;
    } else {
      for (auto& p : a4) p += 4;
    }
  }
}

// Wide tiles (4-12 rows): one set of accumulators, enough independent chains already.
template <int MR>
void tile_rows(const Int8TileArgs& t) {
  __m512i c[MR][kGroup];
  init_tile<MR>(t, c);
  const bool packed = t.a_row == 4 && t.a_quad == 4 * MR;
  if (packed) {
    if (t.prefetch) wide_loop<MR, true, true>(t, c);
    else wide_loop<MR, true, false>(t, c);
  } else {
    if (t.prefetch) wide_loop<MR, false, true>(t, c);
    else wide_loop<MR, false, false>(t, c);
  }
  store_tile<MR>(t, c);
}

// Narrow tiles (1-3 rows): two quads in flight with separate accumulators, summed at the end.
template <int MR>
void tile_rows_unrolled(const Int8TileArgs& t) {
  __m512i c[MR][kGroup], d[MR][kGroup];
  init_tile<MR>(t, c);
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) d[i][0] = d[i][1] = _mm512_setzero_si512();
  const uint8_t* a = t.a;
  const int8_t* b = t.b;
  int64_t q = 0;
  const char* pf = reinterpret_cast<const char*>(t.prefetch);
  for (; q + 2 <= t.kq; q += 2) {
    if (pf) {
      _mm_prefetch(pf + q * 128, _MM_HINT_T1);
      _mm_prefetch(pf + q * 128 + 64, _MM_HINT_T1);
      _mm_prefetch(pf + q * 128 + 128, _MM_HINT_T1);
      _mm_prefetch(pf + q * 128 + 192, _MM_HINT_T1);
    }
    const __m512i b0 = _mm512_load_si512(b + q * 128);
    const __m512i b1 = _mm512_load_si512(b + q * 128 + 64);
    const __m512i b2 = _mm512_load_si512(b + q * 128 + 128);
    const __m512i b3 = _mm512_load_si512(b + q * 128 + 192);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512i av = broadcast_quad(a + i * t.a_row + q * t.a_quad);
      const __m512i aw = broadcast_quad(a + i * t.a_row + (q + 1) * t.a_quad);
      c[i][0] = _mm512_dpbusd_epi32(c[i][0], av, b0);
      c[i][1] = _mm512_dpbusd_epi32(c[i][1], av, b1);
      d[i][0] = _mm512_dpbusd_epi32(d[i][0], aw, b2);
      d[i][1] = _mm512_dpbusd_epi32(d[i][1], aw, b3);
    }
  }
  if (q < t.kq) {
    const __m512i b0 = _mm512_load_si512(b + q * 128);
    const __m512i b1 = _mm512_load_si512(b + q * 128 + 64);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512i av = broadcast_quad(a + i * t.a_row + q * t.a_quad);
      c[i][0] = _mm512_dpbusd_epi32(c[i][0], av, b0);
      c[i][1] = _mm512_dpbusd_epi32(c[i][1], av, b1);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) {
    c[i][0] = _mm512_add_epi32(c[i][0], d[i][0]);
    c[i][1] = _mm512_add_epi32(c[i][1], d[i][1]);
  }
  store_tile<MR>(t, c);
}

void tile(const Int8TileArgs& t) {
  switch (t.rows) {
    case 1: return tile_rows_unrolled<1>(t);
    case 2: return tile_rows_unrolled<2>(t);
    case 3: return tile_rows_unrolled<3>(t);
    case 4: return tile_rows<4>(t);
    case 5: return tile_rows<5>(t);
    case 6: return tile_rows<6>(t);
    case 7: return tile_rows<7>(t);
    case 8: return tile_rows<8>(t);
    case 9: return tile_rows<9>(t);
    case 10: return tile_rows<10>(t);
    case 11: return tile_rows<11>(t);
    default: return tile_rows<12>(t);
  }
}

}  // namespace

extern const Int8GemmKernels kInt8GemmAvx512Vnni = {"avx512vnni_12x32", 12, 16 * kGroup, 127, 4096, tile};

}  // namespace sparq
