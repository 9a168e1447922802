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

constexpr int kGroup = 2;  // panels per tile: 32 columns (a tile of at most 16 columns runs NG = 1 panel)

inline __m512i broadcast_quad(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

inline __mmask16 panel_mask(const Int8TileArgs& t, int j) {
  const int cols = t.cols - 16 * j;
  return avx512::lanes(cols > 0 ? cols : 0);
}

// Zero, or the partial sums of earlier K blocks (masked: only the tile's valid columns were stored).
template <int MR, int NG>
inline void init_tile(const Int8TileArgs& t, __m512i (&c)[MR][NG]) {
  if (!t.accumulate) {
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NG; ++j) c[i][j] = _mm512_setzero_si512();
    return;
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NG; ++j) c[i][j] = _mm512_maskz_loadu_epi32(panel_mask(t, j), t.part + i * t.ldpart + 16 * j);
}

template <int MR, int NG>
inline void store_tile(const Int8TileArgs& t, __m512i (&c)[MR][NG]) {
  __mmask16 m[NG];
  for (int j = 0; j < NG; ++j) m[j] = panel_mask(t, j);
  if (!t.y) {
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NG; ++j) _mm512_mask_storeu_epi32(t.part + i * t.ldpart + 16 * j, m[j], c[i][j]);
    return;
  }
  __m512i cs[NG];
  __m512 sb[NG];
  for (int j = 0; j < NG; ++j) {
    cs[j] = _mm512_load_si512(t.colsum + 16 * j);
    sb[j] = _mm512_load_ps(t.scale_b + 16 * j);
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    const __m512i za = _mm512_set1_epi32(t.zero_a[i]);
    const __m512 sa = _mm512_set1_ps(t.scale_a[i]);
    for (int j = 0; j < NG; ++j) {
      __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(c[i][j], _mm512_mullo_epi32(za, cs[j])));
      v = _mm512_mul_ps(v, _mm512_mul_ps(sb[j], sa));
      v = avx512::epilogue(v, *t.ep, t.n0 + 16 * j, m[j]);
      _mm512_mask_storeu_ps(t.y + i * t.ldy + 16 * j, m[j], v);
    }
  }
}

// The k loop of a wide tile. A either row-major (rows a_row apart; addressed as a base every 4th row
// + {0..3}·a_row, few live integer registers) or packed per tile (kPacked: the MR quads of one k-quad
// contiguous, one pointer, one stream). With kPrefetch, two lines of the next group's weights are
// prefetched per quad.
template <int MR, int NG, bool kPacked, bool kPrefetch>
inline void wide_loop(const Int8TileArgs& t, __m512i (&c)[MR][NG]) {
  const int64_t ar = t.a_row;
  const uint8_t* a4[3] = {t.a, t.a + 4 * ar, t.a + 8 * ar};
  const uint8_t* a = t.a;
  const int8_t* b = t.b;
  const char* pf = reinterpret_cast<const char*>(t.prefetch);
  for (int64_t q = 0; q < t.kq; ++q) {
    __m512i bv[NG];
    for (int j = 0; j < NG; ++j) bv[j] = _mm512_load_si512(b + 64 * j);
    b += 64 * kGroup;
    if (kPrefetch) {
      _mm_prefetch(pf, _MM_HINT_T1);
      _mm_prefetch(pf + 64, _MM_HINT_T1);
      pf += 128;
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512i av = broadcast_quad(kPacked ? a + 4 * i : a4[i / 4] + (i % 4) * ar);
      for (int j = 0; j < NG; ++j) c[i][j] = _mm512_dpbusd_epi32(c[i][j], av, bv[j]);
    }
    if (kPacked) {
      a += 4 * MR;
    } else {
      for (auto& p : a4) p += 4;
    }
  }
}

// Wide tiles (4-12 rows): one set of accumulators, enough independent chains already.
template <int MR, int NG>
void tile_rows(const Int8TileArgs& t) {
  __m512i c[MR][NG];
  init_tile<MR, NG>(t, c);
  const bool packed = t.a_row == 4 && t.a_quad == 4 * MR;
  if (packed) {
    if (t.prefetch) wide_loop<MR, NG, true, true>(t, c);
    else wide_loop<MR, NG, true, false>(t, c);
  } else {
    if (t.prefetch) wide_loop<MR, NG, false, true>(t, c);
    else wide_loop<MR, NG, false, false>(t, c);
  }
  store_tile<MR, NG>(t, c);
}

// Narrow tiles (1-3 rows): two quads in flight with separate accumulators, summed at the end.
template <int MR, int NG>
void tile_rows_unrolled(const Int8TileArgs& t) {
  __m512i c[MR][NG], d[MR][NG];
  init_tile<MR, NG>(t, c);
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NG; ++j) d[i][j] = _mm512_setzero_si512();
  const uint8_t* a = t.a;
  const int8_t* b = t.b;
  constexpr int64_t kQuadBytes = 64 * kGroup;
  int64_t q = 0;
  const char* pf = reinterpret_cast<const char*>(t.prefetch);
  for (; q + 2 <= t.kq; q += 2) {
    __m512i bv[NG], bw[NG];
    for (int j = 0; j < NG; ++j) {
      if (pf) {
        _mm_prefetch(pf + q * kQuadBytes + 64 * j, _MM_HINT_T1);
        _mm_prefetch(pf + (q + 1) * kQuadBytes + 64 * j, _MM_HINT_T1);
      }
      bv[j] = _mm512_load_si512(b + q * kQuadBytes + 64 * j);
      bw[j] = _mm512_load_si512(b + (q + 1) * kQuadBytes + 64 * j);
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512i av = broadcast_quad(a + i * t.a_row + q * t.a_quad);
      const __m512i aw = broadcast_quad(a + i * t.a_row + (q + 1) * t.a_quad);
      for (int j = 0; j < NG; ++j) {
        c[i][j] = _mm512_dpbusd_epi32(c[i][j], av, bv[j]);
        d[i][j] = _mm512_dpbusd_epi32(d[i][j], aw, bw[j]);
      }
    }
  }
  if (q < t.kq) {
    __m512i bv[NG];
    for (int j = 0; j < NG; ++j) bv[j] = _mm512_load_si512(b + q * kQuadBytes + 64 * j);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512i av = broadcast_quad(a + i * t.a_row + q * t.a_quad);
      for (int j = 0; j < NG; ++j) c[i][j] = _mm512_dpbusd_epi32(c[i][j], av, bv[j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NG; ++j) c[i][j] = _mm512_add_epi32(c[i][j], d[i][j]);
  store_tile<MR, NG>(t, c);
}

template <int NG>
void tile_ng(const Int8TileArgs& t) {
  switch (t.rows) {
    case 1: return tile_rows_unrolled<1, NG>(t);
    case 2: return tile_rows_unrolled<2, NG>(t);
    case 3: return tile_rows_unrolled<3, NG>(t);
    case 4: return tile_rows<4, NG>(t);
    case 5: return tile_rows<5, NG>(t);
    case 6: return tile_rows<6, NG>(t);
    case 7: return tile_rows<7, NG>(t);
    case 8: return tile_rows<8, NG>(t);
    case 9: return tile_rows<9, NG>(t);
    case 10: return tile_rows<10, NG>(t);
    case 11: return tile_rows<11, NG>(t);
    default: return tile_rows<12, NG>(t);
  }
}

// A tile of at most 16 columns (the tail of N = 100, 300, ..., N <= 16 heads) reads and multiplies only
// the first panel of its group: the second is zero padding.
void tile(const Int8TileArgs& t) {
  if (t.cols <= 16) return tile_ng<1>(t);
  tile_ng<kGroup>(t);
}

}  // namespace

extern const Int8GemmKernels kInt8GemmAvx512Vnni = {"avx512vnni_12x32", 12, 16 * kGroup, 127, 4096, tile};

}  // namespace sparq
