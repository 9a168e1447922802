// MatMulInteger's u8·s8 GEMM with AVX512-VNNI: a 6 x 64 register tile (24 zmm accumulators), per
// k-quad four panel loads, six 32-bit broadcasts of A and 24 vpdpbusd. Edges: templates on the rows
// (1..6) and panels (1..4) in the tile; the last panel's columns are stored under a mask.
#include <immintrin.h>

#include <cstring>

#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

// acc += u8(a)·s8(b) in groups of four. Inline asm rather than _mm512_dpbusd_epi32: with the
// builtin, GCC 12 keeps a dead stack copy of every accumulator (a store per vpdpbusd); read the
// disassembly before changing this.
inline void dpbusd(__m512i& acc, __m512i a, __m512i b) { asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b)); }

// One 1-D accumulator array per panel, loops fully unrolled so all 24 stay in registers.
template <int MR, int NP>
void tile(int64_t Kp, const uint8_t* A, int64_t lda, const int8_t* Bp, int64_t panel_stride, int32_t* C, int64_t ldc,
          int last_cols, const QgemmEpilogue* ep, int64_t m0, int64_t n0) {
  __m512i c0[MR], c1[MR], c2[MR], c3[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = c2[i] = c3[i] = _mm512_setzero_si512();
  const int8_t* b = Bp;
  for (int64_t q = 0; q < Kp / 4; ++q, b += 64) {
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = NP > 1 ? _mm512_loadu_si512(b + panel_stride) : b0;
    const __m512i b2 = NP > 2 ? _mm512_loadu_si512(b + 2 * panel_stride) : b0;
    const __m512i b3 = NP > 3 ? _mm512_loadu_si512(b + 3 * panel_stride) : b0;
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      int32_t a4;
      std::memcpy(&a4, A + i * lda + 4 * q, 4);
      const __m512i av = _mm512_set1_epi32(a4);
      dpbusd(c0[i], av, b0);
      if (NP > 1) dpbusd(c1[i], av, b1);
      if (NP > 2) dpbusd(c2[i], av, b2);
      if (NP > 3) dpbusd(c3[i], av, b3);
    }
  }
  const __mmask16 full = static_cast<__mmask16>(0xffff);
  const __mmask16 last = last_cols >= 16 ? full : static_cast<__mmask16>((1u << last_cols) - 1u);
  if (ep) {
    // c += u[m]·v[n] + w[m]·x[n] (the zero-point correction), wrapping like the sums.
    __m512i v[4], x[4];
    for (int j = 0; j < NP; ++j) {
      const __mmask16 k = j == NP - 1 ? last : full;
      v[j] = _mm512_maskz_loadu_epi32(k, ep->v + n0 + 16 * j);
      x[j] = _mm512_maskz_loadu_epi32(k, ep->x + n0 + 16 * j);
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m512i u = _mm512_set1_epi32(ep->u[m0 + i]), w = _mm512_set1_epi32(ep->w[m0 + i]);
      auto fix = [&](__m512i c, int j) {
        return _mm512_add_epi32(c, _mm512_add_epi32(_mm512_mullo_epi32(u, v[j]), _mm512_mullo_epi32(w, x[j])));
      };
      c0[i] = fix(c0[i], 0);
      if (NP > 1) c1[i] = fix(c1[i], 1);
      if (NP > 2) c2[i] = fix(c2[i], 2);
      if (NP > 3) c3[i] = fix(c3[i], 3);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    int32_t* row = C + i * ldc;
    _mm512_mask_storeu_epi32(row, NP == 1 ? last : full, c0[i]);
    if (NP > 1) _mm512_mask_storeu_epi32(row + 16, NP == 2 ? last : full, c1[i]);
    if (NP > 2) _mm512_mask_storeu_epi32(row + 32, NP == 3 ? last : full, c2[i]);
    if (NP > 3) _mm512_mask_storeu_epi32(row + 48, last, c3[i]);
  }
}

using TileFn = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, int64_t, int32_t*, int64_t, int,
                       const QgemmEpilogue*, int64_t, int64_t);

template <int MR>
TileFn pick(int np) {
  switch (np) {
    case 1: return tile<MR, 1>;
    case 2: return tile<MR, 2>;
    case 3: return tile<MR, 3>;
    default: return tile<MR, 4>;
  }
}

TileFn pick(int rows, int np) {
  switch (rows) {
    case 1: return pick<1>(np);
    case 2: return pick<2>(np);
    case 3: return pick<3>(np);
    case 4: return pick<4>(np);
    case 5: return pick<5>(np);
    default: return pick<6>(np);
  }
}

}  // namespace

void qgemm_u8s8_avx512vnni(int64_t M, int64_t N, int64_t Kp, const uint8_t* A, int64_t lda, const int8_t* Bp,
                           int32_t* C, int64_t ldc, const QgemmEpilogue* ep) {
  const int64_t panels = (N + 15) / 16, panel_stride = Kp * 16;
  // 64-column blocks outer (the block's panels stay in L1/L2 across all row tiles), 6-row tiles inner.
  for (int64_t p0 = 0; p0 < panels; p0 += 4) {
    const int np = static_cast<int>(panels - p0 < 4 ? panels - p0 : 4);
    const int last_cols = static_cast<int>(N - (p0 + np - 1) * 16);
    const TileFn full = pick(6, np);
    int64_t m = 0;
    for (; m + 6 <= M; m += 6)
      full(Kp, A + m * lda, lda, Bp + p0 * panel_stride, panel_stride, C + m * ldc + p0 * 16, ldc, last_cols, ep, m,
           p0 * 16);
    if (m < M)
      pick(static_cast<int>(M - m), np)(Kp, A + m * lda, lda, Bp + p0 * panel_stride, panel_stride,
                                        C + m * ldc + p0 * 16, ldc, last_cols, ep, m, p0 * 16);
  }
}

}  // namespace sparq
