// The 256-bit int8 tile shared by the AVX2 (vpmaddubsw) and AVX-VNNI (vpdpbusd ymm) kernels: up to 3-4
// rows x 16 columns (one panel: two ymm of 8 s32 lanes), one 4-byte broadcast of A per row and
// k-quad. `Dot::step(acc, a, b)` adds the 4-byte dot products of a (u8) and b (s8) into acc.
// Include only from files built with -mavx2 -mfma.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "simd_avx2.h"
#include "sparq/int8_gemm.h"

namespace sparq {
namespace avx2 {

template <class Dot, int MR>
void int8_tile_rows(const Int8TileArgs& t) {
  const __m256i m0 = lanes(t.cols), m1 = lanes(t.cols > 8 ? t.cols - 8 : 0);
  __m256i c[MR][2];
  for (int i = 0; i < MR; ++i) {
    // zero, or the partial sums of earlier K blocks (only the valid columns were stored)
    c[i][0] = t.accumulate ? _mm256_maskload_epi32(t.part + i * t.ldpart, m0) : _mm256_setzero_si256();
    c[i][1] = t.accumulate ? _mm256_maskload_epi32(t.part + i * t.ldpart + 8, m1) : _mm256_setzero_si256();
  }
  const int8_t* b = t.b;
  for (int64_t q = 0; q < t.kq; ++q) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + 32));
    b += 64;
    for (int i = 0; i < MR; ++i) {
      int32_t quad;
      std::memcpy(&quad, t.a + i * t.a_row + q * t.a_quad, sizeof(quad));
      const __m256i av = _mm256_set1_epi32(quad);
      c[i][0] = Dot::step(c[i][0], av, b0);
      c[i][1] = Dot::step(c[i][1], av, b1);
    }
  }
  if (!t.y) {
    for (int i = 0; i < MR; ++i) {
      _mm256_maskstore_epi32(t.part + i * t.ldpart, m0, c[i][0]);
      _mm256_maskstore_epi32(t.part + i * t.ldpart + 8, m1, c[i][1]);
    }
    return;
  }
  const __m256i cs0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.colsum));
  const __m256i cs1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.colsum + 8));
  const __m256 sb0 = _mm256_load_ps(t.scale_b), sb1 = _mm256_load_ps(t.scale_b + 8);
  for (int i = 0; i < MR; ++i) {
    const __m256i za = _mm256_set1_epi32(t.zero_a[i]);
    const __m256 sa = _mm256_set1_ps(t.scale_a[i]);
    __m256 v0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(c[i][0], _mm256_mullo_epi32(za, cs0)));
    __m256 v1 = _mm256_cvtepi32_ps(_mm256_sub_epi32(c[i][1], _mm256_mullo_epi32(za, cs1)));
    v0 = _mm256_mul_ps(v0, _mm256_mul_ps(sb0, sa));
    v1 = _mm256_mul_ps(v1, _mm256_mul_ps(sb1, sa));
    _mm256_maskstore_ps(t.y + i * t.ldy, m0, epilogue(v0, *t.ep, t.n0, m0));
    _mm256_maskstore_ps(t.y + i * t.ldy + 8, m1, epilogue(v1, *t.ep, t.n0 + 8, m1));
  }
}

// MaxRows: 3 for vpmaddubsw (its widening step needs more registers; 4 rows spill with GCC 12), 4 for
// vpdpbusd.
template <class Dot, int MaxRows>
void int8_tile(const Int8TileArgs& t) {
  static_assert(MaxRows == 3 || MaxRows == 4, "3 or 4 rows");
  switch (t.rows) {
    case 1: return int8_tile_rows<Dot, 1>(t);
    case 2: return int8_tile_rows<Dot, 2>(t);
    case 3: return int8_tile_rows<Dot, 3>(t);
    default: return int8_tile_rows<Dot, MaxRows>(t);
  }
}

}  // namespace avx2
}  // namespace sparq
